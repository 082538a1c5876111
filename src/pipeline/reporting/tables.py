"""Results tables: reproduced scores next to the paper's, as CSV and Markdown."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.io import write_csv_atomic, write_text_atomic
from pipeline.tasks import TASKS

PathLike = str | Path

DEFAULT_COLUMNS = ("sst_acc", "para_acc", "sts_corr", "overall")
_TASK_OF_METRIC = {t.metric_name: t.name for t in TASKS.values()}

Cell = float | str


def _cell(metric: str, result: Mapping[str, Any]) -> Cell:
    """One reproduced cell: the value rounded to 3 decimals, ``"unlabelled"`` or ``"n/a"``."""
    scores: Mapping[str, float | None] = result.get("scores", {})
    unlabelled = set(result.get("unlabelled", []))
    if metric == "overall":
        value = result.get("overall")
        if value is None:
            components = {_TASK_OF_METRIC[m] for m in scores if m in _TASK_OF_METRIC}
            return "unlabelled" if components & unlabelled else "n/a"
        return round(float(value), 3)
    task = _TASK_OF_METRIC[metric]
    if task in unlabelled:
        return "unlabelled"
    value = scores.get(metric)
    return "n/a" if value is None else round(float(value), 3)


PAPER_OVERALL = ("sst_acc", "para_acc", "sts_corr", "overall")


def _predicts_paper_tasks(result: Mapping[str, Any]) -> bool:
    """Whether a model's metrics record has all three tasks of the paper's overall score."""
    return all(m in result.get("scores", {}) for m in PAPER_OVERALL[:3])


def build_table(
    rows: Sequence[Mapping[str, Any]],
    metrics: Mapping[str, Mapping[str, Any]],
    columns: Sequence[str] = DEFAULT_COLUMNS,
    *,
    scale: str,
    seed_metrics: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
) -> pd.DataFrame:
    """Table of reproduced scores beside the paper's.

    ``seed_metrics[model]``: the metrics of each of the model's seeds (seed 0 first) where more than one
    exists; the table then shows, for those rows, the mean over seeds, and adds ``<m>_sd`` (standard
    deviation over seeds) after each reproduced column and ``seeds`` (how many) before ``scale``; other
    rows keep their single run (``seeds`` 1, ``<m>_sd`` empty). Without it the table is as before. Where a
    row's run did not learn a task (the metrics' ``learned`` flags), a ``not_learned`` column before
    ``scale`` names those tasks (:data:`NOT_LEARNED_NOTE`).

    ``rows``: ``{"label", "model", "paper": {metric: number}}`` (``paper`` may omit metrics);
    ``metrics[model]``: a dict as written by :func:`pipeline.evaluation.metrics.compute_metrics`. Output
    columns:
    ``row, model, <m>, <m>_paper`` for each ``m`` in ``columns``, then ``scale``. A reproduced cell is the
    score rounded to 3 decimals, ``"unlabelled"`` if the model's split has no labels for that task, or
    ``"n/a"`` if the task is not among the model's tasks (``overall``: ``"unlabelled"`` when a component
    task is unlabelled, else ``"n/a"``; in a table of the paper's overall, i.e. with the sst, para and sts
    columns, ``"n/a"`` too for a model that does not predict all three, e.g. the zero-shot row). A paper
    cell is the paper's number or ``""``.
    """
    bad = [m for m in columns if m != "overall" and m not in _TASK_OF_METRIC]
    if bad:
        raise ValueError(f"unknown table columns {bad}; known: {', '.join([*_TASK_OF_METRIC, 'overall'])}")
    records: list[dict[str, Cell]] = []
    paper_overall = set(PAPER_OVERALL) <= set(columns)
    for row in rows:
        model = row["model"]
        if model not in metrics:
            raise KeyError(
                f"no metrics for model {model!r} (row {row.get('label')!r}); known: {sorted(metrics)}"
            )
        paper: Mapping[str, float] = row.get("paper") or {}
        record: dict[str, Cell] = {"row": row["label"], "model": model}
        runs = list((seed_metrics or {}).get(model) or [metrics[model]])
        for m in columns:
            cells = [_cell(m, run) for run in runs]
            if m == "overall" and paper_overall and not _predicts_paper_tasks(metrics[model]):
                cells = ["n/a"]  # the paper's overall is defined on sst, para and sts together
            if len(cells) > 1 and all(isinstance(c, float | int) for c in cells):
                record[m] = round(float(np.mean(cells)), 3)
                record[f"{m}_sd"] = round(float(np.std(cells, ddof=1)), 3)
            else:
                record[m], record[f"{m}_sd"] = cells[0], ""
            record[f"{m}_paper"] = paper.get(m, "")
        record["seeds"] = len(runs)
        record["not_learned"] = " ".join(
            dict.fromkeys(t for run in runs for t, ok in (run.get("learned") or {}).items() if ok is False)
        )
        record["scale"] = scale
        records.append(record)
    if any(len(v) > 1 for v in (seed_metrics or {}).values()):
        header = [
            "row",
            "model",
            *(c for m in columns for c in (m, f"{m}_sd", f"{m}_paper")),
            "seeds",
            "scale",
        ]
    else:
        header = ["row", "model", *(c for m in columns for c in (m, f"{m}_paper")), "scale"]
    if any(r["not_learned"] for r in records):  # runs that did not beat their task's trivial predictor
        header.insert(header.index("scale"), "not_learned")
    return pd.DataFrame.from_records(records, columns=header)


#: The caption's sentence for a table with a ``not_learned`` column.
NOT_LEARNED_NOTE = (
    "not_learned: the tasks on which the row's run (any seed shown) scored no better than the task's trivial "
    "predictor (majority class; correlation 0 for STS) by the margin of docs/claims.md: its cells say little "
    "about the method."
)


def table_caption(
    table: Mapping[str, Any], *, scale: str, encoder: str, data: str, code_note: str = ""
) -> str:
    """A table's caption: paper, number and caption from config, then the split, scale, encoder and data the
    reproduced values came from, and ``code_note`` (:func:`pipeline.provenance.code_versions_note`)."""
    text = (
        f"{table.get('paper', '')} {table.get('number', '')}: {table['caption']} "
        f"Reproduced on the {table['split']} split at {scale} scale (encoder {encoder}, data: {data})."
    )
    return f"{text} {code_note}" if code_note else text


def scale_of(records: Mapping[str, Mapping[str, Any]]) -> str:
    """The scale the metrics records were computed at (the ``scale`` each records); all must agree."""
    scales = {
        model: rec.get("scale") or (rec.get("settings") or {}).get("scale_name")
        for model, rec in records.items()
    }
    found = sorted({s for s in scales.values() if s})
    if len(found) != 1:
        raise ValueError(f"metrics of one table must come from one scale, found {found or 'none'}: {scales}")
    return found[0]


def scale_of_paths(paths) -> str:
    """The scale named by files under ``results/{scale}/`` (the layout of every expensive artifact)."""
    found = set()
    for path in paths:
        parts = Path(path).parts
        if len(parts) > 2 and parts[0] == "results":
            found.add(parts[1])
    if len(found) != 1:
        raise ValueError(f"files of one figure must come from one scale's results, found {sorted(found)}")
    return found.pop()


def code_hashes(records: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Every library code version that trained the models behind the records (their ``trained_with_code``)."""
    return sorted({h for rec in records.values() for h in rec.get("trained_with_code") or []})


def _md(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def table_markdown(df: pd.DataFrame, caption: str) -> str:
    """A caption line, a blank line, then ``df`` as a Markdown pipe table (floats with 3 decimals)."""
    lines = [caption, "", "| " + " | ".join(_md(c) for c in df.columns) + " |"]
    lines.append("|" + "|".join("---" for _ in df.columns) + "|")
    lines += ["| " + " | ".join(_md(v) for v in rec) + " |" for rec in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


TABLE_CSS = (
    "body{font-family:sans-serif;font-size:14px} table{border-collapse:collapse}"
    " th,td{padding:4px 8px;border-bottom:1px solid #ccc;text-align:right} td:first-child{text-align:left}"
)


def table_html(df: pd.DataFrame, caption: str) -> str:
    """The table as a web page (caption, then the table), for ``snakemake --report``, which shows HTML
    inline but offers CSV only as a download."""
    return (
        f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>{TABLE_CSS}</style></head><body>"
        f"<p>{html.escape(caption)}</p>"
        f"{df.to_html(index=False, na_rep='', float_format='{:.3f}'.format, border=0)}</body></html>\n"
    )


def write_table(
    df: pd.DataFrame, caption: str, csv_path: PathLike, md_path: PathLike, html_path: PathLike | None = None
) -> None:
    """Write ``df`` as CSV, as Markdown (with ``caption``) and, when ``html_path`` is given, as a web page;
    each file atomically."""
    write_csv_atomic(df, csv_path)
    write_text_atomic(table_markdown(df, caption), md_path)
    if html_path is not None:
        write_text_atomic(table_html(df, caption), html_path)
