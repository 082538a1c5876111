"""Tables of the second study ("Comparing BERT fine-tuning methods"): scores beside measured costs.

Each row is one (experiment, task). Its cells are computed from what the pipeline wrote for that experiment:

* ``dev`` / ``test``: the task's score in ``results/metrics/{model}/{split}.json`` (the best-epoch model's
  predictions);
* ``train``: the task's training-set score after the best epoch (``history.csv``, written when the
  experiment sets ``train_score: true``); ``final_dev`` / ``final_train``: dev and training-set scores after
  the last epoch; ``loss``: mean training loss of the last epoch; ``epoch``: the best epoch (``run.json``);
* ``time_s``: wall seconds of the training run (``run.json``'s ``wall_seconds``: model loading, training and
  per-epoch evaluation, summed over the attempts of a job that was killed and resumed);
* ``memory_gib``: peak memory of the run in GiB (``run.json``: CUDA's peak allocation on GPU, the process's
  peak resident set on CPU; the largest over its attempts).

Beside each reproduced cell ``{column}`` stands ``{column}_paper``, the paper's number (durations such as
``"2h 41m"`` are converted to seconds). A confusion-count table (kind ``confusion``) gives true/false
positives and negatives of a binary task's predictions with the paper's counts.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.evaluation.metrics import overall_score
from pipeline.reporting.tables import table_caption
from pipeline.tasks import get_task

PathLike = str | Path

COLUMNS = ("dev", "train", "final_dev", "final_train", "loss", "time_s", "memory_gib", "epoch", "test")
# Columns read from a training run (run.json, history.csv): only experiments have them.
RUN_COLUMNS = ("train", "final_dev", "final_train", "loss", "time_s", "memory_gib", "epoch")
GIB = 1024**3

_DURATION = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*(?:([\d.]+)\s*s)?\s*$")


def parse_duration(value: float | int | str) -> float:
    """Seconds of a duration given as a number of seconds or as the paper writes it (``"2h 41m"``)."""
    if isinstance(value, int | float):
        return float(value)
    match = _DURATION.match(value)
    if not match or not any(match.groups()):
        raise ValueError(f"cannot read duration {value!r}: expected e.g. '2h 41m', '17m 32s' or seconds")
    hours, minutes, seconds = match.groups()
    return int(hours or 0) * 3600.0 + int(minutes or 0) * 60.0 + float(seconds or 0)


def load_run(run_json: PathLike, history_csv: PathLike) -> dict:
    """What one training run measured: ``run`` (run.json) and ``history`` (DataFrame)."""
    run = json.loads(Path(run_json).read_text())
    history = pd.read_csv(history_csv)
    if history.empty:
        raise ValueError(f"{history_csv} has no epochs")
    for key in ("wall_seconds", "peak_memory_bytes", "best_epoch"):
        if key not in run:
            raise ValueError(f"{run_json} has no {key!r}: not a run.json of this workflow's training")
    return {"run": run, "history": history, "history_file": str(history_csv)}


def _history_value(history: pd.DataFrame, epoch: int | None, column: str, source: str) -> float:
    if column not in history.columns:
        hint = " (set train_score: true in the experiment)" if column.startswith("train_") else ""
        raise ValueError(f"{source} has no column {column!r}{hint}")
    rows = history if epoch is None else history[history["epoch"] == epoch]
    if rows.empty:
        raise ValueError(f"{source} has no row for epoch {epoch}")
    return float(rows[column].iloc[-1])


def cell(column: str, task: str, metrics: Mapping[str, Mapping], run: Mapping | None) -> float | int | str:
    """One reproduced cell (see the module docstring); ``"unlabelled"`` when the split has no labels."""
    metric = get_task(task).metric_name
    if column in ("dev", "test"):
        result = metrics[column]
        if task in result.get("unlabelled", []):
            return "unlabelled"
        value = result["scores"].get(metric)
        if value is None:
            raise ValueError(f"metrics of model {result.get('model')!r} on {column} have no {metric}")
        return round(float(value), 4)
    if run is None:
        raise ValueError(f"column {column!r} needs the model's training run")
    history, source = run["history"], run["history_file"]
    best = int(run["run"]["best_epoch"])
    if column == "train":
        return round(_history_value(history, best, f"train_{metric}", source), 4)
    if column == "final_dev":
        return round(_history_value(history, None, metric, source), 4)
    if column == "final_train":
        return round(_history_value(history, None, f"train_{metric}", source), 4)
    if column == "loss":
        return round(_history_value(history, None, "train_loss", source), 4)
    if column == "epoch":
        return best
    if column == "time_s":
        return round(float(run["run"]["wall_seconds"]), 1)
    if column == "memory_gib":
        return round(run["run"]["peak_memory_bytes"] / GIB, 3)
    raise ValueError(f"unknown column {column!r}; known: {', '.join(COLUMNS)}")


def _paper(value: Any, column: str) -> Any:
    if value is None or value == "":
        return ""
    return parse_duration(value) if column == "time_s" else value


def build_methods_table(
    rows: Sequence[Mapping[str, Any]],
    columns: Sequence[str],
    metrics: Mapping[str, Mapping[str, Mapping]],
    runs: Mapping[str, Mapping],
    *,
    scale: str,
    overall_row: str | None = None,
) -> pd.DataFrame:
    """One record per row: ``row``, the rows' ``info`` columns, ``model``, ``task``, then ``{c}`` and
    ``{c}_paper`` for each column ``c``, then ``scale``.

    ``metrics[model][split]``: a metrics JSON dict; ``runs[model]``: :func:`load_run` of that experiment
    (needed for the columns in :data:`RUN_COLUMNS`). ``overall_row``: the label of an extra row holding the
    overall score of the rows' ``sst``, ``para`` and ``sts`` values (``"unlabelled"`` if one is). Where a
    row's run did not learn its task on dev (the metrics' ``learned`` flag), a ``not_learned`` column before
    ``scale`` names the task.
    """
    bad = [c for c in columns if c not in COLUMNS]
    if bad:
        raise ValueError(f"unknown columns {bad}; known: {', '.join(COLUMNS)}")
    info_columns = list(dict.fromkeys(k for row in rows for k in (row.get("info") or {})))
    reserved = {"row", "model", "task", "scale", *columns, *(f"{c}_paper" for c in columns)}
    clash = sorted(reserved & set(info_columns))
    if clash:
        raise ValueError(f"info columns {clash} clash with the table's own columns")
    records = []
    for row in rows:
        model, task = row["model"], row["task"]
        if model not in metrics:
            raise KeyError(f"no metrics for model {model!r} (row {row['label']!r})")
        record: dict[str, Any] = {"row": row["label"]}
        record.update({k: (row.get("info") or {}).get(k, "") for k in info_columns})
        record.update({"model": model, "task": task})
        paper = row.get("paper") or {}
        for c in columns:
            record[c] = cell(c, task, metrics[model], runs.get(model))
            record[f"{c}_paper"] = _paper(paper.get(c), c)
        dev = metrics[model].get("dev") or {}
        record["not_learned"] = task if (dev.get("learned") or {}).get(task) is False else ""
        record["scale"] = scale
        records.append(record)
    marked = any(r["not_learned"] for r in records)  # runs no better than the task's trivial predictor
    if overall_row is not None:
        records.append(_overall_record(records, columns, overall_row, info_columns, scale))
    header = [
        "row",
        *info_columns,
        "model",
        "task",
        *(x for c in columns for x in (c, f"{c}_paper")),
        *(["not_learned"] if marked else []),
        "scale",
    ]
    return pd.DataFrame.from_records(records, columns=header)


def _overall_record(records, columns, label, info_columns, scale) -> dict:
    """The overall score (Beyond BERT's and the course's formula) of the rows' sst/para/sts values."""
    record: dict[str, Any] = {"row": label, **{k: "" for k in info_columns}, "model": "", "task": "overall"}
    for c in columns:
        by_task = {r["task"]: r[c] for r in records}
        by_task_paper = {r["task"]: r[f"{c}_paper"] for r in records}
        record[c] = _overall_of(by_task)
        paper = _overall_of(by_task_paper)
        record[f"{c}_paper"] = paper if isinstance(paper, float) else ""
    record["not_learned"] = " ".join(r["not_learned"] for r in records if r["not_learned"])
    record["scale"] = scale
    return record


def _overall_of(by_task: Mapping[str, Any]) -> float | str:
    needed = ("sst", "para", "sts")
    values = [by_task.get(t) for t in needed]
    if any(isinstance(v, str) and v == "unlabelled" for v in values):
        return "unlabelled"
    if any(not isinstance(v, int | float) or isinstance(v, bool) for v in values):
        return "n/a"
    score = overall_score({get_task(t).metric_name: float(v) for t, v in zip(needed, values, strict=True)})
    return round(float(score), 4) if score is not None else "n/a"


def confusion_table(counts: pd.DataFrame, paper_counts: Mapping[str, int] | None = None) -> pd.DataFrame:
    """True/false positives/negatives of a binary confusion matrix (index true, columns predicted, 0/1),
    with counts and percentages beside the paper's."""
    if list(counts.index) != [0, 1] or list(counts.columns) != [0, 1]:
        raise ValueError("a binary confusion matrix with labels 0 and 1 is needed")
    cells = {
        "tp": int(counts.loc[1, 1]),
        "tn": int(counts.loc[0, 0]),
        "fp": int(counts.loc[0, 1]),
        "fn": int(counts.loc[1, 0]),
    }
    names = {"tp": "true positives", "tn": "true negatives", "fp": "false positives", "fn": "false negatives"}
    total = sum(cells.values())
    paper = dict(paper_counts or {})
    paper_total = sum(paper.values()) if len(paper) == 4 else None
    records = []
    for key, count in cells.items():
        paper_count = paper.get(key)
        records.append(
            {
                "row": names[key],
                "count": count,
                "percent": round(100.0 * count / total, 2) if total else math.nan,
                "count_paper": "" if paper_count is None else paper_count,
                "percent_paper": round(100.0 * paper_count / paper_total, 2)
                if paper_count is not None and paper_total
                else "",
            }
        )
    return pd.DataFrame.from_records(records)


def caption(
    table: Mapping[str, Any],
    *,
    scale: str,
    encoder: str,
    data: str,
    hardware: Sequence[str],
    code_note: str = "",
) -> str:
    """The table's caption with what the numbers are, the scale, encoder, data and hardware they came from."""
    where = "; ".join(sorted(set(hardware))) or "not recorded"
    text = table_caption(table, scale=scale, encoder=encoder, data=data, code_note=code_note) + " "
    columns = table.get("columns") or []
    if "time_s" in columns:
        text += (
            "time_s: wall seconds of the training run (run.json), summed over its attempts when a killed "
            "job resumed (each attempt counted up to its last checkpoint). "
        )
    if "memory_gib" in columns:
        text += (
            "memory_gib: peak memory of the run (CUDA max allocated on GPU, peak resident set of the "
            "process on CPU; the paper reports peak GPU memory). "
        )
    return text + f"Hardware: {where}."
