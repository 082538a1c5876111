# Fine-tuning: one job per experiment (one GPU each), resumable from its last checkpoint. The job also writes
# the best epoch's dev prediction file, which its end-of-epoch evaluation has computed (no second job loads
# the model to predict dev again). `results/{scale}/metrics/{experiment}/dev.json` trains and scores one
# experiment by name. The model folder holds the model in the ecosystem's format (pipeline/model/export.py:
# encoder or PEFT adapter, heads, base.json) and its card README.md, written last: the declared output that
# says the folder is complete (folders of the earlier format are converted when the DAG is built).


rule finetune:
    input:
        unpack(lambda wc: finetune_inputs(config, wc.experiment)),
        # a converted model (of the earlier format) whose settings changed: its record of the conversion,
        # newer than its card, so the job reruns (Snakemake has no record of a job it never ran)
        converted=lambda wc: CHANGED_CONVERTED.get(wc.experiment, []),
    output:
        predictions=P.predictions("{experiment}", "dev"),
        card=P.model_card(),
        history=P.history(),
        run=P.run(),
    log:
        P.log("finetune", "{experiment}"),
    benchmark:
        P.benchmark("finetune", "{experiment}")
    wildcard_constraints:
        experiment=seeded_regex(EXPERIMENTS),
    group:
        "model"  # on a cluster, one SLURM job trains an experiment and then predicts with it
    conda:
        ENV
    threads: JOB_THREADS
    resources:
        **job_resources(config, "finetune", COSTS),
    params:
        settings=lambda wc: resolve_experiment(config, wc.experiment),
        encoder=lambda wc: start_encoder(config, wc.experiment)["info"],
        checkpoints=lambda wc: P.checkpoints(wc.experiment),
    script:
        "../scripts/finetune.py"
