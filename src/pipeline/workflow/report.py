"""What the rule files tell ``snakemake --report`` and the default targets: the figures each study draws,
and the labels of each table's and figure's entry (its number in the paper, the scale shown)."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

from pipeline.workflow.paths import Paths

BEYOND_BERT = "Beyond BERT"
METHODS_PAPER = "Comparing BERT fine-tuning methods"


def paper_figures(config: Mapping, paper: str) -> list[str]:
    """The names of the figures declared for ``paper``, in config order."""
    return [name for name, figure in config["figures"].items() if figure.get("paper") == paper]


def shown_scale(csv_path: str | Path, default: str) -> str:
    """The scale of a built table, read from its own ``scale`` column (``default`` before it exists)."""
    try:
        with open(csv_path, newline="") as handle:
            scales = {row.get("scale") for row in csv.DictReader(handle)} - {None, ""}
    except OSError:
        return default
    return ", ".join(sorted(scales)) or default


def table_labels(config: Mapping, table: str) -> dict:
    """The table's entry in the Snakemake report: its number in the paper and the scale of the file shown."""
    spec = {**config["tables"], **(config.get("methods_tables") or {})}[table]
    return {"table": spec.get("number", table), "scale": shown_scale(Paths.table(table), config["scale"])}


def figure_labels(config: Mapping, figure: str) -> dict:
    """The figure's entry in the Snakemake report: its number in the paper and the scale."""
    return {"figure": config["figures"][figure].get("number", figure), "scale": config["scale"]}
