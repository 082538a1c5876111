# Claims: every finding of both papers with its verdict over paired seeds (the rule: top of claims.md).


rule claims:
    input:
        claims_inputs,
    output:
        md="results/claims.md",
        csv=report(
            "results/claims.csv",
            caption="../report/claims.rst",
            category="Claims",
            labels={"file": "claims (CSV)", "scale": SCALE_NAME},
        ),
        html=report(
            "results/claims.html",
            caption="../report/claims.rst",
            category="Claims",
            labels={"file": "claims", "scale": SCALE_NAME},
        ),
        figure=report(
            "results/figures/claims.png",
            caption="../report/claims.rst",
            category="Claims",
            labels={"file": "claims figure", "scale": SCALE_NAME},
        ),
    log:
        f"{LOGS}/claims/claims.log",
    localrule: True
    conda:
        ENV
    params:
        claims=CLAIMS,
        files=claims_files(),
        seeds=SEEDS,
        scale=SCALE_NAME,
        encoder=ENCODER,
        data=data_description(),
    script:
        "../scripts/claims.py"
