"""Random baseline predictions (a floor for every results table)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.evaluation.predictions import task_rows
from pipeline.tasks import TASKS, get_task


def random_predictions(task_name: str, data: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Random predictions for the ids of ``data``: the task's rows of a prediction file
    (:func:`pipeline.evaluation.predictions.task_rows`).

    Classification: a class drawn uniformly from ``0 .. num_labels-1``; regression (sts): a float drawn
    uniformly from ``[label_min, label_max]`` = [0, 5]. The generator is seeded with ``(seed, index of the
    task in TASKS)``, so tasks get different streams and a seed always gives the same predictions.
    """
    task = get_task(task_name)
    rng = np.random.default_rng([seed, list(TASKS).index(task_name)])
    n = len(data)
    if task.kind == "classification":
        values: np.ndarray = rng.integers(0, task.num_labels, size=n)
    else:
        values = rng.uniform(task.label_min, task.label_max, size=n)
    return task_rows(task_name, data["id"].astype(str).tolist(), values)
