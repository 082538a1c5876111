# Tables: each paper row's reproduced value beside the value the paper reported.


rule table:
    input:
        unpack(table_inputs),
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
        f"{LOGS}/tables/{{table}}.log",
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
        test_labels=lambda wc: test_label_records(wc.table),
    script:
        "../scripts/table.py"


rule methods_table:
    input:
        methods_table_inputs,
    output:
        csv=report(
            "results/tables/{table}.csv",
            caption="../report/table.rst",
            category="Table data (CSV)",
            subcategory=lambda wc: config["methods_tables"][wc.table].get(
                "paper", "other"
            ),
            labels=table_labels,
        ),
        md="results/tables/{table}.md",
        html=report(
            "results/tables/{table}.html",
            caption="../report/table.rst",
            category="Tables",
            subcategory=lambda wc: config["methods_tables"][wc.table].get(
                "paper", "other"
            ),
            labels=table_labels,
        ),
    log:
        f"{LOGS}/tables/{{table}}.log",
    wildcard_constraints:
        table=name_regex(config.get("methods_tables", {})),
    localrule: True
    conda:
        ENV
    params:
        table=lambda wc: config["methods_tables"][wc.table],
        files=lambda wc: methods_table_files(wc.table),
        scale=config["scale"],
        encoder=ENCODER,
        data=data_description(),
    script:
        "../scripts/methods_table.py"


rule methods:
    input:
        expand("results/tables/{table}.csv", table=config.get("methods_tables", {})),
        expand("results/figures/{figure}.png", figure=METHODS_FIGURES),
    localrule: True
