"""Every experiment at a glance (rule ``experiments``: ``results/experiments.md`` and ``.csv``): its paper,
what it changes from the defaults, and which tables, figures, ensembles and claims use it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from pipeline.config import experiment_settings
from pipeline.reporting.claims import catalogue_from_config, claim_models
from pipeline.workflow.validation import read_papers


def changes(config: Mapping, name: str) -> str:
    """The experiment's settings that differ from the defaults (its preset's included), ``key=value`` with
    nested keys dotted (``lora.rank=16``), in the defaults' order."""
    settings, defaults = experiment_settings(config, name), config["defaults"]
    out = []
    for key, value in settings.items():
        if isinstance(value, Mapping) and isinstance(defaults.get(key), Mapping):
            out += [f"{key}.{k}={_text(v)}" for k, v in value.items() if defaults[key].get(k) != v]
        elif defaults.get(key) != value:
            out.append(f"{key}={_text(value)}")
    return "; ".join(out)


def _text(value) -> str:
    if isinstance(value, list):
        return "+".join(map(str, value))
    return json.dumps(value) if isinstance(value, dict) else str(value)


def users(config: Mapping) -> dict[str, list[str]]:
    """``{experiment: [tables, figures, ensembles, claims, variations naming it]}``; an ensemble's tables
    count for its members."""
    out: dict[str, list[str]] = {name: [] for name in config["experiments"]}

    def use(model: str, where: str) -> None:
        members = config["ensembles"][model]["members"] if model in config["ensembles"] else [model]
        for member in members:
            if member in out and where not in out[member]:
                out[member].append(where)

    for name, table in {**config["tables"], **(config.get("methods_tables") or {})}.items():
        rows = [table["model"]] if table.get("kind") == "confusion" else [r["model"] for r in table["rows"]]
        for model in rows:
            use(model, name)
    for name, figure in config["figures"].items():
        for model in figure["models"].values() if "models" in figure else [figure["model"]]:
            use(model, name)
    for name, ensemble in config["ensembles"].items():
        for member in ensemble["members"]:
            use(member, f"ensemble {name}")
    for claim in catalogue_from_config(config):
        if claim["status"] == "declared":
            for model in claim_models([claim]):
                use(model, f"claim {claim['id']}")
    for name in config.get("variations") or []:
        use(name, "variations")
    return out


def paper_of(root: str | Path) -> dict[str, str]:
    """``{experiment: the paper (its file's ``paper``)}`` for every experiment a paper file declares."""
    out = {}
    for where, paper in read_papers(root):
        for name in paper.get("experiments") or {}:
            out[name] = f"{paper.get('paper', '')} ({Path(where).name})"
    return out


def experiments_frame(config: Mapping, root: str | Path) -> pd.DataFrame:
    """One row per experiment: name, paper, tasks, changes from the defaults, used by."""
    papers, used = paper_of(root), users(config)
    rows = [
        {
            "experiment": name,
            "paper": papers.get(name, "config (--configfile)"),
            "tasks": "+".join(experiment_settings(config, name)["tasks"]),
            "changes": changes(config, name),
            "used_by": ", ".join(used[name]) or "nothing (train it by name)",
        }
        for name in config["experiments"]
    ]
    return pd.DataFrame(rows)


def experiments_markdown(frame: pd.DataFrame) -> str:
    lines = [
        "# Experiments",
        "",
        "Every experiment the config declares: what it changes from the defaults (config.yaml `defaults`, "
        "before a scale's factors), and what uses it. Train one by name: "
        "`snakemake results/{scale}/metrics/{experiment}/dev.json`.",
        "",
        "| experiment | paper | tasks | changes from the defaults | used by |",
        "|---|---|---|---|---|",
    ]
    for r in frame.itertuples(index=False):
        cells = (r.experiment, r.paper, r.tasks, r.changes, r.used_by)
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # pragma: no cover - `python -m pipeline.workflow.experiments [ROOT]`
    import sys

    from pipeline.workflow.validation import load_config

    root = sys.argv[1] if len(sys.argv) > 1 else "."
    print(experiments_markdown(experiments_frame(load_config(root), root)), end="")
