"""Where every file of the workflow lives: one method per kind of file, used by every rule file.

Each argument defaults to its Snakemake wildcard (``Paths("smoke").data()`` is
``results/smoke/data/{task}-{split}.csv``), so a rule's outputs and the input functions that name a concrete
file use the same method. Everything expensive lives under its scale's folder ``results/{scale}/``; the
tables, figures and claims at the top of ``results/`` are the active scale's, rebuilt in seconds.

These paths are where a researcher's finished runs and checkpoints are found: change one only with a
note on moving the files already written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

#: verified download caches, shared by every scale
DOWNLOADS = "results/downloads"


@dataclass(frozen=True)
class Paths:
    """The files of one scale (``results/{scale}/...``, ``logs/{scale}/...``) and the shared top level."""

    scale: str

    @classmethod
    def of(cls, config: Mapping) -> Paths:
        """The paths of the active scale of ``config``."""
        return cls(config["scale"])

    @property
    def results(self) -> str:
        return f"results/{self.scale}"

    # -- data, encoders, tokens ------------------------------------------------------------------------
    def data(self, task: str = "{task}", split: str = "{split}") -> str:
        return f"{self.results}/data/{task}-{split}.csv"

    def test_provenance(self, task: str = "{task}") -> str:
        """The record of a test split rebuilt from public releases (rule test_labels)."""
        return f"{self.results}/data/{task}-test.provenance.json"

    @staticmethod
    def label_source(name: str = "{name}") -> str:
        return f"{DOWNLOADS}/label-sources/{name}"

    def encoder(self, encoder: str = "{encoder}") -> str:
        return f"{self.results}/encoders/{encoder}"

    def tokens(self, encoder: str = "{encoder}", task: str = "{task}", split: str = "{split}") -> str:
        return f"{self.results}/tokens/{encoder}/{task}-{split}.pt"

    # -- training --------------------------------------------------------------------------------------
    def pretrained(self, pretrain: str = "{pretrain}") -> str:
        """The MNRL-tuned encoder folder of a pre-training stage."""
        return f"{self.results}/pretrained/{pretrain}"

    def model_dir(self, experiment: str = "{experiment}") -> str:
        """A trained experiment's folder: the model in the ecosystem's format (pipeline.model.export: encoder
        or PEFT adapter, heads, model card), history.csv and run.json."""
        return f"{self.results}/models/{experiment}"

    def model_file(self, experiment: str = "{experiment}", name: str = "README.md") -> str:
        """A file of a trained experiment's folder: README.md (the model card, written last: the fine-tuning
        rule's declared model output), history.csv or run.json. Folders written before the card existed hold
        model.safetensors instead; pipeline.workflow.migrate converts them when the DAG is built."""
        return f"{self.model_dir(experiment)}/{name}"

    def model_card(self, experiment: str = "{experiment}") -> str:
        return self.model_file(experiment, "README.md")

    def history(self, experiment: str = "{experiment}") -> str:
        return self.model_file(experiment, "history.csv")

    def run(self, experiment: str = "{experiment}") -> str:
        return self.model_file(experiment, "run.json")

    def checkpoints(self, experiment: str = "{experiment}") -> str:
        """The resume state of a fine-tuning run (not a Snakemake output: it survives a killed job)."""
        return f"{self.results}/checkpoints/{experiment}"

    def pretrain_checkpoints(self, pretrain: str = "{pretrain}") -> str:
        return f"{self.results}/checkpoints/pretrain-{pretrain}"

    # -- predictions and scores ------------------------------------------------------------------------
    def predictions(self, model: str = "{model}", split: str = "{split}") -> str:
        """A model's prediction file of one split, every task in it (pipeline.evaluation.predictions)."""
        return f"{self.results}/predictions/{model}/{split}.csv"

    def ensemble_members(self, ensemble: str = "{ensemble}", split: str = "{split}") -> str:
        """Which members an ensemble combined on a split (and, with select_top, why)."""
        return f"{self.results}/predictions/{ensemble}/members-{split}.json"

    def zero_shot_fit(self) -> str:
        """The zero-shot row's threshold and line, fitted on train."""
        return f"{self.results}/predictions/zero-shot/fitted.json"

    def metrics(self, model: str = "{model}", split: str = "{split}") -> str:
        return f"{self.results}/metrics/{model}/{split}.json"

    # -- the scale's cost plan and runs table -----------------------------------------------------------
    def plan(self, ext: str = "csv") -> str:
        """Every GPU job's projected cost (rule plan): plan.csv, plan.md."""
        return f"{self.results}/plan.{ext}"

    def runs(self, target: str = "all", ext: str = "csv") -> str:
        """The runs table (rule runs): every run of every target (``runs.csv``) or of one target
        (``runs/{target}.csv``)."""
        if target == "all":
            return f"{self.results}/runs.{ext}"
        return f"{self.results}/runs/{target}.{ext}"

    # -- logs and benchmarks ---------------------------------------------------------------------------
    def log(self, stage: str, name: str) -> str:
        """The log of one job of a stage (``name`` may hold wildcards and slashes)."""
        return f"logs/{self.scale}/{stage}/{name}.log"

    def benchmark(self, stage: str, name: str) -> str:
        return f"{self.results}/benchmarks/{stage}/{name}.tsv"

    # -- the active scale's tables, figures and claims -------------------------------------------------
    @staticmethod
    def table(table: str = "{table}", ext: str = "csv") -> str:
        return f"results/tables/{table}.{ext}"

    @staticmethod
    def figure(figure: str = "{figure}") -> str:
        return f"results/figures/{figure}.png"

    @staticmethod
    def claims(ext: str) -> str:
        """results/claims.md, .csv, .html; the figure is results/figures/claims.png (:meth:`figure`)."""
        return f"results/claims.{ext}"
