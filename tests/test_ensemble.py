"""Tests of pipeline.evaluation.ensemble and pipeline.evaluation.baselines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.evaluation.baselines import random_predictions
from pipeline.evaluation.ensemble import ensemble_task, majority_vote, mean_vote
from pipeline.evaluation.metrics import accuracy


def _s(values: list[float], index: list[str] | None = None) -> pd.Series:
    return pd.Series(values, index=index or [f"e{i}" for i in range(len(values))])


def test_majority_vote_plain_and_ties() -> None:
    # row 0: plain 2-1-1 majority; rows 1-2: 2-2 ties -> member 0's label; row 3: 2-1-1 against member 0.
    members = [_s([1, 3, 0, 4]), _s([2, 0, 1, 2]), _s([1, 0, 1, 2]), _s([0, 3, 0, 1])]
    assert majority_vote(members).tolist() == [1, 3, 0, 2]
    # 2-2 tie not involving member 0 -> the label of the earliest member in the tie (member 1)
    assert majority_vote([_s([3]), _s([1]), _s([2]), _s([1]), _s([2])]).tolist() == [1]
    # three-way 1-1-1 tie -> first member
    assert majority_vote([_s([2]), _s([0]), _s([1])]).tolist() == [2]
    assert majority_vote([_s([0]), _s([1]), _s([2])]).tolist() == [0]


def test_majority_vote_aligns_by_index() -> None:
    a = _s([1, 2], ["x", "y"])
    b = _s([2, 1], ["y", "x"])
    c = _s([0, 0], ["x", "y"])
    out = majority_vote([a, b, c])
    assert out.index.tolist() == ["x", "y"] and out.tolist() == [1, 2]


def test_mean_vote() -> None:
    assert mean_vote([_s([1.0, 2.0]), _s([3.0, 5.0])]).tolist() == [2.0, 3.5]


def _write(path: Path, ids: list[str], values: list[float], column: str) -> Path:
    pd.DataFrame({"id": ids, column: values}).to_csv(path, index=False)
    return path


def test_ensemble_task_files(tmp_path: Path) -> None:
    col = "Predicted_Sentiment"
    f1 = _write(tmp_path / "a.csv", ["b", "a", "c"], [1, 2, 3], col)
    f2 = _write(tmp_path / "b.csv", ["a", "b", "c"], [0, 4, 4], col)
    f3 = _write(tmp_path / "c.csv", ["c", "a", "b"], [4, 0, 4], col)
    out = ensemble_task("sst", [f1, f2, f3])
    assert list(out.columns) == ["id", col]
    assert out["id"].tolist() == ["b", "a", "c"] and out[col].tolist() == [4, 0, 4]
    sts = "Predicted_Similarity"
    s1 = _write(tmp_path / "s1.csv", ["a", "b"], [1.0, 2.0], sts)
    s2 = _write(tmp_path / "s2.csv", ["b", "a"], [4.0, 2.0], sts)
    assert ensemble_task("sts", [s1, s2])[sts].tolist() == [1.5, 3.0]


def test_ensemble_task_errors(tmp_path: Path) -> None:
    col = "Predicted_Is_Paraphrase"
    f1 = _write(tmp_path / "a.csv", ["a", "b"], [1, 0], col)
    f2 = _write(tmp_path / "b.csv", ["a", "z"], [1, 0], col)
    with pytest.raises(ValueError, match="at least 2"):
        ensemble_task("para", [f1])
    with pytest.raises(ValueError, match=r"b\.csv"):
        ensemble_task("para", [f1, f2])


def _data(n: int) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"e{i}" for i in range(n)], "sentence": "x", "label": np.nan})


def test_random_baseline_reproducible() -> None:
    data = _data(50)
    a, b = random_predictions("sst", data, 1), random_predictions("sst", data, 1)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(random_predictions("sst", data, 2))
    assert a["id"].tolist() == data["id"].tolist()
    assert set(a["Predicted_Sentiment"]) <= set(range(5))
    sts = random_predictions("sts", data, 1)["Predicted_Similarity"]
    assert sts.between(0, 5).all() and sts.nunique() == 50
    # different tasks draw from different streams
    para = random_predictions("para", data, 1)["Predicted_Is_Paraphrase"]
    cf = random_predictions("cfimdb", data, 1)["Predicted_Sentiment"]
    assert not para.equals(cf)


def test_random_baseline_sst_accuracy_near_chance() -> None:
    preds = random_predictions("sst", _data(2000), 0)["Predicted_Sentiment"]
    gold = np.random.default_rng(123).integers(0, 5, size=2000)
    assert abs(accuracy(preds, gold) - 0.2) < 0.04
