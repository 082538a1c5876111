"""Task metrics (accuracy, Pearson correlation), the paper's overall score, and metrics JSON files.

The overall score of "Beyond BERT" is ``sst_acc/3 + para_acc/3 + (sts_corr + 1)/6``, i.e. the mean of the
three task scores after mapping the correlation from [-1, 1] to [0, 1].

Each metrics file also says whether the model *learned* each task (:func:`learned_flags`): a score above
the task's trivial predictor (:func:`trivial_scores`: the majority class's share of the split's gold labels
for a classification task, correlation 0 for STS) by more than :data:`LEARNED_MARGIN`. A run that did not
learn decides no claim (``pipeline.reporting.claims``).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.evaluation.predictions import read_predictions
from pipeline.tasks import TASKS, get_task

PathLike = str | Path

#: How far above the trivial predictor a score must be for the model to count as having learned the task:
#: 0.02 accuracy (2 points), 0.05 correlation.
LEARNED_MARGIN = {"acc": 0.02, "corr": 0.05}

#: Metric names of the paper's overall score.
PAPER_METRICS = ("sst_acc", "para_acc", "sts_corr")
_METRIC_NAMES = {t.metric_name: t for t in TASKS.values()}


def _arrays(pred: Sequence[float] | np.ndarray, gold: Sequence[float] | np.ndarray) -> tuple[np.ndarray, ...]:
    p, g = np.asarray(pred, dtype=float), np.asarray(gold, dtype=float)
    if p.shape != g.shape or p.ndim != 1 or p.size == 0:
        raise ValueError(f"need two non-empty 1-d arrays of equal length, got shapes {p.shape} and {g.shape}")
    return p, g


def accuracy(pred: Sequence[float] | np.ndarray, gold: Sequence[float] | np.ndarray) -> float:
    """Fraction of positions where ``pred`` equals ``gold``."""
    p, g = _arrays(pred, gold)
    return float(np.mean(p == g))


def pearson(pred: Sequence[float] | np.ndarray, gold: Sequence[float] | np.ndarray) -> float:
    """Pearson correlation of ``pred`` and ``gold``.

    Constant predictions (or constant gold) give 0.0: the correlation is undefined there (zero variance,
    scipy returns nan), and a model that predicts one value carries no information about the ordering, so
    0 is the natural score; it also keeps the overall score and the JSON files free of nan. Computed with
    numpy (equal to ``scipy.stats.pearsonr`` to rounding, tested): importing scipy.stats costs every
    training and prediction job about 1.5 s.
    """
    p, g = _arrays(pred, gold)
    if p.size < 2 or np.all(p == p[0]) or np.all(g == g[0]):
        return 0.0
    pc, gc = p - p.mean(), g - g.mean()
    r = float(np.dot(pc, gc) / (np.linalg.norm(pc) * np.linalg.norm(gc)))
    return min(1.0, max(-1.0, r))


def overall_score(scores: Mapping[str, float | None]) -> float | None:
    """Overall score of a model from its task scores (keys ``sst_acc, para_acc, sts_corr, cfimdb_acc``).

    With ``sst_acc``, ``para_acc`` and ``sts_corr`` all present and not None, this is the paper's
    ``sst_acc/3 + para_acc/3 + (sts_corr + 1)/6`` (other keys are ignored). For any other set of tasks
    (e.g. a single-task model) it is the mean of the available scores normalised to [0, 1] (accuracy as
    is, correlation as ``(r + 1)/2``), which equals the paper's formula when those three are the scores.
    Returns None when there is no score or any of the model's scores is None (e.g. an unlabelled split).
    """
    unknown = sorted(set(scores) - set(_METRIC_NAMES))
    if unknown:
        raise ValueError(f"unknown metric names {unknown}; known: {', '.join(_METRIC_NAMES)}")
    sst, para, sts = (scores.get(m) for m in PAPER_METRICS)
    if sst is not None and para is not None and sts is not None:
        return sst / 3 + para / 3 + (sts + 1) / 6
    normalised: list[float] = []
    for m, v in scores.items():
        if v is None:
            return None
        normalised.append((v + 1) / 2 if _METRIC_NAMES[m].metric == "corr" else v)
    return sum(normalised) / len(normalised) if normalised else None


def _few(ids: set[str], k: int = 5) -> str:
    shown = sorted(ids)[:k]
    return ", ".join(shown) + (f", ... ({len(ids)} in all)" if len(ids) > k else "")


def score_task(
    task_name: str,
    predictions: pd.DataFrame,
    gold: pd.DataFrame,
    pred_path: PathLike = "",
    gold_path: PathLike = "",
) -> float | None:
    """Score one task's predictions (``id`` + ``prediction``) against gold (``id`` + ``label``).

    Returns None when every gold label is missing (unlabelled split). Raises ValueError, naming both files,
    when the id sets differ or repeat, some but not all gold labels are missing, or a prediction is NaN
    or out of range. Classification predictions must be class indices ``0 .. num_labels-1``; regression
    predictions only need to be finite (Pearson correlation is defined for any real values, and an
    unclipped regression head may stray slightly outside the label range).
    """
    task = get_task(task_name)
    where = f"predictions {pred_path or '<frame>'} vs gold {gold_path or '<frame>'}"
    if "prediction" not in predictions.columns or "id" not in predictions.columns:
        raise ValueError(f"predictions {pred_path} need columns 'id' and 'prediction' ({where})")
    if "label" not in gold.columns or "id" not in gold.columns:
        raise ValueError(f"gold {gold_path} needs columns 'id' and 'label' ({where})")
    pred_ids, gold_ids = predictions["id"].astype(str), gold["id"].astype(str)
    for name, ids in (("predictions", pred_ids), ("gold", gold_ids)):
        if ids.duplicated().any():
            raise ValueError(f"duplicate ids in {name} ({where}): {_few(set(ids[ids.duplicated()]))}")
    missing, extra = set(gold_ids) - set(pred_ids), set(pred_ids) - set(gold_ids)
    if missing or extra:
        msg = [f"ids do not match ({where})"]
        if missing:
            msg.append(f"{len(missing)} gold ids without prediction: {_few(missing)}")
        if extra:
            msg.append(f"{len(extra)} predicted ids not in gold: {_few(extra)}")
        raise ValueError("; ".join(msg))

    labels = pd.to_numeric(gold["label"], errors="raise")
    if labels.isna().all():
        return None
    if labels.isna().any():
        raise ValueError(f"gold has {int(labels.isna().sum())} missing labels of {len(labels)} ({where})")
    preds = pd.to_numeric(predictions["prediction"], errors="coerce")
    if preds.isna().any():
        raise ValueError(f"{int(preds.isna().sum())} NaN or non-numeric predictions ({where})")
    if task.kind == "classification":
        bad = preds[(preds != preds.round()) | (preds < 0) | (preds > task.num_labels - 1)]
        if len(bad):
            raise ValueError(
                f"{len(bad)} predictions outside classes 0..{task.num_labels - 1}, "
                f"e.g. {bad.iloc[0]} ({where})"
            )
    elif not np.isfinite(preds.to_numpy(dtype=float)).all():
        raise ValueError(f"non-finite predictions ({where})")

    pred_by_id = pd.Series(preds.to_numpy(dtype=float), index=pred_ids.to_numpy())
    aligned = pred_by_id.reindex(gold_ids.to_numpy()).to_numpy()
    gold_values = labels.to_numpy(dtype=float)
    return accuracy(aligned, gold_values) if task.metric == "acc" else pearson(aligned, gold_values)


#: The two halves of a split a best-of-several model is picked on and scored on (no winner's curse).
HALVES = ("a", "b")


def half_of(example_id: str) -> str:
    """The half (``a`` or ``b``) an example belongs to: fixed by its id alone (the first byte of its MD5), so
    every model and seed splits the same examples the same way."""
    return HALVES[hashlib.md5(str(example_id).encode()).digest()[0] % 2]


def half_scores(
    predictions: Mapping[str, pd.DataFrame], gold: Mapping[str, pd.DataFrame]
) -> dict[str, dict[str, Any]]:
    """``{"a": {"scores", "overall"}, "b": {...}}``: the scores on each half of a split (:func:`half_of`)."""
    out = {half: {"scores": {}} for half in HALVES}
    for task_name, frame in gold.items():
        preds = predictions[task_name]
        gold_half = frame["id"].astype(str).map(half_of)
        pred_half = preds["id"].astype(str).map(half_of)
        for half in HALVES:
            value = score_task(task_name, preds[pred_half == half], frame[gold_half == half])
            out[half]["scores"][get_task(task_name).metric_name] = value
    for half in HALVES:
        out[half]["overall"] = overall_score(out[half]["scores"])
    return out


def read_gold(path: PathLike) -> pd.DataFrame:
    """``id`` (string) and ``label`` (empty cells as NaN) of a normalised data file."""
    return pd.read_csv(
        path, usecols=["id", "label"], dtype={"id": str}, keep_default_na=False, na_values={"label": [""]}
    )


def compute_metrics(
    model: str,
    split: str,
    pred_file: PathLike,
    data_files: Mapping[str, PathLike],
) -> dict[str, Any]:
    """Scores of one model on one split, JSON-ready.

    ``pred_file``: the model's prediction file (:mod:`pipeline.evaluation.predictions`), which must hold
    exactly the tasks of ``data_files`` (task -> normalised data file). Returns ``{"model", "split",
    "scores": {metric_name: value or None}, "overall", "unlabelled": [tasks], "n": {task: rows}, "trivial",
    "learned"}``, and on a labelled dev split ``"halves"`` (:func:`half_scores`).
    """
    if not data_files:
        raise ValueError(f"no data files for model {model!r} on split {split!r}")
    predictions = read_predictions(pred_file, list(data_files))
    scores: dict[str, float | None] = {}
    unlabelled: list[str] = []
    n: dict[str, int] = {}
    for task_name, data_file in data_files.items():
        task = get_task(task_name)
        preds, gold = predictions[task_name], read_gold(data_file)
        value = score_task(task_name, preds, gold, f"{pred_file} ({task_name} rows)", data_file)
        if value is None:
            unlabelled.append(task_name)
        elif not math.isfinite(value):
            raise ValueError(f"non-finite {task.metric_name} for {pred_file} ({task_name} rows)")
        scores[task.metric_name] = value
        n[task_name] = len(preds)
    golds = {task: read_gold(path) for task, path in data_files.items()}
    trivial = trivial_scores(golds)
    result = {
        "model": model,
        "split": split,
        "scores": scores,
        "overall": overall_score(scores),
        "unlabelled": unlabelled,
        "n": n,
        "trivial": trivial,
        "learned": learned_flags(scores, trivial),
    }
    if split == "dev" and not unlabelled:  # where a best-of-several model is picked (claims)
        result["halves"] = half_scores(predictions, golds)
    return result


def trivial_scores(gold_frames: Mapping[str, pd.DataFrame]) -> dict[str, float | None]:
    """``{task: score}`` of the task's trivial predictor on these gold labels: for a classification task the
    share of its most common label (what predicting the majority class scores: an upper bound of every
    constant prediction), for a regression task 0.0 (the correlation of a constant); None: no labels."""
    out: dict[str, float | None] = {}
    for task_name, gold in gold_frames.items():
        labels = pd.to_numeric(gold["label"], errors="coerce").dropna()
        if labels.empty:
            out[task_name] = None
        elif get_task(task_name).kind == "classification":
            out[task_name] = float(labels.value_counts(normalize=True).max())
        else:
            out[task_name] = 0.0
    return out


def learned_flags(
    scores: Mapping[str, float | None], trivial: Mapping[str, float | None]
) -> dict[str, bool | None]:
    """``{task: learned}``: whether the task's score (``scores`` keyed by metric name, as in
    :func:`compute_metrics`) exceeds its trivial score by more than :data:`LEARNED_MARGIN`; None where
    either is missing (an unlabelled split)."""
    out: dict[str, bool | None] = {}
    for task_name, base in trivial.items():
        task = get_task(task_name)
        value = scores.get(task.metric_name)
        out[task_name] = None if value is None or base is None else value > base + LEARNED_MARGIN[task.metric]
    return out
