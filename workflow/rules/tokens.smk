# Tokenization cache: each (encoder, task, split) tokenized once; every later job reads the tensors.


rule tokens:
    input:
        data=f"{RES}/data/{{task}}-{{split}}.csv",
        encoder=lambda wc: encoder_files(wc.encoder),
    output:
        f"{RES}/tokens/{{encoder}}/{{task}}-{{split}}.pt",
    log:
        f"{LOGS}/tokens/{{encoder}}/{{task}}-{{split}}.log",
    localrule: True  # minutes of CPU work, once per (encoder, task, split): not worth a queue wait
    conda:
        ENV
    params:
        encoder=lambda wc: encoder_info(wc.encoder),
    script:
        "../scripts/tokens.py"
