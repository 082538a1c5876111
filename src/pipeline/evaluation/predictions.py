"""The prediction file: one CSV per model and split, ``results/{scale}/predictions/{model}/{split}.csv``.

Columns ``task,id,prediction``; the rows of each task the model predicts, grouped by task in the model's task
order, each task's rows in the order of its data file. ``prediction`` is a class index (``0 ..
num_labels-1``) for the classification tasks (sst, para, cfimdb) and a similarity (a float) for sts.

One file per model and split (not per task) lets a single Snakemake rule write the predictions of any model,
whatever its set of tasks: a rule's outputs cannot depend on a wildcard's value. :func:`read_predictions`
checks every row and names the file, the row and the problem when one is wrong.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.io import write_csv_atomic
from pipeline.tasks import TASKS, get_task

PathLike = str | Path

COLUMNS = ("task", "id", "prediction")


def task_rows(task_name: str, ids: Sequence, values: Sequence | np.ndarray) -> pd.DataFrame:
    """One task's rows of a prediction file: class indices as integers, similarities as floats."""
    task = get_task(task_name)
    values = np.asarray(values)
    if len(ids) != len(values):
        raise ValueError(f"{task_name}: {len(ids)} ids but {len(values)} predictions")
    if task.kind == "classification":
        as_int = np.rint(values.astype(float)).astype(np.int64)
        if not np.array_equal(as_int, values.astype(float)):
            raise ValueError(f"{task_name}: class predictions must be whole numbers")
        column = pd.Series(as_int, dtype=object)
    else:
        column = pd.Series(values.astype(float), dtype=object)
    # object dtype: integers stay integers beside the floats of sts when the tasks are concatenated
    return pd.DataFrame(
        {"task": task_name, "id": pd.Series(ids).astype(str).to_numpy(), "prediction": column}
    )


def combine(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """The rows of several tasks (each from :func:`task_rows`) as one prediction file's frame, in the order
    given; a task may appear once."""
    frames = list(frames)
    tasks = [str(frame["task"].iloc[0]) if len(frame) else "" for frame in frames]
    if len(set(tasks)) != len(tasks):
        raise ValueError(f"a task appears twice among {tasks}")
    return pd.concat(frames, ignore_index=True)[list(COLUMNS)]


def write_predictions(frames: Iterable[pd.DataFrame], path: PathLike) -> None:
    """Write the tasks' rows (:func:`task_rows`, in the model's task order) to ``path`` atomically."""
    write_csv_atomic(combine(frames), path)


class PredictionFileError(ValueError):
    """A prediction file is malformed; the message names the file, the row and the problem."""


def _row_error(path: PathLike, index: int, problem: str) -> PredictionFileError:
    """The error of the ``index``-th (0-based) row: row 1 is the line after the header (line 2)."""
    return PredictionFileError(f"prediction file {path}, row {index + 1} (line {index + 2}): {problem}")


def _first(mask) -> int:
    return int(np.argmax(np.asarray(mask)))


def read_predictions(path: PathLike, tasks: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
    """Task -> its rows (``id`` as string, ``prediction`` as float, in file order), tasks in file order.

    Every row is checked: a known task, rows grouped by task, a non-empty id unique within its task, a
    finite number, and a class index ``0 .. num_labels-1`` for classification tasks. With ``tasks``, the file
    must hold exactly these tasks. Raises :class:`PredictionFileError` naming the file, the row and the
    problem.
    """
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise PredictionFileError(f"prediction file {path}: {error}") from None
    if tuple(frame.columns) != COLUMNS:
        found = ",".join(map(str, frame.columns))
        raise PredictionFileError(f"prediction file {path}: header {found!r}, expected {','.join(COLUMNS)!r}")
    if frame.empty:
        raise PredictionFileError(f"prediction file {path} has no rows")
    task = frame["task"]
    if not task.isin(list(TASKS)).all():
        i = _first(~task.isin(list(TASKS)))
        raise _row_error(path, i, f"unknown task {task.iloc[i]!r} (known: {', '.join(TASKS)})")
    starts = np.flatnonzero(task.ne(task.shift()).to_numpy())
    order = task.iloc[starts].tolist()
    if len(order) != len(set(order)):
        i = next(j for k, j in enumerate(starts) if task.iloc[j] in order[:k])
        raise _row_error(
            path, i, f"task {task.iloc[i]!r} again after other tasks: rows must be grouped by task"
        )
    if frame["id"].str.strip().eq("").any():
        raise _row_error(path, _first(frame["id"].str.strip().eq("")), "empty id")
    if frame.duplicated(["task", "id"]).any():
        i = _first(frame.duplicated(["task", "id"]))
        raise _row_error(path, i, f"id {frame['id'].iloc[i]!r} of task {task.iloc[i]!r} appears twice")
    values = pd.to_numeric(frame["prediction"], errors="coerce").to_numpy(dtype=float)
    if not np.isfinite(values).all():
        i = _first(~np.isfinite(values))
        raise _row_error(path, i, f"prediction {frame['prediction'].iloc[i]!r} is not a finite number")
    out: dict[str, pd.DataFrame] = {}
    for name in order:
        spec, mask = get_task(name), (task == name).to_numpy()
        if spec.kind == "classification":
            top = spec.num_labels - 1
            wrong = mask & ((values != np.round(values)) | (values < 0) | (values > top))
            if wrong.any():
                i = _first(wrong)
                value = frame["prediction"].iloc[i]
                raise _row_error(path, i, f"prediction {value!r} is not a class of {name} (0..{top})")
        out[name] = pd.DataFrame({"id": frame["id"][mask].to_numpy(), "prediction": values[mask]})
    if tasks is not None and set(tasks) != set(out):
        missing, extra = [t for t in tasks if t not in out], [t for t in out if t not in tasks]
        problems = [f"no rows of {', '.join(missing)}"] if missing else []
        problems += [f"rows of {', '.join(extra)}, which the model does not predict"] if extra else []
        raise PredictionFileError(
            f"prediction file {path} holds tasks {list(out)}, expected {list(tasks)}: {'; '.join(problems)}"
        )
    return out


def task_predictions(path: PathLike, task_name: str) -> pd.DataFrame:
    """One task's rows of a prediction file (:func:`read_predictions`); the error names the file when the
    file holds no rows of that task."""
    by_task = read_predictions(path)
    if task_name not in by_task:
        raise PredictionFileError(
            f"prediction file {path} has no rows of task {task_name!r} (it holds {list(by_task)})"
        )
    return by_task[task_name]
