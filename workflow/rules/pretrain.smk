# MNRL pre-training of the encoder's sentence embeddings (Beyond BERT section 4).


rule pretrain:
    input:
        unpack(lambda wc: pretrain_inputs(config, wc.pretrain)),
    output:
        directory(P.pretrained()),
    log:
        P.log("pretrain", "{pretrain}"),
    benchmark:
        P.benchmark("pretrain", "{pretrain}")
    conda:
        ENV
    threads: JOB_THREADS
    resources:
        **job_resources(config, "pretrain", COSTS),
    params:
        settings=lambda wc: resolve_pretrain(config, wc.pretrain),
        encoder=encoder_info(config),
        checkpoints=lambda wc: P.pretrain_checkpoints(wc.pretrain),
    script:
        "../scripts/pretrain.py"
