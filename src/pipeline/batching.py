"""Batches built from the tokenization cache: special tokens, truncation and dynamic padding.

No tokenizer is involved: sentences come from the cache as word-piece ids, and each batch is padded only
to its own longest sequence.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pipeline.tasks import Task, get_task
from pipeline.tokens import load_cache, unragged


@dataclass
class TaskData:
    """One (task, split) of the cache, ready to be cut into batches."""

    task: Task
    ids: list[str]
    text1: list[torch.Tensor]
    text2: list[torch.Tensor] | None
    labels: torch.Tensor  # float32, NaN when unlabelled
    cls_id: int
    sep_id: int
    pad_id: int

    @classmethod
    def from_cache(cls, path) -> TaskData:
        cache = load_cache(path)
        task = get_task(cache["task"])
        text2 = unragged(cache["text2_flat"], cache["text2_offsets"]) if task.pair else None
        return cls(
            task=task,
            ids=list(cache["ids"]),
            text1=unragged(cache["text1_flat"], cache["text1_offsets"]),
            text2=text2,
            labels=cache["labels"],
            cls_id=cache["cls_id"],
            sep_id=cache["sep_id"],
            pad_id=cache["pad_id"],
        )

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def labelled(self) -> bool:
        return bool(len(self.labels)) and not bool(torch.isnan(self.labels).any())

    def subset(self, n: int | None, seed: int) -> TaskData:
        """A seeded random subset of ``n`` examples (all of them when ``n`` is None or too large)."""
        if n is None or n >= len(self):
            return self
        keep = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))[:n].sort().values
        idx = keep.tolist()
        return TaskData(
            self.task,
            [self.ids[i] for i in idx],
            [self.text1[i] for i in idx],
            [self.text2[i] for i in idx] if self.text2 is not None else None,
            self.labels[keep],
            self.cls_id,
            self.sep_id,
            self.pad_id,
        )

    def lengths(self) -> list[int]:
        """Token count of each example (both sentences for pairs): the key for length-sorted batches."""
        if self.text2 is None:
            return [len(t) for t in self.text1]
        return [len(a) + len(b) for a, b in zip(self.text1, self.text2, strict=True)]

    def single_inputs(self, seqs: list[torch.Tensor], max_length: int) -> dict[str, torch.Tensor]:
        body = [s[: max_length - 2] for s in seqs]
        width = max(len(s) for s in body) + 2
        input_ids = torch.full((len(body), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(body), width), dtype=torch.long)
        for row, s in enumerate(body):
            n = len(s)
            input_ids[row, 0] = self.cls_id
            input_ids[row, 1 : n + 1] = s
            input_ids[row, n + 1] = self.sep_id
            mask[row, : n + 2] = 1
        return {"input_ids": input_ids, "attention_mask": mask}

    def cross_inputs(
        self, a: list[torch.Tensor], b: list[torch.Tensor], max_length: int
    ) -> dict[str, torch.Tensor]:
        pairs = [truncate_pair(x, y, max_length - 3) for x, y in zip(a, b, strict=True)]
        width = max(len(x) + len(y) for x, y in pairs) + 3
        input_ids = torch.full((len(pairs), width), self.pad_id, dtype=torch.long)
        types = torch.zeros((len(pairs), width), dtype=torch.long)
        mask = torch.zeros((len(pairs), width), dtype=torch.long)
        for row, (x, y) in enumerate(pairs):
            n, m = len(x), len(y)
            input_ids[row, 0] = self.cls_id
            input_ids[row, 1 : n + 1] = x
            input_ids[row, n + 1] = self.sep_id
            input_ids[row, n + 2 : n + m + 2] = y
            input_ids[row, n + m + 2] = self.sep_id
            types[row, n + 2 : n + m + 3] = 1
            mask[row, : n + m + 3] = 1
        return {"input_ids": input_ids, "token_type_ids": types, "attention_mask": mask}

    def batch(self, index: list[int] | torch.Tensor, max_length: int, pair_input: str = "siamese") -> dict:
        """Tensors for the examples ``index``: ``inputs`` (single or cross-encoder pair), or ``inputs1``
        and ``inputs2`` (Siamese pair), and ``labels``."""
        index = [int(i) for i in index]
        out: dict = {"labels": self.labels[index]}
        first = [self.text1[i] for i in index]
        if self.text2 is None:
            out["inputs"] = self.single_inputs(first, max_length)
        elif pair_input == "cross":
            out["inputs"] = self.cross_inputs(first, [self.text2[i] for i in index], max_length)
        else:
            out["inputs1"] = self.single_inputs(first, max_length)
            out["inputs2"] = self.single_inputs([self.text2[i] for i in index], max_length)
        return out

    def eval_batches(self, batch_size: int) -> list[list[int]]:
        """Example indices in batches of similar length (less padding); callers restore file order."""
        order = sorted(range(len(self)), key=self.lengths().__getitem__)
        return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


def truncate_pair(a: torch.Tensor, b: torch.Tensor, budget: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop tokens from the end of the longer sentence until both fit in ``budget`` (longest first)."""
    n, m = len(a), len(b)
    first_longer = n > m  # on a tie, the tokenizer cuts the sentence that did not start longer
    while n + m > budget:
        if n > m or (n == m and not first_longer):
            n -= 1
        else:
            m -= 1
    return a[:n], b[:m]
