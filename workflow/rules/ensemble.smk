# Ensembles never retrain: majority vote (sst, para) and mean (sts) over the members' prediction files.
# With select_top, the job keeps the best members by dev overall score and records its choice. One job per
# split, like the members' predictions: a split is combined only where a target reads it.


rule ensemble:
    input:
        unpack(lambda wc: ensemble_inputs(config, wc.ensemble, wc.split)),
    output:
        predictions=P.predictions("{ensemble}", "{split}"),
        members=P.ensemble_members(),
    log:
        P.log("ensemble", "{ensemble}-{split}"),
    wildcard_constraints:
        ensemble=seeded_regex(ENSEMBLES),
        split="dev|test",
    localrule: True
    conda:
        ENV
    params:
        members=lambda wc: ensemble_members(config, wc.ensemble),
        select_top=lambda wc: ensemble_select_top(config, wc.ensemble),
        tasks=lambda wc: model_tasks(config, wc.ensemble),
    script:
        "../scripts/ensemble.py"
