# Shared set-up: config validation, name look-ups and input functions used by every stage.
import json
import re
from pathlib import Path

import yaml
from snakemake.exceptions import WorkflowError

from pipeline.workflow.validation import prepare_config
from pipeline.config import (
    ConfigError,
    RANDOM_BASELINE_SEED,
    ensemble_members,
    known_models,
    model_settings,
    model_tasks,
    resolve_experiment,
    resolve_pretrain,
    seed_count,
    seeded_models,
    split_seed,
    zero_shot_settings,
)
from pipeline.model.encoders import encoder_location
from pipeline.reporting.methods_tables import RUN_COLUMNS as METHODS_RUN_COLUMNS

try:
    prepare_config(config, workflow.basedir)
except ConfigError as error:
    raise WorkflowError(str(error)) from None

ENV = "../../environment.yml"
SCALE_NAME = config["scale"]
SCALE = config["scales"][SCALE_NAME]
# torch threads of each training/prediction job (SLURM: --cpus-per-task); 1 on a small machine lets two jobs
# run side by side, which beats one job on two threads there (README, "Speed")
JOB_THREADS = SCALE.get("threads", 2)
# Every expensive artifact lives under its scale's folder, so that a run at one scale never touches another's
# (results/tables/ and results/figures/ hold the active scale's tables and figures, rebuilt in seconds).
RES = f"results/{SCALE_NAME}"
LOGS = f"logs/{SCALE_NAME}"
ENCODER = SCALE["encoder"]
ENCODER_SPEC = config["encoders"][ENCODER]
HUB_ENCODERS = [e for e, spec in config["encoders"].items() if spec["kind"] == "hub"]
RANDOM_ENCODERS = [
    e for e, spec in config["encoders"].items() if spec["kind"] == "random"
]
SPLITS = ["train", "dev", "test"]
PRED_SPLITS = ["dev", "test"]
EXPERIMENTS = list(config["experiments"])
ENSEMBLES = list(config["ensembles"])
DEFAULT_FIGURES = [
    f for f in config["figures"] if config["figures"][f].get("paper") == "Beyond BERT"
]
METHODS_FIGURES = [
    f
    for f in config["figures"]
    if config["figures"][f].get("paper") == "Comparing BERT fine-tuning methods"
]


def name_regex(names):
    """A wildcard constraint matching exactly the given names (they may contain dots and dashes)."""
    return (
        "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) or "(?!)"
    )


def seeded_regex(names):
    """A wildcard constraint matching the given names and their seeds (``name~seedK``, K >= 1)."""
    return f"(?:{name_regex(names)})(?:~seed[1-9][0-9]*)?"


def task_sets(models):
    """Models grouped by the tuple of tasks they predict."""
    groups = {}
    for model in models:
        groups.setdefault(tuple(model_tasks(config, model)), []).append(model)
    return groups


wildcard_constraints:
    task="sst|para|sts|cfimdb",
    split="train|dev|test",
    encoder=name_regex(config["encoders"]),
    pretrain=name_regex(config["pretrains"]),
    model=seeded_regex(known_models(config)),


def data_source():
    """The data source of the active scale, with the mirror folder when one is given."""
    data = SCALE["data"]
    if data["source"] == "generated":
        return {"kind": "generated", "seed": data["seed"], "sizes": data["sizes"]}
    subsets = {"seed": data.get("seed", 0), "subsets": data.get("subsets", {})}
    # data version, Quora hold-out (see "Data versions" below)
    subsets.update(data_options())
    if config.get("data_mirror"):
        return {
            "kind": "mirror",
            "path": str(Path(config["data_mirror"]).resolve()),
            **subsets,
        }
    if data["source"] == "mirror":
        raise WorkflowError(
            f"scale {config['scale']!r} reads a local mirror: pass --config data_mirror=FOLDER"
        )
    return {"kind": "download", "cache": "results/downloads", **subsets}


def data_description():
    """How the active scale's data was obtained, for table captions."""
    source = data_source()
    where = {
        "generated": "generated (smoke)",
        "download": "official CS224N files, downloaded",
    }
    text = where.get(source["kind"], f"local mirror {config.get('data_mirror')}")
    text += data_version_note(source)
    return f"{text}; {SCALE['note']}" if SCALE.get("note") else text


def encoder_files(encoder=ENCODER):
    """Files a job needs to load the encoder: the folder that build_encoder (random) or fetch_encoder (hub)
    wrote under the scale's results; nothing for an encoder shipped in an installed package.
    """
    if config["encoders"][encoder]["kind"] in ("random", "hub"):
        return [f"{RES}/encoders/{encoder}"]
    return []


def encoder_info(encoder=ENCODER):
    spec = config["encoders"][encoder]
    return {
        "location": encoder_location(spec, encoder, RES),
        "load_kwargs": {"local_files_only": True},
        "name": encoder,
    }


def token_file(task, split, encoder=ENCODER):
    return f"{RES}/tokens/{encoder}/{task}-{split}.pt"


def start_encoder(settings):
    """The pretrained MNRL folder when the experiment has a pretrain stage, else the base encoder."""
    if settings.get("pretrain"):
        path = f"{RES}/pretrained/{settings['pretrain']}"
        return {
            "files": [path],
            "info": {"location": path, "load_kwargs": {"local_files_only": True}},
        }
    return {"files": encoder_files(), "info": encoder_info()}


def finetune_inputs(wc):
    settings = resolve_experiment(config, wc.experiment)
    tokens = {
        f"{t}_{s}": token_file(t, s)
        for t in settings["tasks"]
        for s in ("train", "dev")
    }
    return {**tokens, "encoder": start_encoder(settings)["files"]}


def trained_runs(model):
    """run.json of the training runs behind a model's predictions: the experiment's, or each member's."""
    base = split_seed(model)[0]
    if base in config["experiments"]:
        return [f"{RES}/models/{model}/run.json"]
    if base in config["ensembles"]:
        return [f"{RES}/models/{m}/run.json" for m in ensemble_members(config, model)]
    return []


def metrics_inputs(wc):
    """pred_{task}: the model's predictions, data_{task}: the gold file, for each task of the model;
    runs: the run.json files of its training (for the code version recorded beside the scores).
    """
    files = {"runs": trained_runs(wc.model)}
    for task in model_tasks(config, wc.model):
        files[f"pred_{task}"] = f"{RES}/predictions/{wc.model}/{task}-{wc.split}.csv"
        files[f"data_{task}"] = f"{RES}/data/{task}-{wc.split}.csv"
    return files


def table_inputs(wc):
    """Each row's metrics on the table's split, keyed by model; with ``--config table_seeds=true`` also
    every seed of the rows' experiments and ensembles (``model~seedK``), shown as mean and spread.
    """
    table = config["tables"][wc.table]
    files = {}
    for row in table["rows"]:
        names = (
            seeded_models(config, row["model"])
            if flag("table_seeds")
            else [row["model"]]
        )
        for name in names:
            files[name] = f"{RES}/metrics/{name}/{table['split']}.json"
    return files


def figure_inputs(wc):
    fig = config["figures"][wc.figure]
    if fig["kind"] == "curves":
        return {
            label: f"{RES}/models/{m}/history.csv" for label, m in fig["models"].items()
        }
    split = fig.get("split", "dev")
    return {
        "predictions": f"{RES}/predictions/{fig['model']}/{fig['task']}-{split}.csv",
        "gold": f"{RES}/data/{fig['task']}-{split}.csv",
        "train": f"{RES}/data/{fig['task']}-train.csv",
    }


def shown_scale(csv_path):
    """The scale of a built table, read from its own ``scale`` column (the active scale before it exists)."""
    import csv

    try:
        with open(csv_path, newline="") as fh:
            scales = {row.get("scale") for row in csv.DictReader(fh)} - {None, ""}
    except OSError:
        return config["scale"]
    return ", ".join(sorted(scales)) or config["scale"]


def table_labels(wc):
    """The table's entry in the Snakemake report: its number in the paper and the scale of the file shown."""
    return {
        "table": {**config["tables"], **config.get("methods_tables", {})}[wc.table].get(
            "number", wc.table
        ),
        "scale": shown_scale(f"results/tables/{wc.table}.csv"),
    }


def figure_labels(wc):
    """The figure's entry in the Snakemake report: its number in the paper and the scale."""
    return {
        "figure": config["figures"][wc.figure].get("number", wc.figure),
        "scale": config["scale"],
    }


def methods_table_files(name):
    """Files behind a methods table: per model, its metrics per split and, for run columns, run.json,
    history.csv (time and memory come from run.json); for a confusion table, predictions and gold.
    """
    table = config["methods_tables"][name]
    if table["kind"] == "confusion":
        split = table["split"]
        model, task = table["model"], table["task"]
        files = {
            "predictions": f"{RES}/predictions/{model}/{task}-{split}.csv",
            "gold": f"{RES}/data/{task}-{split}.csv",
        }
        if model in config["experiments"]:  # for the hardware in the caption
            files["run"] = f"{RES}/models/{model}/run.json"
        return files
    columns = table["columns"]
    splits = [s for s in ("dev", "test") if s in columns]
    needs_run = any(c in METHODS_RUN_COLUMNS for c in columns)
    files = {}
    for row in table["rows"]:
        model = row["model"]
        entry = {s: f"{RES}/metrics/{model}/{s}.json" for s in splits}
        if model in config["experiments"]:
            entry["run"] = f"{RES}/models/{model}/run.json"
        if needs_run:
            entry["history"] = f"{RES}/models/{model}/history.csv"
        files[model] = entry
    return files


def methods_table_inputs(wc):
    files = methods_table_files(wc.table)
    if "predictions" in files:
        return list(files.values())
    return sorted({path for entry in files.values() for path in entry.values()})


# --- Data versions, partial mirrors and labelled test splits rebuilt from public releases -----------------
from functools import lru_cache

from pipeline.data.labels import SOURCE_FILES as LABEL_SOURCE_FILES
from pipeline.data.sources import (
    check_data_version,
    mirror_data_version,
    mirror_mismatches,
    official_filename,
)

TEST_LABELS = config.get("test_labels") or {"rebuild": False, "sources": {}}


def flag(name):
    """A boolean config switch (``--config name=true`` arrives as a string)."""
    return str(config.get(name, False)).lower() == "true"


def data_options():
    """Data version and Quora hold-out of the real-data source; stops a paper-scale run on a partial mirror."""
    options = {"quora_holdout": flag("quora_holdout")}
    version = str(config.get("data_version", "auto"))
    if version != "auto":
        options["data_version"] = check_data_version(version)
    elif not config.get("data_mirror"):
        options["data_version"] = "2024"
    problems = mirror_problems()
    if problems and config["scale"] == "paper" and not flag("allow_partial_data"):
        first = next(iter(problems.items()))
        raise WorkflowError(
            f"{config['data_mirror']}: {first[0]}: {first[1]} ({len(problems)} file(s) differ from the "
            f"pinned data version {mirror_version()}); a paper-scale run needs the complete data: download "
            "it (no data_mirror) or pass --config allow_partial_data=true"
        )
    return options


def mirror_version():
    """The mirror's data version: data_version when set, else detected from its quora-dev.csv."""
    version = str(config.get("data_version", "auto"))
    if version != "auto":
        return check_data_version(version)
    return mirror_data_version(config["data_mirror"])


@lru_cache
def mirror_problems():
    """Official file -> problem, for each mirror file missing or not at its pinned blob (empty: complete)."""
    if not config.get("data_mirror") or SCALE["data"]["source"] == "generated":
        return {}
    return mirror_mismatches(config["data_mirror"], mirror_version())


def data_version_note(source):
    """What captions say about the data version, a partial mirror and the Quora hold-out."""
    if source["kind"] == "generated":
        return ""
    version = source.get("data_version") or mirror_version()
    text = f"; CS224N data version {version}" + (
        " (the papers')" if version == "2024" else ""
    )
    problems = mirror_problems()
    if problems:
        text += "; PARTIAL data: " + ", ".join(f"{n} {p}" for n, p in problems.items())
    if source.get("quora_holdout"):
        text += "; Quora test = the odd half of Quora dev (by pair number), dev = the even half"
    return text


def rebuilt_test_tasks():
    """Tasks whose labelled test split the test_labels rule rebuilds from public releases."""
    if SCALE["data"]["source"] == "generated" or not TEST_LABELS.get("rebuild"):
        return []
    tasks = [
        t for t in LABEL_SOURCE_FILES if not (t == "para" and flag("quora_holdout"))
    ]
    # a mirror: only the tasks whose sources and test file it holds
    if config.get("data_mirror"):
        folder = Path(config["data_mirror"])
        tasks = [
            t
            for t in tasks
            if all(
                (folder / "label-sources" / n).is_file() for n in LABEL_SOURCE_FILES[t]
            )
            and (folder / official_filename(t, "test")).is_file()
        ]
    return tasks


def label_source_spec(name):
    """The declared label source, read from the mirror's label-sources/ folder when it holds the file."""
    spec = dict(TEST_LABELS["sources"][name])
    if config.get("data_mirror"):
        local = Path(config["data_mirror"]).resolve() / "label-sources" / name
        if local.is_file():
            spec["url"] = str(local)
    return spec


def label_source_inputs(wc):
    return {
        n: f"results/downloads/label-sources/{n}" for n in LABEL_SOURCE_FILES[wc.task]
    }


def test_label_records(table):
    """Provenance records of the rebuilt test splits of the tasks a test table shows (their agreement counts
    go into its caption); the test_labels job that wrote each also wrote the test file the table scores.
    """
    if config["tables"][table]["split"] != "test":
        return []
    tasks = {
        t
        for row in config["tables"][table]["rows"]
        for t in model_tasks(config, row["model"])
    }
    return [
        f"{RES}/data/{t}-test.provenance.json"
        for t in rebuilt_test_tasks()
        if t in tasks
    ]


# --- Claims: each finding of both papers, over seeds (pipeline/reporting/claims.py) ---------------------------------
from pipeline.reporting.claims import COST_METRICS as CLAIM_COST_METRICS
from pipeline.reporting.claims import ClaimError, catalogue_from_config, claim_models

try:
    CLAIMS = catalogue_from_config(config)
    SEEDS = seed_count(config)
except (ClaimError, ConfigError) as error:
    raise WorkflowError(str(error)) from None


def claim_needs_run(metric):
    """Whether a claim's metric is read from the training run (train scores, time, memory)."""
    return metric in CLAIM_COST_METRICS or metric.startswith(("train_", "gap"))


def claims_files():
    """``{model: [per seed: {split: metrics json, "run": run.json, "history": history.csv}]}`` for every
    model a declared claim compares (run files only for experiments whose claims read the training run).
    """
    splits, runs = {}, set()
    for claim in CLAIMS:
        for model, metric in claim["metrics"].items():
            # dev too: did the run learn?
            splits.setdefault(model, {"dev"}).add(claim["split"])
            if claim_needs_run(metric) and model in config["experiments"]:
                runs.add(model)
    files = {}
    for model in claim_models(CLAIMS):
        entries = []
        for name in seeded_models(config, model):
            entry = {s: f"{RES}/metrics/{name}/{s}.json" for s in sorted(splits[model])}
            if model in runs:
                entry["run"] = f"{RES}/models/{name}/run.json"
                entry["history"] = f"{RES}/models/{name}/history.csv"
            entries.append(entry)
        files[model] = entries
    return files


def claims_inputs(wc):
    return sorted(
        {p for entries in claims_files().values() for e in entries for p in e.values()}
    )
