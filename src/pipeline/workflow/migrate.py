"""Files of earlier layouts, converted in place when the DAG is built, so finished runs are not redone:
prediction files of one task each (:func:`migrate_predictions`) and trained models of one
``model.safetensors`` each (:func:`migrate_models`).

Prediction files written before predictions became one file per model and split:

Until then each task had its own file, ``results/{scale}/predictions/{model}/{task}-{split}.csv`` with the
columns ``id`` and the course leaderboard's column (``Predicted_Sentiment``, ...). A fine-tuning job's
outputs include its dev prediction file, so without a conversion every finished experiment would look
incomplete to Snakemake and be trained again, and its dev predictions could not be recovered (the
checkpoint folder is removed when a run completes). :func:`migrate_predictions` runs while the DAG is
built (common.smk): for each model the config declares, each split whose per-task files are all there and
whose new file is not, it writes the new file (:mod:`pipeline.evaluation.predictions`) with the same values
and the old files' modification time, so nothing downstream looks newer than before. The old files stay
(nothing reads them; delete them at will).

Trained models written before the ecosystem's format (:mod:`pipeline.model.export`): the folder
``results/{scale}/models/{experiment}/`` held ``model.safetensors`` (the whole state dict), history.csv and
run.json. The fine-tuning rule now declares the model card ``README.md`` instead, so without a conversion
every finished experiment would be trained again. :func:`migrate_models` finds such folders (the three files
there, no card) and, unless it is a dry run, writes the new files from the old weights (checked tensor by
tensor), dated as the old ``model.safetensors``. A dry run writes nothing: it only says how many folders the
next real run converts (and lists their fine-tuning jobs, which that run will not run). Conversion loads
torch, transformers and the run's encoder: seconds per model, once.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

import pandas as pd

from pipeline.config import known_models, model_tasks, resolve_experiment, split_seed
from pipeline.evaluation.predictions import PredictionFileError, task_rows, write_predictions
from pipeline.provenance import fingerprint
from pipeline.tasks import SPLITS
from pipeline.workflow.inputs import start_encoder
from pipeline.workflow.models import card_info, encoder_source
from pipeline.workflow.paths import Paths

#: the one weights file of a model folder before the ecosystem's format, and the record of a conversion
#: (pipeline.model.export.LEGACY and CONVERTED; not imported from there: that module loads torch, and the
#: DAG build must not)
LEGACY_MODEL = "model.safetensors"
CONVERTED = "converted.json"

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


def legacy_models(config: Mapping) -> list[str]:
    """Experiments (seeds included) of the active scale whose model folder is of the earlier format:
    ``model.safetensors``, ``history.csv`` and ``run.json`` there (a finished run), no model card."""
    paths = Paths.of(config)
    root = Path(paths.results) / "models"
    if not root.is_dir():
        return []
    found = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        name = folder.name
        if split_seed(name)[0] not in config["experiments"]:
            continue
        finished = all((folder / f).is_file() for f in (LEGACY_MODEL, "history.csv", "run.json"))
        if finished and not Path(paths.model_card(name)).exists():
            found.append(name)
    return found


def migrate_models(config: Mapping, root: str | Path, *, dry_run: bool = False, log=print) -> list[str]:
    """Convert the active scale's model folders of the earlier format (:func:`legacy_models`); returns the
    experiments converted, or in a dry run the experiments a real run would convert (nothing written). A
    folder whose encoder is not there (a PEFT adapter needs its base) is left as it is, with a message."""
    names = legacy_models(config)
    if dry_run or not names:
        return names
    # imported here: torch and transformers load only when there is something to convert
    from pipeline.model.export import convert_legacy

    paths, converted = Paths.of(config), []
    for name in names:
        info = start_encoder(config, name)["info"]
        location = info["location"]
        if not Path(location).exists():
            log(
                f"{paths.model_dir(name)}: not converted to the new model format: its encoder {location} is "
                f"not there; build it first (snakemake {location}); or delete {LEGACY_MODEL} to retrain"
            )
            continue
        convert_legacy(
            paths.model_dir(name),
            location,
            encoder_source(config, name),
            card_info(config, name, root),
            **info["load_kwargs"],
        )
        converted.append(name)
    return converted


def changed_converted_models(config: Mapping) -> dict[str, str]:
    """``{experiment: its converted.json}`` for the converted model folders (:func:`migrate_models`) whose
    run.json settings differ from the experiment's settings now.

    Snakemake reruns a job whose params changed by comparing them with its record of the job, and it has
    none for a converted folder's fine-tuning job (it never ran it): the fine-tuning rule adds this file,
    written at conversion and so newer than the card, to the job's inputs, and the changed experiment trains
    again, as any other would. A folder trained by today's code has no converted.json."""
    paths = Paths.of(config)
    root = Path(paths.results) / "models"
    if not root.is_dir():
        return {}
    changed = {}
    for marker in sorted(root.glob(f"*/{CONVERTED}")):
        name = marker.parent.name
        run = marker.parent / "run.json"
        if split_seed(name)[0] not in config["experiments"] or not run.is_file():
            continue
        recorded = json.loads(run.read_text()).get("settings")
        if fingerprint(recorded) != fingerprint(resolve_experiment(config, name)):
            changed[name] = str(marker)
    return changed
