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


# Labelled test splits rebuilt from public releases (pipeline.labels), each trusted only after the same
# matching reproduced every official train and dev label; on the submit host (downloads).
ruleorder: test_labels > data


rule label_source:
    output:
        "results/downloads/label-sources/{name}",
    log:
        "logs/label_source/{name}.log",
    wildcard_constraints:
        name=name_regex(TEST_LABELS["sources"]),
    localrule: True
    conda:
        ENV
    params:
        spec=lambda wc: label_source_spec(wc.name),
    script:
        "../scripts/label_source.py"


rule test_labels:
    input:
        unpack(label_source_inputs),
    output:
        csv="results/data/{task}-test.csv",
        provenance="results/data/{task}-test.provenance.json",
    log:
        "logs/test_labels/{task}.log",
    wildcard_constraints:
        task=name_regex(rebuilt_test_tasks()),
    localrule: True
    conda:
        ENV
    params:
        source=data_source(),
    script:
        "../scripts/test_labels.py"
