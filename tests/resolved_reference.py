"""What a config resolves to, for every name at every scale: the settings that become Snakemake params,
run.json contents and checkpoint fingerprints, the claims catalogue that becomes the claims rule's params,
and the table and figure entries that become the table and figure rules' params.

``python tests/resolved_reference.py OUT.json`` writes it for the config this checkout loads;
tests/data/resolved_1a7c908.json was written so from commit 1a7c908 (config.yaml before the papers/ split),
and tests/test_papers.py compares the current checkout against it."""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCALES = ("smoke", "quick", "paper")


def load_config(root: Path = ROOT) -> dict:
    """config.yaml with the papers merged in (through the workflow's own loading path when it has one)."""
    import yaml

    config = yaml.safe_load((root / "config.yaml").read_text())
    try:
        from pipeline.workflow.validation import prepare_config
    except ImportError:  # pragma: no cover
        return config
    return prepare_config(config, root)


def resolved(config: Mapping) -> dict:
    """``{scale: {kind: {name: settings}}}`` plus the scale-free sections, as plain JSON data."""
    from pipeline.config import (
        known_models,
        model_settings,
        model_tasks,
        resolve_experiment,
        resolve_pretrain,
        seed_count,
        zero_shot_settings,
    )
    from pipeline.reporting.claims import catalogue_from_config

    out: dict = {"scales": {}}
    for scale in SCALES:
        cfg = copy.deepcopy(dict(config))
        cfg["scale"] = scale
        out["scales"][scale] = {
            "experiments": {n: resolve_experiment(cfg, n) for n in cfg["experiments"]},
            "pretrains": {n: resolve_pretrain(cfg, n) for n in cfg["pretrains"]},
            "models": {
                n: model_settings(cfg, n)
                for n in [*cfg["ensembles"], *(f"{e}~seed2" for e in cfg["ensembles"]), "zero-shot", "random"]
            },
            "zero_shot": zero_shot_settings(cfg),
            "seed_count": seed_count(cfg),
        }
    out["model_tasks"] = {m: model_tasks(config, m) for m in known_models(config)}
    out["claims"] = catalogue_from_config(config)
    out["tables"] = config["tables"]
    out["methods_tables"] = config["methods_tables"]
    out["figures"] = config["figures"]
    return out


def dumps(data: Mapping) -> str:
    """JSON with one line per named entry (so that diffs stay readable), keys in their dict order."""

    def compact(value) -> str:
        return json.dumps(value, separators=(",", ":"))

    def lines(mapping: Mapping, pad: str) -> str:
        return ",\n".join(f"{pad}{compact(k)}: {compact(v)}" for k, v in mapping.items())

    scales = []
    for scale, kinds in data["scales"].items():
        blocks = []
        for kind, entries in kinds.items():
            if isinstance(entries, Mapping) and kind != "zero_shot":
                blocks.append(f"   {compact(kind)}: {{\n{lines(entries, '    ')}\n   }}")
            else:
                blocks.append(f"   {compact(kind)}: {compact(entries)}")
        scales.append(f"  {compact(scale)}: {{\n" + ",\n".join(blocks) + "\n  }")
    parts = ['"scales": {\n' + ",\n".join(scales) + "\n }"]
    for key, value in data.items():
        if key != "scales":
            entries = {c["id"]: c for c in value} if key == "claims" else value
            parts.append(f"{compact(key)}: {{\n{lines(entries, '  ')}\n }}")
    return "{\n " + ",\n ".join(parts) + "\n}\n"


def load_reference(path: Path) -> dict:
    """The dump read back (claims as the list :func:`resolved` returns)."""
    data = json.loads(path.read_text())
    data["claims"] = list(data["claims"].values())
    return data


if __name__ == "__main__":
    Path(sys.argv[1]).write_text(dumps(resolved(load_config())))
