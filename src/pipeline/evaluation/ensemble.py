"""Ensembles of prediction files (:mod:`pipeline.evaluation.predictions`): majority vote for classification
tasks, mean for STS."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.evaluation.predictions import combine, read_predictions, task_rows
from pipeline.tasks import get_task

PathLike = str | Path


def _aligned(preds: Sequence[pd.Series]) -> pd.DataFrame:
    """Members as columns ``0 .. k-1`` indexed like the first; ValueError if indexes differ or hold NaN."""
    if not preds:
        raise ValueError("no predictions to combine")
    index = preds[0].index
    for i, p in enumerate(preds):
        if not p.index.is_unique or set(p.index) != set(index):
            raise ValueError(f"member {i} is not indexed like member 0 (same unique labels needed)")
    frame = pd.concat([p.reindex(index) for p in preds], axis=1, ignore_index=True)
    if frame.isna().any().any():
        raise ValueError("missing predictions among ensemble members")
    return frame


def majority_vote(preds: Sequence[pd.Series]) -> pd.Series:
    """Most frequent prediction per index label, members aligned by index (result in member 0's order).

    Tie rule: among the labels with the most votes, the one predicted by the earliest-listed member wins
    (members are listed best first). E.g. votes ``[a, b, b, a]`` give ``a``, ``[c, a, b, a, b]`` give
    ``a``, and a three-way 1-1-1 tie gives member 0's label.
    """
    votes = _aligned(preds).to_numpy()
    # support[i, j] = how many members predict member j's label at row i.
    support = (votes[:, :, None] == votes[:, None, :]).sum(axis=2)
    winner = support.argmax(axis=1)  # argmax takes the first maximum = the earliest member
    return pd.Series(votes[np.arange(len(votes)), winner], index=preds[0].index, name=preds[0].name)


def mean_vote(preds: Sequence[pd.Series]) -> pd.Series:
    """Mean prediction per index label, members aligned by index (result in member 0's order)."""
    return _aligned(preds).astype(float).mean(axis=1).rename(preds[0].name)


def ensemble_task(task_name: str, members: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Combine one task's predictions of several members (name or file -> ``id`` + ``prediction``) into
    that task's rows of a prediction file (:func:`pipeline.evaluation.predictions.task_rows`).

    Every member must hold exactly the same ids (ValueError naming the member otherwise); the result keeps
    the first member's id order. Classification -> :func:`majority_vote`, regression -> :func:`mean_vote`.
    At least two members are required.
    """
    task = get_task(task_name)
    names = list(members)
    if len(names) < 2:
        raise ValueError(f"an ensemble needs at least 2 members, got {len(names)}: {names}")
    series: list[pd.Series] = []
    first_ids: set[str] = set()
    for name, frame in members.items():
        if frame["id"].duplicated().any():
            raise ValueError(f"{name} has duplicate {task_name} ids")
        if frame["prediction"].isna().any():
            raise ValueError(f"{name} has missing {task_name} predictions")
        ids = set(frame["id"])
        if series and ids != first_ids:
            raise ValueError(
                f"{name} has other {task_name} ids than {names[0]}: "
                f"{len(first_ids - ids)} missing, {len(ids - first_ids)} extra"
            )
        first_ids = first_ids or ids
        series.append(frame.set_index("id")["prediction"])
    combined = majority_vote(series) if task.kind == "classification" else mean_vote(series)
    return task_rows(task_name, combined.index.tolist(), combined.to_numpy())


def ensemble_files(member_files: Sequence[PathLike], tasks: Sequence[str]) -> pd.DataFrame:
    """The ensemble's prediction file (all of ``tasks``, in that order) from its members' prediction files
    of the same split; each must hold exactly ``tasks`` (an error names the file, row and problem)."""
    read = {str(path): read_predictions(path, tasks) for path in member_files}
    return combine(ensemble_task(t, {path: by_task[t] for path, by_task in read.items()}) for t in tasks)


def select_members(dev_overall: dict[str, float | None], top: int) -> list[str]:
    """The ``top`` models with the best dev overall score, best first (ties: the earlier-listed model)."""
    if top < 2 or top > len(dev_overall):
        raise ValueError(f"cannot select {top} ensemble members from {len(dev_overall)} candidates")
    scored = [(m, s) for m, s in dev_overall.items() if s is not None]
    ranked = sorted(scored, key=lambda item: -item[1])  # stable: ties keep the listed order
    return [m for m, _ in ranked[:top]]
