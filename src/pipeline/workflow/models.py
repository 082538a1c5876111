"""What a trained model's folder records beyond its settings: where its encoder came from (base.json) and
what its model card says about the paper, the data and where test scores go (pipeline.model.export).

The fine-tuning script reads these from the config, not from rule params: a new param would make Snakemake
see changed params on every finished run and train it again.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata
from pathlib import Path

from pipeline.config import resolve_experiment, split_seed
from pipeline.workflow.inputs import start_encoder
from pipeline.workflow.paths import Paths
from pipeline.workflow.sources import data_description
from pipeline.workflow.validation import read_papers


def encoder_source(config: Mapping, experiment: str) -> dict:
    """base.json of an experiment: the encoder's name and kind; ``location``: the folder (or package path)
    the run loaded it from, which is the base of a PEFT adapter; ``repo`` and ``revision`` for a hub encoder;
    ``package`` and its version for an encoder shipped in a package; ``pretrain`` and ``pretrained`` (the
    folder) when the run started from an MNRL stage (then the hub repository is where that stage began)."""
    settings = resolve_experiment(config, experiment)
    name = settings["encoder"]
    spec = config["encoders"][name]
    source = {
        "name": name,
        "kind": spec["kind"],
        "location": start_encoder(config, experiment)["info"]["location"],
        "pretrain": settings.get("pretrain"),
    }
    if spec["kind"] == "hub":
        source.update(repo=spec["repo"], revision=spec["revision"])
    if spec["kind"] == "package":
        distribution = spec.get("pip", spec["package"]).split("==")[0]
        try:
            version = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            version = None
        source.update(package=spec["package"], package_version=version)
    if settings.get("pretrain"):
        source["pretrained"] = Paths.of(config).pretrained(settings["pretrain"])
    return source


def experiment_paper(root: str | Path, experiment: str) -> str | None:
    """The study (``paper:`` of the paper file) that declares the experiment (or variation), if any."""
    base = split_seed(experiment)[0]
    for _where, paper in read_papers(root):
        if base in (paper.get("experiments") or {}) or base in (paper.get("variations") or {}):
            return paper.get("paper")
    return None


def card_info(config: Mapping, experiment: str, root: str | Path) -> dict:
    """What the model card says beyond the run: the paper, the data (source and version), and where the
    test scores go (they are computed after training, by the predict and metrics rules)."""
    return {
        "paper": experiment_paper(root, experiment),
        "data": data_description(config),
        "test_metrics": Paths.of(config).metrics(experiment, "test"),
    }
