"""The claims report: the table (CSV, Markdown), the figure, and the scores gathered from each run."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.evaluation.metrics import LEARNED_MARGIN
from pipeline.io import write_csv_atomic, write_text_atomic
from pipeline.reporting.claims.catalogue import COST_METRICS, _paper_side, paper_difference
from pipeline.reporting.claims.verdict import (
    DECIDED,
    UNTESTABLE,
    VOCABULARY,
    _aligned,
    compare,
    holm,
    not_learned,
    not_measured,
    rule_text,
    same_settings,
    selection,
    selection_text,
    side_values,
)
from pipeline.reporting.methods_tables import GIB
from pipeline.tasks import get_task

PathLike = str | Path


COLUMNS = (
    "id", "paper", "section", "title", "statement", "metric", "split", "kind", "test", "better", "worse",
    "selection", "direction", "min_effect", "paper_better", "paper_worse", "paper_difference", "n",
    "better_values", "worse_values", "differences", "mean_better", "mean_worse", "difference",
    "sd_difference", "low", "high", "reference", "p", "p_holm", "mde", "seeds_needed", "verdict", "detail",
    "agrees", "rule", "status", "needs", "note",
)  # fmt: skip
HELPERS = ("paper_d", "paper_lo", "paper_hi")  # the figure's numeric copies of the paper's difference
TITLE_WORDS = 8


def title(claim: Mapping[str, Any]) -> str:
    """The finding in a few words: its ``title``, else the first words of its statement."""
    if claim.get("title"):
        return str(claim["title"])
    words = str(claim["statement"]).split()
    return " ".join(words[:TITLE_WORDS]) + (" ..." if len(words) > TITLE_WORDS else "")


def _values_text(values: Sequence[float], digits: int = 17) -> str:
    """Per-seed values in seed order, ``;``-separated: exactly (as Python reads them back), or rounded to
    ``digits`` significant digits."""
    return ";".join(repr(float(v)) if digits >= 17 else f"{v:.{digits}g}" for v in values)


def claims_frame(
    claims: Sequence[Mapping[str, Any]],
    scores: Mapping[str, Mapping[str, Mapping]],
    settings: Mapping[str, Mapping | None] | None = None,
    facts: Mapping[str, Mapping] | None = None,
) -> pd.DataFrame:
    """One row per claim (as returned by :func:`read_catalogue`): the paper's numbers and direction, both
    sides' per-seed values, the paired differences with their interval, p (and Holm's p over every claim
    with one), the minimum detectable effect, and the verdict (:func:`rule_text`).

    ``scores[model][split][metric]``: the per-seed values of that model (a list in seed order; a single
    value is a constant for every seed; ``None``: the split is unlabelled for that task). Costs are given
    in their units (seconds, GiB); the frame holds their logs. ``settings``: each model's seed-0 settings
    (:func:`same_settings`); ``facts``: what :func:`run_facts` says of each model's seed-0 run (whether it
    learned, where its costs were measured); models without either are not checked for them.
    """
    records = []
    for claim in claims:
        declared = claim["status"] == "declared"
        paper_d, paper_lo, paper_hi = paper_difference(claim) if declared else (math.nan,) * 3
        record: dict[str, Any] = dict.fromkeys(COLUMNS, "")
        record.update(
            id=claim["id"], paper=claim["paper"], section=str(claim["section"]), title=title(claim),
            statement=claim["statement"],
            metric=claim["metric"] + (" (log)" if claim["metric"] in COST_METRICS else ""),
            split=claim["split"], kind=claim["kind"], test=claim.get("test", ""),
            better=", ".join(claim["better"]), worse=", ".join(claim["worse"]), direction=claim["direction"],
            min_effect=claim["min_effect"],
            paper_better=_paper_side(claim, "better") if declared else "",
            paper_worse=_paper_side(claim, "worse") if declared else "",
            paper_difference=_range_text(paper_d, paper_lo, paper_hi),
            paper_d=paper_d, paper_lo=paper_lo, paper_hi=paper_hi, status=claim["status"],
            needs=claim["needs"], note=claim["note"],
        )  # fmt: skip
        record.update(
            dict.fromkeys(
                ("mean_better", "mean_worse", "difference", "sd_difference", "low", "high", "p", "mde"),
                math.nan,
            ),
            seeds_needed=math.nan,
        )
        same = declared and same_settings(claim, settings)
        picked = selection(claim) if declared else None
        try:
            scored = picked[1] if picked else None
            aligned = _aligned(claim, scores, scored) if declared and not same else None
            chosen = _aligned(claim, scores, picked[0]) if aligned and picked else None
        except KeyError as error:
            if not picked:
                raise
            reason = f"{error.args[0]} (metrics written before the dev halves: rerun the metrics jobs)"
            record.update(verdict=UNTESTABLE, detail=reason, rule=reason)
            records.append(record)
            continue
        if picked:
            record.update(selection=selection_text(picked))
        if not declared:
            record.update(verdict="not declared", detail="no declared experiment checks it")
        elif same:
            reason = "the compared runs have the same settings at this scale"
            record.update(verdict=UNTESTABLE, detail=reason, rule=reason)
        elif aligned is None:
            reason = "a compared split has no labels"
            record.update(verdict=UNTESTABLE, detail=reason, rule=reason)
        else:
            per_model, constants = aligned
            picks = chosen[0] if chosen else None
            better = side_values(claim, "better", per_model, constants, picks)
            worse = side_values(claim, "worse", per_model, constants, picks)
            stated = (
                tuple(claim["paper_values"]["difference"]) if "difference" in claim["paper_values"] else None
            )
            c = compare(
                better, worse, claim["direction"], claim["min_effect"], test=claim.get("test", ""),
                paper_d=paper_d, stated=stated,
            )  # fmt: skip
            record.update(
                n=c.n, better_values=_values_text(c.better), worse_values=_values_text(c.worse),
                differences=_values_text(c.differences, 12), mean_better=c.mean_better,
                mean_worse=c.mean_worse, difference=c.difference, test=c.test,
            )  # fmt: skip
            lame = not_learned(claim, facts)
            reason = "; ".join(
                r
                for r in (f"did not learn: {', '.join(lame)}" if lame else "", not_measured(claim, facts))
                if r
            )
            if reason:
                record.update(verdict=UNTESTABLE, detail=reason, rule=reason)
            else:
                record.update(
                    sd_difference=c.sd, low=c.low, high=c.high, p=c.p, mde=c.mde,
                    seeds_needed=c.seeds_needed, rule=c.rule, verdict=c.verdict, detail=c.detail,
                    reference=";".join(repr(float(r)) for r in c.reference),
                    agrees=("yes" if c.verdict in claim["accepts"] else "no") if c.verdict in DECIDED else "",
                )  # fmt: skip
        records.append(record)
    frame = pd.DataFrame.from_records(records, columns=[*COLUMNS, *HELPERS])
    frame["p_holm"] = holm(frame["p"].to_numpy(dtype=float)) if len(frame) else []
    return frame


def _range_text(value: float, low: float, high: float) -> str:
    if math.isnan(value):
        return ""
    return f"{value:+.3f}" if low == high else f"{low:+.3f} to {high:+.3f}"


def _md(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def summary(frame: pd.DataFrame, alpha: float = 0.05) -> str:
    """Counts per verdict and how many decided verdicts survive Holm's adjustment at ``alpha``."""
    counts = frame["verdict"].value_counts()
    text = ", ".join(f"{counts[v]} {v}" for v in VOCABULARY if v in counts)
    decided = frame[frame["verdict"].isin(DECIDED)]
    tested = int(frame["p"].notna().sum())
    survive = int((decided["p_holm"] < alpha).sum())
    return (
        f"{len(frame)} findings: {text}. Holm over the {tested} finding{'s' * (tested != 1)} with a "
        f"p-value: {survive} of {len(decided)} decided verdicts survive at {alpha:g}."
    )


def _section_key(section: str) -> tuple:
    """Sort key of a cited section by its first part: the abstract first, then numbered sections, then the
    appendix ("Abstract; 5.4 (Table 1)" sorts with the abstract)."""
    first = section.split(";")[0].strip()
    if first.lower().startswith("abstract"):
        return (0,)
    match = re.match(r"\d+(?:\.\d+)*", first)
    if match:
        return (1, *(int(x) for x in match.group().split(".")))
    return (2, first)


def _ours(row: Mapping) -> str:
    d = row["difference"]
    if isinstance(d, float) and math.isnan(d):
        return ""
    if math.isnan(row["low"]):
        return f"{d:+.3f}"
    return f"{d:+.3f} [{row['low']:+.3f}, {row['high']:+.3f}]"


def _verdict_cell(row: Mapping) -> str:
    return (
        f"{row['verdict']}: {row['detail']}"
        if row["detail"] and row["verdict"] != "not declared"
        else (row["verdict"])
    )


def claims_markdown(
    frame: pd.DataFrame,
    *,
    scale: str = "",
    seeds: int | None = None,
    caption: str = "",
    not_learned: Sequence[str] = (),
) -> str:
    """``claims.md``, for reading: a title, the rule, the summary line, then per paper a compact table (by
    section: id, finding, metric, the paper's d, ours with its interval, n, verdict, agrees) and the runs
    that did not learn. Every other column is in ``claims.csv`` and ``claims.html``."""
    where = f" at {scale} scale" if scale else ""
    seeds_text = f", {seeds} seed{'s' if seeds != 1 else ''} per experiment" if seeds else ""
    lines = [f"# Claims of both papers, checked{where}{seeds_text}", ""]
    if caption:
        lines += [caption, ""]
    lines += [rule_text(), "", f"**{summary(frame)}**", ""]
    header = ("section", "id", "finding", "metric", "paper's d", "ours d [95% interval]", "n", "verdict")
    for paper in dict.fromkeys(frame["paper"]):
        part = frame[frame["paper"] == paper]
        part = part.iloc[sorted(range(len(part)), key=lambda i: _section_key(str(part["section"].iloc[i])))]
        lines += [f"## {paper}", "", "| " + " | ".join((*header, "agrees")) + " |"]
        lines.append("|" + "|".join("---" for _ in range(len(header) + 1)) + "|")
        for _, row in part.iterrows():
            cells = (
                row["section"], row["id"], row["title"], row["metric"], row["paper_difference"], _ours(row),
                row["n"], _verdict_cell(row), row["agrees"],
            )  # fmt: skip
            lines.append("| " + " | ".join(_md(v) for v in cells) + " |")
        lines.append("")
    if not_learned:
        lines += [
            "Runs that did not learn (seed 0, dev: not above the task's trivial predictor by the margin; the "
            "findings that compare them are untestable at this scale):",
            "",
            *(f"- {entry}" for entry in not_learned),
            "",
        ]
    return "\n".join(lines)


def write_claims(frame: pd.DataFrame, csv_path: PathLike, md_path: PathLike, **markdown) -> None:
    """``claims.csv`` (without the figure's helper columns) and ``claims.md``, each written atomically."""

    write_csv_atomic(frame.drop(columns=list(HELPERS)), csv_path)
    write_text_atomic(claims_markdown(frame, **markdown), md_path)


# -- the figure -----------------------------------------------------------------------------------------


def claims_figure(frame: pd.DataFrame, path: PathLike) -> None:
    """Each checked claim's difference (better - worse, in the paper's direction: right = as the paper
    says) with its interval, the paper's difference marked; score claims and cost claims (log ratios) in
    separate panels. Only claims with an interval are shown (decided and inconclusive)."""
    # here, not at the top: every job that builds the workflow's inputs imports this package, and
    # matplotlib (with pipeline.reporting.figures) costs about a second of each one's start
    from matplotlib.figure import Figure

    from pipeline.reporting.figures import _save

    checked = frame[frame["verdict"].isin([*DECIDED, "inconclusive"])]
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
    colours = {"holds": "tab:green", "same": "tab:green", "reversed": "tab:red", "differs": "tab:red"}
    for ax, (title, part) in zip(axes, panels, strict=True):
        y = np.arange(len(part))[::-1]
        sign = np.where(part["direction"].to_numpy() == 0, 1, part["direction"].to_numpy())
        d = part["difference"].to_numpy(dtype=float) * sign
        lo, hi = sorted_interval(
            part["low"].to_numpy(dtype=float) * sign, part["high"].to_numpy(dtype=float) * sign
        )
        for yi, di, loi, hii, v in zip(y, d, lo, hi, part["verdict"], strict=True):
            xerr = None if math.isnan(loi) else [[di - loi], [hii - di]]
            ax.errorbar(di, yi, xerr=xerr, fmt="o", color=colours.get(v, "tab:grey"), capsize=3, ms=4)
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
        "Claims: ours (green holds/same, red reversed/differs, grey inconclusive) vs the paper (x)",
        fontsize=9,
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
    for an ensemble or a builtin baseline): adds ``train_<m>`` (at the best epoch, when the history has it),
    ``time_s`` (run.json's ``wall_seconds``: the run's wall time summed over its attempts, as in the
    methods tables), ``memory_gib`` and ``epoch_seconds`` (mean seconds per epoch) under every split.
    """

    extra: dict[str, float | None] = {}
    if run is not None:
        history, record = run["history"], run["run"]
        best = history[history["epoch"] == int(record["best_epoch"])]
        row = (best if len(best) else history).iloc[-1]
        for column in history.columns:
            if column.startswith("train_") and column != "train_loss":
                extra[column] = float(row[column])
        extra["time_s"] = float(record["wall_seconds"])
        extra["memory_gib"] = float(record["peak_memory_bytes"]) / GIB
        if "epoch_seconds" in history.columns:
            extra["epoch_seconds"] = float(history["epoch_seconds"].mean())
    out: dict[str, dict[str, float | None]] = {}
    for split, result in metrics.items():
        parts = {split: result, **{f"{split}_{h}": r for h, r in (result.get("halves") or {}).items()}}
        for name, part in parts.items():  # dev_a, dev_b: the halves a best-of-several pick is made on
            values: dict[str, float | None] = dict(part.get("scores", {}))
            values["overall"] = part.get("overall")
            out[name] = {**values, **extra}
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


def run_facts(metrics: Mapping[str, Mapping], run: Mapping | None = None) -> dict[str, Any]:
    """What the verdict rule checks of a model's seed-0 run: ``learned``, ``scores`` and ``trivial`` of its
    dev metrics (:func:`pipeline.evaluation.metrics.learned_flags`; empty when the file predates them), and
    for a trained experiment (``run``: :func:`pipeline.reporting.methods_tables.load_run`) where its costs
    were measured: ``device``, ``hardware`` and ``memory`` (run.json's ``peak_memory_kind``)."""
    dev = metrics.get("dev") or {}
    facts: dict[str, Any] = {
        "learned": dict(dev.get("learned") or {}),
        "scores": dict(dev.get("scores") or {}),
        "trivial": dict(dev.get("trivial") or {}),
    }
    if run is not None:
        record = run["run"]
        device = record.get("device") or (record.get("device_record") or {}).get("device")
        facts.update(device=device, hardware=record.get("hardware"), memory=record.get("peak_memory_kind"))
    return facts


def not_learned_runs(facts: Mapping[str, Mapping], models: Sequence[str] | None = None) -> list[str]:
    """One line per model (of ``models``, default all) whose seed-0 run did not learn a task: its dev score
    beside the trivial predictor's and the margin."""
    out = []
    for model in models if models is not None else list(facts):
        entry = facts.get(model) or {}
        for task, learned in (entry.get("learned") or {}).items():
            if learned is False:
                spec = get_task(task)
                score = (entry.get("scores") or {}).get(spec.metric_name)
                trivial = (entry.get("trivial") or {}).get(task)
                out.append(
                    f"`{model}`: {task} dev {spec.metric_name} {score:.3f}, trivial predictor {trivial:.3f} "
                    f"+ margin {LEARNED_MARGIN[spec.metric]}"
                )
    return out
