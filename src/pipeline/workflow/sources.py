"""Where the active scale's data comes from: the data source a ``data`` job receives (generated, downloaded
or a local mirror), the data version and Quora hold-out, partial mirrors, what captions say about the data,
and which tasks get a labelled test split rebuilt from public releases (rule ``test_labels``)."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from pipeline.config import ConfigError
from pipeline.data.labels import SOURCE_FILES as LABEL_SOURCE_FILES
from pipeline.data.sources import (
    check_data_version,
    mirror_data_version,
    mirror_mismatches,
    official_filename,
)
from pipeline.workflow.paths import DOWNLOADS


def flag(config: Mapping, name: str) -> bool:
    """A boolean config switch (``--config name=true`` arrives as a string)."""
    return str(config.get(name, False)).lower() == "true"


def _scale(config: Mapping) -> Mapping:
    return config["scales"][config["scale"]]


def data_source(config: Mapping) -> dict:
    """The data source of the active scale (the ``data`` rule's param), with the mirror folder when one is
    given. Raises :class:`ConfigError` when the scale reads a mirror and none is given, or (at paper scale)
    when the mirror is partial."""
    data = _scale(config)["data"]
    if data["source"] == "generated":
        return {"kind": "generated", "seed": data["seed"], "sizes": data["sizes"]}
    subsets = {"seed": data.get("seed", 0), "subsets": data.get("subsets", {})}
    subsets.update(data_options(config))  # data version, Quora hold-out
    if config.get("data_mirror"):
        return {"kind": "mirror", "path": str(Path(config["data_mirror"]).resolve()), **subsets}
    if data["source"] == "mirror":
        raise ConfigError(f"scale {config['scale']!r} reads a local mirror: pass --config data_mirror=FOLDER")
    return {"kind": "download", "cache": DOWNLOADS, **subsets}


def data_options(config: Mapping) -> dict:
    """Data version and Quora hold-out of the real-data source; stops a paper run on a partial mirror."""
    options = {"quora_holdout": flag(config, "quora_holdout")}
    version = str(config.get("data_version", "auto"))
    if version != "auto":
        options["data_version"] = check_data_version(version)
    elif not config.get("data_mirror"):
        options["data_version"] = "2024"
    problems = mirror_problems(config)
    if problems and config["scale"] == "paper" and not flag(config, "allow_partial_data"):
        first = next(iter(problems.items()))
        raise ConfigError(
            f"{config['data_mirror']}: {first[0]}: {first[1]} ({len(problems)} file(s) differ from the "
            f"pinned data version {mirror_version(config)}); a paper-scale run needs the complete data: "
            "download it (no data_mirror) or pass --config allow_partial_data=true"
        )
    return options


def data_version(config: Mapping) -> str:
    """The CS224N data version the active scale reads (``2024`` or ``2023``), or ``generated``: set in the
    config, else 2024 for a download and the mirror's own for a mirror. Reads no data file but a mirror's
    Quora dev header when the version must be detected."""
    if _scale(config)["data"]["source"] == "generated":
        return "generated"
    version = str(config.get("data_version", "auto"))
    if version != "auto":
        return check_data_version(version)
    if config.get("data_mirror"):
        return mirror_version(config)
    return "2024"


def mirror_version(config: Mapping) -> str:
    """The mirror's data version: data_version when set, else detected from its quora-dev.csv."""
    version = str(config.get("data_version", "auto"))
    if version != "auto":
        return check_data_version(version)
    return mirror_data_version(config["data_mirror"])


@lru_cache
def _mismatches(folder: str, version: str) -> tuple[tuple[str, str], ...]:
    # hashes every file of the mirror: once per DAG build, however often captions and sources ask
    return tuple(mirror_mismatches(folder, version).items())


def mirror_problems(config: Mapping) -> dict[str, str]:
    """Official file -> problem, for each mirror file missing or not at its pinned blob (empty: complete)."""
    if not config.get("data_mirror") or _scale(config)["data"]["source"] == "generated":
        return {}
    return dict(_mismatches(str(config["data_mirror"]), mirror_version(config)))


def data_version_note(config: Mapping, source: Mapping) -> str:
    """What captions say about the data version, a partial mirror and the Quora hold-out."""
    if source["kind"] == "generated":
        return ""
    version = source.get("data_version") or mirror_version(config)
    text = f"; CS224N data version {version}" + (" (the papers')" if version == "2024" else "")
    problems = mirror_problems(config)
    if problems:
        text += "; PARTIAL data: " + ", ".join(f"{n} {p}" for n, p in problems.items())
    if source.get("quora_holdout"):
        text += "; Quora test = the odd half of Quora dev (by pair number), dev = the even half"
    return text


def data_description(config: Mapping) -> str:
    """How the active scale's data was obtained, for table captions."""
    source = data_source(config)
    where = {"generated": "generated (smoke)", "download": "official CS224N files, downloaded"}
    text = where.get(source["kind"], f"local mirror {config.get('data_mirror')}")
    text += data_version_note(config, source)
    note = _scale(config).get("note")
    return f"{text}; {note}" if note else text


def test_labels(config: Mapping) -> dict:
    """The ``test_labels`` section: whether to rebuild labelled test splits, and the declared sources."""
    return config.get("test_labels") or {"rebuild": False, "sources": {}}


def rebuilt_test_tasks(config: Mapping) -> list[str]:
    """Tasks whose labelled test split the test_labels rule rebuilds from public releases."""
    if _scale(config)["data"]["source"] == "generated" or not test_labels(config).get("rebuild"):
        return []
    tasks = [t for t in LABEL_SOURCE_FILES if not (t == "para" and flag(config, "quora_holdout"))]
    if not config.get("data_mirror"):
        return tasks
    # a mirror: only the tasks whose sources and test file it holds
    folder = Path(config["data_mirror"])
    return [
        t
        for t in tasks
        if all((folder / "label-sources" / n).is_file() for n in LABEL_SOURCE_FILES[t])
        and (folder / official_filename(t, "test")).is_file()
    ]


def label_source_spec(config: Mapping, name: str) -> dict:
    """The declared label source, read from the mirror's label-sources/ folder when it holds the file."""
    spec = dict(test_labels(config)["sources"][name])
    if config.get("data_mirror"):
        local = Path(config["data_mirror"]).resolve() / "label-sources" / name
        if local.is_file():
            spec["url"] = str(local)
    return spec


def label_source_names(task: str) -> tuple[str, ...]:
    """The public-release files a task's test labels are rebuilt from."""
    return LABEL_SOURCE_FILES[task]
