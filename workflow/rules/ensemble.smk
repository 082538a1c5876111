# Ensembles never retrain: majority vote (sst, para) and mean (sts) over the members' prediction files.
# With select_top, the job keeps the best members by dev overall score and records its choice.

for _tasks, _members in task_sets(ENSEMBLES).items():

    rule:
        name:
            "ensemble_" + "_".join(_tasks)
        input:
            predictions=lambda wc: [
                f"{RES}/predictions/{m}/{t}-{s}.csv"
                for m in ensemble_members(config, wc.ensemble)
                for t in model_tasks(config, wc.ensemble)
                for s in PRED_SPLITS
            ],
            dev_metrics=lambda wc: [
                f"{RES}/metrics/{m}/dev.json"
                for m in ensemble_members(config, wc.ensemble)
                if config["ensembles"][split_seed(wc.ensemble)[0]].get("select_top")
            ],
        output:
            [
                f"{RES}/predictions/{{ensemble}}/{t}-{s}.csv"
                for t in _tasks
                for s in PRED_SPLITS
            ],
            members=f"{RES}/predictions/{{ensemble}}/members.json",
        log:
            f"{LOGS}/ensemble/{{ensemble}}.log",
        wildcard_constraints:
            ensemble=seeded_regex(_members),
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
