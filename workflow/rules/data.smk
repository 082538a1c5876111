# Data: download (official files, git blob SHA-1), local mirror (SHA256SUMS) or generated (smoke scale);
# every row validated, a normalised CSV per task and split.


rule data:
    output:
        "results/data/{task}-{split}.csv",
    log:
        "logs/data/{task}-{split}.log",
    localrule: True  # on a cluster, downloads run on the submit host (compute nodes may lack internet)
    conda:
        ENV
    params:
        source=data_source(),
    script:
        "../scripts/data.py"


rule build_encoder:
    input:
        expand("results/data/{task}-train.csv", task=["sst", "para", "sts", "cfimdb"]),
    output:
        directory("results/encoders/{encoder}"),
    log:
        "logs/build_encoder/{encoder}.log",
    conda:
        ENV
    params:
        spec=lambda wc: config["encoders"][wc.encoder],
    script:
        "../scripts/build_encoder.py"
