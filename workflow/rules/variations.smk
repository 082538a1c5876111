# Variations: experiments a paper file lists under `variations` (Beyond BERT section 5.3), which no table,
# figure or claim uses: `snakemake variations` trains each and scores it on dev.


rule variations:
    input:
        expand(
            f"{RES}/metrics/{{experiment}}/dev.json", experiment=config["variations"]
        ),
    localrule: True
