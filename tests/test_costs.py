"""The cost plan of a scale from the config alone: which jobs each target needs, rows per split, totals."""

import copy

import pytest

from pipeline.reporting.plan import Device, EncoderShape
from pipeline.workflow.costs import needs, plan_frame, scale_rows, totals

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
