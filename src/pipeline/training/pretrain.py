"""MNRL pre-training of the encoder's sentence embeddings (Beyond BERT section 4).

Pairs of similar sentences: paraphrase training pairs labelled 1, plus (``adddata``) STS training pairs with
similarity >= ``sts_min``. In each batch of K pairs, the other K - 1 positives serve as negatives
(:func:`pipeline.model.losses.mnrl_loss`). The result is an encoder folder (weights + tokenizer) that
fine-tuning
loads instead of the base encoder. Checkpoints at every epoch end and every ``checkpoint_every_steps``
optimiser steps (the batch order of an epoch depends only on (seed, epoch)) let a killed job resume where it
was and end with the same weights as an uninterrupted run.
"""

from __future__ import annotations

import math
import time

import torch

from pipeline.data.batching import Ragged, TaskData
from pipeline.evaluation.predict import embed_sentences
from pipeline.io import folder_atomic, write_json_atomic
from pipeline.model.device import (
    autocast,
    backward_step,
    choose_precision,
    grad_scaler,
    hardware,
)
from pipeline.model.embedding import SentenceEmbedder
from pipeline.model.encoders import load_encoder, load_tokenizer
from pipeline.model.losses import mnrl_loss
from pipeline.provenance import code_hash, fingerprint, versions
from pipeline.settings import MnrlStage, RunControl
from pipeline.training.checkpoints import Checkpoints, start_epoch
from pipeline.training.progress import Attempt
from pipeline.training.runloop import RunLoop


def positive_pairs(data: dict[str, TaskData], sts_min: float) -> TaskData:
    """Every positive pair (para label 1, sts label >= sts_min) as one packed pair set, in task order."""
    parts = []
    for name, d in data.items():
        keep = torch.nonzero(d.labels == 1 if name == "para" else d.labels >= sts_min).flatten()
        parts.append((d, keep))
    helper = parts[0][0]

    # One flat id tensor for both sides, so a batch's sentences can be regrouped without copying ids.
    texts = [getattr(d, side).take(keep) for side in ("text1", "text2") for d, keep in parts]
    shifts = torch.tensor([0, *(len(t.flat) for t in texts)]).cumsum(0)[:-1].tolist()
    flat = torch.cat([t.flat for t in texts])
    starts = [t.starts + shift for t, shift in zip(texts, shifts, strict=True)]

    def packed(side: int) -> Ragged:
        part = slice(side * len(parts), (side + 1) * len(parts))
        return Ragged(flat, torch.cat(starts[part]), torch.cat([t.lengths for t in texts[part]]))

    ids = [f"{d.task.name}:{d.ids[i]}" for d, keep in parts for i in keep.tolist()]
    labels = torch.ones(len(ids))
    return TaskData(
        helper.task,
        ids,
        packed(0),
        packed(1),
        labels,
        helper.cls_id,
        helper.sep_id,
        helper.pad_id,
    )


def mnrl_embedder(
    settings: MnrlStage, encoder_location: str, load_kwargs: dict | None = None
) -> SentenceEmbedder:
    """The encoder with the stage's pooling: the sentence embedding that fine-tuning's multitask model
    computes (:class:`pipeline.model.heads.MultitaskModel` extends it), without heads."""
    encoder = load_encoder(encoder_location, **(load_kwargs or {}))
    return SentenceEmbedder(encoder, settings.pooling)


EMBED_ROWS_CPU = 8  # sentences per encoder call on CPU: less padding outweighs the smaller matrices


def mnrl_step(
    embedder: SentenceEmbedder,
    optimizer,
    pairs: TaskData,
    index: torch.Tensor,
    settings: MnrlStage,
    device,
    precision="fp32",
    scaler=None,
):
    """One MNRL update on the pairs ``index``: both sides embedded (together, sorted by length), in-batch
    negatives, AdamW step (loss-scaled under fp16)."""
    rows = torch.as_tensor(index, dtype=torch.long)
    sentences = Ragged.concat(pairs.text1.take(rows), pairs.text2.take(rows))
    chunk = len(sentences) if device.type == "cuda" else EMBED_ROWS_CPU
    with autocast(device, precision):
        both = embed_sentences(embedder, pairs, sentences, settings.max_length, chunk, device).float()
        loss = mnrl_loss(both[: len(rows)], both[len(rows) :], settings.scale)
    backward_step(loss, optimizer, scaler)
    optimizer.zero_grad(set_to_none=True)
    return loss.detach()


def pretrain(
    settings: MnrlStage,
    data: dict[str, TaskData],
    encoder_location: str,
    out_dir: str,
    checkpoint_dir: str,
    device: torch.device,
    log=print,
    load_kwargs: dict | None = None,
    *,
    control: RunControl,
) -> dict:
    """MNRL-train the encoder; write the encoder folder ``out_dir`` (weights, tokenizer, run.json).
    Checkpoints, lock, progress lines, attempt totals, run.json's ``settings`` and the fingerprint (the
    plain dict's) work as in :func:`pipeline.training.finetune.train`."""
    attempt = Attempt()
    plain = settings.to_dict()
    precision = choose_precision(settings.precision, device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    torch.manual_seed(settings.seed)
    embedder = mnrl_embedder(settings, encoder_location, load_kwargs).to(device).train()
    pairs = positive_pairs(data, settings.sts_min)
    if settings.pair_subset:
        keep = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(settings.seed))
        pairs = pairs.take(keep[: settings.pair_subset])
    if len(pairs) < 2:
        raise ValueError(f"MNRL needs at least 2 positive pairs, found {len(pairs)}")
    optimizer = torch.optim.AdamW(embedder.parameters(), lr=settings.lr, fused=True)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    scaler = grad_scaler(device, precision)
    code = code_hash()
    checkpoints = Checkpoints(
        checkpoint_dir, fingerprint(plain), code=code, resume_other_code=control.resume_other_code, log=log
    )
    loop = RunLoop(
        embedder, optimizer, scheduler, scaler, checkpoints, device, precision, log, control, attempt=attempt
    )  # fmt: skip
    with checkpoints:  # the folder's lock, held until the encoder folder is written
        state = loop.start()
        log(f"MNRL {settings.name} on {hardware(device)} in {precision}: {len(pairs)} pairs")
        _mnrl_epochs(loop, pairs, settings)
        loop.record()
        _write_encoder(loop, plain, pairs, encoder_location, load_kwargs, out_dir, control)
        checkpoints.clear()
    return state.history[-1] if state.history else {}


def _mnrl_epochs(loop: RunLoop, pairs: TaskData, settings: MnrlStage) -> None:
    embedder, state, device = loop.model, loop.state, loop.device
    batches = [math.ceil(len(pairs) / settings.batch_size)] * settings.epochs
    progress = loop.progress(sum(batches), settings.batch_size)
    for epoch in range(state.epoch + 1, settings.epochs + 1):
        t0 = time.perf_counter()
        order = torch.randperm(
            len(pairs), generator=torch.Generator().manual_seed(settings.seed * 1000 + epoch)
        )
        plan = order.split(settings.batch_size)
        done, losses, before = start_epoch(state, device)
        progress.start_epoch(epoch, settings.epochs, len(plan), sum(batches[: epoch - 1]) + done)
        for step, index in enumerate(plan[done:], start=done + 1):
            if len(index) >= 2:  # a single pair has no in-batch negative
                losses.append(
                    mnrl_step(
                        embedder, loop.optimizer, pairs, index, settings, device, loop.precision, loop.scaler
                    )
                )
            progress.step(step)
            if loop.due(step, len(plan)):
                loop.save(step, losses, before + time.perf_counter() - t0)
        seconds = before + time.perf_counter() - t0
        mean_loss = float(torch.stack(losses).mean())
        state.epoch, state.train_seconds = epoch, state.train_seconds + seconds
        state.history.append({"epoch": epoch, "mnrl_loss": mean_loss, "epoch_seconds": seconds})
        loop.log(f"MNRL epoch {epoch}/{settings.epochs}: loss {mean_loss:.4f} ({len(pairs)} pairs)")
        loop.save()


def _write_encoder(
    loop: RunLoop, settings: dict, pairs, encoder_location, load_kwargs, out_dir, control: RunControl
) -> None:
    """The MNRL-trained encoder as a folder fine-tuning loads (weights, tokenizer, run.json with the plain
    ``settings``), atomically."""
    state = loop.state
    with folder_atomic(out_dir) as tmp:
        loop.model.encoder.save_pretrained(tmp)
        load_tokenizer(encoder_location, **(load_kwargs or {})).save_pretrained(tmp)
        write_json_atomic(
            {
                "settings": settings,
                "pairs": len(pairs),
                "history": state.history,
                **loop.totals(),
                "device": str(loop.device),
                "resumed_after_epoch": state.resumed_from,
                "resumed_at_step": state.resumed_at_step,
                "checkpoint_every_steps": control.checkpoint_every_steps,
                "versions": versions(),
            },
            tmp / "run.json",
        )
