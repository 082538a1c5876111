"""Batches built from the tokenization cache: special tokens, truncation and dynamic padding.

No tokenizer is involved: sentences come from the cache as word-piece ids, and each batch is padded only
to its own longest sequence. The cache is kept packed (one flat id tensor, each sentence's start and length:
:class:`Ragged`), so a batch is cut out by tensor indexing, with no Python loop over its examples.
Training batches can be grouped by length (:func:`bucket_by_length`) and evaluation batches are sorted by
length, so little compute goes to padding.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pipeline.data.tokens import load_cache
from pipeline.tasks import Task, get_task


class Ragged:
    """Sentences of word-piece ids packed in one flat tensor: sentence ``i`` is
    ``flat[starts[i] : starts[i] + lengths[i]]``. Indexing with an int gives that sentence (a view)."""

    def __init__(self, flat: torch.Tensor, starts: torch.Tensor, lengths: torch.Tensor):
        self.flat, self.starts, self.lengths = flat, starts, lengths

    @classmethod
    def from_offsets(cls, flat: torch.Tensor, offsets: torch.Tensor) -> Ragged:
        offsets = offsets.long()
        return cls(flat.long(), offsets[:-1], torch.diff(offsets))

    @classmethod
    def from_list(cls, seqs: list[torch.Tensor]) -> Ragged:
        lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
        starts = torch.cumsum(lengths, 0) - lengths
        flat = torch.cat([s.long() for s in seqs]) if seqs else torch.zeros(0, dtype=torch.long)
        return cls(flat, starts, lengths)

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, i: int) -> torch.Tensor:
        start = int(self.starts[i])
        return self.flat[start : start + int(self.lengths[i])]

    def __iter__(self):
        return (self[i] for i in range(len(self)))

    @staticmethod
    def concat(first: Ragged, second: Ragged) -> Ragged:
        """The sentences of ``first``, then those of ``second`` (their flat tensor shared when it is one)."""
        if first.flat is second.flat:
            flat, shift = first.flat, 0
        else:
            flat, shift = torch.cat([first.flat, second.flat]), len(first.flat)
        return Ragged(
            flat, torch.cat([first.starts, second.starts + shift]), torch.cat([first.lengths, second.lengths])
        )

    def take(self, rows: torch.Tensor) -> Ragged:
        """The sentences ``rows`` (the flat tensor is shared, not copied)."""
        return Ragged(self.flat, self.starts[rows], self.lengths[rows])

    def gather(self, rows: torch.Tensor, positions: torch.Tensor, valid: torch.Tensor, fill: int):
        """``[len(rows), width]`` ids: token ``positions[r, j]`` of sentence ``rows[r]`` where ``valid``,
        ``fill`` elsewhere."""
        if self.flat.numel() == 0:
            return torch.full(positions.shape, fill, dtype=torch.long)
        src = (self.starts[rows, None] + positions).clamp_(0, self.flat.numel() - 1)
        return torch.where(valid, self.flat[src], fill)


@dataclass
class TaskData:
    """One (task, split) of the cache, ready to be cut into batches."""

    task: Task
    ids: list[str]
    text1: Ragged
    text2: Ragged | None
    labels: torch.Tensor  # float32, NaN when unlabelled
    cls_id: int
    sep_id: int
    pad_id: int

    @classmethod
    def from_cache(cls, path) -> TaskData:
        cache = load_cache(path)
        task = get_task(cache["task"])
        text2 = Ragged.from_offsets(cache["text2_flat"], cache["text2_offsets"]) if task.pair else None
        return cls(
            task=task,
            ids=list(cache["ids"]),
            text1=Ragged.from_offsets(cache["text1_flat"], cache["text1_offsets"]),
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
        return self.take(keep)

    def take(self, rows: torch.Tensor) -> TaskData:
        """The examples ``rows``, in that order (the packed ids are shared, not copied)."""
        return TaskData(
            self.task,
            [self.ids[i] for i in rows.tolist()],
            self.text1.take(rows),
            self.text2.take(rows) if self.text2 is not None else None,
            self.labels[rows],
            self.cls_id,
            self.sep_id,
            self.pad_id,
        )

    def length_tensor(self) -> torch.Tensor:
        """Token count of each example (both sentences for pairs): the key for length-sorted batches."""
        if self.text2 is None:
            return self.text1.lengths
        return self.text1.lengths + self.text2.lengths

    def lengths(self) -> list[int]:
        return self.length_tensor().tolist()

    def sentence_inputs(self, text: Ragged, rows: torch.Tensor, max_length: int) -> dict[str, torch.Tensor]:
        """``[CLS] s [SEP]`` of each sentence ``rows`` of ``text``, cut to ``max_length``, padded to the
        longest."""
        n = text.lengths[rows].clamp(max=max_length - 2)[:, None]
        width = int(n.max()) + 2 if len(rows) else 2
        pos = torch.arange(width)[None, :]
        input_ids = text.gather(rows, pos - 1, (pos >= 1) & (pos <= n), self.pad_id)
        input_ids[:, 0] = self.cls_id
        input_ids.scatter_(1, n + 1, self.sep_id)
        return {"input_ids": input_ids, "attention_mask": (pos < n + 2).long()}

    def _cross(self, rows: torch.Tensor, max_length: int) -> dict[str, torch.Tensor]:
        """``[CLS] a [SEP] b [SEP]`` with token types, longest-first truncation to ``max_length``."""
        n, m = truncate_pair_lengths(self.text1.lengths[rows], self.text2.lengths[rows], max_length - 3)
        n, m = n[:, None], m[:, None]
        width = int((n + m).max()) + 3 if len(rows) else 3
        pos = torch.arange(width)[None, :]
        first = self.text1.gather(rows, pos - 1, (pos >= 1) & (pos <= n), self.pad_id)
        in_second = (pos >= n + 2) & (pos <= n + m + 1)
        input_ids = torch.where(
            in_second, self.text2.gather(rows, pos - n - 2, in_second, self.pad_id), first
        )
        input_ids[:, 0] = self.cls_id
        input_ids.scatter_(1, n + 1, self.sep_id)
        input_ids.scatter_(1, n + m + 2, self.sep_id)
        types = ((pos >= n + 2) & (pos <= n + m + 2)).long()
        return {"input_ids": input_ids, "token_type_ids": types, "attention_mask": (pos <= n + m + 2).long()}

    def single_inputs(self, seqs: list[torch.Tensor], max_length: int) -> dict[str, torch.Tensor]:
        """Single-sentence inputs of arbitrary id tensors ``seqs`` (packed first)."""
        return self.sentence_inputs(Ragged.from_list(seqs), torch.arange(len(seqs)), max_length)

    def batch(self, index: list[int] | torch.Tensor, max_length: int, pair_input: str = "siamese") -> dict:
        """Tensors for the examples ``index``: ``inputs`` (single or cross-encoder pair), or ``inputs1``
        and ``inputs2`` (Siamese pair), and ``labels``."""
        rows = torch.as_tensor(index, dtype=torch.long)
        out: dict = {"labels": self.labels[rows]}
        if self.text2 is None:
            out["inputs"] = self.sentence_inputs(self.text1, rows, max_length)
        elif pair_input == "cross":
            out["inputs"] = self._cross(rows, max_length)
        else:
            out["inputs1"] = self.sentence_inputs(self.text1, rows, max_length)
            out["inputs2"] = self.sentence_inputs(self.text2, rows, max_length)
        return out

    def eval_batches(self, batch_size: int) -> list[torch.Tensor]:
        """Example indices in batches of similar length (less padding); callers restore file order."""
        order = torch.sort(self.length_tensor(), stable=True).indices
        return list(order.split(batch_size))


def truncate_pair(a: torch.Tensor, b: torch.Tensor, budget: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Drop tokens from the end of the longer sentence until both fit in ``budget`` (longest first)."""
    n, m = (int(x) for x in truncate_pair_lengths(torch.tensor([len(a)]), torch.tensor([len(b)]), budget))
    return a[:n], b[:m]


def truncate_pair_lengths(n: torch.Tensor, m: torch.Tensor, budget: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Kept lengths of pairs of sentences of ``n`` and ``m`` tokens under the tokenizer's longest-first
    truncation to ``budget`` tokens: the longer one is cut until both are equally long, then they are cut
    in turn, the sentence that did not start longer first (so on an odd budget the one that started longer
    keeps the extra token)."""
    short = torch.minimum(n, m)
    over = n + m > budget
    # The shorter sentence survives whole when the longer one can absorb the whole cut.
    keep_short = budget >= 2 * short
    half_first = torch.where(n > m, budget - budget // 2, torch.full_like(n, budget // 2))
    n_cut = torch.where(keep_short, torch.where(n > m, budget - m, n), half_first)
    m_cut = torch.where(keep_short, torch.where(n > m, m, budget - n), budget - half_first)
    return torch.where(over, n_cut, n), torch.where(over, m_cut, m)


def bucket_by_length(
    plan: list[tuple[str, torch.Tensor]],
    lengths: dict[str, torch.Tensor],
    window: int,
    generator: torch.Generator,
) -> list[tuple[str, torch.Tensor]]:
    """The steps of ``plan`` with each task's examples regrouped by length: within every ``window``
    consecutive batches of one task, the examples are sorted by length, cut again into batches of the
    plan's sizes, and those batches are shuffled among the task's steps of that window. The task of every
    step, the number of steps and each task's examples per window are unchanged; less goes to padding.
    ``window`` of 0 or 1 returns the plan as it is."""
    if window <= 1:
        return plan
    out = list(plan)
    steps_of: dict[str, list[int]] = {}
    for step, (task, _) in enumerate(plan):
        steps_of.setdefault(task, []).append(step)
    for task, steps in steps_of.items():
        for start in range(0, len(steps), window):
            slots = steps[start : start + window]
            pooled = torch.cat([plan[s][1] for s in slots])
            pooled = pooled[torch.sort(lengths[task][pooled], stable=True).indices]
            pieces = pooled.split([len(plan[s][1]) for s in slots])
            for slot, k in zip(slots, torch.randperm(len(slots), generator=generator).tolist(), strict=True):
                out[slot] = (task, pieces[k])
    return out
