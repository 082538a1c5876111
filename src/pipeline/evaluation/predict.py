"""Predictions of a trained model: per task and split, in file order (the rows of a prediction file)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from pipeline.data.batching import Ragged, TaskData
from pipeline.evaluation.predictions import task_rows
from pipeline.model.device import autocast
from pipeline.model.embedding import SentenceEmbedder
from pipeline.model.heads import MultitaskModel


def to_device(batch, device: torch.device):
    """Move a (nested) batch of tensors to ``device`` (pinned, non-blocking copies on CUDA)."""
    if isinstance(batch, dict):
        return {k: to_device(v, device) for k, v in batch.items()}
    if device.type == "cuda":
        return batch.pin_memory().to(device, non_blocking=True)
    return batch.to(device)


def predict_task(
    model: MultitaskModel,
    data: TaskData,
    max_length: int,
    batch_size: int,
    device: torch.device,
    precision: str = "fp32",
) -> np.ndarray:
    """Predicted labels (classification) or scores (STS) for every example of ``data``, in file order.

    Batches are formed from examples of similar length, so little time goes to padding. ``precision``: the
    concrete precision the model was trained in (:func:`pipeline.model.device.choose_precision`).
    """
    was_training = model.training
    model.eval()
    out = np.empty(len(data), dtype=np.float64)
    pair_input = "cross" if model.pair_mode == "cross" else "siamese"
    with torch.inference_mode(), autocast(device, precision):
        if data.text2 is not None and pair_input == "siamese":
            e1, e2 = (
                embed_sentences(model, data, text, max_length, batch_size, device)
                for text in (data.text1, data.text2)
            )
            out[:] = model.decision(
                data.task.name, model.pair_output(data.task.name, None, e1, e2).float()
            ).cpu()
            model.train(was_training)
            return out
        for index in data.eval_batches(batch_size):
            batch = to_device(data.batch(index, max_length, pair_input), device)
            out[index.numpy()] = model.predict(data.task.name, batch).float().cpu().numpy()
    model.train(was_training)
    return out


def embed_sentences(
    model: SentenceEmbedder,
    data: TaskData,
    text: Ragged,
    max_length: int,
    batch_size: int,
    device: torch.device,
) -> torch.Tensor:
    """Embeddings of every sentence of ``text`` in order, in batches of sentences of similar length (each
    side of a Siamese pair sorted by its own length: less padding than sorting pairs by their total)."""
    order = torch.sort(text.lengths, stable=True).indices
    if not len(order):  # an empty split (e.g. an unlabelled Quora test left out at this scale)
        return torch.zeros(0, model.encoder.config.hidden_size, device=device)
    pieces = [
        model.embed(to_device(data.sentence_inputs(text, rows, max_length), device))
        for rows in order.split(batch_size)
    ]
    return torch.cat(pieces)[to_device(torch.argsort(order), device)]  # no blocking copy of the index


def prediction_frame(data: TaskData, values: np.ndarray) -> pd.DataFrame:
    """The task's rows of a prediction file (:mod:`pipeline.evaluation.predictions`): class indices, or
    similarities rounded to 6 decimals."""
    if data.task.kind != "classification":
        values = np.round(values, 6)
    return task_rows(data.task.name, data.ids, values)
