# Claims: every finding of both papers with its verdict over paired seeds (the rule: top of claims.md).


rule claims:
    input:
        claims_inputs(config, CLAIMS),
    output:
        md=P.claims("md"),
        csv=report(
            P.claims("csv"),
            caption="../report/claims.rst",
            category="Claims",
            labels={"file": "claims (CSV)", "scale": SCALE_NAME},
        ),
        html=report(
            P.claims("html"),
            caption="../report/claims.rst",
            category="Claims",
            labels={"file": "claims", "scale": SCALE_NAME},
        ),
        figure=report(
            P.figure("claims"),
            caption="../report/claims.rst",
            category="Claims",
            labels={"file": "claims figure", "scale": SCALE_NAME},
        ),
    log:
        P.log("claims", "claims"),
    localrule: True
    conda:
        ENV
    params:
        claims=CLAIMS,
        files=CLAIMS_FILES,
        seeds=SEEDS,
        scale=SCALE_NAME,
        encoder=ENCODER,
        data=DATA_DESCRIPTION,
    script:
        "../scripts/claims.py"
