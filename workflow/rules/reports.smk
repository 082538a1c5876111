# Reports on the whole scale: the cost plan of every GPU job before anything runs, and every finished run
# side by side.


rule plan:
    output:
        csv=report(
            P.plan("csv"),
            caption="../report/plan.rst",
            category="Cost plan",
            labels={"file": "plan (CSV)", "scale": SCALE_NAME},
        ),
        md=P.plan("md"),
    log:
        P.log("reports", "plan"),
    localrule: True
    conda:
        ENV
    params:
        scale=SCALE_NAME,
        data_version=DATA_VERSION,
        config=config_digest(config),  # the plan reads only the config: any change rebuilds it
    script:
        "../scripts/plan.py"


rule runs:
    input:
        unpack(lambda wc: run_files(config, wc.get("target", "all"))),
    output:
        csv=report(
            P.runs("all", "csv"),
            caption="../report/runs.rst",
            category="Runs",
            labels={"file": "runs (CSV)", "scale": SCALE_NAME},
        ),
        md=P.runs("all", "md"),
    log:
        P.log("reports", "runs"),
    localrule: True
    conda:
        ENV
    params:
        scale=SCALE_NAME,
        data=DATA_DESCRIPTION,
    script:
        "../scripts/runs.py"


use rule runs as runs_of with:
    output:
        csv=P.runs("{target}", "csv"),
        md=P.runs("{target}", "md"),
    log:
        P.log("reports", "runs-{target}"),
    wildcard_constraints:
        target=name_regex(run_targets(config)),


rule experiments:
    output:
        csv="results/experiments.csv",
        md="results/experiments.md",
    log:
        P.log("reports", "experiments"),
    localrule: True
    conda:
        ENV
    params:
        config=config_digest(config),
        root=workflow.basedir,  # where papers/*.yaml are (each experiment's paper)
    script:
        "../scripts/experiments.py"
