"""Figures of the analysis sections: learning curves, confusion matrices, STS scatter plots.

Every function draws on a :class:`matplotlib.figure.Figure` (no pyplot figure, so no GUI backend is
involved); the confusion heatmaps, the STS scatter and the label distributions are drawn with seaborn on its
axes (``ax=``, seaborn's style inside a ``with`` block, never set globally). Each writes a PNG atomically:
the image goes to a temporary file in the destination folder, which is then renamed over ``out``. Inputs are
the pipeline's CSV files: ``history.csv`` files of training runs, prediction files
(:mod:`pipeline.evaluation.predictions`: one per model and split, a task's rows read) and normalised data
files (:mod:`pipeline.tasks`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from pipeline.evaluation.predictions import task_predictions
from pipeline.io import write_atomic
from pipeline.tasks import get_task

PathLike = str | Path

#: Legend labels of the metric columns a ``history.csv`` may hold, in plotting order.
METRIC_LABELS: dict[str, str] = {
    "sst_acc": "SST accuracy",
    "para_acc": "Paraphrase accuracy",
    "sts_corr": "STS correlation",
    "cfimdb_acc": "CFIMDB accuracy",
    "overall": "Overall",
}

TASK_TITLES: dict[str, str] = {
    "sst": "SST sentiment",
    "para": "Paraphrase detection",
    "sts": "STS similarity",
    "cfimdb": "CFIMDB sentiment",
}


def _save(fig: Figure, out: PathLike) -> None:
    """Write ``fig`` to ``out`` as PNG via a temporary file in the same folder and ``os.replace``."""
    try:
        write_atomic(out, lambda tmp: fig.savefig(tmp, format="png", dpi=150, bbox_inches="tight"))
    finally:
        fig.clf()


def _joined(task_name: str, pred_file: PathLike, gold_file: PathLike) -> pd.DataFrame:
    """Join a model's predictions of one task (its rows of the prediction file) and the gold labels on
    ``id``; columns ``id, label, pred``.

    Raises ValueError (naming both files) when the id sets differ, ids repeat, or gold is unlabelled; a
    malformed prediction file or one without the task's rows raises naming the file (and the row).
    """
    pred = task_predictions(pred_file, task_name)
    gold = pd.read_csv(gold_file, dtype={"id": str})
    where = f"predictions {pred_file} ({task_name} rows) vs gold {gold_file}"
    if "label" not in gold.columns or gold["label"].isna().any():
        raise ValueError(f"gold file {gold_file} is unlabelled (missing labels); cannot compare {where}")
    if gold["id"].duplicated().any():
        raise ValueError(f"duplicate ids in {where}")
    pred_ids, gold_ids = set(pred["id"]), set(gold["id"])
    if pred_ids != gold_ids:
        raise ValueError(
            f"ids do not match in {where}: {len(pred_ids - gold_ids)} only in predictions, "
            f"{len(gold_ids - pred_ids)} only in gold"
        )
    merged = gold[["id", "label"]].merge(pred[["id", "prediction"]], on="id", validate="one_to_one")
    return merged.rename(columns={"prediction": "pred"})


def _train_labels(train_file: PathLike) -> pd.Series:
    """Labels of a normalised train file; ValueError if it has none."""
    labels = pd.read_csv(train_file)["label"].dropna()
    if labels.empty:
        raise ValueError(f"train file {train_file} has no labels")
    return labels


def confusion_counts(task_name: str, pred_file: PathLike, gold_file: PathLike) -> pd.DataFrame:
    """Confusion matrix of a classification task's predictions (counts).

    Index = true label, columns = predicted label, both ``0 .. num_labels-1`` (absent classes included).
    """
    task = get_task(task_name)
    if task.kind != "classification":
        raise ValueError(f"task {task_name!r} is not a classification task")
    df = _joined(task_name, pred_file, gold_file)
    classes = list(range(task.num_labels))
    true, pred = df["label"].astype(int), df["pred"].astype(int)
    bad = sorted((set(true) | set(pred)) - set(classes))
    if bad:
        raise ValueError(f"labels {bad} outside 0..{task.num_labels - 1} in {pred_file} / {gold_file}")
    counts = pd.crosstab(true, pred).reindex(index=classes, columns=classes, fill_value=0).astype(int)
    counts.index.name, counts.columns.name = "true", "predicted"
    return counts


def plot_learning_curves(
    histories: dict[str, PathLike], out: PathLike, title: str = "Dev scores per epoch"
) -> None:
    """One panel per model (key = panel title): each dev metric in its ``history.csv`` against epoch."""
    if not histories:
        raise ValueError("no histories to plot")
    n = len(histories)
    fig = Figure(figsize=(5.0 * n, 4.0), layout="constrained")
    axes = fig.subplots(1, n, sharey=True, squeeze=False)[0]
    for i, (ax, (name, path)) in enumerate(zip(axes, histories.items(), strict=True)):
        hist = pd.read_csv(path)
        metrics = [m for m in METRIC_LABELS if m in hist.columns]
        if "epoch" not in hist.columns or not metrics:
            raise ValueError(f"{path} lacks an 'epoch' column or metric columns")
        for m in metrics:
            style = {"color": "black", "linestyle": "--"} if m == "overall" else {}
            ax.plot(
                hist["epoch"],
                hist[m],
                marker="." if len(hist) <= 30 else None,
                label=METRIC_LABELS[m],
                **style,
            )
        ax.set_title(f"({chr(ord('a') + i)}) {name}" if n > 1 else name)
        ax.set_xlabel("Epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
        ax.grid(alpha=0.3)
    handles: dict[str, Artist] = {}  # one legend for all panels, below them; panels may differ in metrics
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    fig.legend(handles.values(), handles.keys(), loc="outside lower center", ncols=min(len(handles), 2 * n))
    axes[0].set_ylabel("Dev score")
    fig.suptitle(title)
    _save(fig, out)


#: seaborn's style for the figures it draws (a ``with`` block: nothing changes matplotlib's global state)
STYLE = "whitegrid"
#: the bars' colour (seaborn's first default colour, matplotlib's tab:blue)
BAR_COLOR = "tab:blue"


def _seaborn():
    """seaborn, imported when a figure is drawn: the workflow's DAG build imports this module (through the
    claims report) and would pay a second for it otherwise."""
    import seaborn

    return seaborn


def _label_distribution(ax: Axes, labels: pd.Series, classes: list[int], task_title: str) -> None:
    """Bar chart of class counts in the train set (every class, absent ones at 0), counts on the bars."""
    sns = _seaborn()
    counts = labels.astype(int).value_counts().reindex(classes, fill_value=0)
    frame = pd.DataFrame({"label": [str(c) for c in classes], "count": counts.to_numpy()})
    sns.barplot(data=frame, x="label", y="count", color=BAR_COLOR, ax=ax)
    ax.bar_label(ax.containers[0], fontsize="small")
    ax.set_xlabel("Label")
    ax.set_ylabel("Count")
    ax.set_title(f"{task_title}: train label distribution")


def plot_confusion(
    task_name: str,
    pred_file: PathLike,
    gold_file: PathLike,
    train_file: PathLike,
    out: PathLike,
    title: str | None = None,
) -> None:
    """Confusion matrix of dev predictions as an annotated heatmap (left) and the train set's label
    distribution (right)."""
    task = get_task(task_name)
    counts = confusion_counts(task_name, pred_file, gold_file)
    task_title = TASK_TITLES.get(task_name, task_name)
    sns = _seaborn()
    with sns.axes_style(STYLE):
        fig = Figure(figsize=(11.0, 4.5), layout="constrained")
        fig.get_layout_engine().set(wspace=0.1)
        ax_cm, ax_dist = fig.subplots(1, 2)
        sns.heatmap(
            counts,
            annot=True,
            fmt="d",
            cmap="Blues",
            vmin=0,
            square=True,
            linewidths=0.5,
            cbar_kws={"label": "Count"},
            ax=ax_cm,
        )
        ax_cm.set_xlabel("Predicted label")
        ax_cm.set_ylabel("True label")
        ax_cm.tick_params(axis="y", labelrotation=0)
        ax_cm.set_title(f"{task_title}: confusion matrix (dev)")
        _label_distribution(ax_dist, _train_labels(train_file), list(range(task.num_labels)), task_title)
        if title:
            fig.suptitle(title)
    _save(fig, out)


def plot_sts_scatter(
    pred_file: PathLike,
    gold_file: PathLike,
    train_file: PathLike,
    out: PathLike,
    title: str | None = None,
) -> None:
    """Predicted vs true STS dev similarity with the line y = x (left); train label histogram (right)."""
    task = get_task("sts")
    df = _joined("sts", pred_file, gold_file)
    lo, hi = task.label_min, task.label_max
    sns = _seaborn()
    with sns.axes_style(STYLE):
        fig = Figure(figsize=(11.0, 4.5), layout="constrained")
        ax_sc, ax_hist = fig.subplots(1, 2)
        sns.scatterplot(data=df, x="label", y="pred", s=12, alpha=0.4, label="Dev example", ax=ax_sc)
        ax_sc.plot([lo, hi], [lo, hi], color="red", linestyle="--", label="y = x")
        r = df["label"].corr(df["pred"]) if len(df) > 1 else float("nan")
        ax_sc.set_xlabel("True similarity")
        ax_sc.set_ylabel("Predicted similarity")
        ax_sc.set_title(f"STS dev: predicted vs true (Pearson r = {r:.3f})")
        ax_sc.legend(loc="upper left")
        labels = _train_labels(train_file).astype(float)
        edges = np.arange(lo, hi + 1.0, 1.0)
        sns.histplot(x=labels, bins=edges, color=BAR_COLOR, edgecolor="white", ax=ax_hist)
        ax_hist.bar_label(ax_hist.containers[0], fontsize="small")
        ax_hist.set_xticks(edges)
        ax_hist.set_xlabel("Similarity label (bins of width 1)")
        ax_hist.set_ylabel("Count")
        ax_hist.set_title("STS similarity: train label distribution")
        if title:
            fig.suptitle(title)
    _save(fig, out)
