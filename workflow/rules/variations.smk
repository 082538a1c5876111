# Variations: experiments a paper file lists under `variations` (Beyond BERT section 5.3), which no table,
# figure or claim uses: `snakemake variations` trains each and scores it on dev.


rule variations:
    input:
        [P.metrics(experiment, "dev") for experiment in config["variations"]],
    localrule: True
