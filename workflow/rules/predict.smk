# Test predictions and metrics wherever labels exist. A model's predictions of a split are one file, every
# task in it (pipeline/evaluation/predictions.py); an experiment's dev file is written by its fine-tuning
# job (rules/finetune.smk). Test is predicted only where a target reads it (Table 1, its ensembles' members and
# the test claims; every other table, figure and claim reads dev).


rule predict:
    input:
        unpack(lambda wc: predict_inputs(config, wc.experiment, wc.split)),
    output:
        P.predictions("{experiment}", "{split}"),
    log:
        P.log("predict", "{experiment}-{split}"),
    wildcard_constraints:
        experiment=seeded_regex(EXPERIMENTS),
        split="test",
    group:
        "model"  # submitted together with the fine-tuning job it depends on
    conda:
        ENV
    threads: JOB_THREADS
    resources:
        **job_resources(config, "predict", COSTS),
    params:
        settings=lambda wc: resolve_experiment(config, wc.experiment),
        encoder=lambda wc: start_encoder(config, wc.experiment)["info"],
    script:
        "../scripts/predict.py"


rule random_baseline:
    input:
        unpack(lambda wc: random_baseline_inputs(config, wc.split)),
    output:
        P.predictions("random", "{split}"),
    log:
        P.log("random_baseline", "{split}"),
    localrule: True
    conda:
        ENV
    params:
        seed=RANDOM_BASELINE_SEED,
        tasks=model_tasks(config, "random"),
    script:
        "../scripts/random_baseline.py"


rule metrics:
    input:
        unpack(lambda wc: metrics_inputs(config, wc.model, wc.split)),
    output:
        P.metrics(),
    log:
        P.log("metrics", "{model}-{split}"),
    wildcard_constraints:
        split="dev|test",
    localrule: True
    conda:
        ENV
    params:
        settings=lambda wc: model_settings(config, wc.model),
        tasks=lambda wc: model_tasks(config, wc.model),
        # dev scores per half too (claims pick a best-of-several on one half): a changed param reruns the
        # metrics jobs of earlier results (seconds each), never training
        halves=True,
    script:
        "../scripts/metrics.py"


rule zero_shot:
    input:
        unpack(lambda wc: zero_shot_inputs(config)),
    output:
        dev=P.predictions("zero-shot", "dev"),
        test=P.predictions("zero-shot", "test"),
        fitted=P.zero_shot_fit(),
    log:
        P.log("zero_shot", "zero-shot"),
    # seconds on a CPU at smoke and quick; bert-base over every pair at paper
    localrule: SCALE_NAME != "paper"
    conda:
        ENV
    threads: JOB_THREADS
    resources:
        **job_resources(config, "zero_shot"),
    params:
        settings=zero_shot_settings(config),
        encoder=encoder_info(config),
    script:
        "../scripts/zero_shot.py"


# A target naming an unknown model (a typo in results/{scale}/metrics/NAME/dev.json) stops with the closest
# known names instead of "MissingRuleException".
rule unknown_model:
    input:
        lambda wc: unknown_model(config, wc.unknown),
    output:
        P.metrics("{unknown}", "{split}"),
    log:
        P.log("metrics", "{unknown}-{split}"),
    wildcard_constraints:
        unknown=unknown_regex(known_models(config)),
    localrule: True
    conda:
        ENV
    script:
        "../scripts/unknown_model.py"
