"""A config for the unit tests of pipeline.workflow: config.yaml as the workflow prepares it (validated, as
common.smk does), with a few small experiments, ensembles, tables and figures of the tests' own in place of
the papers' (so the tests do not move when a paper's list does)."""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path

import yaml

from pipeline.workflow.validation import prepare_config

ROOT = Path(__file__).resolve().parents[1]

SMALL = {
    "experiments": {
        "multi": {"tasks": ["sst", "para", "sts"]},
        "sts-first": {"tasks": ["sts", "sst"]},
        "mnrl-multi": {"tasks": ["sst", "para", "sts"], "pretrain": "mnrl1"},
        "single-para": {"tasks": ["para"], "train_score": True},
    },
    "ensembles": {
        "pair": {"members": ["multi", "mnrl-multi"]},
        "best": {"members": ["multi", "mnrl-multi"], "select_top": 2},
    },
    "tables": {
        "t-test": {
            "paper": "Beyond BERT",
            "number": "Table 9",
            "split": "test",
            "caption": "c",
            "rows": [{"label": "r", "model": "random"}, {"label": "p", "model": "pair"}],
        },
        "t-dev": {
            "paper": "Beyond BERT",
            "split": "dev",
            "caption": "c",
            "rows": [{"label": "m", "model": "multi"}],
        },
    },
    "figures": {
        "curves": {
            "paper": "Beyond BERT",
            "number": "Figure 7",
            "kind": "curves",
            "caption": "c",
            "models": {"plain": "multi", "mnrl": "mnrl-multi"},
        },
        "confusion": {
            "paper": "Beyond BERT",
            "kind": "confusion",
            "task": "sst",
            "model": "pair",
            "caption": "c",
        },
        "other": {
            "paper": "Comparing BERT fine-tuning methods",
            "kind": "sts-scatter",
            "task": "sts",
            "model": "multi",
            "split": "test",
            "caption": "c",
        },
    },
    "methods_tables": {
        "m-scores": {
            "kind": "scores",
            "split": "dev",
            "caption": "c",
            "columns": ["dev", "train", "time_s"],
            "rows": [{"label": "a", "model": "single-para", "task": "para"}],
        },
        "m-dev-only": {
            "kind": "scores",
            "split": "dev",
            "caption": "c",
            "columns": ["dev", "test"],
            "rows": [{"label": "a", "model": "pair", "task": "sst"}],
        },
        "m-confusion": {
            "kind": "confusion",
            "split": "dev",
            "caption": "c",
            "model": "single-para",
            "task": "para",
        },
    },
    "claims": [],
}


@cache
def _prepared() -> dict:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    return prepare_config(config, ROOT)


def workflow_config(scale: str = "smoke", **changes) -> dict:
    """The prepared config at ``scale`` with the tests' own models, tables and figures; ``changes`` are set
    at the top level (e.g. ``data_mirror=...``, ``seeds=2``)."""
    config = copy.deepcopy(_prepared())
    config.update(copy.deepcopy(SMALL))
    config["scale"] = scale
    config.update(changes)
    return config
