# Tokenization cache: each (encoder, task, split) tokenized once; every later job reads the tensors.


rule tokens:
    input:
        data="results/data/{task}-{split}.csv",
        encoder=lambda wc: encoder_files(wc.encoder),
    output:
        "results/tokens/{encoder}/{task}-{split}.pt",
    log:
        "logs/tokens/{encoder}/{task}-{split}.log",
    conda:
        ENV
    params:
        encoder=lambda wc: encoder_info(wc.encoder),
    script:
        "../scripts/tokens.py"
