# Figures: learning curves, confusion matrices with label distributions, the STS scatter.


def figure_inputs(wc):
    fig = config["figures"][wc.figure]
    if fig["kind"] == "curves":
        return {
            label: f"results/models/{m}/history.csv"
            for label, m in fig["models"].items()
        }
    split = fig.get("split", "dev")
    return {
        "predictions": f"results/predictions/{fig['model']}/{fig['task']}-{split}.csv",
        "gold": f"results/data/{fig['task']}-{split}.csv",
        "train": f"results/data/{fig['task']}-train.csv",
    }


rule figure:
    input:
        unpack(figure_inputs),
    output:
        report(
            "results/figures/{figure}.png",
            caption="../report/figure.rst",
            category="Figures",
        ),
    log:
        "logs/figures/{figure}.log",
    wildcard_constraints:
        figure=name_regex(config["figures"]),
    conda:
        ENV
    params:
        figure=lambda wc: config["figures"][wc.figure],
        scale=config["scale"],
    script:
        "../scripts/figure.py"
