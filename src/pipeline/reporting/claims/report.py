"""The claims report: the table (CSV, Markdown), the figure, and the scores gathered from each run."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pipeline.io import write_csv_atomic, write_text_atomic
from pipeline.reporting.claims.catalogue import (
    COST_METRICS,
    VERDICTS,
    _paper_side,
    paper_difference,
)
from pipeline.reporting.claims.verdict import _aligned, _statistic, compare, rule_text, same_settings
from pipeline.reporting.figures import _save
from pipeline.reporting.methods_tables import GIB

PathLike = str | Path


COLUMNS = (
    "id", "paper", "section", "statement", "metric", "split", "kind", "better", "worse", "direction",
    "paper_better", "paper_worse", "paper_difference", "n_seeds", "mean_better", "std_better", "mean_worse",
    "std_worse", "difference", "low", "high", "rule", "verdict", "agrees", "status", "needs", "note",
)  # fmt: skip


def claims_frame(
    claims: Sequence[Mapping[str, Any]],
    scores: Mapping[str, Mapping[str, Mapping]],
    settings: Mapping[str, Mapping | None] | None = None,
) -> pd.DataFrame:
    """One row per claim (as returned by :func:`read_catalogue`): the paper's numbers and direction, ours
    (mean and standard deviation over seeds), the difference with its interval, and the verdict.

    ``scores[model][split][metric]``: the per-seed values of that model (a list; one value per seed, a
    single value is used for every seed; ``None``: the split is unlabelled for that task). Costs are given
    in their units (seconds, GiB); the frame holds their logs. Not-declared claims get no numbers, and
    neither do claims whose runs have the same settings (``settings``: see :func:`same_settings`).
    """
    records = []
    for claim in claims:
        paper_d, paper_lo, paper_hi = (
            paper_difference(claim) if claim["status"] == "declared" else (math.nan,) * 3
        )
        record: dict[str, Any] = {
            "id": claim["id"],
            "paper": claim["paper"],
            "section": str(claim["section"]),
            "statement": claim["statement"],
            "metric": claim["metric"] + (" (log)" if claim["metric"] in COST_METRICS else ""),
            "split": claim["split"],
            "kind": claim["kind"],
            "better": ", ".join(claim["better"]),
            "worse": ", ".join(claim["worse"]),
            "direction": claim["direction"],
            "paper_better": _paper_side(claim, "better") if claim["status"] == "declared" else "",
            "paper_worse": _paper_side(claim, "worse") if claim["status"] == "declared" else "",
            "paper_difference": _range_text(paper_d, paper_lo, paper_hi),
            "paper_d": paper_d,
            "paper_lo": paper_lo,
            "paper_hi": paper_hi,
            "status": claim["status"],
            "needs": claim["needs"],
            "note": claim["note"],
        }
        empty = dict.fromkeys(
            ("mean_better", "std_better", "mean_worse", "std_worse", "difference", "low", "high"), math.nan
        )
        if claim["status"] == "not-declared":
            record.update(empty, n_seeds="", rule="", verdict="not declared", agrees="")
        elif same_settings(claim, settings):
            rule = "the compared runs have the same settings at this scale"
            record.update(empty, n_seeds="", rule=rule, verdict="same settings", agrees="")
        else:
            per_model = _aligned(claim, scores)
            if per_model is None:
                record.update(
                    empty, n_seeds="", rule="a compared split has no labels", verdict="unlabelled", agrees=""
                )
            else:
                better, worse = _statistic(claim, "better", per_model), _statistic(claim, "worse", per_model)
                c = compare(better, worse, claim["direction"], claim["min_effect"])
                record.update(
                    n_seeds=f"{c.n_better}/{c.n_worse}" if c.n_better != c.n_worse else str(c.n_better),
                    mean_better=c.mean_better, std_better=c.std_better, mean_worse=c.mean_worse,
                    std_worse=c.std_worse, difference=c.difference, low=c.low, high=c.high, rule=c.rule,
                    verdict=c.verdict, agrees="yes" if c.verdict in claim["accepts"] else "no",
                )  # fmt: skip
        records.append(record)
    return pd.DataFrame.from_records(records, columns=[*COLUMNS, "paper_d", "paper_lo", "paper_hi"])


def _range_text(value: float, low: float, high: float) -> str:
    if math.isnan(value):
        return ""
    return f"{value:+.3f}" if low == high else f"{low:+.3f} to {high:+.3f}"


def _md(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def claims_markdown(
    frame: pd.DataFrame, *, scale: str = "", seeds: int | None = None, caption: str = ""
) -> str:
    """``claims.md``: a title, the verdict rule, counts of verdicts, then one table row per claim."""
    counts = frame["verdict"].value_counts()
    shown = (*VERDICTS, "same settings", "unlabelled", "not declared")
    summary = ", ".join(f"{counts[v]} {v}" for v in shown if v in counts)
    where = f" at {scale} scale" if scale else ""
    seeds_text = f", {seeds} seed{'s' if seeds != 1 else ''} per experiment" if seeds else ""
    lines = [f"# Claims of both papers, checked{where}{seeds_text}", ""]
    if caption:
        lines += [caption, ""]
    lines += [rule_text(), "", f"{len(frame)} findings: {summary}.", ""]
    shown = [c for c in frame.columns if c not in ("paper_d", "paper_lo", "paper_hi")]
    lines.append("| " + " | ".join(shown) + " |")
    lines.append("|" + "|".join("---" for _ in shown) + "|")
    for rec in frame[shown].itertuples(index=False):
        lines.append("| " + " | ".join(_md(v) for v in rec) + " |")
    return "\n".join(lines) + "\n"


def write_claims(frame: pd.DataFrame, csv_path: PathLike, md_path: PathLike, **markdown) -> None:
    """``claims.csv`` (without the figure's helper columns) and ``claims.md``, each written atomically."""

    write_csv_atomic(frame.drop(columns=["paper_d", "paper_lo", "paper_hi"]), csv_path)
    write_text_atomic(claims_markdown(frame, **markdown), md_path)


# -- the figure -----------------------------------------------------------------------------------------


def claims_figure(frame: pd.DataFrame, path: PathLike) -> None:
    """Each checked claim's difference (better - worse, in the paper's direction: right = as the paper
    says) with its interval, the paper's difference marked; score claims and cost claims (log ratios) in
    separate panels. Not-declared, unlabelled and same-settings claims are left out."""

    checked = frame[~frame["verdict"].isin(["not declared", "unlabelled", "same settings"])]
    cost = checked["metric"].str.endswith("(log)")
    panels = [(title, part) for title, part in (
        ("score difference (better - worse)", checked[~cost]),
        ("cost log ratio ln(better / worse)", checked[cost]),
    ) if len(part)]  # fmt: skip
    heights = [max(1.5, 0.28 * len(part) + 0.8) for _, part in panels] or [1.5]
    fig = Figure(figsize=(9, sum(heights) + 0.6), layout="constrained")  # no label under the next panel
    if not panels:
        fig.text(0.5, 0.5, "no checked claims", ha="center", va="center")
        _save(fig, path)
        return
    axes = fig.subplots(len(panels), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    colours = {"holds": "tab:green", "reversed": "tab:red", "within noise": "tab:grey"}
    for ax, (title, part) in zip(axes, panels, strict=True):
        y = np.arange(len(part))[::-1]
        sign = np.where(part["direction"].to_numpy() == 0, 1, part["direction"].to_numpy())
        d = part["difference"].to_numpy(dtype=float) * sign
        lo, hi = sorted_interval(
            part["low"].to_numpy(dtype=float) * sign, part["high"].to_numpy(dtype=float) * sign
        )
        for yi, di, loi, hii, v in zip(y, d, lo, hi, part["verdict"], strict=True):
            xerr = None if math.isnan(loi) else [[di - loi], [hii - di]]
            ax.errorbar(di, yi, xerr=xerr, fmt="o", color=colours.get(v, "black"), capsize=3, ms=4)
        pd_ = part["paper_d"].to_numpy(dtype=float) * sign
        plo = part["paper_lo"].to_numpy(dtype=float) * sign
        phi = part["paper_hi"].to_numpy(dtype=float) * sign
        ax.scatter(pd_, y, marker="x", color="tab:blue", zorder=3, label="paper")
        for yi, a, b in zip(y, plo, phi, strict=True):
            if not math.isnan(a) and a != b:
                ax.plot([a, b], [yi, yi], color="tab:blue", lw=4, alpha=0.3)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(y, part["id"].tolist(), fontsize=7)
        ax.set_xlabel(f"{title}; right of 0 = the paper's direction", fontsize=8)
        ax.legend(loc="lower right", fontsize=7)
    axes[0].set_title(
        "Claims: ours (green holds, red reversed, grey within noise) vs the paper (x)", fontsize=9
    )
    _save(fig, path)


def sorted_interval(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Element-wise (min, max) of two interval bounds (a sign flip swaps them); nan stays nan."""
    return np.minimum(low, high), np.maximum(low, high)


# -- gathering scores ----------------------------------------------------------------------------------


def run_values(
    metrics: Mapping[str, Mapping], run: Mapping | None = None
) -> dict[str, dict[str, float | None]]:
    """One seed's values of one model, as :func:`claims_frame` reads them: ``{split: {metric: value}}``.

    ``metrics[split]``: the model's metrics JSON for that split
    (:func:`pipeline.evaluation.metrics.compute_metrics`);
    ``run``: what :func:`pipeline.reporting.methods_tables.load_run` returns for a trained experiment (None
    for an
    ensemble or the random baseline): adds ``train_<m>`` (at the best epoch, when the history has it),
    ``time_s`` (the job's benchmark seconds, else the run's training seconds), ``memory_gib`` and
    ``epoch_seconds`` (mean seconds per epoch) under every split.
    """

    extra: dict[str, float | None] = {}
    if run is not None:
        history, record = run["history"], run["run"]
        best = history[history["epoch"] == int(record["best_epoch"])]
        row = (best if len(best) else history).iloc[-1]
        for column in history.columns:
            if column.startswith("train_") and column != "train_loss":
                extra[column] = float(row[column])
        extra["time_s"] = float(run.get("job_seconds") or record["train_seconds"])
        extra["memory_gib"] = float(record["peak_memory_bytes"]) / GIB
        if "epoch_seconds" in history.columns:
            extra["epoch_seconds"] = float(history["epoch_seconds"].mean())
    out: dict[str, dict[str, float | None]] = {}
    for split, result in metrics.items():
        values: dict[str, float | None] = dict(result.get("scores", {}))
        values["overall"] = result.get("overall")
        out[split] = {**values, **extra}
    return out


def gather_scores(per_seed: Mapping[str, Sequence[Mapping[str, Mapping[str, float | None]]]]) -> dict:
    """``{model: [run_values of seed 0, seed 1, ...]}`` -> ``scores[model][split][metric] = [per seed]``."""
    scores: dict[str, dict[str, dict[str, list]]] = {}
    for model, seeds in per_seed.items():
        by_split: dict[str, dict[str, list]] = {}
        for values in seeds:
            for split, metrics in values.items():
                for metric, value in metrics.items():
                    by_split.setdefault(split, {}).setdefault(metric, []).append(value)
        scores[model] = by_split
    return scores
