"""The fine-tuning loop: multitask batches, AdamW, per-epoch dev evaluation, best-model keeping, resume.

After every epoch the dev metrics are appended to the history, the model with the best overall dev score is
kept, and a checkpoint (model, optimiser, scheduler, RNG states, epoch, step, history, best) is written to the
checkpoint folder, which is not a Snakemake output and so survives a killed job. Every
``checkpoint_every_steps`` optimiser steps a mid-epoch checkpoint is written too (the sampling plan of an
epoch depends only on (seed, epoch), so the step count is the sampler's position). Rerunning the same
experiment (same resolved settings, compared by fingerprint) continues from the step where that checkpoint
was taken and ends with the same weights as an uninterrupted run. The folder only ever holds ``last.pt`` and
``best.safetensors`` (each overwritten atomically), so a long run does not fill the disk.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import resource
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_model, save_model

from pipeline.batching import TaskData, bucket_by_length
from pipeline.encoders import load_encoder
from pipeline.heads import MultitaskModel
from pipeline.io import write_atomic, write_csv_atomic, write_json_atomic
from pipeline.metrics import accuracy, overall_score, pearson
from pipeline.predict import autocast, predict_task, to_device
from pipeline.sampling import epoch_plan
from pipeline.tuning import apply_tuning, count_parameters


def fingerprint(settings: dict) -> str:
    """A short stable hash of the resolved settings: a checkpoint only resumes the run it belongs to."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def pick_device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def build_model(settings: dict, encoder_location: str, **load_kwargs) -> MultitaskModel:
    """Encoder + heads with the tuning method applied; heads are initialised from the experiment's seed."""
    torch.manual_seed(settings["seed"])
    encoder = load_encoder(encoder_location, **load_kwargs)
    return apply_tuning(MultitaskModel(encoder, settings), settings)


def evaluate(model: MultitaskModel, dev: dict[str, TaskData], settings: dict, device) -> dict[str, float]:
    """Dev score of every task (accuracy or Pearson) and the overall score."""
    scores: dict[str, float] = {}
    for data in dev.values():
        values = predict_task(model, data, settings["max_length"], settings["eval_batch_size"], device)
        gold = data.labels.numpy()
        score = pearson(values, gold) if data.task.metric == "corr" else accuracy(values, gold)
        scores[data.task.metric_name] = score
    scores["overall"] = overall_score(scores)
    return scores


def linear_schedule(total_steps: int):
    """Learning-rate factor of a linear decay from 1 to 0 over ``total_steps`` (a pure function)."""
    return lambda step: max(0.0, 1.0 - step / max(1, total_steps))


#: Default interval of mid-epoch checkpoints (config.yaml's ``checkpoint_every_steps``; 0: epoch ends only).
CHECKPOINT_EVERY_STEPS = 500


def make_optimizer(model: torch.nn.Module, settings: dict) -> torch.optim.AdamW:
    """AdamW over the trainable parameters, fused (one kernel for all of them, on CPU as on CUDA)."""
    params = [p for p in model.parameters() if p.requires_grad]
    return torch.optim.AdamW(
        params,
        lr=settings["lr"],
        weight_decay=settings["weight_decay"],
        betas=(0.9, 0.999),
        eps=1e-8,
        fused=True,
    )


def training_plan(train_data: dict[str, TaskData], settings: dict, epoch: int, plan_args: dict) -> list:
    """(task, example indices) of every step of ``epoch``: the sampling plan, with each task's examples
    grouped by length within windows of ``bucket_batches`` batches (a function of seed and epoch only)."""
    plan = epoch_plan(epoch=epoch, **plan_args)
    lengths = {task: data.length_tensor() for task, data in train_data.items()}
    generator = torch.Generator().manual_seed(settings["seed"] * 1_000_003 + epoch * 1009 + 17)
    return bucket_by_length(plan, lengths, settings.get("bucket_batches") or 0, generator)


def train_step(model, optimizer, scheduler, task: str, batch: dict, device: torch.device) -> torch.Tensor:
    """One update on one batch already on ``device``; returns the (detached) loss without syncing."""
    with autocast(device):
        loss = model.loss(task, batch)
    loss.backward()
    optimizer.step()
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.detach()


@dataclass
class RunState:
    epoch: int = 0  # epochs completed
    history: list[dict] = field(default_factory=list)
    best_overall: float = -math.inf
    best_epoch: int = 0
    train_seconds: float = 0.0
    resumed_from: int | None = None
    # a mid-epoch checkpoint: optimiser steps done in epoch ``epoch + 1``, their losses, its seconds so far
    step: int = 0
    epoch_losses: list[float] = field(default_factory=list)
    epoch_seconds: float = 0.0
    resumed_at_step: int | None = None


def checkpoint_due(step: int, every: int, steps_in_epoch: int) -> bool:
    """Whether a mid-epoch checkpoint follows step ``step`` (1-based) of an epoch of ``steps_in_epoch``:
    every ``every`` steps, except the last step, which the end-of-epoch checkpoint covers."""
    return every > 0 and step % every == 0 and step < steps_in_epoch


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


class Checkpoints:
    """The resume state of one run: ``last.pt`` (full training state) and ``best.safetensors`` (weights).

    Both are written through a temporary file and a rename, and each save replaces the previous one, so the
    folder holds at most these two files (the latest state and the best weights) however long the run.
    ``last.pt`` holds only tensors and strings and is read with ``torch.load(weights_only=True)``.
    """

    def __init__(self, folder: str | Path, fingerprint: str):
        self.folder, self.fingerprint = Path(folder), fingerprint
        self.last, self.best = self.folder / "last.pt", self.folder / "best.safetensors"

    def save(self, model, optimizer, scheduler, state: RunState) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        payload = {
            "fingerprint": self.fingerprint,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            **rng_states(),
            "state": json.dumps(state.__dict__),
        }
        write_atomic(self.last, lambda tmp: torch.save(payload, tmp))

    def save_best(self, model) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomic(self.best, lambda tmp: save_model(model, tmp))

    def load(self, model, optimizer, scheduler) -> RunState | None:
        """Restore a matching checkpoint into the given objects; None when there is none to resume."""
        if not self.last.exists():
            return None
        payload = torch.load(self.last, weights_only=True, map_location="cpu")
        if payload["fingerprint"] != self.fingerprint:
            return None
        model.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        scheduler.load_state_dict(payload["scheduler"])
        set_rng_states(payload)
        return RunState(**json.loads(payload["state"]))

    def files(self) -> list[Path]:
        """What the folder holds (temporary files of a write that a kill interrupted included)."""
        return sorted(self.folder.iterdir()) if self.folder.is_dir() else []

    def clear(self) -> None:
        """Remove the checkpoints (and any temporary file a killed write left), then the empty folder."""
        for path in (self.last, self.best, *self.folder.glob(".*.tmp")):
            path.unlink(missing_ok=True)
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
    losses = [torch.tensor(v, device=device) for v in state.epoch_losses]
    state.step, state.epoch_losses, state.epoch_seconds = 0, [], 0.0
    return done, losses, seconds


def save_mid_epoch(checkpoints, model, optimizer, scheduler, state: RunState, step, losses, seconds, log):
    """The mid-epoch checkpoint after ``step`` optimiser steps of epoch ``state.epoch + 1``."""
    state.step, state.epoch_seconds = step, seconds
    state.epoch_losses = torch.stack(losses).float().cpu().tolist() if losses else []
    checkpoints.save(model, optimizer, scheduler, state)
    state.step, state.epoch_losses, state.epoch_seconds = 0, [], 0.0
    log(f"checkpoint: epoch {state.epoch + 1} step {step}")


def peak_memory(device: torch.device) -> tuple[int, str]:
    """(bytes, what was measured): CUDA's peak allocation, or the process's peak resident set on CPU."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device)), "cuda_max_memory_allocated"
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024, "cpu_peak_rss"


def train(
    settings: dict,
    train_data: dict[str, TaskData],
    dev_data: dict[str, TaskData],
    encoder_location: str,
    outputs: dict[str, str],
    checkpoint_dir: str,
    device: torch.device | None = None,
    log=print,
    load_kwargs: dict | None = None,
    checkpoint_every_steps: int = CHECKPOINT_EVERY_STEPS,
) -> dict:
    """Train one experiment; write ``outputs['model']`` (best weights, safetensors), ``outputs['history']``
    (CSV, one row per epoch) and ``outputs['run']`` (JSON: settings, times, memory, parameters).

    ``checkpoint_every_steps`` (0: only at epoch ends) does not change the result, only how much work a
    kill can cost; it is therefore not part of the settings or their fingerprint."""
    started = time.perf_counter()
    device = device or pick_device()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    model = build_model(settings, encoder_location, **(load_kwargs or {})).to(device)
    trainable, total = count_parameters(model)
    optimizer = make_optimizer(model, settings)
    sizes = {t: len(d) for t, d in train_data.items()}
    plan_args = dict(
        method=settings["sampling"],
        sizes=sizes,
        batch_size=settings["batch_size"],
        epochs=settings["epochs"],
        seed=settings["seed"],
        steps_per_epoch=settings["steps_per_epoch"],
        upweight=settings["upweight"],
    )
    steps = [len(epoch_plan(epoch=e, **plan_args)) for e in range(1, settings["epochs"] + 1)]
    factor = linear_schedule(sum(steps)) if settings["schedule"] == "linear" else (lambda step: 1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    checkpoints = Checkpoints(checkpoint_dir, fingerprint(settings))
    state = checkpoints.load(model, optimizer, scheduler)
    if state is None:
        state = RunState()
    else:
        state.resumed_from, state.resumed_at_step = state.epoch, state.step
        log(resume_message(state, checkpoints.last))
    pair_input = "cross" if settings["pair_mode"] == "cross" else "siamese"

    for epoch in range(state.epoch + 1, settings["epochs"] + 1):
        t0 = time.perf_counter()
        model.train()
        plan = training_plan(train_data, settings, epoch, plan_args)
        done, losses, before = start_epoch(state, device)
        for step, (task, index) in enumerate(plan[done:], start=done + 1):
            batch = to_device(train_data[task].batch(index, settings["max_length"], pair_input), device)
            losses.append(train_step(model, optimizer, scheduler, task, batch, device))
            if checkpoint_due(step, checkpoint_every_steps, len(plan)):
                seconds = before + time.perf_counter() - t0
                save_mid_epoch(checkpoints, model, optimizer, scheduler, state, step, losses, seconds, log)
        train_loss = float(torch.stack(losses).mean()) if losses else float("nan")
        scores = evaluate(model, dev_data, settings, device)
        row = {"epoch": epoch, "train_loss": train_loss, **scores}
        if settings.get("train_score"):  # the task metric on the training set (the second study's tables)
            row.update({f"train_{k}": v for k, v in evaluate(model, train_data, settings, device).items()})
        seconds = before + time.perf_counter() - t0
        state.train_seconds += seconds
        state.epoch = epoch
        state.history.append({**row, "epoch_seconds": seconds})
        log(f"epoch {epoch}/{settings['epochs']}: loss {train_loss:.4f} " + json.dumps(scores))
        if scores["overall"] is not None and scores["overall"] > state.best_overall:
            state.best_overall, state.best_epoch = scores["overall"], epoch
            checkpoints.save_best(model)
        checkpoints.save(model, optimizer, scheduler, state)

    memory, memory_kind = peak_memory(device)
    if checkpoints.best.exists():  # copied: a kill before run.json is written must still find the best
        write_atomic(outputs["model"], lambda tmp: shutil.copyfile(checkpoints.best, tmp))
    else:
        write_atomic(outputs["model"], lambda tmp: save_model(model, tmp))
    write_csv_atomic(pd.DataFrame(state.history), outputs["history"])
    run = {
        "settings": settings,
        "fingerprint": checkpoints.fingerprint,
        "device": str(device),
        "hardware": hardware(device),
        "threads": torch.get_num_threads(),
        "wall_seconds": time.perf_counter() - started,
        "train_seconds": state.train_seconds,
        "peak_memory_bytes": memory,
        "peak_memory_kind": memory_kind,
        "trainable_parameters": trainable,
        "total_parameters": total,
        "best_epoch": state.best_epoch,
        "best_dev_overall": state.best_overall,
        "resumed_after_epoch": state.resumed_from,
        "resumed_at_step": state.resumed_at_step,
        "checkpoint_every_steps": checkpoint_every_steps,
        "versions": versions(),
    }
    write_json_atomic(run, outputs["run"])
    checkpoints.clear()
    return run


def load_trained(settings: dict, encoder_location: str, weights: str, **load_kwargs) -> MultitaskModel:
    """A trained model: the same structure as in training, with the saved weights."""
    model = build_model(settings, encoder_location, **load_kwargs)
    load_model(model, weights)
    return model


def hardware(device: torch.device) -> str:
    """What the run was measured on, for table captions: the GPU's name, or the CPU model and thread count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    import platform

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"CPU {model}, {torch.get_num_threads()} threads"


def versions() -> dict[str, str]:
    import platform

    import peft
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
    }
