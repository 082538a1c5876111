"""Checking a config before the DAG is built: the JSON schema, unknown keys (with a did-you-mean) and the
cross-references the schema cannot express (every name points at something declared)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import jsonschema
import yaml

from pipeline.config import (
    ConfigError,
    check_keys,
    check_name,
    experiment_settings,
    known_models,
    model_tasks,
    scale_settings,
)
from pipeline.reporting.methods_tables import COLUMNS, RUN_COLUMNS
from pipeline.tasks import TASKS


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
    validator = jsonschema.validators.validator_for(schema)(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path) or "config.yaml"
        raise ConfigError(f"config: {where}: {error.message}")


def prepare_config(config: dict, root: str | Path) -> dict:
    """The one validation path of the workflow: ``config`` (Snakemake's, changed in place and returned)
    checked against ``workflow/schemas/config.schema.yaml`` under ``root``: unknown keys with a
    did-you-mean, the JSON schema, then the cross-references. Raises :class:`ConfigError` naming the key."""
    schema = yaml.safe_load((Path(root) / "workflow" / "schemas" / "config.schema.yaml").read_text())
    check_unknown_keys(config, schema)
    check_schema(config, schema)
    check_config(config)
    return config
