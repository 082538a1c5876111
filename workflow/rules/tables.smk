# Tables: each paper row's reproduced value beside the value the paper reported.


rule table:
    input:
        unpack(
            lambda wc: {
                row[
                    "model"
                ]: f"results/metrics/{row['model']}/{config['tables'][wc.table]['split']}.json"
                for row in config["tables"][wc.table]["rows"]
            }
        ),
    output:
        csv=report(
            "results/tables/{table}.csv",
            caption="../report/table.rst",
            category="Table data (CSV)",
            subcategory=lambda wc: config["tables"][wc.table].get("paper", "other"),
            labels=table_labels,
        ),
        md="results/tables/{table}.md",
        html=report(
            "results/tables/{table}.html",
            caption="../report/table.rst",
            category="Tables",
            subcategory=lambda wc: config["tables"][wc.table].get("paper", "other"),
            labels=table_labels,
        ),
    log:
        "logs/tables/{table}.log",
    wildcard_constraints:
        table=name_regex(config["tables"]),
    localrule: True
    conda:
        ENV
    params:
        table=lambda wc: config["tables"][wc.table],
        scale=config["scale"],
        encoder=ENCODER,
        data=data_description(),
    script:
        "../scripts/table.py"
