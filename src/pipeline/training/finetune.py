"""The fine-tuning loop: multitask batches, AdamW, per-epoch dev evaluation, best-model keeping, resume.

After every epoch the dev metrics are appended to the history, the model with the best overall dev score is
kept, and a checkpoint (:mod:`pipeline.training.checkpoints`) is written to the checkpoint folder, which is
not a
Snakemake output and so survives a killed job. Mid-epoch checkpoints follow every ``checkpoint_every_minutes``
of training and/or every ``checkpoint_every_steps`` optimiser steps (the sampling plan of an epoch depends
only on (seed, epoch), so the step count is the sampler's position). Rerunning the same experiment (same
resolved settings, compared by fingerprint, and the same library code) continues from the step where that
checkpoint was taken and ends with the same weights as an uninterrupted run. The run holds the folder's lock
throughout; a progress line goes to the log every ``log_every_steps`` steps
(:mod:`pipeline.training.progress`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping

import numpy as np
import pandas as pd
import torch

from pipeline.data.batching import TaskData, bucket_by_length
from pipeline.evaluation.metrics import accuracy, overall_score, pearson
from pipeline.evaluation.predict import predict_task, prediction_frame, to_device
from pipeline.evaluation.predictions import write_predictions
from pipeline.io import write_csv_atomic, write_json_atomic
from pipeline.model.device import (
    autocast,
    backward_step,
    choose_precision,
    grad_scaler,
    hardware,
    pick_device,
)
from pipeline.model.encoders import load_encoder
from pipeline.model.export import save_trained, write_card
from pipeline.model.heads import MultitaskModel
from pipeline.model.tuning import apply_tuning, count_parameters
from pipeline.provenance import code_hash, fingerprint, versions
from pipeline.settings import Experiment, RunControl
from pipeline.training.checkpoints import Checkpoints, start_epoch
from pipeline.training.progress import Attempt
from pipeline.training.runloop import RunLoop
from pipeline.training.sampling import epoch_plan


def build_model(settings: Experiment, encoder_location: str, **load_kwargs) -> MultitaskModel:
    """Encoder + heads with the tuning method applied; heads are initialised from the experiment's seed."""
    torch.manual_seed(settings.seed)
    encoder = load_encoder(encoder_location, **load_kwargs)
    return apply_tuning(MultitaskModel(encoder, settings.heads), settings.tuning, settings.lora)


def evaluate(
    model: MultitaskModel,
    dev: dict[str, TaskData],
    settings: Experiment,
    device,
    precision: str = "fp32",
    predictions: dict[str, np.ndarray] | None = None,
) -> dict[str, float]:
    """Dev score of every task (accuracy or Pearson) and the overall score; each task's predicted values go
    into ``predictions`` (keyed by task) when it is given."""
    scores: dict[str, float] = {}
    for task, data in dev.items():
        values = predict_task(model, data, settings.max_length, settings.eval_batch_size, device, precision)
        if predictions is not None:
            predictions[task] = values
        gold = data.labels.numpy()
        score = pearson(values, gold) if data.task.metric == "corr" else accuracy(values, gold)
        scores[data.task.metric_name] = score
    scores["overall"] = overall_score(scores)
    return scores


def linear_schedule(total_steps: int):
    """Learning-rate factor of a linear decay from 1 to 0 over ``total_steps`` (a pure function)."""
    return lambda step: max(0.0, 1.0 - step / max(1, total_steps))


def parameter_groups(model: torch.nn.Module, settings: Experiment) -> list[dict]:
    """The trainable parameters: one group at ``lr``, or, with a ``head_lr`` above ``lr`` where the encoder
    (or its adapters) trains too, the encoder's at ``lr`` and the heads' and shared layer's at ``head_lr``. A
    frozen-encoder run trains only its heads, at its own ``lr`` (the second study sweeps exactly that)."""
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    on_top = ("heads.", "shared.")
    encoder = [p for n, p in trainable if not n.startswith(on_top)]
    heads = [p for n, p in trainable if n.startswith(on_top)]
    if settings.head_lr is None or settings.head_lr <= settings.lr or not encoder:
        return [{"params": [p for _, p in trainable], "lr": settings.lr}]
    return [{"params": encoder, "lr": settings.lr}, {"params": heads, "lr": settings.head_lr}]


def make_optimizer(model: torch.nn.Module, settings: Experiment) -> torch.optim.AdamW:
    """AdamW over the trainable parameters (:func:`parameter_groups`), fused (one kernel for all of them, on
    CPU as on CUDA)."""
    return torch.optim.AdamW(
        parameter_groups(model, settings),
        lr=settings.lr,
        weight_decay=settings.weight_decay,
        betas=(0.9, 0.999),
        eps=1e-8,
        fused=True,
    )


def training_plan(train_data: dict[str, TaskData], settings: Experiment, epoch: int, plan_args: dict) -> list:
    """(task, example indices) of every step of ``epoch``: the sampling plan, with each task's examples
    grouped by length within windows of ``bucket_batches`` batches (a function of seed and epoch only)."""
    plan = epoch_plan(epoch=epoch, **plan_args)
    lengths = {task: data.length_tensor() for task, data in train_data.items()}
    generator = torch.Generator().manual_seed(settings.seed * 1_000_003 + epoch * 1009 + 17)
    return bucket_by_length(plan, lengths, settings.bucket_batches, generator)


def train_step(
    model, optimizer, scheduler, task: str, batch: dict, device: torch.device, precision="fp32", scaler=None
) -> torch.Tensor:
    """One update on one batch already on ``device``; returns the (detached) loss without syncing.

    With fp16 the loss is scaled before ``backward`` and the step skipped when gradients overflowed
    (``scaler``: :func:`pipeline.model.device.grad_scaler`); bf16 and fp32 need no scaler."""
    with autocast(device, precision):
        loss = model.loss(task, batch)
    backward_step(loss, optimizer, scaler)
    scheduler.step()
    optimizer.zero_grad(set_to_none=True)
    return loss.detach()


def train(
    settings: Experiment,
    train_data: dict[str, TaskData],
    dev_data: dict[str, TaskData],
    encoder_location: str,
    outputs: dict[str, str],
    checkpoint_dir: str,
    device: torch.device | None = None,
    log=print,
    load_kwargs: dict | None = None,
    *,
    control: RunControl,
    source: Mapping | None = None,
    card: Mapping | None = None,
) -> dict:
    """Train one experiment; write the best epoch's model into the folder ``outputs['model']`` in the
    ecosystem's format (:mod:`pipeline.model.export`: encoder or PEFT adapter, heads, their settings, where
    the encoder came from), ``outputs['history']`` (CSV, one row per epoch), ``outputs['run']`` (JSON:
    settings, times, memory, parameters, device, code), where given ``outputs['predictions']`` (the best
    epoch's dev prediction file), and last the model card ``README.md`` of the model folder.

    ``source``: where the encoder came from (base.json; by default its name and ``encoder_location``);
    ``card``: what the card says beyond the run (``paper``, ``data``, ``test_metrics``).

    run.json's ``settings`` and the checkpoints' fingerprint are those of the plain dict the settings were
    built from (:meth:`pipeline.settings.Settings.to_dict`). ``control`` (checkpoint intervals, progress
    lines, resuming other code) does not change the result, only how much work a kill can cost and how often
    the log hears from the run; it is therefore not part of the settings or their fingerprint."""
    attempt = Attempt()
    device = device or pick_device()
    plain = settings.to_dict()
    precision = choose_precision(settings.precision, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    model = build_model(settings, encoder_location, **(load_kwargs or {})).to(device)
    if settings.sts_bias == "label_mean" and "sts" in train_data:  # a scale's departure (docs/fidelity.md)
        model.set_sts_bias(float(train_data["sts"].labels.nanmean()))
    trainable, total = count_parameters(model)
    optimizer = make_optimizer(model, settings)
    scaler = grad_scaler(device, precision)
    sizes = {t: len(d) for t, d in train_data.items()}
    plan_args = dict(
        method=settings.sampling,
        sizes=sizes,
        batch_size=settings.batch_size,
        epochs=settings.epochs,
        seed=settings.seed,
        steps_per_epoch=settings.steps_per_epoch,
        upweight=settings.upweight,
    )
    steps = [len(epoch_plan(epoch=e, **plan_args)) for e in range(1, settings.epochs + 1)]
    factor = linear_schedule(sum(steps)) if settings.schedule == "linear" else (lambda step: 1.0)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    code = code_hash()
    checkpoints = Checkpoints(
        checkpoint_dir,
        fingerprint(plain),
        code=code,
        trainable_only=settings.tuning != "full",
        resume_other_code=control.resume_other_code,
        log=log,
    )
    loop = RunLoop(
        model, optimizer, scheduler, scaler, checkpoints, device, precision, log, control, attempt=attempt
    )  # fmt: skip
    with checkpoints:  # the folder's lock, held until the run is complete
        state = loop.start()
        log(
            f"training {settings.name} on {hardware(device)} in {precision}: {sum(steps)} steps in "
            f"{settings.epochs} epochs, {trainable:,} of {total:,} parameters trainable"
        )
        _train_epochs(loop, settings, train_data, dev_data, plan_args, steps)
        loop.record()
        # the best epoch's weights (trainable ones over the frozen encoder, or all); the checkpoint stays
        # until the card is written, so a kill before then still finds the best
        checkpoints.restore_best(model)
        save_trained(
            model,
            outputs["model"],
            heads=settings.heads,
            tuning=settings.tuning,
            lora=settings.lora,
            max_length=settings.max_length,
            name=settings.name,
            tokenizer_location=encoder_location,
            source=source or {"name": settings.encoder, "location": encoder_location},
            load_kwargs=load_kwargs,
        )
        if "predictions" in outputs:
            write_dev_predictions(checkpoints.best_predictions(), dev_data, outputs["predictions"])
        write_csv_atomic(pd.DataFrame(state.history), outputs["history"])
        run = {
            "settings": plain,
            "fingerprint": checkpoints.fingerprint,
            "device": str(device),
            "hardware": hardware(device),
            "threads": torch.get_num_threads(),
            **loop.totals(),
            "trainable_parameters": trainable,
            "total_parameters": total,
            "best_epoch": state.best_epoch,
            "best_dev_overall": state.best_overall,
            "resumed_after_epoch": state.resumed_from,
            "resumed_at_step": state.resumed_at_step,
            "checkpoint_every_steps": control.checkpoint_every_steps,
            "checkpoint_every_minutes": control.checkpoint_every_minutes,
            "versions": versions(),
        }
        write_json_atomic(run, outputs["run"])
        best = next(row for row in state.history if row["epoch"] == state.best_epoch)
        write_card(outputs["model"], run, best, card)
        checkpoints.clear()
    return run


def write_dev_predictions(values: dict[str, np.ndarray], dev_data: dict[str, TaskData], path: str) -> None:
    """The best epoch's dev predictions, computed by its end-of-epoch evaluation (the saved model's own
    predictions: the same weights, batches and precision; ``best-dev.pt`` holds them by task), as the
    experiment's dev prediction file ``path``, its tasks in the order of ``dev_data``."""
    write_predictions([prediction_frame(data, values[task]) for task, data in dev_data.items()], path)


def _train_epochs(loop: RunLoop, settings: Experiment, train_data, dev_data, plan_args, steps) -> None:
    """The epochs not done yet: steps, mid-epoch checkpoints, progress lines, dev evaluation, best keeping."""
    model, state, device, precision = loop.model, loop.state, loop.device, loop.precision
    pair_input = "cross" if settings.pair_mode == "cross" else "siamese"
    progress = loop.progress(sum(steps), settings.batch_size)
    for epoch in range(state.epoch + 1, settings.epochs + 1):
        t0, cpu0 = time.perf_counter(), time.process_time()
        model.train()
        plan = training_plan(train_data, settings, epoch, plan_args)
        done, losses, before = start_epoch(state, device)
        progress.start_epoch(epoch, settings.epochs, len(plan), sum(steps[: epoch - 1]) + done)
        for step, (task, index) in enumerate(plan[done:], start=done + 1):
            batch = to_device(train_data[task].batch(index, settings.max_length, pair_input), device)
            losses.append(
                train_step(model, loop.optimizer, loop.scheduler, task, batch, device, precision, loop.scaler)
            )
            progress.step(step)
            if loop.due(step, len(plan)):
                loop.save(step, losses, before + time.perf_counter() - t0)
        train_loss = float(torch.stack(losses).mean()) if losses else float("nan")
        values: dict[str, np.ndarray] = {}
        scores = evaluate(model, dev_data, settings, device, precision, values)
        row = {"epoch": epoch, "train_loss": train_loss, **scores}
        if settings.train_score:  # the task metric on the training set (the second study's tables)
            train_scores = evaluate(model, train_data, settings, device, precision)
            row.update({f"train_{k}": v for k, v in train_scores.items()})
        seconds = before + time.perf_counter() - t0
        state.train_seconds += seconds
        state.train_cpu_seconds += time.process_time() - cpu0  # this attempt's share of the epoch
        state.epoch = epoch
        state.history.append({**row, "epoch_seconds": seconds})
        loop.log(f"epoch {epoch}/{settings.epochs}: loss {train_loss:.4f} " + json.dumps(scores))
        if scores["overall"] is not None and scores["overall"] > state.best_overall:
            state.best_overall, state.best_epoch = scores["overall"], epoch
            loop.checkpoints.save_best(model, values)
        loop.save()
