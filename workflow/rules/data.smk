# Data: download (official files, git blob SHA-1), local mirror (SHA256SUMS) or generated (smoke scale);
# every row validated, a normalised CSV per task and split.


rule data:
    output:
        f"{RES}/data/{{task}}-{{split}}.csv",
    log:
        f"{LOGS}/data/{{task}}-{{split}}.log",
    localrule: True  # on a cluster, downloads run on the submit host (compute nodes may lack internet)
    conda:
        ENV
    params:
        source=data_source(),
    script:
        "../scripts/data.py"


rule build_encoder:
    input:
        expand(f"{RES}/data/{{task}}-train.csv", task=["sst", "para", "sts", "cfimdb"]),
    output:
        directory(f"{RES}/encoders/{{encoder}}"),
    log:
        f"{LOGS}/build_encoder/{{encoder}}.log",
    wildcard_constraints:
        encoder=name_regex(RANDOM_ENCODERS),
    conda:
        ENV
    params:
        spec=lambda wc: config["encoders"][wc.encoder],
    script:
        "../scripts/build_encoder.py"


rule fetch_encoder:
    output:
        directory(f"{RES}/encoders/{{encoder}}"),
    log:
        f"{LOGS}/fetch_encoder/{{encoder}}.log",
    wildcard_constraints:
        encoder=name_regex(HUB_ENCODERS),
    localrule: True  # on a cluster, the hub is reached from the submit host only (nodes may lack internet)
    conda:
        ENV
    params:
        spec=lambda wc: config["encoders"][wc.encoder],
    script:
        "../scripts/fetch_encoder.py"


# Labelled test splits rebuilt from public releases (pipeline.data.labels), each trusted only after the same
# matching reproduced every official train and dev label; on the submit host (downloads).
ruleorder: test_labels > data


rule label_source:
    output:
        "results/downloads/label-sources/{name}",
    log:
        f"{LOGS}/label_source/{{name}}.log",
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
        csv=f"{RES}/data/{{task}}-test.csv",
        provenance=f"{RES}/data/{{task}}-test.provenance.json",
    log:
        f"{LOGS}/test_labels/{{task}}.log",
    wildcard_constraints:
        task=name_regex(rebuilt_test_tasks()),
    localrule: True
    conda:
        ENV
    params:
        source=data_source(),
    script:
        "../scripts/test_labels.py"
