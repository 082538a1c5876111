"""In-process training for the resume and paper-scale tests: ``train()`` on the CPU into a folder, with a log
that can stop the run at a chosen line (a kill at a known point, without a subprocess)."""

from __future__ import annotations

from pathlib import Path

import torch

from pipeline.settings import RunControl

CPU = torch.device("cpu")
LOAD = {"local_files_only": True}
#: The run control of the in-process runs unless told otherwise: checkpoints at epoch ends only, no progress
#: lines, no checkpoint of other code resumed.
QUIET = {
    "checkpoint_every_steps": 0,
    "checkpoint_every_minutes": 0.0,
    "log_every_steps": 0,
    "resume_other_code": False,
    "compile": False,
}


def run_control(**changes) -> RunControl:
    """:data:`QUIET` with ``changes``."""
    return RunControl.from_dict({**QUIET, **changes})


class Stopped(RuntimeError):
    """Raised by :func:`logger`'s log at the line it was told to stop at."""


def logger(stop_at: str | None = None):
    """``(lines, log)``: ``log`` appends to ``lines`` and raises :class:`Stopped` at the first line that
    starts with ``stop_at``."""
    lines: list[str] = []

    def log(message: str) -> None:
        lines.append(message)
        if stop_at is not None and message.startswith(stop_at):
            raise Stopped(message)

    return lines, log


def finetune_in(settings, task_data, encoder_dir, folder: Path, stop_at: str | None = None, **control):
    """Fine-tune into ``folder`` (the model folder ``model/``, ``{history,run}.out``, checkpoints in
    ``checkpoints/``);
    ``control``: changes to :data:`QUIET` (checkpoint intervals, progress lines, resuming other code).
    Returns ``(info, log lines, outputs)``."""
    from pipeline.training.finetune import train

    lines, log = logger(stop_at)
    outputs = {k: str(folder / f"{k}.out") for k in ("history", "run")}
    outputs["model"] = str(folder / "model")
    info = train(
        settings,
        task_data["train"],
        task_data["dev"],
        encoder_dir,
        outputs,
        str(folder / "checkpoints"),
        CPU,
        log,
        LOAD,
        control=run_control(**control),
    )
    return info, lines, outputs
