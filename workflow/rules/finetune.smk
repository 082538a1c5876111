# Fine-tuning: one job per experiment (one GPU each), resumable from its last checkpoint.


rule finetune:
    input:
        unpack(finetune_inputs),
    output:
        model=f"{RES}/models/{{experiment}}/model.safetensors",
        history=f"{RES}/models/{{experiment}}/history.csv",
        run=f"{RES}/models/{{experiment}}/run.json",
    log:
        f"{LOGS}/finetune/{{experiment}}.log",
    benchmark:
        f"{RES}/benchmarks/finetune/{{experiment}}.tsv"
    wildcard_constraints:
        experiment=seeded_regex(EXPERIMENTS),
    group:
        "model"  # on a cluster, one SLURM job trains an experiment and then predicts with it
    conda:
        ENV
    threads: JOB_THREADS
    resources:
        gpu=1,
    params:
        settings=lambda wc: resolve_experiment(config, wc.experiment),
        encoder=lambda wc: start_encoder(resolve_experiment(config, wc.experiment))[
            "info"
        ],
        checkpoints=lambda wc: f"{RES}/checkpoints/{wc.experiment}",
    script:
        "../scripts/finetune.py"
