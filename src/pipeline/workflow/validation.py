"""Loading and checking a config before the DAG is built: config.yaml with every papers/*.yaml merged in,
the JSON schema (which also fills in its defaults), unknown keys (with a did-you-mean) and the
cross-references the schema cannot express (every name points at something declared, every claim cites a
table cell that exists).

A paper file (one study: ``papers/<name>.yaml``, checked against ``$defs.paper`` of the schema) declares
``presets``, ``pretrains``, ``experiments``, ``variations``, ``ensembles``, ``tables``, ``methods_tables``,
``figures`` and ``claims``; :func:`merge_papers` puts them into the config's sections of the same names (the
variations into ``experiments`` too, their names into ``variations``), which is where the rest of the code
reads them. A name declared twice stops, naming both files. Entries the config itself carries in those
sections (a ``--configfile`` adding an experiment or changing one's keys) are merged over the papers'.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from pipeline.config import (
    ConfigError,
    check_keys,
    check_name,
    deep_merge,
    experiment_settings,
    known_models,
    model_tasks,
    scale_settings,
)
from pipeline.reporting.claims.catalogue import ClaimError, catalogue_from_config
from pipeline.reporting.methods_tables import COLUMNS, RUN_COLUMNS
from pipeline.tasks import TASKS

SCHEMA = Path("workflow") / "schemas" / "config.schema.yaml"
PAPERS = "papers"
#: a paper file's sections of named entries, and what one entry is called in messages
NAMED_SECTIONS = {
    "presets": "preset",
    "pretrains": "pretrain",
    "experiments": "experiment",
    "variations": "experiment",
    "ensembles": "ensemble",
    "tables": "table",
    "methods_tables": "methods table",
    "figures": "figure",
}
#: sections whose entries say which study they belong to (``paper``: the file's ``paper`` when absent),
#: with the key it follows (an entry is a rule's params, whose key order Snakemake compares: it stays put)
STUDY_SECTIONS = {"tables": None, "methods_tables": "kind", "figures": None}


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
    for name in config.get("variations") or []:
        check_name("experiment", name, config["experiments"], "'variations'")
    try:
        catalogue_from_config(config)
    except ClaimError as error:
        raise ConfigError(f"config: {str(error).removeprefix('claims: ')}") from None


def check_methods_tables(config: Mapping, models) -> None:
    """Rows of the second study's tables name declared experiments (their runs carry time, memory and train
    scores), tasks those experiments predict, and table names do not clash with the score tables."""
    experiments = config["experiments"]
    for name, table in config["methods_tables"].items():
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


def _resolve(schema: Mapping, node: Mapping) -> Mapping:
    """A schema node with its ``$ref`` (a JSON pointer into ``schema``) followed."""
    while "$ref" in node:
        target: Any = schema
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def _allowed(schema: Mapping, node: Mapping) -> dict:
    """The ``properties`` of a schema node, following ``$ref`` and the first ``allOf`` entry."""
    node = _resolve(schema, node)
    if "allOf" in node:
        return _allowed(schema, node["allOf"][0])
    return dict(node.get("properties", {}))


def _item_keys(schema: Mapping, section: Mapping) -> dict:
    """The keys allowed in one entry of a section of named entries (``experiments``, ``tables``...)."""
    return _allowed(schema, _resolve(schema, section)["additionalProperties"])


def _check_sections(data: Mapping, schema: Mapping, sections: Mapping) -> None:
    """Unknown keys in every entry of the sections of named entries that ``data`` has."""
    for section, kind in NAMED_SECTIONS.items():
        node = _resolve(schema, sections[section]) if section in sections else {}
        if isinstance(data.get(section), Mapping) and "additionalProperties" in node:
            allowed = _item_keys(schema, node)
            for name, item in data[section].items():
                check_keys(f"{kind} {name!r}", item or {}, allowed)


def check_unknown_keys(config: Mapping, schema: Mapping) -> None:
    """Unknown keys at the top level and in every experiment-like section, with a did-you-mean.

    The JSON schema rejects them too; this check runs first so the message names the key and suggests the
    closest known one, in one line.
    """
    top = schema["properties"]
    check_keys("config.yaml", config, top)
    experiment_keys = _allowed(schema, {"$ref": "#/$defs/experiment"})
    check_keys("defaults", config.get("defaults") or {}, experiment_keys)
    for name, scale in (config.get("scales") or {}).items():
        check_keys(f"scale {name!r}", scale or {}, _allowed(schema, top["scales"]["additionalProperties"]))
        check_keys(f"scale {name!r} overrides", (scale or {}).get("overrides") or {}, experiment_keys)
    _check_sections(config, schema, top)


def check_paper(where: str, paper: Any, schema: Mapping) -> None:
    """One paper file: a mapping with the allowed sections, no unknown key in an entry (did-you-mean), and
    the schema's ``$defs.paper``. Raises :class:`ConfigError` naming the file (``where``) and the key."""
    if not isinstance(paper, Mapping):
        raise ConfigError(f"config: {where}: a paper file is a mapping (paper, experiments, tables, ...)")
    node = schema["$defs"]["paper"]
    try:
        check_keys("a paper file", paper, node["properties"])
        _check_sections(paper, schema, node["properties"])
        paper_schema = {"$schema": schema["$schema"], "$defs": schema["$defs"], "$ref": "#/$defs/paper"}
        check_schema(paper, paper_schema, fill=False, where=where)
    except ConfigError as error:
        message = str(error).removeprefix("config: ")
        if not message.startswith(where):
            message = f"{where}: {message}"
        raise ConfigError(f"config: {message}") from None


def read_papers(root: str | Path) -> list[tuple[str, Any]]:
    """``(papers/<name>.yaml, contents)`` of every paper file under ``root``, by file name."""
    folder = Path(root) / PAPERS
    return [(f"{PAPERS}/{p.name}", yaml.safe_load(p.read_text())) for p in sorted(folder.glob("*.yaml"))]


def _with_study(entry: Mapping, study: str, after: str | None) -> Mapping:
    """``entry`` with ``paper: study`` when it names none: first, or right after the key ``after``."""
    if "paper" in entry:
        return entry
    keys = list(entry)
    at = keys.index(after) + 1 if after in entry else 0
    items = list(entry.items())
    return dict([*items[:at], ("paper", study), *items[at:]])


def merge_papers(config: dict, papers: list[tuple[str, Mapping]]) -> dict:
    """Put the papers' declarations into ``config`` (in place; returned): each named section, ``claims``
    (in file order), ``variations`` (their names; the settings go to ``experiments``). A name declared in
    two files (an experiment also declared as a variation included) stops with a :class:`ConfigError`
    naming both files. Tables, methods tables, figures and claims get the file's ``paper`` when they do not
    name one; a table row without a ``label`` is labelled with its model name. Then the entries that
    ``config`` already carries in those sections are merged over the papers', name by name (claims by id).
    """
    merged: dict[str, dict] = {s: {} for s in NAMED_SECTIONS if s != "variations"}
    claims: list[dict] = []
    variations: list[str] = []
    declared: dict[tuple[str, str], str] = {}

    def declare(kind: str, name: str, where: str) -> None:
        if (kind, name) in declared:
            raise ConfigError(f"config: {where}: {kind} {name!r} is also declared in {declared[kind, name]}")
        declared[kind, name] = where

    for where, paper in papers:
        study = paper["paper"]
        for section, kind in NAMED_SECTIONS.items():
            for name, entry in (paper.get(section) or {}).items():
                declare(kind, name, where)
                if section in STUDY_SECTIONS:
                    entry = _with_study(entry, study, STUDY_SECTIONS[section])
                if section == "variations":
                    variations.append(name)
                merged["experiments" if section == "variations" else section][name] = entry
        for claim in paper.get("claims") or []:
            declare("claim", claim["id"], where)
            claims.append(_with_study(claim, study, "id"))
    for section, entries in merged.items():
        for name, entry in (config.get(section) or {}).items():
            base = entries.get(name)
            both = isinstance(base, Mapping) and isinstance(entry, Mapping)
            entries[name] = deep_merge(base, entry) if both else copy.deepcopy(entry)
    ids = {c["id"]: i for i, c in enumerate(claims)}
    for claim in config.get("claims") or []:
        if claim.get("id") in ids:
            claims[ids[claim["id"]]] = copy.deepcopy(claim)
        else:
            claims.append(copy.deepcopy(claim))
    variations += [v for v in config.get("variations") or [] if v not in variations]
    for table in [*merged["tables"].values(), *merged["methods_tables"].values()]:
        rows = table.get("rows") if isinstance(table, Mapping) else None
        for i, row in enumerate(rows or []):
            if isinstance(row, Mapping) and "label" not in row and "model" in row:
                rows[i] = {"label": row["model"], **row}
    config.update(merged, claims=claims, variations=variations)
    return config


def _filling(validator_class: type) -> type:
    """``validator_class`` that also fills in the schema's ``default`` of every absent property (a deep
    copy). An object whose schema gives defaults is rewritten in the schema's key order, so that a
    setting's place in a resolved dict (Snakemake params, run.json, fingerprints) never depends on which
    keys a file happened to give, nor in which order."""
    check_properties = validator_class.VALIDATORS["properties"]

    def properties(validator, props: Mapping, instance: Any, node: Mapping) -> Iterator:
        if validator.is_type(instance, "object") and any("default" in sub for sub in props.values()):
            given = dict(instance)
            instance.clear()
            for key, sub in props.items():
                if key in given:
                    instance[key] = given[key]
                elif "default" in sub:
                    instance[key] = copy.deepcopy(sub["default"])
            instance.update({k: v for k, v in given.items() if k not in instance})
        yield from check_properties(validator, props, instance, node)

    return jsonschema.validators.extend(validator_class, {"properties": properties})


def check_schema(config: Mapping, schema: Mapping, fill: bool = True, where: str = "config.yaml") -> None:
    """The JSON-schema violation that matters most, in one line naming the key path (e.g. defaults.lr).
    ``fill``: also fill in the schema's defaults (``config`` changes in place)."""
    validator_class = jsonschema.validators.validator_for(schema)
    validator = (_filling(validator_class) if fill else validator_class)(schema)
    error = jsonschema.exceptions.best_match(list(validator.iter_errors(config)))
    if error is not None:
        path = ".".join(str(p) for p in error.absolute_path)
        raise ConfigError(f"config: {path or where}: {error.message}")


def load_schema(root: str | Path) -> dict:
    return yaml.safe_load((Path(root) / SCHEMA).read_text())


def prepare_config(config: dict, root: str | Path) -> dict:
    """The one loading and validation path of the workflow: ``config`` (Snakemake's, from config.yaml and
    the command line; changed in place and returned) with every ``papers/*.yaml`` under ``root`` merged in,
    checked against ``workflow/schemas/config.schema.yaml`` (each paper file first, against ``$defs.paper``):
    unknown keys with a did-you-mean, the JSON schema (filling in its defaults), then the cross-references
    and the claims catalogue. Raises :class:`ConfigError` naming the file or key."""
    schema = load_schema(root)
    papers = read_papers(root)
    for where, paper in papers:
        check_paper(where, paper, schema)
    check_unknown_keys(config, schema)
    merge_papers(config, papers)
    check_schema(config, schema)
    check_config(config)
    return config


def load_config(root: str | Path, **overrides: Any) -> dict:
    """``root``'s config.yaml with ``overrides`` on top (as ``--config`` would set them), prepared as the
    workflow prepares it: what tests and tools read instead of config.yaml alone."""
    config = yaml.safe_load((Path(root) / "config.yaml").read_text())
    config.update(overrides)
    return prepare_config(config, root)
