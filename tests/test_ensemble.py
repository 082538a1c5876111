"""Tests of pipeline.evaluation.ensemble and pipeline.evaluation.baselines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.evaluation.baselines import random_predictions
from pipeline.evaluation.ensemble import ensemble_files, ensemble_task, majority_vote, mean_vote
from pipeline.evaluation.metrics import accuracy
from pipeline.evaluation.predictions import PredictionFileError, task_rows, write_predictions
from pipeline.io import write_csv_atomic


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


def _frame(ids: list[str], values: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"id": ids, "prediction": values})


def test_ensemble_task() -> None:
    members = {
        "a": _frame(["b", "a", "c"], [1, 2, 3]),
        "b": _frame(["a", "b", "c"], [0, 4, 4]),
        "c": _frame(["c", "a", "b"], [4, 0, 4]),
    }
    out = ensemble_task("sst", members)
    assert list(out.columns) == ["task", "id", "prediction"] and set(out["task"]) == {"sst"}
    assert out["id"].tolist() == ["b", "a", "c"] and out["prediction"].tolist() == [4, 0, 4]
    sts = {"s1": _frame(["a", "b"], [1.0, 2.0]), "s2": _frame(["b", "a"], [4.0, 2.0])}
    assert ensemble_task("sts", sts)["prediction"].tolist() == [1.5, 3.0]


def test_ensemble_task_errors() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        ensemble_task("para", {"a.csv": _frame(["a", "b"], [1, 0])})
    with pytest.raises(ValueError, match=r"b\.csv has other para ids than a\.csv"):
        ensemble_task("para", {"a.csv": _frame(["a", "b"], [1, 0]), "b.csv": _frame(["a", "z"], [1, 0])})


def test_ensemble_files_combine_every_task_in_order(tmp_path: Path) -> None:
    """Members' prediction files -> the ensemble's file: each task voted (classes) or averaged (sts), the
    tasks in the given order, the first member's id order; class indices stay integers in the file."""
    members = []
    for i, (sst, sts) in enumerate([([0, 1], [1.0, 2.0]), ([0, 2], [3.0, 2.0]), ([4, 2], [2.0, 5.0])]):
        path = tmp_path / f"m{i}.csv"
        write_predictions([task_rows("sst", ["x", "y"], sst), task_rows("sts", ["p", "q"], sts)], path)
        members.append(path)
    out = tmp_path / "ensemble.csv"
    write_csv_atomic(ensemble_files(members, ["sst", "sts"]), out)
    assert out.read_text().splitlines() == [
        "task,id,prediction",
        "sst,x,0",
        "sst,y,2",
        "sts,p,2.0",
        "sts,q,3.0",
    ]
    with pytest.raises(
        PredictionFileError, match=r"m0\.csv holds tasks \['sst', 'sts'\], expected \['sst', 'para'\]"
    ):
        ensemble_files(members, ["sst", "para"])


def _data(n: int) -> pd.DataFrame:
    return pd.DataFrame({"id": [f"e{i}" for i in range(n)], "sentence": "x", "label": np.nan})


def test_random_baseline_reproducible() -> None:
    data = _data(50)
    a, b = random_predictions("sst", data, 1), random_predictions("sst", data, 1)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(random_predictions("sst", data, 2))
    assert a["id"].tolist() == data["id"].tolist()
    assert set(a["prediction"]) <= set(range(5))
    sts = random_predictions("sts", data, 1)["prediction"].astype(float)
    assert sts.between(0, 5).all() and sts.nunique() == 50
    # different tasks draw from different streams
    para = random_predictions("para", data, 1)["prediction"]
    cf = random_predictions("cfimdb", data, 1)["prediction"]
    assert not para.equals(cf)
    assert set(random_predictions("para", data, 1)["task"]) == {"para"}


def test_random_baseline_sst_accuracy_near_chance() -> None:
    preds = random_predictions("sst", _data(2000), 0)["prediction"]
    gold = np.random.default_rng(123).integers(0, 5, size=2000)
    assert abs(accuracy(preds, gold) - 0.2) < 0.04
