# Data: download (official files, git blob SHA-1), local mirror (SHA256SUMS) or generated (smoke scale);
# every row validated, a normalised CSV per task and split.


rule data:
    output:
        P.data(),
    log:
        P.log("data", "{task}-{split}"),
    localrule: True  # on a cluster, downloads run on the submit host (compute nodes may lack internet)
    conda:
        ENV
    params:
        source=DATA_SOURCE,
    script:
        "../scripts/data.py"


rule build_encoder:
    input:
        [P.data(t, "train") for t in ("sst", "para", "sts", "cfimdb")],
    output:
        directory(P.encoder()),
    log:
        P.log("build_encoder", "{encoder}"),
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
        directory(P.encoder()),
    log:
        P.log("fetch_encoder", "{encoder}"),
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
        P.label_source(),
    log:
        P.log("label_source", "{name}"),
    wildcard_constraints:
        name=name_regex(TEST_LABELS["sources"]),
    localrule: True
    conda:
        ENV
    params:
        spec=lambda wc: label_source_spec(config, wc.name),
    script:
        "../scripts/label_source.py"


rule test_labels:
    input:
        unpack(lambda wc: label_source_inputs(wc.task)),
    output:
        csv=P.data("{task}", "test"),
        provenance=P.test_provenance(),
    log:
        P.log("test_labels", "{task}"),
    wildcard_constraints:
        task=name_regex(REBUILT_TEST_TASKS),
    localrule: True
    conda:
        ENV
    params:
        source=DATA_SOURCE,
    script:
        "../scripts/test_labels.py"


# Everything a run at the active scale takes from the network (pipeline.workflow.inputs.prefetch_inputs):
# every data file, the test-label sources and the hub encoder, downloaded and verified on the submit host;
# afterwards every job, the controller included, can run where there is no internet (docs/cluster.md).
rule prefetch:
    input:
        unpack(lambda wc: prefetch_inputs(config)),
    localrule: True
