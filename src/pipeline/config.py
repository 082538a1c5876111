"""Configuration: resolving an experiment's settings at the active scale, from a prepared config (config.yaml
with the papers/*.yaml merged in and the schema's defaults filled in by
:func:`pipeline.workflow.validation.prepare_config`: every key with a default is present, so no code here
repeats a default).

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
import math
import re
from collections.abc import Mapping

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
    """Seeds per compared experiment: ``--config seeds=N``, else the active scale's ``seeds``."""
    value = config.get("seeds")  # a --config override only: no default
    if value is None:
        value = config["scales"][config["scale"]]["seeds"]
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
    return max(scale["min_epochs"], round(epochs * scale["epoch_factor"]))


def _scaled_lr(lr: float, scale: Mapping) -> float:
    lr = lr * scale["lr_factor"]
    return lr if scale["lr_max"] is None else min(lr, scale["lr_max"])


def steps_in_epoch(
    method: str, sizes: dict[str, int], batch_size: int, steps_per_epoch: int | None = None
) -> int:
    """How many optimiser steps one epoch of ``pipeline.training.sampling.epoch_plan`` takes (the same for
    every epoch; arithmetic only, so that the config needs no torch)."""
    if method in ("round-robin", "round-robin-cycle"):
        per_task = [math.ceil(n / batch_size) for n in sizes.values()]
        return (min(per_task) if method == "round-robin" else max(per_task)) * len(per_task)
    return int(steps_per_epoch or 0)


def _epochs_for_steps(settings: Mapping, min_steps: int) -> int:
    """The experiment's epochs, raised until the run takes at least ``min_steps`` optimiser steps (a scale's
    ``min_steps``: needs the scale's ``train_subset`` of every task, which fixes the steps per epoch)."""
    sizes = dict(settings["train_subset"])
    missing = [t for t, n in sizes.items() if not n]
    if missing:
        raise ConfigError(
            f"config: scale {settings['scale_name']!r} sets min_steps but no train_subset for "
            f"{', '.join(missing)} (the steps per epoch are known only for subsets)"
        )
    per_epoch = steps_in_epoch(
        settings["sampling"], sizes, settings["batch_size"], settings["steps_per_epoch"]
    )
    return max(settings["epochs"], math.ceil(min_steps / max(1, per_epoch)))


def experiment_settings(config: Mapping, name: str) -> dict:
    """``defaults`` + the experiment's preset + its own keys, before the scale's rules."""
    name = split_seed(name)[0]
    own = dict(config["experiments"][name] or {})
    preset = own.pop("preset", None)
    base = config["defaults"]
    if preset is not None:
        check_name("preset", preset, config["presets"], f"experiment {name!r}")
        base = deep_merge(base, config["presets"][preset] or {})
    return deep_merge(base, own)


def resolve_experiment(config: Mapping, name: str) -> dict:
    """The settings of experiment ``name`` (``x~seedK``: x's with ``seed`` + K) at the active scale."""
    base, k = split_seed(name)
    check_name("experiment", base, config["experiments"], "a target")
    scale = scale_settings(config)
    settings = experiment_settings(config, name)
    settings["epochs"] = _scaled_epochs(settings["epochs"], scale)
    if settings["steps_per_epoch"]:
        settings["steps_per_epoch"] = max(1, round(settings["steps_per_epoch"] * scale["steps_factor"]))
    settings["lr"] = _scaled_lr(settings["lr"], scale)
    settings = deep_merge(settings, scale["overrides"])
    settings["encoder"] = scale["encoder"]
    settings["train_subset"] = {t: scale["train_subset"].get(t) for t in settings["tasks"]}
    settings["scale_name"] = config["scale"]
    settings["name"] = name
    # absent otherwise (runs made before the key existed keep their params), and for frozen-encoder runs,
    # whose lr is their heads' (the second study's learning-rate sweep of the frozen baseline)
    if scale.get("head_lr") is not None and settings["tuning"] != "last-layer":
        settings["head_lr"] = scale["head_lr"]
    if scale.get("pair_features") not in (None, "plain") and settings["pair_mode"] != "cross":
        settings["pair_features"] = scale["pair_features"]  # absent otherwise, as head_lr
    if scale.get("sts_bias") and "sts" in settings["tasks"] and settings["sts_head"] != "cosine":
        settings["sts_bias"] = scale["sts_bias"]  # absent otherwise, as head_lr
    if scale.get("min_steps"):
        settings["epochs"] = _epochs_for_steps(settings, scale["min_steps"])
    if k:
        settings["seed"] = settings["seed"] + k
        if settings.get("pretrain"):  # seed K starts from seed K of its MNRL stage (MNRL's own variance)
            settings["pretrain"] = seeded(settings["pretrain"], k)
    return settings


def resolve_pretrain(config: Mapping, name: str) -> dict:
    """The settings of MNRL pre-training stage ``name`` (``x~seedK``: x's with ``seed`` + K) at the active
    scale, with the scale's pooling and max length (those its experiments fine-tune with)."""
    base, k = split_seed(name)
    check_name("pretrain", base, config["pretrains"], "an experiment")
    scale = scale_settings(config)
    settings = copy.deepcopy(dict(config["pretrains"][base]))
    settings["epochs"] = _scaled_epochs(settings["epochs"], scale)
    settings["lr"] = _scaled_lr(settings["lr"], scale)
    if "pooling" in scale["overrides"]:
        settings["pooling"] = scale["overrides"]["pooling"]
    if k:
        settings["seed"] = settings["seed"] + k
    settings["encoder"] = scale["encoder"]
    settings["max_length"] = scale["overrides"].get("max_length", config["defaults"]["max_length"])
    settings["pair_subset"] = scale["pretrain_pairs"]
    settings["precision"] = scale["overrides"].get("precision", config["defaults"]["precision"])
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
    and how cosines become predictions (:mod:`pipeline.evaluation.zero_shot`)."""
    scale = scale_settings(config)
    settings = deep_merge(config["defaults"], scale["overrides"])
    return {
        "encoder": scale["encoder"],
        "pooling": settings["pooling"],
        "max_length": settings["max_length"],
        "eval_batch_size": settings["eval_batch_size"],
        "precision": settings["precision"],
        "tasks": list(ZERO_SHOT_TASKS),
        "train_subset": {t: scale["train_subset"].get(t) for t in ZERO_SHOT_TASKS},
        "sts": "least-squares line of 0-5 similarity on cosine, fitted on train",
        "para": "cosine > the threshold of highest train accuracy",
        "scale_name": config["scale"],
    }


def known_models(config: Mapping) -> list[str]:
    return [*config["experiments"], *config["ensembles"], *BUILTIN_MODELS]
