# Ensembles never retrain: majority vote (sst, para) and mean (sts) over the members' prediction files.

for _tasks, _members in task_sets(ENSEMBLES).items():

    rule:
        name:
            "ensemble_" + "_".join(_tasks)
        input:
            lambda wc: [
                f"results/predictions/{m}/{t}-{s}.csv"
                for m in config["ensembles"][wc.ensemble]["members"]
                for t in model_tasks(config, wc.ensemble)
                for s in PRED_SPLITS
            ],
        output:
            [
                f"results/predictions/{{ensemble}}/{t}-{s}.csv"
                for t in _tasks
                for s in PRED_SPLITS
            ],
        log:
            "logs/ensemble/{ensemble}.log",
        wildcard_constraints:
            ensemble=name_regex(_members),
        conda:
            ENV
        params:
            members=lambda wc: config["ensembles"][wc.ensemble]["members"],
        script:
            "../scripts/ensemble.py"
