# Figures: learning curves, confusion matrices with label distributions, the STS scatter.


rule figure:
    input:
        unpack(lambda wc: figure_inputs(config, wc.figure)),
    output:
        report(
            P.figure(),
            caption="../report/figure.rst",
            category="Figures",
            subcategory=lambda wc: config["figures"][wc.figure].get("paper", "other"),
            labels=lambda wc: figure_labels(config, wc.figure),
        ),
    log:
        P.log("figures", "{figure}"),
    wildcard_constraints:
        figure=name_regex(config["figures"]),
    localrule: True
    conda:
        ENV
    params:
        figure=lambda wc: config["figures"][wc.figure],
        scale=config["scale"],
    script:
        "../scripts/figure.py"
