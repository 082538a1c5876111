"""The cost plan of a scale: one row per GPU job the workflow's targets would run, and totals.

Built from the config alone (no data, no weights): which experiments each table, figure and claim needs
(ensembles stand for their members), the data version's row counts with the scale's subsets, and the
counting of :mod:`pipeline.reporting.plan`. Jobs: ``finetune`` (each experiment at each seed a target
trains), ``predict`` (test predictions, for test tables and test claims), ``pretrain`` (each MNRL stage) and
``zero_shot`` (the encoder over every para and sts split).
"""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from pipeline.config import (
    BUILTIN_MODELS,
    ensemble_members,
    resolve_experiment,
    resolve_pretrain,
    seed_count,
    seeded,
    split_seed,
)
from pipeline.reporting.claims import catalogue_from_config, claim_models
from pipeline.reporting.plan import (
    ROWS,
    Device,
    EncoderShape,
    finetune_cost,
    mnrl_cost,
    predict_cost,
)

TASKS = ("sst", "para", "sts", "cfimdb")


def scale_rows(scale: Mapping, version: str, quora_holdout: bool = False) -> dict[str, dict[str, int]]:
    """Rows of each task's train, dev and test split at a scale: generated sizes, or the data version's
    official counts with the Quora hold-out and the scale's evaluation subsets applied (training subsets
    are per experiment: :func:`train_rows`)."""
    data = scale["data"]
    if data["source"] == "generated":
        return {t: dict(data["sizes"]) for t in TASKS}
    rows = {t: dict(splits) for t, splits in ROWS[version].items()}
    if quora_holdout:
        dev = rows["para"]["dev"]
        rows["para"].update(dev=(dev + 1) // 2, test=dev // 2)
    for key, n in (data.get("subsets") or {}).items():
        task, split = key.split("-")
        rows[task][split] = min(rows[task][split], n)
    return rows


def train_rows(settings: Mapping, rows: Mapping[str, Mapping[str, int]]) -> dict[str, dict[str, int]]:
    """``rows`` with each task's training rows cut to the experiment's training subset."""
    out = {t: dict(splits) for t, splits in rows.items()}
    for task, n in (settings.get("train_subset") or {}).items():
        if n:
            out[task]["train"] = min(out[task]["train"], n)
    return out


def _experiments(config: Mapping, model: str) -> list[str]:
    base, k = split_seed(model)
    if base in config["ensembles"]:
        return ensemble_members(config, model)
    if base in BUILTIN_MODELS:
        return []
    return [model]


def needs(config: Mapping) -> dict[str, dict[str, set[str]]]:
    """``{target: {"finetune": experiments (with seeds), "predict": experiments predicting test}}`` for
    every table, methods table, figure and the claims."""
    out: dict[str, dict[str, set[str]]] = {}

    def add(target: str, models, test: bool) -> None:
        entry = out.setdefault(target, {"finetune": set(), "predict": set()})
        for model in models:
            for exp in _experiments(config, model):
                entry["finetune"].add(exp)
                if test:
                    entry["predict"].add(exp)

    for name, table in config["tables"].items():
        add(name, [row["model"] for row in table["rows"]], table["split"] == "test")
    for name, table in (config.get("methods_tables") or {}).items():
        models = [table["model"]] if table["kind"] == "confusion" else [r["model"] for r in table["rows"]]
        add(name, models, table["split"] == "test")
    for name, figure in config["figures"].items():
        models = list(figure["models"].values()) if "models" in figure else [figure["model"]]
        add(name, models, figure.get("split", "dev") == "test")
    seeds = seed_count(config)
    for claim in catalogue_from_config(config):
        if claim["status"] != "declared":
            continue
        models = [
            seeded(m, k) for m in claim_models([claim]) for k in range(seeds) if m not in BUILTIN_MODELS
        ]
        add("claims", models, claim["split"] == "test")
    return out


def plan_frame(config: Mapping, device: Device, shape: EncoderShape, version: str) -> pd.DataFrame:
    """One row per GPU job of every target: job, name, steps, examples, tokens, FLOPs, projected hours on
    ``device``, and which targets need it (``targets``: space-separated)."""
    scale = config["scales"][config["scale"]]
    rows = scale_rows(scale, version, str(config.get("quora_holdout", False)).lower() == "true")
    targets = needs(config)
    jobs: dict[tuple[str, str], dict] = {}

    def job(kind: str, name: str, cost: dict, target: str) -> None:
        entry = jobs.setdefault((kind, name), {"job": kind, "name": name, **cost, "targets": set()})
        entry["targets"].add(target)

    for target, need in targets.items():
        for exp in sorted(need["finetune"]):
            settings = resolve_experiment(config, exp)
            sizes = train_rows(settings, rows)
            job("finetune", exp, finetune_cost(settings, sizes, shape), target)
            if settings.get("pretrain"):
                stage = resolve_pretrain(config, settings["pretrain"])
                job("pretrain", stage["name"], mnrl_cost(stage, rows, shape), target)
        for exp in sorted(need["predict"]):
            settings = resolve_experiment(config, exp)
            job("predict", exp, predict_cost(settings, {t: rows[t]["test"] for t in TASKS}, shape), target)
    frame = pd.DataFrame(list(jobs.values()))
    if frame.empty:
        return frame
    frame["hours"] = [
        device.seconds(f, s) / 3600 for f, s in zip(frame["flops"], frame["steps"], strict=True)
    ]
    frame["device"] = device.name
    frame["constants"] = device.status
    frame["targets"] = [" ".join(sorted(t)) for t in frame["targets"]]
    return frame.sort_values(["job", "name"]).reset_index(drop=True)


def totals(frame: pd.DataFrame) -> pd.DataFrame:
    """GPU jobs and hours per target (a job two targets share counts in both) and for everything."""
    records = []
    for target in sorted({t for ts in frame["targets"] for t in ts.split()}):
        part = frame[frame["targets"].str.split().apply(lambda ts, t=target: t in ts)]
        records.append({"target": target, "jobs": len(part), "hours": part["hours"].sum()})
    records.append({"target": "everything", "jobs": len(frame), "hours": frame["hours"].sum()})
    return pd.DataFrame(records)


def encoder_shape(config: Mapping) -> EncoderShape:
    """The active scale's encoder shape: a random encoder's own keys, else config.yaml's ``plan.shapes``."""
    name = config["scales"][config["scale"]]["encoder"]
    spec = config["encoders"][name]
    if spec["kind"] == "random":
        return EncoderShape.from_config(spec)
    if name not in config["plan"]["shapes"]:
        raise ValueError(
            f"config: plan.shapes has no entry for encoder {name!r} (layers, hidden, intermediate)"
        )
    return EncoderShape.from_config(config["plan"]["shapes"][name])


def plan_device(config: Mapping, precision: str | None = None) -> Device:
    """The device the active scale's plan projects onto (``plan.device``), at the precision its runs use:
    bf16 where the device has it (GPUs), else fp32."""
    name = config["plan"]["device"].get(config["scale"])
    if name is None or name not in config["devices"]:
        raise ValueError(f"config: plan.device names no known device for scale {config['scale']!r}: {name!r}")
    spec = config["devices"][name]
    if precision is None:
        precision = "bf16" if "bf16" in spec["peak_tflops"] else "fp32"
    return Device.from_config(name, spec, precision)
