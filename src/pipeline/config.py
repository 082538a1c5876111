"""Configuration: checking ``config.yaml`` and resolving an experiment's settings at the active scale.

An experiment's settings are ``defaults`` + its ``preset`` (a named block of shared settings under
``presets``, e.g. the second study's training set-up) + the experiment's own keys, then the active
scale's rules:
epochs and steps per epoch are multiplied by the scale's factors (at least ``min_epochs`` / 1 step), the
learning rate by ``lr_factor`` (capped at ``lr_max``), and the scale's ``overrides`` replace keys outright.
The resolved dict is what the training job receives, records in ``run.json`` and fingerprints, so changing
any setting reruns exactly the jobs it affects.

Seeds: ``{experiment}~seed{k}`` (k >= 1) names the experiment's k-th extra seed: the same settings with
``seed`` + k, its own model, predictions and metrics folders. Seed 0 is the plain name, so its settings and
paths never change with the number of seeds (:func:`seed_count`: ``--config seeds=N``, else the scale's
``seeds``, else 1). ``{ensemble}~seed{k}`` is the ensemble of its members' k-th seeds.
"""

from __future__ import annotations

import copy
import difflib
import re
from collections.abc import Mapping

from pipeline.tasks import TASKS

# the random baseline (predictions drawn with a fixed seed) and the encoder before fine-tuning (zero_shot.py)
BUILTIN_MODELS = ("random", "zero-shot")
RANDOM_BASELINE_SEED = 0
ZERO_SHOT_TASKS = ("para", "sts")  # SST has no zero-shot reading: the last-layer (linear probe) row is it
SEED_SEP = "~seed"  # no experiment name holds "~"; safe in paths and in Snakemake wildcards
_SEEDED = re.compile(r"^(?P<base>.+)~seed(?P<k>[1-9][0-9]*)$")


def split_seed(name: str) -> tuple[str, int]:
    """``("x", 2)`` for ``"x~seed2"``, ``("x", 0)`` for ``"x"``."""
    match = _SEEDED.match(name)
    return (match["base"], int(match["k"])) if match else (name, 0)


def seeded(name: str, k: int) -> str:
    """The model name of seed ``k`` (seed 0: the plain name)."""
    return name if k == 0 else f"{name}{SEED_SEP}{k}"


def seed_count(config: Mapping) -> int:
    """Seeds per compared experiment: ``--config seeds=N``, else the active scale's ``seeds``, else 1."""
    value = config.get("seeds")
    if value is None:
        value = config["scales"][config["scale"]].get("seeds", 1)
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = 0
    if count < 1:
        raise ConfigError(f"config: 'seeds' must be a whole number >= 1, not {value!r}")
    return count


def seeded_models(config: Mapping, model: str) -> list[str]:
    """The names of a model's seeds: every seed of an experiment or ensemble, the builtins once (they do
    not train: one value serves every seed)."""
    if model in BUILTIN_MODELS:
        return [model]
    return [seeded(model, k) for k in range(seed_count(config))]


class ConfigError(ValueError):
    """A problem in config.yaml, stated in one line that names the key or name at fault."""


def deep_merge(base: Mapping, extra: Mapping) -> dict:
    out = copy.deepcopy(dict(base))
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _did_you_mean(name: str, known) -> str:
    close = difflib.get_close_matches(str(name), [str(k) for k in known], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_keys(where: str, given: Mapping, allowed) -> None:
    """Unknown keys stop the run, with the closest known key suggested."""
    for key in given:
        if key not in allowed:
            raise ConfigError(f"config: unknown key {key!r} in {where}{_did_you_mean(key, allowed)}")


def check_name(kind: str, name: str, known, where: str) -> None:
    if name not in known:
        raise ConfigError(f"config: {where} names unknown {kind} {name!r}{_did_you_mean(name, known)}")


def scale_settings(config: Mapping) -> dict:
    name = config["scale"]
    check_name("scale", name, config["scales"], "'scale'")
    return config["scales"][name]


def _scaled_epochs(epochs: int, scale: Mapping) -> int:
    return max(scale.get("min_epochs", 1), round(epochs * scale.get("epoch_factor", 1.0)))


def experiment_settings(config: Mapping, name: str) -> dict:
    """``defaults`` + the experiment's preset + its own keys, before the scale's rules."""
    name = split_seed(name)[0]
    own = dict(config["experiments"][name] or {})
    preset = own.pop("preset", None)
    base = config["defaults"]
    if preset is not None:
        check_name("preset", preset, config.get("presets") or {}, f"experiment {name!r}")
        base = deep_merge(base, config["presets"][preset] or {})
    return deep_merge(base, own)


def resolve_experiment(config: Mapping, name: str) -> dict:
    """The settings of experiment ``name`` (``x~seedK``: x's with ``seed`` + K) at the active scale."""
    base, k = split_seed(name)
    check_name("experiment", base, config["experiments"], "a target")
    scale = scale_settings(config)
    settings = experiment_settings(config, name)
    settings["epochs"] = _scaled_epochs(settings["epochs"], scale)
    if settings.get("steps_per_epoch"):
        settings["steps_per_epoch"] = max(
            1, round(settings["steps_per_epoch"] * scale.get("steps_factor", 1.0))
        )
    settings["lr"] = min(settings["lr"] * scale.get("lr_factor", 1.0), scale.get("lr_max", float("inf")))
    settings = deep_merge(settings, scale.get("overrides", {}))
    settings["encoder"] = scale["encoder"]
    settings["train_subset"] = {t: scale.get("train_subset", {}).get(t) for t in settings["tasks"]}
    settings["scale_name"] = config["scale"]
    settings["name"] = name
    if k:
        settings["seed"] = settings["seed"] + k
    return settings


def resolve_pretrain(config: Mapping, name: str) -> dict:
    """The settings of MNRL pre-training stage ``name`` at the active scale."""
    check_name("pretrain", name, config["pretrains"], "an experiment")
    scale = scale_settings(config)
    settings = copy.deepcopy(dict(config["pretrains"][name]))
    settings["epochs"] = _scaled_epochs(settings["epochs"], scale)
    settings["lr"] = min(settings["lr"] * scale.get("lr_factor", 1.0), scale.get("lr_max", float("inf")))
    settings["encoder"] = scale["encoder"]
    settings["max_length"] = scale.get("overrides", {}).get("max_length", config["defaults"]["max_length"])
    settings["pair_subset"] = scale.get("pretrain_pairs")
    settings["precision"] = config["defaults"].get("precision", "auto")
    settings["scale_name"] = config["scale"]
    settings["name"] = name
    return settings


def model_tasks(config: Mapping, model: str) -> list[str]:
    """Tasks a model predicts: an experiment's tasks, an ensemble's members' tasks, para and sts for
    ``zero-shot``, or all for ``random``."""
    model = split_seed(model)[0]
    if model in config["experiments"]:
        return list(experiment_settings(config, model)["tasks"])
    if model in config["ensembles"]:
        return model_tasks(config, config["ensembles"][model]["members"][0])
    if model == "zero-shot":
        return list(ZERO_SHOT_TASKS)
    if model in BUILTIN_MODELS:
        return ["sst", "para", "sts"]
    raise ConfigError(f"config: unknown model {model!r}")


def model_settings(config: Mapping, model: str) -> dict:
    """What produced a model's predictions: an experiment's resolved settings, an ensemble's members' (and
    its selection rule), the zero-shot reading or the random baseline's seed; recorded beside its metrics."""
    base = split_seed(model)[0]
    if base in config["experiments"]:
        return resolve_experiment(config, model)
    if base in config["ensembles"]:
        ensemble = config["ensembles"][base]
        members = {m: resolve_experiment(config, m) for m in ensemble_members(config, model)}
        return {"members": members, "select_top": ensemble.get("select_top")}
    if model == "zero-shot":
        return zero_shot_settings(config)
    if model in BUILTIN_MODELS:
        return {"seed": RANDOM_BASELINE_SEED}
    raise ConfigError(f"config: unknown model {model!r}")


def ensemble_members(config: Mapping, ensemble: str) -> list[str]:
    """The members of an ensemble, at the ensemble's seed (``e~seed2``: each member's ``~seed2``)."""
    base, k = split_seed(ensemble)
    return [seeded(m, k) for m in config["ensembles"][base]["members"]]


def zero_shot_settings(config: Mapping) -> dict:
    """What the zero-shot row reads: the scale's encoder, pooling and truncation (those of its experiments)
    and how cosines become predictions (:mod:`pipeline.zero_shot`)."""
    scale = scale_settings(config)
    settings = deep_merge(config["defaults"], scale.get("overrides", {}))
    return {
        "encoder": scale["encoder"],
        "pooling": settings["pooling"],
        "max_length": settings["max_length"],
        "eval_batch_size": settings["eval_batch_size"],
        "precision": settings.get("precision", "auto"),
        "tasks": list(ZERO_SHOT_TASKS),
        "train_subset": {t: scale.get("train_subset", {}).get(t) for t in ZERO_SHOT_TASKS},
        "sts": "least-squares line of 0-5 similarity on cosine, fitted on train",
        "para": "cosine > the threshold of highest train accuracy",
        "scale_name": config["scale"],
    }


def known_models(config: Mapping) -> list[str]:
    return [*config["experiments"], *config["ensembles"], *BUILTIN_MODELS]


def check_config(config: Mapping) -> None:
    """Cross-references the JSON schema cannot express: every name points at something declared."""
    scale = scale_settings(config)
    check_name("encoder", scale["encoder"], config["encoders"], f"scale {config['scale']!r}")
    models = known_models(config)
    for name in config["experiments"]:
        settings = experiment_settings(config, name)
        for task in settings["tasks"]:
            check_name("task", task, TASKS, f"experiment {name!r}")
        if settings.get("pretrain"):
            check_name("pretrain", settings["pretrain"], config["pretrains"], f"experiment {name!r}")
        if settings["sampling"] in ("sqrt", "annealed") and not settings.get("steps_per_epoch"):
            raise ConfigError(
                f"config: experiment {name!r} uses {settings['sampling']} sampling without steps_per_epoch"
            )
        siamese_only = settings["sts_head"] == "cosine" or settings["shared_layer"]
        if siamese_only and settings["pair_mode"] == "cross":
            raise ConfigError(
                f"config: experiment {name!r}: cosine STS and the shared layer need two sentence embeddings "
                "(pair_mode sum or concat), not pair_mode 'cross'"
            )
        if settings["shared_layer"] and settings["para_outputs"] != 1:
            raise ConfigError(
                f"config: experiment {name!r}: the shared layer adds one paraphrase logit; "
                "it needs para_outputs 1"
            )
    for name, ens in config["ensembles"].items():
        members = ens["members"]
        if len(members) < 2:
            raise ConfigError(
                f"config: ensemble {name!r} has {len(members)} member; an ensemble needs at least 2"
            )
        for member in members:
            check_name("experiment", member, config["experiments"], f"ensemble {name!r}")
        tasks = {tuple(model_tasks(config, m)) for m in members}
        if len(tasks) > 1:
            raise ConfigError(
                f"config: ensemble {name!r} mixes members with different tasks: {sorted(tasks)}"
            )
    for name, table in config["tables"].items():
        for i, row in enumerate(table["rows"], start=1):
            check_name("model", row["model"], models, f"table {name!r} row {i}")
    check_methods_tables(config, models)
    for name, figure in config["figures"].items():
        for model in figure.get("models", {}).values():
            check_name("model", model, models, f"figure {name!r}")
        if "model" in figure:
            check_name("model", figure["model"], models, f"figure {name!r}")


def check_methods_tables(config: Mapping, models) -> None:
    """Rows of the second study's tables name declared experiments (their runs carry time, memory and train
    scores), tasks those experiments predict, and table names do not clash with the score tables."""
    from pipeline.methods_tables import COLUMNS, RUN_COLUMNS

    experiments = config["experiments"]
    for name, table in (config.get("methods_tables") or {}).items():
        where = f"methods table {name!r}"
        if name in config["tables"]:
            raise ConfigError(f"config: {where} has the name of a table in 'tables'; table names must differ")
        if table["kind"] == "confusion":
            for key in ("model", "task"):
                if key not in table:
                    raise ConfigError(f"config: {where} (kind confusion) needs {key!r}")
            check_name("model", table["model"], models, where)
            if table["task"] not in model_tasks(config, table["model"]):
                raise ConfigError(
                    f"config: {where}: model {table['model']!r} does not predict {table['task']!r}"
                )
            continue
        if not table.get("rows") or not table.get("columns"):
            raise ConfigError(f"config: {where} (kind scores) needs 'columns' and 'rows'")
        needs_run = any(c in RUN_COLUMNS for c in table["columns"])
        for i, row in enumerate(table["rows"], start=1):
            check_name("model", row["model"], experiments if needs_run else models, f"{where} row {i}")
            if row["task"] not in model_tasks(config, row["model"]):
                raise ConfigError(
                    f"config: {where} row {i}: model {row['model']!r} does not predict {row['task']!r}"
                )
            unknown = set(row.get("paper") or {}) - set(COLUMNS)
            if unknown:
                raise ConfigError(f"config: {where} row {i}: unknown paper columns {sorted(unknown)}")


def _allowed(schema: Mapping, node: Mapping) -> dict:
    """The ``properties`` of a schema node, following a ``$ref`` or the first ``allOf`` entry."""
    if "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    if "allOf" in node:
        return _allowed(schema, node["allOf"][0])
    return node.get("properties", {})


def check_unknown_keys(config: Mapping, schema: Mapping) -> None:
    """Unknown keys at the top level and in every experiment-like section, with a did-you-mean.

    The JSON schema rejects them too; this check runs first so the message names the key and suggests the
    closest known one, in one line.
    """
    top = schema["properties"]
    check_keys("config.yaml", config, top)
    experiment_keys = _allowed(schema, {"$ref": "#/$defs/experiment"})
    check_keys("defaults", config.get("defaults") or {}, experiment_keys)
    for name, exp in (config.get("experiments") or {}).items():
        check_keys(f"experiment {name!r}", exp or {}, experiment_keys)
    for name, preset in (config.get("presets") or {}).items():
        check_keys(f"preset {name!r}", preset or {}, experiment_keys)
    for name, scale in (config.get("scales") or {}).items():
        check_keys(f"scale {name!r}", scale or {}, _allowed(schema, top["scales"]["additionalProperties"]))
        check_keys(f"scale {name!r} overrides", (scale or {}).get("overrides") or {}, experiment_keys)
    sections = {
        "pretrains": "pretrain",
        "ensembles": "ensemble",
        "tables": "table",
        "methods_tables": "methods table",
        "figures": "figure",
    }
    for section, kind in sections.items():
        allowed = _allowed(schema, top[section]["additionalProperties"])
        for name, item in (config.get(section) or {}).items():
            check_keys(f"{kind} {name!r}", item or {}, allowed)


def check_schema(config: Mapping, schema: Mapping) -> None:
    """The JSON-schema violation that matters most, in one line naming the key path (e.g. defaults.lr)."""
    import jsonschema

    validator = jsonschema.validators.validator_for(schema)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "config.yaml"
        raise ConfigError(f"config: {where}: {error.message}")
