"""pipeline.workflow.migrate: prediction files of the old layout (one per task) become the new file (one per
model and split) with the same values and date, so finished experiments are not trained again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from workflow_config import workflow_config

from pipeline.evaluation.predictions import PredictionFileError, read_predictions
from pipeline.workflow.migrate import migrate_predictions

OLD = {
    "sst": "id,Predicted_Sentiment\ns1,4\ns2,0\n",
    "para": "id,Predicted_Is_Paraphrase\np1,1\np2,0\n",
    "sts": "id,Predicted_Similarity\nt1,2.123457\nt2,0.5\n",
}


def old_files(folder: Path, split: str, tasks, stamp: int = 1_700_000_000) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for task in tasks:
        path = folder / f"{task}-{split}.csv"
        path.write_text(OLD[task])
        os.utime(path, (stamp, stamp))


def test_old_files_become_one_file_per_model_and_split(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    predictions = tmp_path / "results/smoke/predictions"
    old_files(predictions / "multi", "dev", ["sst", "para", "sts"])
    old_files(predictions / "sts-first~seed1", "test", ["sst", "sts"], stamp=1_700_000_100)
    old_files(predictions / "random", "dev", ["sst", "para"])  # incomplete: sts missing
    old_files(predictions / "gone", "dev", ["sst"])  # a model the config no longer declares
    written = migrate_predictions(workflow_config("smoke"))
    assert written == [
        "results/smoke/predictions/multi/dev.csv",
        "results/smoke/predictions/sts-first~seed1/test.csv",
    ]
    new = predictions / "sts-first~seed1" / "test.csv"
    assert new.read_text().splitlines() == [  # the model's task order: sts, then sst
        "task,id,prediction",
        "sts,t1,2.123457",
        "sts,t2,0.5",
        "sst,s1,4",
        "sst,s2,0",
    ]
    assert new.stat().st_mtime == 1_700_000_100  # as old as the files it came from: nothing reruns
    assert list(read_predictions(predictions / "multi" / "dev.csv")) == ["sst", "para", "sts"]
    assert (predictions / "multi" / "sst-dev.csv").exists()  # the old files stay
    assert migrate_predictions(workflow_config("smoke")) == []  # converted once
    assert migrate_predictions(workflow_config("quick")) == []  # another scale's folder: nothing there


def test_a_malformed_old_file_is_named(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "results/smoke/predictions/single-para"
    old_files(folder, "dev", ["para"])
    (folder / "para-dev.csv").write_text("id,Predicted_Is_Paraphrase\np1,yes\n")
    with pytest.raises(PredictionFileError, match=r"para-dev\.csv, row 1 \(line 2\): 'yes' is not a number"):
        migrate_predictions(workflow_config("smoke"))
    (folder / "para-dev.csv").write_text("id,label\np1,1\n")
    with pytest.raises(PredictionFileError, match=r"expected \['id', 'Predicted_Is_Paraphrase'\]"):
        migrate_predictions(workflow_config("smoke"))


def test_a_dry_run_converts_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    folder = tmp_path / "results/smoke/predictions/multi"
    old_files(folder, "dev", ["sst", "para", "sts"])
    would = migrate_predictions(workflow_config("smoke"), dry_run=True)
    assert would == ["results/smoke/predictions/multi/dev.csv"]
    assert not (folder / "dev.csv").exists()
    assert migrate_predictions(workflow_config("smoke")) == would and (folder / "dev.csv").exists()
