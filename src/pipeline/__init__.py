"""The library behind the workflow: one folder per stage of the DAG, importable without Snakemake.

Floors, bottom to top; a module imports only from its own floor or the floors below it
(``tests/test_layout.py`` checks it), and the two training stages do not import each other:

- ``pipeline`` itself: what every stage shares: ``tasks`` (task definitions), ``config`` (resolving an
  experiment's settings), ``io`` (atomic writes), ``jobs`` (a job's log and start-up), ``provenance`` (code
  hash, settings fingerprint, library versions).
- ``pipeline.data``: sources (download, mirror, generated), readers, rebuilt test labels, the token cache,
  batches cut from it.
- ``pipeline.model``: encoders, task heads and pair modes, tuning methods (PEFT), losses, device,
  precision.
- ``pipeline.evaluation``: prediction, metrics, ensembles, the random and zero-shot baselines.
- ``pipeline.training``: fine-tuning (``finetune``) and MNRL pre-training (``pretrain``), with the task
  sampling, checkpoints, the epoch loop and progress lines they share.
- ``pipeline.reporting``: the papers' tables, figures and the claims (catalogue, verdict, report).
- ``pipeline.workflow``: what the Snakemake rules need (config validation, paths, data-source resolution,
  input lists); only the rule files and the scripts import it.

A trained model folder (``results/{scale}/models/{experiment}``) loads with ``pipeline.load_trained(folder)``
(:func:`pipeline.model.export.load_trained`), imported on first use: ``import pipeline`` loads no torch.
"""


def __getattr__(name: str):
    if name == "load_trained":  # the package's one public entry point, loaded lazily (PEP 562)
        from pipeline.model.export import load_trained

        return load_trained
    raise AttributeError(f"module 'pipeline' has no attribute {name!r}")
