# Test predictions, one CSV per task, and metrics wherever labels exist (an experiment's dev predictions are
# written by its fine-tuning job, rules/finetune.smk). Snakemake outputs cannot depend on a wildcard's value,
# so one predict rule is declared per set of tasks (e.g. sst+para+sts, or sst alone), each constrained to the
# experiments with that task set. Test is predicted only where a target reads it (Table 1, its ensembles'
# members and the test claims; every other table, figure and claim reads dev).

for _tasks, _members in task_sets(EXPERIMENTS).items():

    rule:
        name:
            "predict_" + "_".join(_tasks)
        input:
            model=f"{RES}/models/{{experiment}}/model.safetensors",
            tokens=[token_file(t, "{split}") for t in _tasks],
            encoder=lambda wc: start_encoder(
                resolve_experiment(config, wc.experiment)
            )["files"],
        output:
            [f"{RES}/predictions/{{experiment}}/{t}-{{split}}.csv" for t in _tasks],
        log:
            f"{LOGS}/predict/{{experiment}}-{{split}}.log",
        wildcard_constraints:
            experiment=seeded_regex(_members),
            split="test",
        group:
            "model"  # submitted together with the fine-tuning job it depends on
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
        script:
            "../scripts/predict.py"


rule random_baseline:
    input:
        f"{RES}/data/{{task}}-{{split}}.csv",
    output:
        f"{RES}/predictions/random/{{task}}-{{split}}.csv",
    log:
        f"{LOGS}/random_baseline/{{task}}-{{split}}.log",
    localrule: True
    conda:
        ENV
    params:
        seed=RANDOM_BASELINE_SEED,
    script:
        "../scripts/random_baseline.py"


rule metrics:
    input:
        unpack(metrics_inputs),
    output:
        f"{RES}/metrics/{{model}}/{{split}}.json",
    log:
        f"{LOGS}/metrics/{{model}}-{{split}}.log",
    wildcard_constraints:
        split="dev|test",
    localrule: True
    conda:
        ENV
    params:
        settings=lambda wc: model_settings(config, wc.model),
    script:
        "../scripts/metrics.py"


rule zero_shot:
    input:
        unpack(
            lambda wc: {
                f"{t}_{s}": token_file(t, s)
                for t in zero_shot_settings(config)["tasks"]
                for s in SPLITS
            }
        ),
        encoder=encoder_files(),
    output:
        **{
            f"{t}_{s}": f"{RES}/predictions/zero-shot/{t}-{s}.csv"
            for t in ("para", "sts")
            for s in PRED_SPLITS
        },
        fitted=f"{RES}/predictions/zero-shot/fitted.json",
    log:
        f"{LOGS}/zero_shot/zero-shot.log",
    localrule: SCALE_NAME != "paper"  # seconds on a CPU at smoke and quick; bert-base over every pair at paper
    conda:
        ENV
    threads: JOB_THREADS
    resources:
        gpu=1 if SCALE_NAME == "paper" else 0,
    params:
        settings=zero_shot_settings(config),
        encoder=encoder_info(),
    script:
        "../scripts/zero_shot.py"
