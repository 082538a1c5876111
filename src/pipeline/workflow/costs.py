"""The cost plan of a scale: one row per GPU job the workflow's targets would run, and totals.

Built from the config alone (no data, no weights): which experiments each table, figure and claim needs
(ensembles stand for their members), the data version's row counts with the scale's subsets, and the
counting of :mod:`pipeline.reporting.plan`. Jobs: ``finetune`` (each experiment at each seed a target
trains), ``predict`` (test predictions, for test tables and test claims), ``pretrain`` (each MNRL stage) and
``zero_shot`` (the encoder over every para and sts split).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from pathlib import Path

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
from pipeline.workflow.paths import Paths
from pipeline.workflow.sources import flag

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


def config_digest(config: Mapping) -> str:
    """A short hash of the whole config: the plan rule's param, so that a changed experiment, seed count or
    device constant rebuilds the plan (it reads nothing but the config)."""
    text = json.dumps(config, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


class JobCosts:
    """The plan rows of single jobs at one scale, each computed on first use: the SLURM profile asks for
    each GPU job's runtime while the DAG is built (:meth:`runtime_minutes`), and the plan target asks for
    every job at once (:func:`plan_frame`)."""

    def __init__(self, config: Mapping, device: Device, shape: EncoderShape, version: str):
        self.config = config
        self.device = device
        self.shape = shape
        scale = config["scales"][config["scale"]]
        self.rows = scale_rows(scale, version, flag(config, "quora_holdout"))
        self._cache: dict[tuple[str, str], dict] = {}

    @classmethod
    def of(cls, config: Mapping, version: str) -> JobCosts:
        """The active scale's costs on its plan device (config.yaml ``plan``)."""
        return cls(config, plan_device(config), encoder_shape(config), version)

    def cost(self, job: str, name: str) -> dict:
        """steps, examples, tokens and FLOPs of a ``finetune`` or ``predict`` job (``name``: an experiment,
        seeded or not) or of a ``pretrain`` job (``name``: an MNRL stage)."""
        key = (job, name)
        if key not in self._cache:
            if job == "pretrain":
                cost = mnrl_cost(resolve_pretrain(self.config, name), self.rows, self.shape)
            elif job == "finetune":
                settings = resolve_experiment(self.config, name)
                cost = finetune_cost(settings, train_rows(settings, self.rows), self.shape)
            elif job == "predict":
                settings = resolve_experiment(self.config, name)
                cost = predict_cost(settings, {t: self.rows[t]["test"] for t in TASKS}, self.shape)
            else:
                raise ValueError(f"no cost plan for {job!r} jobs (finetune, predict, pretrain)")
            self._cache[key] = cost
        return self._cache[key]

    def hours(self, job: str, name: str) -> float:
        cost = self.cost(job, name)
        return self.device.seconds(cost["flops"], cost["steps"]) / 3600

    def runtime_minutes(self, job: str, name: str, attempt: int = 1) -> int:
        """What a cluster job asks for (SLURM ``--time``): the projected time x ``plan.safety``, rounded up
        to whole minutes, at least ``plan.floor_minutes``, times ``attempt`` (a retry after running out of
        time on a slower GPU than the plan's gets more), at most ``plan.ceiling_minutes``."""
        plan = self.config["plan"]
        minutes = max(math.ceil(self.hours(job, name) * 60 * plan["safety"]), plan["floor_minutes"])
        return int(min(minutes * attempt, plan["ceiling_minutes"]))


def plan_frame(config: Mapping, device: Device, shape: EncoderShape, version: str) -> pd.DataFrame:
    """One row per GPU job of every target: job, name, steps, examples, tokens, FLOPs, projected hours on
    ``device``, the runtime a cluster job asks for, and which targets need it (``targets``:
    space-separated)."""
    costs = JobCosts(config, device, shape, version)
    jobs: dict[tuple[str, str], dict] = {}

    def job(kind: str, name: str, target: str) -> None:
        if (kind, name) not in jobs:
            jobs[(kind, name)] = {"job": kind, "name": name, **costs.cost(kind, name), "targets": set()}
        jobs[(kind, name)]["targets"].add(target)

    for target, need in needs(config).items():
        for exp in sorted(need["finetune"]):
            job("finetune", exp, target)
            pretrain = resolve_experiment(config, exp).get("pretrain")
            if pretrain:
                job("pretrain", pretrain, target)
        for exp in sorted(need["predict"]):
            job("predict", exp, target)
    frame = pd.DataFrame(list(jobs.values()))
    if frame.empty:
        return frame
    frame["hours"] = [costs.hours(j, n) for j, n in zip(frame["job"], frame["name"], strict=True)]
    frame["runtime_minutes"] = [
        costs.runtime_minutes(j, n) for j, n in zip(frame["job"], frame["name"], strict=True)
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
    """The active scale's encoder shape: a random encoder's own keys, else config.yaml's ``plan.shapes``, else
    the ``config.json`` of the encoder's fetched folder."""
    name = config["scales"][config["scale"]]["encoder"]
    spec = config["encoders"][name]
    if spec["kind"] == "random":
        return EncoderShape.from_config(spec)
    if name in config["plan"]["shapes"]:
        return EncoderShape.from_config(config["plan"]["shapes"][name])
    fetched = Path(Paths.of(config).encoder(name)) / "config.json"  # an encoder already fetched: its shape
    if fetched.is_file():
        return EncoderShape.from_config(json.loads(fetched.read_text()))
    raise ValueError(
        f"config: plan.shapes has no entry for encoder {name!r} (layers, hidden, intermediate), and it is "
        f"not fetched yet ({fetched})"
    )


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


def plan_markdown(frame: pd.DataFrame, total: pd.DataFrame, title: str) -> str:
    """The plan as Markdown: totals per target first (what a reader decides on), then every job."""
    device, constants = frame["device"].iloc[0], frame["constants"].iloc[0]
    lines = [
        f"# {title}",
        "",
        f"Projected on **{device}** ({constants}). Projections from the config alone, not measurements: "
        "FLOPs from the encoder's shape and the sampling plans' exact steps, time = FLOPs / (peak x "
        "utilisation) + steps x per-step overhead. `runtime_minutes` is what a cluster job asks for "
        "(projected time x plan.safety within its floor and ceiling).",
        "",
        "| target | GPU jobs | projected GPU-hours |",
        "|---|---|---|",
    ]
    lines += [f"| {r.target} | {r.jobs} | {r.hours:.2f} |" for r in total.itertuples(index=False)]
    lines += [
        "",
        "| job | name | steps | examples | tokens | TFLOPs | hours | runtime_minutes | targets |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {r.job} | {r.name} | {r.steps} | {r.examples} | {r.tokens} | {r.flops / 1e12:.1f} | "
        f"{r.hours:.3f} | {r.runtime_minutes} | {r.targets} |"
        for r in frame.itertuples(index=False)
    ]
    return "\n".join(lines) + "\n"
