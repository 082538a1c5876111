"""Resume state of a training or MNRL run, made to live on a cluster's shared filesystem.

The folder ``results/{scale}/checkpoints/{experiment}/`` is not a Snakemake output, so it survives a killed,
pre-empted or timed-out job. It holds at most:

* ``last.pt``: the training state (weights, optimiser, scheduler, gradient scaler, RNG states, epoch, step,
  history, time and memory so far). For LoRA/DoRA/rsLoRA and last-layer runs only the trainable parameters
  are stored (the frozen encoder is reloaded from the encoder folder), so a checkpoint of a LoRA run of
  bert-base is a few MB instead of 1.3 GB.
* ``best.safetensors``: the weights of the best epoch so far (trainable ones only, likewise), and
  ``best-dev.pt``: that epoch's dev predictions (its end-of-epoch evaluation), which become the experiment's
  dev prediction files, so no separate job predicts dev again.
* ``lock``: an exclusive POSIX lock (``fcntl.lockf``, which NFS v4 and Lustre honour) held for the whole run,
  so that two controllers (say, a second ``snakemake`` started by mistake) cannot train one experiment into
  the same folder; the second stops with :class:`CheckpointLocked`, naming the holder.

Each file is written through a temporary file and a rename, so a kill never leaves a torn checkpoint. A
checkpoint resumes only the run it belongs to: the settings' fingerprint must match (otherwise it is ignored
and the run starts over), and so must the library code (:func:`pipeline.provenance.code_hash`); a checkpoint
of other code stops the job with :class:`CodeChanged` unless ``resume_other_code`` is set, and the log says
which it did.
"""

from __future__ import annotations

import errno
import fcntl
import json
import math
import os
import random
import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file, save_model

from pipeline.io import write_atomic


class CheckpointLocked(RuntimeError):
    """Another process is training into the same checkpoint folder."""


class CodeChanged(RuntimeError):
    """A checkpoint was written by other library code and the run was not told to resume it anyway."""


@dataclass
class RunState:
    epoch: int = 0  # epochs completed
    history: list[dict] = field(default_factory=list)
    best_overall: float = -math.inf
    best_epoch: int = 0
    train_seconds: float = 0.0
    # process CPU seconds of the epochs' steps and evaluations (on a shared CPU, wall time counts other
    # users' work too; the cost plan's projections are compared with this there)
    train_cpu_seconds: float = 0.0
    resumed_from: int | None = None
    # a mid-epoch checkpoint: optimiser steps done in epoch ``epoch + 1``, their losses, its seconds so far
    step: int = 0
    epoch_losses: list[float] = field(default_factory=list)
    epoch_seconds: float = 0.0
    resumed_at_step: int | None = None
    # summed over attempts (up to each attempt's last checkpoint): wall seconds, peak memory, attempts
    wall_seconds: float = 0.0
    peak_memory_bytes: int = 0
    attempts: int = 0
    codes: list[str] = field(default_factory=list)  # library code of each attempt that trained


def checkpoint_due(step: int, every: int, steps_in_epoch: int) -> bool:
    """Whether a mid-epoch checkpoint follows step ``step`` (1-based) of an epoch of ``steps_in_epoch``:
    every ``every`` steps, except the last step, which the end-of-epoch checkpoint covers."""
    return every > 0 and step % every == 0 and step < steps_in_epoch


class CheckpointTimer:
    """Time-interval checkpoints: due once ``minutes`` have passed since the last checkpoint (0: never)."""

    def __init__(self, minutes: float, clock=time.monotonic):
        self.seconds, self.clock = float(minutes) * 60.0, clock
        self.last = clock()

    def due(self, step: int, steps_in_epoch: int) -> bool:
        return self.seconds > 0 and step < steps_in_epoch and self.clock() - self.last >= self.seconds

    def reset(self) -> None:
        self.last = self.clock()


def rng_states() -> dict:
    """Every random number generator a training step may draw from: torch (CPU, CUDA), Python, NumPy."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)
    return {
        "rng": torch.get_rng_state(),
        "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "python_rng": json.dumps(random.getstate()),
        "numpy_rng": json.dumps([kind, keys.tolist(), pos, has_gauss, gauss]),
    }


def set_rng_states(payload: dict) -> None:
    torch.set_rng_state(payload["rng"])
    if payload["cuda_rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(payload["cuda_rng"])
    if "python_rng" in payload:
        version, internal, gauss = json.loads(payload["python_rng"])
        random.setstate((version, tuple(internal), gauss))
    if "numpy_rng" in payload:
        kind, keys, pos, has_gauss, gauss = json.loads(payload["numpy_rng"])
        np.random.set_state((kind, np.array(keys, dtype=np.uint32), pos, has_gauss, gauss))


def trainable_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The parameters that receive gradients, by their state-dict names (contiguous CPU copies)."""
    return {n: p.detach().cpu().contiguous() for n, p in model.named_parameters() if p.requires_grad}


def load_trainable(model: torch.nn.Module, state: dict[str, torch.Tensor], where: str) -> None:
    """Load a :func:`trainable_state` into ``model``: every trainable parameter, nothing else."""
    wanted = {n for n, p in model.named_parameters() if p.requires_grad}
    missing, extra = wanted - set(state), set(state) - wanted
    if missing or extra:
        raise ValueError(
            f"{where}: trainable parameters differ from the model's "
            f"(missing {sorted(missing)[:3]}, unexpected {sorted(extra)[:3]})"
        )
    result = model.load_state_dict(state, strict=False)
    if result.unexpected_keys:
        raise ValueError(f"{where}: unexpected keys {result.unexpected_keys[:3]}")


class Checkpoints:
    """``last.pt``, ``best.safetensors`` and ``lock`` of one run (see the module docstring).

    ``last.pt`` holds only tensors and strings and is read with ``torch.load(weights_only=True)``.
    """

    def __init__(
        self,
        folder: str | Path,
        fingerprint: str,
        *,
        code: str | None = None,
        trainable_only: bool = False,
        resume_other_code: bool = False,
        log=print,
    ):
        self.folder, self.fingerprint, self.code = Path(folder), fingerprint, code
        self.trainable_only, self.resume_other_code, self.log = trainable_only, resume_other_code, log
        self.last, self.best = self.folder / "last.pt", self.folder / "best.safetensors"
        self.best_dev = self.folder / "best-dev.pt"
        self.lock_path, self._lock_fd = self.folder / "lock", None

    # -- the lock ---------------------------------------------------------------------------------------
    def acquire(self) -> None:
        """Take the folder's exclusive lock, or raise :class:`CheckpointLocked` naming the holder."""
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            os.close(fd)
            if error.errno not in (errno.EACCES, errno.EAGAIN):
                raise
            holder = self.lock_path.read_text(errors="replace").strip() or "unknown process"
            raise CheckpointLocked(
                f"{self.folder}: another run of this experiment is training into this folder ({holder}); "
                "two controllers must not train one experiment at once. Wait for it to finish or stop it."
            ) from None
        holder = {
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "since": time.strftime("%Y-%m-%d %H:%M:%S"),
            "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
        }
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(holder).encode())
        self._lock_fd = fd

    def release(self) -> None:
        if self._lock_fd is not None:
            fcntl.lockf(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Checkpoints:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    # -- saving and loading -----------------------------------------------------------------------------
    def _weights(self, model) -> dict:
        return trainable_state(model) if self.trainable_only else model.state_dict()

    def save(self, model, optimizer, scheduler, state: RunState, scaler=None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        payload = {
            "fingerprint": self.fingerprint,
            "code": self.code or "",
            "weights": "trainable" if self.trainable_only else "all",
            "model": self._weights(model),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "scaler": scaler.state_dict() if scaler is not None and scaler.is_enabled() else {},
            **rng_states(),
            "state": json.dumps(state.__dict__),
        }
        write_atomic(self.last, lambda tmp: torch.save(payload, tmp))

    def save_best(self, model, predictions: dict | None = None) -> None:
        """The best epoch's weights and (when given) its dev predictions, keyed by task; the predictions are
        written first, so a kill between the two leaves the previous epoch's state, which resume redoes."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if predictions is not None:
            values = {task: torch.from_numpy(v) for task, v in predictions.items()}
            write_atomic(self.best_dev, lambda tmp: torch.save(values, tmp))
        if self.trainable_only:
            write_atomic(self.best, lambda tmp: save_file(trainable_state(model), tmp))
        else:
            write_atomic(self.best, lambda tmp: save_model(model, tmp))

    def restore_best(self, model) -> None:
        """Load the best weights into ``model``; a missing file is an error, never the last epoch instead."""
        if not self.best.exists():
            raise FileNotFoundError(
                f"{self.best}: the best epoch's weights are missing (deleted, or no epoch had a dev score); "
                "refusing to save the last epoch's weights in their place"
            )
        state = load_file(str(self.best))
        if self.trainable_only:
            load_trainable(model, state, str(self.best))
        else:
            model.load_state_dict(state, strict=False)

    def best_predictions(self) -> dict:
        """The best epoch's dev predictions (task -> numpy array); a missing file is an error."""
        if not self.best_dev.exists():
            raise FileNotFoundError(
                f"{self.best_dev}: the best epoch's dev predictions are missing (deleted, or written by an "
                f"older version of the code); delete {self.folder} to train this experiment again"
            )
        return {task: v.numpy() for task, v in torch.load(self.best_dev, weights_only=True).items()}

    def load(self, model, optimizer, scheduler, scaler=None) -> RunState | None:
        """Restore a matching checkpoint into the given objects; None when there is none to resume."""
        if not self.last.exists():
            return None
        payload = torch.load(self.last, weights_only=True, map_location="cpu")
        if payload["fingerprint"] != self.fingerprint:
            self.log(
                f"ignoring {self.last}: it belongs to other settings (fingerprint {payload['fingerprint']})"
            )
            return None
        written_by = payload.get("code") or "unknown"
        if self.code and written_by != self.code:
            if not self.resume_other_code:
                raise CodeChanged(
                    f"{self.last} was written by library code {written_by}, this is {self.code}: "
                    "resuming would train one model with two versions of the code. Rerun with "
                    f"--config resume_other_code=true to resume it anyway, or delete {self.folder} to "
                    "train this experiment from the start."
                )
            self.log(
                f"resuming a checkpoint of other library code ({written_by}, now {self.code}) because "
                "resume_other_code is set"
            )
        if payload.get("weights") == "trainable":
            load_trainable(model, payload["model"], str(self.last))
        else:
            model.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        scheduler.load_state_dict(payload["scheduler"])
        if scaler is not None and payload.get("scaler"):
            scaler.load_state_dict(payload["scaler"])
        set_rng_states(payload)
        return RunState(**json.loads(payload["state"]))

    def files(self) -> list[Path]:
        """What the folder holds (temporary files of a write that a kill interrupted included)."""
        return sorted(self.folder.iterdir()) if self.folder.is_dir() else []

    def clear(self) -> None:
        """Remove the checkpoints (and any temporary file a killed write left), then the empty folder."""
        for path in (self.last, self.best, self.best_dev, *self.folder.glob(".*.tmp")):
            path.unlink(missing_ok=True)
        if self._lock_fd is not None:
            self.lock_path.unlink(missing_ok=True)
            self.release()
        if self.folder.is_dir() and not any(self.folder.iterdir()):
            self.folder.rmdir()


def resume_message(state: RunState, where: Path) -> str:
    """The log line of a resumed run: ``resuming after epoch E``, plus the steps of a mid-epoch checkpoint."""
    steps = f" and {state.step} steps of epoch {state.epoch + 1}" if state.step else ""
    return f"resuming after epoch {state.epoch}{steps} from {where}"


def start_epoch(state: RunState, device: torch.device) -> tuple[int, list[torch.Tensor], float]:
    """(steps already done, their losses, seconds already spent) of the epoch about to run: all zero unless
    a mid-epoch checkpoint was restored; the pending state is then consumed."""
    done, seconds = state.step, state.epoch_seconds
    restored = torch.tensor(state.epoch_losses, dtype=torch.float32)  # one copy to the device, not one each
    losses = list(restored.to(device).unbind()) if len(restored) else []
    state.step, state.epoch_losses, state.epoch_seconds = 0, [], 0.0
    return done, losses, seconds


def save_mid_epoch(checkpoints, model, optimizer, scheduler, state, step, losses, seconds, log, scaler=None):
    """The mid-epoch checkpoint after ``step`` optimiser steps of epoch ``state.epoch + 1``."""
    state.step, state.epoch_seconds = step, seconds
    state.epoch_losses = torch.stack(losses).float().cpu().tolist() if losses else []
    checkpoints.save(model, optimizer, scheduler, state, scaler)
    state.step, state.epoch_losses, state.epoch_seconds = 0, [], 0.0
    log(f"checkpoint: epoch {state.epoch + 1} step {step}")
