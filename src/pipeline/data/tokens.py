"""The tokenization cache: each (encoder, task, split) is tokenized once and every job reads the tensors.

A cache file ``results/tokens/{encoder}/{task}-{split}.pt`` holds plain tensors (loadable with
``torch.load(weights_only=True)``):

* ``ids``: the example ids (list of str), in file order
* ``text1`` (and ``text2`` for pair tasks): word-piece ids of each sentence *without* special tokens, as a
  ragged pair ``{name}_flat`` (int32) and ``{name}_offsets`` (int64, n + 1 entries)
* ``labels``: float32 tensor (NaN where the split is unlabelled)
* ``cls_id``, ``sep_id``, ``pad_id``: the special tokens, so batches are built without the tokenizer

Storing the sentences without special tokens lets one cache serve every model: single sentences
(``[CLS] a [SEP]``), Siamese pairs (each sentence alone) and cross-encoder pairs (``[CLS] a [SEP] b [SEP]``),
truncated to any experiment's ``max_length`` when the batch is built.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from pipeline.io import write_atomic
from pipeline.tasks import get_task

BATCH = 2048  # texts per call of the fast tokenizer


def _ragged(seqs: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.fromiter((t for s in seqs for t in s), dtype=np.int32, count=int(offsets[-1]))
    return torch.from_numpy(flat), torch.from_numpy(offsets)


def unragged(flat: torch.Tensor, offsets: torch.Tensor) -> list[torch.Tensor]:
    """The list of per-example id tensors stored as ``flat`` + ``offsets``."""
    return list(torch.split(flat.long(), torch.diff(offsets).tolist()))


def tokenize_texts(tokenizer, texts: list[str]) -> list[list[int]]:
    """Word-piece ids of each text, without special tokens, in batches of the fast tokenizer."""
    out: list[list[int]] = []
    for start in range(0, len(texts), BATCH):
        enc = tokenizer(texts[start : start + BATCH], add_special_tokens=False)
        out.extend(enc["input_ids"])
    return out


def build_cache(tokenizer, frame: pd.DataFrame, task_name: str) -> dict:
    """The cache dictionary for one normalised data frame."""
    task = get_task(task_name)
    cache: dict = {
        "task": task_name,
        "ids": [str(i) for i in frame["id"]],
        "labels": torch.tensor(pd.to_numeric(frame["label"]).to_numpy(dtype=np.float32, na_value=np.nan)),
        "cls_id": int(tokenizer.cls_token_id),
        "sep_id": int(tokenizer.sep_token_id),
        "pad_id": int(tokenizer.pad_token_id),
    }
    for i, column in enumerate(task.text_columns, start=1):
        flat, offsets = _ragged(tokenize_texts(tokenizer, frame[column].astype(str).tolist()))
        cache[f"text{i}_flat"], cache[f"text{i}_offsets"] = flat, offsets
    return cache


def save_cache(cache: dict, path: str | Path) -> None:
    """Write atomically: a temporary file in the same folder, renamed when complete."""
    write_atomic(path, lambda tmp: torch.save(cache, tmp))


def load_cache(path: str | Path) -> dict:
    return torch.load(path, weights_only=True)
