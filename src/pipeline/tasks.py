"""The four tasks of the CS224N multitask project, and the normalised file format every stage shares.

A normalised data file (``results/data/{task}-{split}.csv``) is a comma-separated CSV written by pandas:

* single-sentence tasks (``sst``, ``cfimdb``): columns ``id, sentence, label``
* pair tasks (``para``, ``sts``): columns ``id, sentence1, sentence2, label``

``label`` is empty for every row of an unlabelled split (the course's ``*-test-student`` files).
A prediction file (``results/{scale}/predictions/{model}/{split}.csv``) holds every task of a model:
columns ``task, id, prediction`` (:mod:`pipeline.evaluation.predictions`).
"""

from __future__ import annotations

from dataclasses import dataclass

SPLITS = ("train", "dev", "test")


@dataclass(frozen=True)
class Task:
    name: str
    pair: bool  # two sentences per example
    kind: str  # "classification" or "regression"
    num_labels: int  # classes; 1 for regression
    metric: str  # "acc" or "corr" (Pearson)
    label_min: float = 0.0
    label_max: float = 0.0

    @property
    def text_columns(self) -> tuple[str, ...]:
        return ("sentence1", "sentence2") if self.pair else ("sentence",)

    @property
    def columns(self) -> tuple[str, ...]:
        return ("id", *self.text_columns, "label")

    @property
    def metric_name(self) -> str:
        """Key of this task's score in metrics JSON files and tables, e.g. ``sst_acc``."""
        return f"{self.name}_{self.metric}"


TASKS: dict[str, Task] = {
    "sst": Task("sst", False, "classification", 5, "acc", 0, 4),
    "para": Task("para", True, "classification", 2, "acc", 0, 1),
    "sts": Task("sts", True, "regression", 1, "corr", 0.0, 5.0),
    "cfimdb": Task("cfimdb", False, "classification", 2, "acc", 0, 1),
}


def get_task(name: str) -> Task:
    try:
        return TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; known tasks: {', '.join(TASKS)}") from None
