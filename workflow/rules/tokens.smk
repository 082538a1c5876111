# Tokenization cache: each (encoder, task, split) tokenized once; every later job reads the tensors.


rule tokens:
    input:
        data=P.data(),
        encoder=lambda wc: encoder_files(config, wc.encoder),
    output:
        P.tokens(),
    log:
        P.log("tokens", "{encoder}/{task}-{split}"),
    localrule: True  # minutes of CPU work, once per (encoder, task, split): not worth a queue wait
    conda:
        ENV
    params:
        encoder=lambda wc: encoder_info(config, wc.encoder),
    script:
        "../scripts/tokens.py"
