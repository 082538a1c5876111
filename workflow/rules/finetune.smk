# Fine-tuning: one job per experiment (one GPU each), resumable from its last checkpoint. The job also writes
# the best epoch's dev predictions, which its end-of-epoch evaluation has computed (no second job loads the
# model to predict dev again). Snakemake outputs cannot depend on a wildcard's value, so one rule is declared
# per set of tasks, each constrained to the experiments with that task set: finetune_sst_para_sts,
# finetune_sst, ... (`snakemake --list-rules` names them all).

for _tasks, _members in task_sets(EXPERIMENTS).items():

    rule:
        name:
            "finetune_" + "_".join(_tasks)
        input:
            unpack(finetune_inputs),
        output:
            **{
                f"{t}_dev": f"{RES}/predictions/{{experiment}}/{t}-dev.csv"
                for t in _tasks
            },
            model=f"{RES}/models/{{experiment}}/model.safetensors",
            history=f"{RES}/models/{{experiment}}/history.csv",
            run=f"{RES}/models/{{experiment}}/run.json",
        log:
            f"{LOGS}/finetune/{{experiment}}.log",
        benchmark:
            f"{RES}/benchmarks/finetune/{{experiment}}.tsv"
        wildcard_constraints:
            experiment=seeded_regex(_members),
        group:
            "model"  # on a cluster, one SLURM job trains an experiment and then predicts with it
        conda:
            ENV
        threads: JOB_THREADS
        resources:
            gpu=1,
        params:
            settings=lambda wc: resolve_experiment(config, wc.experiment),
            encoder=lambda wc: start_encoder(
                resolve_experiment(config, wc.experiment)
            )["info"],
            checkpoints=lambda wc: f"{RES}/checkpoints/{wc.experiment}",
        script:
            "../scripts/finetune.py"
