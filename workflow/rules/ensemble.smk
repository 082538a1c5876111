# Ensembles never retrain: majority vote (sst, para) and mean (sts) over the members' prediction files.
# With select_top, the job keeps the best members by dev overall score and records its choice. One job per
# split, like the members' predictions: a split is combined only where a target reads it.

for _tasks, _members in task_sets(ENSEMBLES).items():

    rule:
        name:
            "ensemble_" + "_".join(_tasks)
        input:
            predictions=lambda wc: [
                f"{RES}/predictions/{m}/{t}-{wc.split}.csv"
                for m in ensemble_members(config, wc.ensemble)
                for t in model_tasks(config, wc.ensemble)
            ],
            dev_metrics=lambda wc: [
                f"{RES}/metrics/{m}/dev.json"
                for m in ensemble_members(config, wc.ensemble)
                if config["ensembles"][split_seed(wc.ensemble)[0]].get("select_top")
            ],
        output:
            [f"{RES}/predictions/{{ensemble}}/{t}-{{split}}.csv" for t in _tasks],
            members=f"{RES}/predictions/{{ensemble}}/members-{{split}}.json",
        log:
            f"{LOGS}/ensemble/{{ensemble}}-{{split}}.log",
        wildcard_constraints:
            ensemble=seeded_regex(_members),
            split="dev|test",
        localrule: True
        conda:
            ENV
        params:
            members=lambda wc: ensemble_members(config, wc.ensemble),
            select_top=lambda wc: config["ensembles"][split_seed(wc.ensemble)[0]].get(
                "select_top"
            ),
        script:
            "../scripts/ensemble.py"
