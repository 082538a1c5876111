"""The files each job reads: the input functions of the rule files, as plain functions of the config and
the job's wildcard values (the rule files wrap them: ``lambda wc: finetune_inputs(config, wc.experiment)``).

Every path comes from :class:`pipeline.workflow.paths.Paths` of the active scale.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pipeline.config import (
    ensemble_members,
    model_tasks,
    resolve_experiment,
    seeded_models,
    split_seed,
    zero_shot_settings,
)
from pipeline.model.encoders import encoder_location
from pipeline.reporting.claims import COST_METRICS as CLAIM_COST_METRICS
from pipeline.reporting.claims import claim_models
from pipeline.reporting.methods_tables import RUN_COLUMNS as METHODS_RUN_COLUMNS
from pipeline.tasks import TASKS
from pipeline.workflow.costs import needs
from pipeline.workflow.paths import Paths
from pipeline.workflow.sources import flag, label_source_names, rebuilt_test_tasks

ALL_SPLITS = ("train", "dev", "test")


# -- encoders -------------------------------------------------------------------------------------------
def scale_encoder(config: Mapping) -> str:
    """The encoder of the active scale."""
    return config["scales"][config["scale"]]["encoder"]


def encoder_files(config: Mapping, encoder: str | None = None) -> list[str]:
    """Files a job needs to load the encoder (the active scale's by default): the folder that build_encoder
    (random) or fetch_encoder (hub) wrote under the scale's results; nothing for an encoder shipped in an
    installed package."""
    encoder = encoder or scale_encoder(config)
    if config["encoders"][encoder]["kind"] in ("random", "hub"):
        return [Paths.of(config).encoder(encoder)]
    return []


def encoder_info(config: Mapping, encoder: str | None = None) -> dict:
    """Where a job loads the encoder from (a rule param): location, loading keywords, name."""
    encoder = encoder or scale_encoder(config)
    spec = config["encoders"][encoder]
    return {
        "location": encoder_location(spec, encoder, Paths.of(config).results),
        "load_kwargs": {"local_files_only": True},
        "name": encoder,
    }


def start_encoder(config: Mapping, experiment: str) -> dict:
    """``files`` and ``info`` of the encoder an experiment starts from: its MNRL stage's folder when it has a
    pretrain stage, else the scale's encoder."""
    pretrain = resolve_experiment(config, experiment).get("pretrain")
    if pretrain:
        path = Paths.of(config).pretrained(pretrain)
        return {"files": [path], "info": {"location": path, "load_kwargs": {"local_files_only": True}}}
    return {"files": encoder_files(config), "info": encoder_info(config)}


def token_file(config: Mapping, task: str, split: str) -> str:
    """The token cache of a task's split for the active scale's encoder."""
    return Paths.of(config).tokens(scale_encoder(config), task, split)


# -- training and prediction ----------------------------------------------------------------------------
def finetune_inputs(config: Mapping, experiment: str) -> dict:
    """``{task}_train`` and ``{task}_dev`` token files of each of the experiment's tasks, and ``encoder``."""
    tasks = resolve_experiment(config, experiment)["tasks"]
    tokens = {f"{t}_{s}": token_file(config, t, s) for t in tasks for s in ("train", "dev")}
    return {**tokens, "encoder": start_encoder(config, experiment)["files"]}


def predict_inputs(config: Mapping, experiment: str, split: str) -> dict:
    """``model`` (the model card: the trained folder is complete), ``tokens_{task}`` of the split for each
    task of the experiment, and ``encoder`` (the base a PEFT adapter is loaded onto)."""
    tasks = resolve_experiment(config, experiment)["tasks"]
    return {
        "model": Paths.of(config).model_card(experiment),
        **{f"tokens_{t}": token_file(config, t, split) for t in tasks},
        "encoder": start_encoder(config, experiment)["files"],
    }


def pretrain_inputs(config: Mapping, pretrain: str) -> dict:
    """The train token files of the MNRL stage's pair sources, and ``encoder``."""
    sources = config["pretrains"][split_seed(pretrain)[0]]["sources"]
    return {**{t: token_file(config, t, "train") for t in sources}, "encoder": encoder_files(config)}


def zero_shot_inputs(config: Mapping) -> dict:
    """``{task}_{split}`` token files of the zero-shot tasks on every split, and ``encoder``."""
    tasks = zero_shot_settings(config)["tasks"]
    tokens = {f"{t}_{s}": token_file(config, t, s) for t in tasks for s in ALL_SPLITS}
    return {**tokens, "encoder": encoder_files(config)}


def ensemble_select_top(config: Mapping, ensemble: str) -> int | None:
    """How many members an ensemble keeps by dev overall score (None: all of them)."""
    return config["ensembles"][split_seed(ensemble)[0]].get("select_top")


def ensemble_inputs(config: Mapping, ensemble: str, split: str) -> dict:
    """``predictions``: each member's prediction file of the split (in member order); ``dev_metrics``: each
    member's dev metrics when the ensemble selects its best members."""
    paths, members = Paths.of(config), ensemble_members(config, ensemble)
    select = ensemble_select_top(config, ensemble)
    return {
        "predictions": [paths.predictions(m, split) for m in members],
        "dev_metrics": [paths.metrics(m, "dev") for m in members] if select else [],
    }


def random_baseline_inputs(config: Mapping, split: str) -> dict:
    """``{task}``: the data file of the split for each task the random baseline predicts."""
    return {t: Paths.of(config).data(t, split) for t in model_tasks(config, "random")}


# -- scores ---------------------------------------------------------------------------------------------
def trained_runs(config: Mapping, model: str) -> list[str]:
    """run.json of the training runs behind a model's predictions: the experiment's, or each member's."""
    paths, base = Paths.of(config), split_seed(model)[0]
    if base in config["experiments"]:
        return [paths.run(model)]
    if base in config["ensembles"]:
        return [paths.run(m) for m in ensemble_members(config, model)]
    return []


def metrics_inputs(config: Mapping, model: str, split: str) -> dict:
    """``predictions``: the model's prediction file; ``data_{task}``: the gold file of each of its tasks;
    ``runs``: the run.json files of its training (for the code version recorded beside the scores)."""
    paths = Paths.of(config)
    gold = {f"data_{t}": paths.data(t, split) for t in model_tasks(config, model)}
    return {"predictions": paths.predictions(model, split), **gold, "runs": trained_runs(config, model)}


# -- tables and figures ---------------------------------------------------------------------------------
def table_inputs(config: Mapping, table: str) -> dict:
    """Each row's metrics on the table's split, keyed by model; with ``--config table_seeds=true`` also
    every seed of the rows' experiments and ensembles (``model~seedK``), shown as mean and spread."""
    spec, paths = config["tables"][table], Paths.of(config)
    files = {}
    for row in spec["rows"]:
        names = seeded_models(config, row["model"]) if flag(config, "table_seeds") else [row["model"]]
        for name in names:
            files[name] = paths.metrics(name, spec["split"])
    return files


def figure_inputs(config: Mapping, figure: str) -> dict:
    """A curves figure: each panel's history.csv by label; otherwise the model's prediction file, the gold
    file of the task and split, and the task's train file (its label distribution)."""
    spec, paths = config["figures"][figure], Paths.of(config)
    if spec["kind"] == "curves":
        return {label: paths.history(m) for label, m in spec["models"].items()}
    split = spec.get("split", "dev")
    return {
        "predictions": paths.predictions(spec["model"], split),
        "gold": paths.data(spec["task"], split),
        "train": paths.data(spec["task"], "train"),
    }


def methods_table_files(config: Mapping, name: str) -> dict:
    """Files behind a methods table: per model, its metrics per split and, for run columns, run.json,
    history.csv (time and memory come from run.json); for a confusion table, predictions and gold."""
    table, paths = config["methods_tables"][name], Paths.of(config)
    if table["kind"] == "confusion":
        model, task, split = table["model"], table["task"], table["split"]
        files = {"predictions": paths.predictions(model, split), "gold": paths.data(task, split)}
        if model in config["experiments"]:  # for the hardware in the caption
            files["run"] = paths.run(model)
        return files
    columns = table["columns"]
    splits = [s for s in ("dev", "test") if s in columns]
    needs_run = any(c in METHODS_RUN_COLUMNS for c in columns)
    files = {}
    for row in table["rows"]:
        model = row["model"]
        entry = {s: paths.metrics(model, s) for s in splits}
        if model in config["experiments"]:
            entry["run"] = paths.run(model)
        if needs_run:
            entry["history"] = paths.history(model)
        files[model] = entry
    return files


def methods_table_inputs(config: Mapping, name: str) -> list[str]:
    """Every file of :func:`methods_table_files`, as the rule's input list."""
    files = methods_table_files(config, name)
    if "predictions" in files:
        return list(files.values())
    return sorted({path for entry in files.values() for path in entry.values()})


def label_records(config: Mapping, table: str) -> list[str]:
    """Provenance records of the rebuilt test splits of the tasks a test table shows (their agreement counts
    go into its caption); the test_labels job that wrote each also wrote the test file the table scores."""
    spec = config["tables"][table]
    if spec["split"] != "test":
        return []
    tasks = {t for row in spec["rows"] for t in model_tasks(config, row["model"])}
    return [Paths.of(config).test_provenance(t) for t in rebuilt_test_tasks(config) if t in tasks]


def label_source_inputs(task: str) -> dict:
    """The downloaded public releases a task's test labels are rebuilt from, by file name."""
    return {n: Paths.label_source(n) for n in label_source_names(task)}


# -- prefetch -------------------------------------------------------------------------------------------
def prefetch_inputs(config: Mapping) -> dict:
    """Everything a run at the active scale takes from the network, for rule ``prefetch`` (a localrule: on
    the submit host, before the rest runs offline):

    - ``data``: every task's file of every split, as the ``data`` and ``test_labels`` jobs write them (the
      official files downloaded and checked by git blob id, or a mirror's checked against its SHA256SUMS;
      generated at smoke scale), the test splits rebuilt from the public label sources where the scale
      rebuilds them;
    - ``label_sources``: those label sources, downloaded and verified (``label_source`` jobs);
    - ``encoder``: the scale's encoder folder when it comes from the hub (``fetch_encoder``, pinned
      revision and sha256). A built encoder (``random``) needs no network and is left to the run; an encoder
      shipped in a Python package is checked to be installed here (the package and its model folder), so
      that a missing one stops ``prefetch`` with the pip command instead of a job on a node without
      internet.
    """
    paths = Paths.of(config)
    name = scale_encoder(config)
    spec = config["encoders"][name]
    if spec["kind"] == "package":
        location = encoder_location(spec, name, paths.results)  # raises with the pip command if missing
        if not (Path(location) / "config.json").is_file():
            raise RuntimeError(f"encoder {name!r}: no config.json in {location} (package {spec['package']})")
    return {
        "data": [paths.data(t, s) for t in TASKS for s in ALL_SPLITS],
        "label_sources": [
            Paths.label_source(n) for t in rebuilt_test_tasks(config) for n in label_source_names(t)
        ],
        "encoder": [paths.encoder(name)] if spec["kind"] == "hub" else [],
    }


# -- claims ---------------------------------------------------------------------------------------------
def claim_needs_run(metric: str) -> bool:
    """Whether a claim's metric is read from the training run (train scores, time, memory)."""
    return metric in CLAIM_COST_METRICS or metric.startswith(("train_", "gap"))


def claims_files(config: Mapping, claims: Sequence[Mapping]) -> dict:
    """``{model: [per seed: {split: metrics json, "run": run.json, "history": history.csv}]}`` for every
    model a declared claim compares (run files only for experiments whose claims read the training run)."""
    paths = Paths.of(config)
    splits, runs = {}, set()
    for claim in claims:
        for model, metric in claim["metrics"].items():
            splits.setdefault(model, {"dev"}).add(claim["split"])  # dev too: did the run learn?
            if claim_needs_run(metric) and model in config["experiments"]:
                runs.add(model)
    files = {}
    for model in claim_models(claims):
        entries = []
        for name in seeded_models(config, model):
            entry = {s: paths.metrics(name, s) for s in sorted(splits[model])}
            if model in runs:
                entry["run"] = paths.run(name)
                entry["history"] = paths.history(name)
            entries.append(entry)
        files[model] = entries
    return files


def claims_inputs(config: Mapping, claims: Sequence[Mapping]) -> list[str]:
    """Every file of :func:`claims_files`, sorted, as the claims rule's input list."""
    files = claims_files(config, claims)
    return sorted({p for entries in files.values() for entry in entries for p in entry.values()})


def run_targets(config: Mapping) -> list[str]:
    """The targets a runs table can be made of: every table, methods table, figure, and ``claims``."""
    return sorted(needs(config))


def run_files(config: Mapping, target: str = "all") -> dict[str, list[str]]:
    """``{run: [run.json, history.csv]}`` of every fine-tuning run (each seed its own) that ``target``
    trains, or every target (``all``), in name order."""
    need = needs(config)
    if target != "all" and target not in need:
        raise ValueError(f"no target {target!r} for a runs table; known: all, {', '.join(sorted(need))}")
    runs = set().union(*(n["finetune"] for t, n in need.items() if target in ("all", t)))
    paths = Paths.of(config)
    return {name: [paths.run(name), paths.history(name)] for name in sorted(runs)}
