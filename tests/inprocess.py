"""In-process training for the resume and paper-scale tests: ``train()`` on the CPU into a folder, with a log
that can stop the run at a chosen line (a kill at a known point, without a subprocess)."""

from __future__ import annotations

from pathlib import Path

import torch

CPU = torch.device("cpu")
LOAD = {"local_files_only": True}


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
    """Fine-tune into ``folder`` (outputs ``{model,history,run}.out``, checkpoints in ``checkpoints/``);
    ``control``: train()'s checkpoint and resume keywords. Returns ``(info, log lines, outputs)``."""
    from pipeline.training.finetune import train

    lines, log = logger(stop_at)
    outputs = {k: str(folder / f"{k}.out") for k in ("model", "history", "run")}
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
        **control,
    )
    return info, lines, outputs
