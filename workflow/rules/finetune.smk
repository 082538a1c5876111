# Fine-tuning: one job per experiment (one GPU each), resumable from its last checkpoint.


rule finetune:
    input:
        unpack(finetune_inputs),
    output:
        model="results/models/{experiment}/model.safetensors",
        history="results/models/{experiment}/history.csv",
        run="results/models/{experiment}/run.json",
    log:
        "logs/finetune/{experiment}.log",
    benchmark:
        "results/benchmarks/finetune/{experiment}.tsv"
    wildcard_constraints:
        experiment=name_regex(EXPERIMENTS),
    conda:
        ENV
    threads: 2
    resources:
        gpu=1,
    params:
        settings=lambda wc: resolve_experiment(config, wc.experiment),
        encoder=lambda wc: start_encoder(resolve_experiment(config, wc.experiment))[
            "info"
        ],
        checkpoints=lambda wc: f"results/checkpoints/{wc.experiment}",
    script:
        "../scripts/finetune.py"
