"""Prediction files written before predictions became one file per model and split, converted in place.

Until then each task had its own file, ``results/{scale}/predictions/{model}/{task}-{split}.csv`` with the
columns ``id`` and the course leaderboard's column (``Predicted_Sentiment``, ...). A fine-tuning job's
outputs include its dev prediction file, so without a conversion every finished experiment would look
incomplete to Snakemake and be trained again, and its dev predictions could not be recovered (the
checkpoint folder is removed when a run completes). :func:`migrate_predictions` runs while the DAG is
built (common.smk): for each model the config declares, each split whose per-task files are all there and
whose new file is not, it writes the new file (:mod:`pipeline.evaluation.predictions`) with the same values
and the old files' modification time, so nothing downstream looks newer than before. The old files stay
(nothing reads them; delete them at will).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd

from pipeline.config import known_models, model_tasks, split_seed
from pipeline.evaluation.predictions import PredictionFileError, task_rows, write_predictions
from pipeline.tasks import SPLITS
from pipeline.workflow.paths import Paths

#: The prediction column of each task's file in the old layout (the course leaderboard's names).
LEGACY_COLUMNS = {
    "sst": "Predicted_Sentiment",
    "para": "Predicted_Is_Paraphrase",
    "sts": "Predicted_Similarity",
    "cfimdb": "Predicted_Sentiment",
}


def legacy_frame(task: str, path: Path) -> pd.DataFrame:
    """One old per-task prediction file as the task's rows of a new prediction file."""
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    column = LEGACY_COLUMNS[task]
    if list(frame.columns) != ["id", column]:
        raise PredictionFileError(
            f"prediction file {path}: columns {list(frame.columns)}, expected ['id', {column!r}] (old layout)"
        )
    values = pd.to_numeric(frame[column], errors="coerce")
    if values.isna().any():
        row = int(values.isna().to_numpy().argmax())
        value = frame[column].iloc[row]
        raise PredictionFileError(
            f"prediction file {path}, row {row + 1} (line {row + 2}): {value!r} is not a number"
        )
    return task_rows(task, frame["id"].tolist(), values.to_numpy())


def convert(files: Mapping[str, Path], out: Path) -> None:
    """Write the new prediction file ``out`` from old per-task files (task -> path, in the model's order),
    dated like the newest of them."""
    write_predictions([legacy_frame(task, path) for task, path in files.items()], out)
    stamp = max(path.stat().st_mtime_ns for path in files.values())
    os.utime(out, ns=(stamp, stamp))


def dry_run_requested(argv: Sequence[str]) -> bool:
    """Whether a Snakemake command line asks for a dry run (``-n``, ``-np``, ``--dry-run``, ``--dryrun``,
    ``--just-print``): Snakemake decides it only after the Snakefile is read, so common.smk asks the command
    line. Arguments after a value-taking option are not told apart: ``--config -n`` is no real config."""
    for arg in argv[1:]:
        if arg in ("--dry-run", "--dryrun", "--just-print"):
            return True
        if arg.startswith("-") and not arg.startswith("--") and "n" in arg[1:] and arg[1:].isalpha():
            return True
    return False


def migrate_predictions(config: Mapping, dry_run: bool = False) -> list[str]:
    """Convert the active scale's old per-task prediction files where the new file is missing; returns the
    files written (none on a fresh or already converted results folder). ``dry_run``: write nothing, return
    the files a real run would write."""
    paths = Paths.of(config)
    root = Path(paths.results) / "predictions"
    if not root.is_dir():
        return []
    known = set(known_models(config))
    written = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        model = folder.name
        if split_seed(model)[0] not in known:
            continue
        tasks = model_tasks(config, model)
        for split in SPLITS:
            out = Path(paths.predictions(model, split))
            files = {task: folder / f"{task}-{split}.csv" for task in tasks}
            if out.exists() or not all(path.is_file() for path in files.values()):
                continue
            if not dry_run:
                convert(files, out)
            written.append(str(out))
    return written
