# MNRL pre-training of the encoder's sentence embeddings (Beyond BERT section 4).


rule pretrain:
    input:
        unpack(
            lambda wc: {
                t: token_file(t, "train")
                for t in config["pretrains"][wc.pretrain]["sources"]
            }
        ),
        encoder=encoder_files(),
    output:
        directory(f"{RES}/pretrained/{{pretrain}}"),
    log:
        f"{LOGS}/pretrain/{{pretrain}}.log",
    benchmark:
        f"{RES}/benchmarks/pretrain/{{pretrain}}.tsv"
    conda:
        ENV
    threads: JOB_THREADS
    resources:
        gpu=1,
    params:
        settings=lambda wc: resolve_pretrain(config, wc.pretrain),
        encoder=encoder_info(),
        checkpoints=lambda wc: f"{RES}/checkpoints/pretrain-{wc.pretrain}",
    script:
        "../scripts/pretrain.py"
