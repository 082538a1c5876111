"""What a training or MNRL run carries through its epochs: the objects it trains, where and how often it
checkpoints, what it reports, and the totals of its attempts (used by :mod:`pipeline.training.finetune` and
:mod:`pipeline.training.pretrain` alike)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from pipeline.model.device import device_record, peak_memory
from pipeline.settings import RunControl
from pipeline.training.checkpoints import (
    Checkpoints,
    CheckpointTimer,
    RunState,
    checkpoint_due,
    resume_message,
    save_mid_epoch,
)
from pipeline.training.compiled import compile_encoder
from pipeline.training.progress import Attempt, Progress


@dataclass
class RunLoop:
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    scaler: torch.amp.GradScaler | None
    checkpoints: Checkpoints
    device: torch.device
    precision: str
    log: object
    control: RunControl  # checkpoint intervals (steps, minutes) and progress lines; never change a result
    attempt: Attempt = field(default_factory=Attempt)
    state: RunState = field(default_factory=RunState)

    def __post_init__(self) -> None:
        self.timer = CheckpointTimer(self.control.checkpoint_every_minutes)
        # in place: the state-dict keys (checkpoints, saved models) stay the eager model's
        self.compiled = compile_encoder(self.model, self.control.compile, self.device)

    def start(self) -> RunState:
        """The state to continue: a matching checkpoint's (logged, its totals carried on) or a fresh one."""
        state = self.checkpoints.load(self.model, self.optimizer, self.scheduler, self.scaler)
        if state is None:
            state = RunState()
        else:
            state.resumed_from, state.resumed_at_step = state.epoch, state.step
            self.attempt.resume(state)
            self.log(resume_message(state, self.checkpoints.last))
        if self.compiled:
            self.log(f"compiling the encoder: torch.compile {self.compiled} (config.yaml compile)")
        self.state = state
        return state

    def progress(self, total_steps: int, batch_size: int) -> Progress:
        return Progress(total_steps, self.control.log_every_steps, batch_size, self.log)

    def due(self, step: int, steps_in_epoch: int) -> bool:
        """Whether a mid-epoch checkpoint follows step ``step`` (by step count or by time)."""
        by_steps = checkpoint_due(step, self.control.checkpoint_every_steps, steps_in_epoch)
        return by_steps or self.timer.due(step, steps_in_epoch)

    def record(self) -> None:
        """The attempt's totals (wall seconds, peak memory, attempts, code) into the state."""
        self.attempt.record(self.state, peak_memory(self.device)[0], self.checkpoints.code)

    def totals(self) -> dict:
        """What run.json records of every run, fine-tuning and MNRL alike: code, time and memory summed over
        the attempts (and this attempt's own), the precision and the device."""
        memory, memory_kind = peak_memory(self.device)
        return {
            "code_hash": self.checkpoints.code,
            "code_hashes": self.state.codes,
            "wall_seconds": self.state.wall_seconds,
            "attempt_wall_seconds": self.attempt.clock() - self.attempt.started,
            "attempts": self.state.attempts,
            "train_seconds": self.state.train_seconds,
            "train_cpu_seconds": self.state.train_cpu_seconds,
            # this attempt's peak may have grown since record() (the best weights restored, the model saved)
            "peak_memory_bytes": max(int(self.state.peak_memory_bytes), int(memory)),
            "attempt_peak_memory_bytes": memory,
            "peak_memory_kind": memory_kind,
            "precision": self.precision,
            "compile": self.compiled,
            "device_record": device_record(self.device, self.precision),
        }

    def save(self, step: int | None = None, losses=None, seconds: float | None = None) -> None:
        """A checkpoint: at the epoch's end (``step`` None) or after ``step`` steps of the next epoch."""
        self.record()
        if step is None:
            self.checkpoints.save(self.model, self.optimizer, self.scheduler, self.state, self.scaler)
        else:
            save_mid_epoch(
                self.checkpoints,
                self.model,
                self.optimizer,
                self.scheduler,
                self.state,
                step,
                losses,
                seconds,
                self.log,
                self.scaler,
            )
        self.timer.reset()
