# Tables: each paper row's reproduced value beside the value the paper reported.


rule table:
    input:
        unpack(lambda wc: table_inputs(config, wc.table)),
    output:
        csv=report(
            P.table(),
            caption="../report/table.rst",
            category="Table data (CSV)",
            subcategory=lambda wc: config["tables"][wc.table].get("paper", "other"),
            labels=lambda wc: table_labels(config, wc.table),
        ),
        md=P.table(ext="md"),
        html=report(
            P.table(ext="html"),
            caption="../report/table.rst",
            category="Tables",
            subcategory=lambda wc: config["tables"][wc.table].get("paper", "other"),
            labels=lambda wc: table_labels(config, wc.table),
        ),
    log:
        P.log("tables", "{table}"),
    wildcard_constraints:
        table=name_regex(config["tables"]),
    localrule: True
    conda:
        ENV
    params:
        table=lambda wc: config["tables"][wc.table],
        scale=config["scale"],
        encoder=ENCODER,
        data=DATA_DESCRIPTION,
        test_labels=lambda wc: label_records(config, wc.table),
    script:
        "../scripts/table.py"


rule methods_table:
    input:
        lambda wc: methods_table_inputs(config, wc.table),
    output:
        csv=report(
            P.table(),
            caption="../report/table.rst",
            category="Table data (CSV)",
            subcategory=lambda wc: config["methods_tables"][wc.table].get(
                "paper", "other"
            ),
            labels=lambda wc: table_labels(config, wc.table),
        ),
        md=P.table(ext="md"),
        html=report(
            P.table(ext="html"),
            caption="../report/table.rst",
            category="Tables",
            subcategory=lambda wc: config["methods_tables"][wc.table].get(
                "paper", "other"
            ),
            labels=lambda wc: table_labels(config, wc.table),
        ),
    log:
        P.log("tables", "{table}"),
    wildcard_constraints:
        table=name_regex(config.get("methods_tables", {})),
    localrule: True
    conda:
        ENV
    params:
        table=lambda wc: config["methods_tables"][wc.table],
        files=lambda wc: methods_table_files(config, wc.table),
        scale=config["scale"],
        encoder=ENCODER,
        data=DATA_DESCRIPTION,
    script:
        "../scripts/methods_table.py"


rule methods:
    input:
        [P.table(t) for t in config.get("methods_tables", {})],
        [P.figure(f) for f in METHODS_FIGURES],
    localrule: True
