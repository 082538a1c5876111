"""Tests of pipeline.evaluation.metrics and pipeline.io."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.evaluation.metrics import accuracy, compute_metrics, overall_score, pearson, score_task
from pipeline.evaluation.predictions import PredictionFileError, task_rows, write_predictions
from pipeline.io import write_json_atomic
from pipeline.tasks import get_task


def _gold(task_name: str, labels: list[float | None], ids: list[str] | None = None) -> pd.DataFrame:
    ids = ids or [f"e{i}" for i in range(len(labels))]
    df = pd.DataFrame({"id": ids})
    for col in get_task(task_name).text_columns:
        df[col] = "text"
    df["label"] = labels
    return df


def _preds(task_name: str, values: list[float], ids: list[str] | None = None) -> pd.DataFrame:
    ids = ids or [f"e{i}" for i in range(len(values))]
    return pd.DataFrame({"id": ids, "prediction": values})


def test_accuracy_and_pearson_on_fixed_numbers() -> None:
    assert accuracy([0, 1, 2, 3], [0, 1, 0, 3]) == 0.75
    assert pearson([1, 2, 3, 4], [2, 4, 6, 8]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert pearson([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(0.8)
    assert pearson([2, 2, 2], [1, 2, 3]) == 0.0


def test_pearson_equals_scipy_on_random_scores() -> None:
    from scipy.stats import pearsonr

    rng = np.random.default_rng(0)
    for n in (2, 3, 50, 1725):
        pred, gold = rng.normal(size=n), rng.uniform(0, 5, size=n)
        gold_like = 2.5 + 0.8 * gold + rng.normal(scale=0.5, size=n)  # a correlated model too
        for p in (pred, gold_like):
            assert pearson(p, gold) == pytest.approx(pearsonr(p, gold).statistic, abs=1e-12)
    with pytest.raises(ValueError):
        accuracy([1, 2], [1])


def test_overall_paper_formula() -> None:
    expected = 0.5 / 3 + 0.75 / 3 + 1.4 / 6
    got = overall_score({"sst_acc": 0.5, "para_acc": 0.75, "sts_corr": 0.4})
    assert got == pytest.approx(expected)
    assert overall_score({"sst_acc": 0.5, "para_acc": 0.75, "sts_corr": 0.4, "cfimdb_acc": 0.9}) == got


def test_overall_single_task_and_missing() -> None:
    assert overall_score({"sst_acc": 0.5}) == 0.5
    assert overall_score({"sts_corr": 0.4}) == pytest.approx(0.7)
    assert overall_score({"sst_acc": 0.5, "cfimdb_acc": 0.9}) == pytest.approx(0.7)
    assert overall_score({}) is None
    assert overall_score({"sst_acc": 0.5, "para_acc": 0.75, "sts_corr": None}) is None
    with pytest.raises(ValueError, match="unknown"):
        overall_score({"bogus": 1.0})


def test_score_task_id_mismatch_names_files() -> None:
    with pytest.raises(ValueError, match=r"preds\.csv.*gold\.csv") as err:
        score_task(
            "sst",
            _preds("sst", [0, 1], ["a", "x"]),
            _gold("sst", [0, 1], ["a", "b"]),
            "preds.csv",
            "gold.csv",
        )
    assert "without prediction: b" in str(err.value) and "not in gold: x" in str(err.value)


def test_score_task_bad_predictions() -> None:
    with pytest.raises(ValueError, match="outside"):
        score_task("sst", _preds("sst", [0, 5]), _gold("sst", [0, 1]), "p.csv", "g.csv")
    with pytest.raises(ValueError, match="NaN"):
        score_task("sts", _preds("sts", [0.5, float("nan")]), _gold("sts", [1.0, 2.0]), "p.csv", "g.csv")


def test_score_task_unlabelled_and_order_independent() -> None:
    assert score_task("para", _preds("para", [0, 1]), _gold("para", [None, None])) is None
    preds = _preds("sst", [1, 0, 2], ["c", "a", "b"])
    assert score_task("sst", preds, _gold("sst", [0, 2, 4], ["a", "b", "c"])) == pytest.approx(2 / 3)


def test_compute_metrics_roundtrip(tmp_path: Path) -> None:
    gold, frames = {}, []
    for task_name, labels, preds in [
        ("sst", [0, 1, 2, 3], [0, 1, 2, 0]),
        ("para", [None] * 3, [0, 1, 1]),
        ("sts", [0.0, 1.0, 2.0], [0.0, 2.0, 4.0]),
    ]:
        _gold(task_name, labels).to_csv(tmp_path / f"{task_name}-dev.csv", index=False)
        gold[task_name] = tmp_path / f"{task_name}-dev.csv"
        frames.append(task_rows(task_name, [f"e{i}" for i in range(len(preds))], preds))
    write_predictions(frames, tmp_path / "dev.csv")
    result = compute_metrics("m", "dev", tmp_path / "dev.csv", gold)
    assert result["scores"]["sst_acc"] == 0.75 and result["scores"]["para_acc"] is None
    assert result["scores"]["sts_corr"] == pytest.approx(1.0)
    assert result["overall"] is None and result["unlabelled"] == ["para"]
    assert result["n"] == {"sst": 4, "para": 3, "sts": 3}
    out = tmp_path / "sub" / "metrics.json"
    write_json_atomic(result, out)
    assert json.loads(out.read_text()) == result
    assert sorted(p.name for p in out.parent.iterdir()) == ["metrics.json"]
    assert not math.isnan(result["scores"]["sst_acc"])


def test_compute_metrics_names_the_file_and_the_tasks_it_lacks(tmp_path: Path) -> None:
    _gold("sst", [0, 1]).to_csv(tmp_path / "sst-dev.csv", index=False)
    _gold("sts", [1.0, 2.0]).to_csv(tmp_path / "sts-dev.csv", index=False)
    write_predictions([task_rows("sst", ["e0", "e1"], [0, 1])], tmp_path / "dev.csv")
    gold = {"sst": tmp_path / "sst-dev.csv", "sts": tmp_path / "sts-dev.csv"}
    with pytest.raises(PredictionFileError, match=r"dev\.csv holds tasks \['sst'\].*no rows of sts"):
        compute_metrics("m", "dev", tmp_path / "dev.csv", gold)
    write_predictions([task_rows("sst", ["e0", "x"], [0, 1])], tmp_path / "dev.csv")
    with pytest.raises(ValueError, match=r"dev\.csv \(sst rows\) vs gold .*sst-dev\.csv"):
        compute_metrics("m", "dev", tmp_path / "dev.csv", {"sst": gold["sst"]})


def test_dev_halves_split_every_task_by_id_and_score_each_half(tmp_path):
    from pipeline.evaluation.metrics import half_of

    ids = [f"s{i}" for i in range(40)]
    gold = pd.DataFrame({"id": ids, "label": [i % 5 for i in range(40)]})
    preds = [i % 5 if i % 3 else 0 for i in range(40)]
    data = tmp_path / "sst-dev.csv"
    gold.to_csv(data, index=False)
    pred_file = tmp_path / "dev.csv"
    pd.DataFrame({"task": "sst", "id": ids, "prediction": preds}).to_csv(pred_file, index=False)
    result = compute_metrics("m", "dev", pred_file, {"sst": data})
    halves = {h: [i for i, x in enumerate(ids) if half_of(x) == h] for h in ("a", "b")}
    assert halves["a"] and halves["b"] and len(halves["a"]) + len(halves["b"]) == 40
    for half, rows in halves.items():
        expected = sum(preds[i] == i % 5 for i in rows) / len(rows)
        assert result["halves"][half]["scores"]["sst_acc"] == pytest.approx(expected)
        assert result["halves"][half]["overall"] is not None
    assert half_of("s1") == half_of("s1")  # fixed by the id: the same for every model and seed
    assert "halves" not in compute_metrics("m", "test", pred_file, {"sst": data})
