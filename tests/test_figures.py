"""Tests of pipeline.reporting.figures on small generated CSV files."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from pipeline.evaluation.predictions import task_rows, write_predictions
from pipeline.reporting.figures import (
    confusion_counts,
    plot_confusion,
    plot_learning_curves,
    plot_sts_scatter,
)
from pipeline.tasks import get_task

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _check_png(path: Path) -> None:
    """The file is a non-empty PNG that matplotlib reads back as an RGB(A) image; no temp files remain."""
    assert path.read_bytes()[:8] == PNG_MAGIC
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[2] in (3, 4) and img.shape[0] > 50 and img.shape[1] > 50
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]


def _write_split(path: Path, task_name: str, labels: list[float] | None, n: int) -> Path:
    """A normalised data file with ids ``e0 .. e{n-1}``; ``labels=None`` leaves the label column empty."""
    task = get_task(task_name)
    df = pd.DataFrame({"id": [f"e{i}" for i in range(n)]})
    for col in task.text_columns:
        df[col] = "some text"
    df["label"] = labels if labels is not None else [None] * n
    df.to_csv(path, index=False)
    return path


def _write_preds(path: Path, task_name: str, preds: list[float], ids: list[str] | None = None) -> Path:
    """A model's prediction file holding ``task_name`` (after rows of another task, which must be skipped)."""
    ids = ids if ids is not None else [f"e{i}" for i in range(len(preds))]
    other = "sts" if task_name != "sts" else "para"
    write_predictions([task_rows(other, ["o1"], [1]), task_rows(task_name, ids, preds)], path)
    return path


@pytest.fixture
def data(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


def test_confusion_counts_hand_made(data: Path) -> None:
    gold = _write_split(data / "gold.csv", "sst", [0, 1, 1, 3, 3, 3], 6)
    # rows of predictions shuffled, so the join on id matters
    pred = _write_preds(
        data / "pred.csv", "sst", [3, 2, 1, 1, 1, 0], ids=["e5", "e4", "e3", "e2", "e1", "e0"]
    )
    counts = confusion_counts("sst", pred, gold)
    expected = np.zeros((5, 5), dtype=int)
    expected[0, 0] = 1  # e0
    expected[1, 1] = 2  # e1, e2
    expected[3, 1] = 1  # e3
    expected[3, 2] = 1  # e4
    expected[3, 3] = 1  # e5
    assert list(counts.index) == list(range(5)) and list(counts.columns) == list(range(5))
    np.testing.assert_array_equal(counts.to_numpy(), expected)


def test_confusion_counts_binary_all_classes(data: Path) -> None:
    gold = _write_split(data / "gold.csv", "para", [0, 0, 0], 3)
    pred = _write_preds(data / "pred.csv", "para", [0, 0, 0])
    np.testing.assert_array_equal(confusion_counts("para", pred, gold).to_numpy(), [[3, 0], [0, 0]])


def test_mismatched_ids_raise(data: Path) -> None:
    gold = _write_split(data / "gold.csv", "sst", [0, 1, 2], 3)
    pred = _write_preds(data / "pred.csv", "sst", [0, 1, 2], ids=["e0", "e1", "x9"])
    with pytest.raises(ValueError, match="pred.csv"):
        confusion_counts("sst", pred, gold)
    with pytest.raises(ValueError, match="ids do not match"):
        plot_confusion("sst", pred, gold, gold, data / "out.png")
    sts_pred = _write_preds(data / "sts_pred.csv", "sts", [1.0, 2.0])
    sts_gold = _write_split(data / "sts_gold.csv", "sts", [1.0, 2.0, 3.0], 3)
    with pytest.raises(ValueError, match="sts_gold.csv"):
        plot_sts_scatter(sts_pred, sts_gold, sts_gold, data / "sts.png")
    assert not (data / "out.png").exists() and not (data / "sts.png").exists()


def test_unlabelled_gold_raises(data: Path) -> None:
    gold = _write_split(data / "gold.csv", "sst", None, 3)
    pred = _write_preds(data / "pred.csv", "sst", [0, 1, 2])
    with pytest.raises(ValueError, match="unlabelled"):
        confusion_counts("sst", pred, gold)


def test_plot_learning_curves(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    histories = {}
    for name in ("round-robin", "annealed"):
        n = 6
        hist = pd.DataFrame(
            {
                "epoch": range(1, n + 1),
                "train_loss": rng.random(n),
                "overall": rng.random(n),
                "epoch_seconds": rng.random(n) * 100,
                "sst_acc": rng.random(n),
                "para_acc": rng.random(n),
                "sts_corr": rng.random(n),
            }
        )
        histories[name] = tmp_path / f"{name}.csv"
        hist.to_csv(histories[name], index=False)
    out = tmp_path / "figs" / "learning_curves.png"
    plot_learning_curves(histories, out)
    _check_png(out)


@pytest.mark.parametrize(("task_name", "n_classes"), [("sst", 5), ("para", 2), ("cfimdb", 2)])
def test_plot_confusion(data: Path, tmp_path: Path, task_name: str, n_classes: int) -> None:
    rng = np.random.default_rng(1)
    gold = _write_split(data / "dev.csv", task_name, list(rng.integers(0, n_classes, 40)), 40)
    train = _write_split(data / "train.csv", task_name, list(rng.integers(0, n_classes, 100)), 100)
    pred = _write_preds(data / "pred.csv", task_name, list(rng.integers(0, n_classes, 40)))
    out = tmp_path / "figs" / f"{task_name}_confusion.png"
    plot_confusion(task_name, pred, gold, train, out, title="Test model")
    _check_png(out)


def test_plot_sts_scatter(data: Path, tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    true = rng.uniform(0, 5, 50).round(1)
    gold = _write_split(data / "dev.csv", "sts", list(true), 50)
    train = _write_split(data / "train.csv", "sts", list(rng.uniform(0, 5, 200).round(1)) + [5.0], 201)
    pred = _write_preds(data / "pred.csv", "sts", list(true + rng.normal(0, 0.5, 50)))
    out = tmp_path / "figs" / "sts_scatter.png"
    before = dict(matplotlib.rcParams)
    plot_sts_scatter(pred, gold, train, out)
    _check_png(out)
    assert dict(matplotlib.rcParams) == before  # seaborn's style only inside the figure's own block


def test_prediction_file_without_the_task_raises(data: Path) -> None:
    gold = _write_split(data / "gold.csv", "sst", [0, 1], 2)
    pred = data / "pred.csv"
    write_predictions([task_rows("sts", ["e0", "e1"], [1.0, 2.0])], pred)
    with pytest.raises(ValueError, match=r"pred\.csv has no rows of task 'sst' \(it holds \['sts'\]\)"):
        confusion_counts("sst", pred, gold)
