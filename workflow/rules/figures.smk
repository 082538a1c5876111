# Figures: learning curves, confusion matrices with label distributions, the STS scatter.


rule figure:
    input:
        unpack(figure_inputs),
    output:
        report(
            "results/figures/{figure}.png",
            caption="../report/figure.rst",
            category="Figures",
            subcategory=lambda wc: config["figures"][wc.figure].get("paper", "other"),
            labels=figure_labels,
        ),
    log:
        f"{LOGS}/figures/{{figure}}.log",
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
