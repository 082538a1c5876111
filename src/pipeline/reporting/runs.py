"""Every training run side by side: ``results/{scale}/runs.csv`` (and ``.md``).

One row per trained experiment (each seed its own row), from the files the training job wrote: its
``run.json`` (settings, time, memory, device, precision, attempts, code) and ``history.csv`` (the scores of
each epoch). The settings columns are only those whose value differs between the runs shown (nested
settings flattened as ``lora.rank``), so the table says at a glance what tells two runs apart. Times are the
training job's own measure (``train_seconds``: the optimiser steps and end-of-epoch evaluations, without
start-up and loading) beside ``wall_seconds`` (the whole job, all attempts).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.io import write_csv_atomic, write_text_atomic
from pipeline.reporting.methods_tables import GIB

PathLike = str | Path

#: settings that name or place a run rather than describe what it computes
NOT_SETTINGS = ("name", "scale_name")
FIXED = (
    "run",
    "best_epoch",
    "epochs_run",
    "best_dev_overall",
)
MEASURED = (
    "train_seconds",
    "train_cpu_seconds",
    "wall_seconds",
    "peak_memory_gib",
    "peak_memory_kind",
    "device",
    "hardware",
    "precision",
    "attempts",
    "trainable_parameters",
    "total_parameters",
    "code_hash",
)


def flatten(settings: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"lora": {"rank": 8}}`` -> ``{"lora.rank": 8}``; lists become ``a+b`` text (a task list)."""
    out: dict[str, Any] = {}
    for key, value in settings.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            if value:
                out.update(flatten(value, f"{name}."))
            else:
                out[name] = ""
        elif isinstance(value, list | tuple):
            out[name] = "+".join(str(v) for v in value)
        else:
            out[name] = value
    return out


def run_row(name: str, run: Mapping[str, Any], history: pd.DataFrame) -> dict[str, Any]:
    """One run's row: what it measured and its best epoch's dev scores (``dev_<metric>``)."""
    best = int(run["best_epoch"])
    at_best = history[history["epoch"] == best]
    if at_best.empty:
        raise ValueError(f"run {name}: history.csv has no row for its best epoch {best}")
    scores = {
        f"dev_{c}": float(at_best[c].iloc[-1])
        for c in history.columns
        if c not in ("epoch", "train_loss", "epoch_seconds", "overall") and not c.startswith("train_")
    }
    return {
        "run": name,
        "best_epoch": best,
        "epochs_run": int(history["epoch"].max()),
        "best_dev_overall": float(run["best_dev_overall"]),
        **scores,
        "train_seconds": round(float(run["train_seconds"]), 2),
        "train_cpu_seconds": round(float(run.get("train_cpu_seconds") or 0), 2) or None,
        "wall_seconds": round(float(run["wall_seconds"]), 2),
        "peak_memory_gib": round(float(run["peak_memory_bytes"]) / GIB, 3),
        "peak_memory_kind": run.get("peak_memory_kind", ""),
        "device": run.get("device", ""),
        "hardware": run.get("hardware", ""),
        "precision": run.get("precision", ""),
        "attempts": run.get("attempts", 1),
        "trainable_parameters": run.get("trainable_parameters"),
        "total_parameters": run.get("total_parameters"),
        "code_hash": run.get("code_hash", ""),
    }


def runs_frame(runs: Mapping[str, tuple[Mapping[str, Any], pd.DataFrame]]) -> pd.DataFrame:
    """The runs table: ``runs`` maps each run's name to its (run.json dict, history frame), in the order
    shown. Columns: run, the settings that differ between the runs, the best epoch and its dev scores, then
    what the run measured (:data:`MEASURED`)."""
    if not runs:
        raise ValueError("runs table: no runs to show")
    rows, settings = [], []
    for name, (run, history) in runs.items():
        rows.append(run_row(name, run, history))
        flat = flatten({k: v for k, v in run["settings"].items() if k not in NOT_SETTINGS})
        settings.append(flat)
    keys = list(dict.fromkeys(k for s in settings for k in s))
    differing = [k for k in keys if len({json.dumps(s.get(k), sort_keys=True) for s in settings}) > 1]
    frame = pd.DataFrame(rows)
    for i, key in enumerate(differing):
        frame.insert(1 + i, key, [s.get(key, "") for s in settings])
    return frame


def read_runs(files: Mapping[str, Sequence[PathLike]]) -> dict[str, tuple[dict, pd.DataFrame]]:
    """``{name: (run.json, history.csv)}`` paths -> the loaded pairs; a missing key names the file."""
    out = {}
    for name, (run_json, history_csv) in files.items():
        run = json.loads(Path(run_json).read_text())
        for key in ("settings", "best_epoch", "best_dev_overall", "train_seconds", "wall_seconds"):
            if key not in run:
                raise ValueError(f"{run_json}: no {key!r}: not a run.json of this workflow's fine-tuning")
        history = pd.read_csv(history_csv)
        if history.empty or "epoch" not in history.columns:
            raise ValueError(f"{history_csv}: no epochs")
        out[name] = (run, history)
    return out


def _md_cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value).replace("|", "\\|")


def write_runs(frame: pd.DataFrame, csv_path: PathLike, md_path: PathLike, title: str) -> None:
    """``runs.csv`` (every column) and ``runs.md`` (the same table in Markdown, a title above it)."""
    write_csv_atomic(frame, csv_path)
    lines = [f"# {title}", "", "| " + " | ".join(frame.columns) + " |"]
    lines.append("|" + "---|" * len(frame.columns))
    for row in frame.itertuples(index=False):
        lines.append("| " + " | ".join(_md_cell(v) for v in row) + " |")
    write_text_atomic("\n".join(lines) + "\n", md_path)
