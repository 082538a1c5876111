"""What a long job tells its log while it runs, and what an attempt adds to the run's totals.

* :class:`Progress`: every ``every`` optimiser steps a line ``progress: epoch 3/60 step 1200/3600 | run
  step 8400/216000 | 412.3 examples/s | epoch ETA 0:04:51 | run ETA 7:15:02`` (rates over the steps since the
  previous line; the ETAs count training steps only, not the per-epoch dev evaluation).
* :class:`Attempt`: one execution of a job. A resumed job continues the totals of the attempts before it
  (as far as their last checkpoint): wall seconds add up, peak memory is the largest of any attempt, and the
  number of attempts is counted. The second study's time and memory columns read these totals.
"""

from __future__ import annotations

import time
from datetime import timedelta


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=round(max(0.0, seconds))))


class Progress:
    def __init__(self, total_steps: int, every: int, batch_size: int, log, clock=time.perf_counter):
        self.total, self.every, self.batch_size, self.log, self.clock = (
            total_steps,
            every,
            batch_size,
            log,
            clock,
        )
        self.run_step = 0
        self.epoch = self.epochs = self.steps_in_epoch = 0
        self._t, self._since = clock(), 0

    def start_epoch(self, epoch: int, epochs: int, steps_in_epoch: int, run_step: int) -> None:
        """Called before an epoch's first step; ``run_step``: optimiser steps of the run done before it."""
        self.epoch, self.epochs, self.steps_in_epoch, self.run_step = epoch, epochs, steps_in_epoch, run_step
        self._t, self._since = self.clock(), 0

    def step(self, step: int) -> str | None:
        """Called after step ``step`` (1-based) of the epoch; returns the line when one was logged."""
        self.run_step += 1
        self._since += 1
        if self.every <= 0 or step % self.every:
            return None
        now = self.clock()
        rate = self._since / max(now - self._t, 1e-9)  # steps per second
        self._t, self._since = now, 0
        line = (
            f"progress: epoch {self.epoch}/{self.epochs} step {step}/{self.steps_in_epoch} | "
            f"run step {self.run_step}/{self.total} | {rate * self.batch_size:.1f} examples/s | "
            f"epoch ETA {_clock((self.steps_in_epoch - step) / rate)} | "
            f"run ETA {_clock((self.total - self.run_step) / rate)}"
        )
        self.log(line)
        return line


class Attempt:
    """Totals of a run over its attempts, continued from a restored state (see the module docstring)."""

    def __init__(self, clock=time.perf_counter):
        self.clock, self.started = clock, clock()
        self.wall_before, self.peak_before, self.attempts_before = 0.0, 0, 0

    def resume(self, state) -> None:
        """Continue the totals a checkpoint carried."""
        self.wall_before = float(state.wall_seconds)
        self.peak_before = int(state.peak_memory_bytes)
        self.attempts_before = int(state.attempts)

    def record(self, state, peak_memory_bytes: int, code: str | None = None) -> None:
        """Write the totals so far into ``state`` (before a checkpoint is saved, and at the end)."""
        state.wall_seconds = self.wall_before + (self.clock() - self.started)
        state.peak_memory_bytes = max(self.peak_before, int(peak_memory_bytes))
        state.attempts = self.attempts_before + 1
        if code and (not state.codes or state.codes[-1] != code):
            state.codes = [*state.codes, code]
