"""Which task each training step draws its batch from: round-robin, square-root and annealed sampling.

* ``round-robin`` (Beyond BERT's baseline): tasks take turns, one batch each, for as many rounds as the
  *smallest* task has batches: the larger tasks are downsampled, a fresh random part of them every epoch.
* ``round-robin-cycle`` (the second study): tasks take turns until the *largest* task is exhausted; a smaller
  task starts again from a new shuffle when it runs out.
* ``sqrt`` and ``annealed`` (BERT and PALs): each step draws task i with probability p_i proportional to
  N_i ** alpha (times an optional up-weighting factor), alpha = 0.5 for ``sqrt`` and
  alpha = 1 - 0.8 (e - 1) / (E - 1) in epoch e of E for ``annealed``, for ``steps_per_epoch`` steps.

A plan depends only on (seed, epoch), so a resumed job rebuilds exactly the plan it was following.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from pipeline.config import steps_in_epoch

METHODS = ("round-robin", "round-robin-cycle", "sqrt", "annealed")


def annealed_alpha(epoch: int, epochs: int) -> float:
    """alpha for epoch ``epoch`` (1-based) of ``epochs``: 1 in the first epoch, 0.2 in the last."""
    if not 1 <= epoch <= epochs:
        raise ValueError(f"epoch {epoch} outside 1..{epochs}")
    return 1.0 if epochs == 1 else 1.0 - 0.8 * (epoch - 1) / (epochs - 1)


def task_probabilities(
    sizes: dict[str, int], alpha: float, upweight: dict[str, float] | None = None
) -> dict[str, float]:
    """p_i proportional to upweight_i * N_i ** alpha, normalised to sum to 1."""
    upweight = upweight or {}
    raw = {t: upweight.get(t, 1.0) * n**alpha for t, n in sizes.items()}
    total = sum(raw.values())
    return {t: w / total for t, w in raw.items()}


def _generator(seed: int, epoch: int, salt: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch * 1009 + salt)


def _batches(n: int, batch_size: int, gen: torch.Generator) -> Iterator[torch.Tensor]:
    """Endless batches of a task: a fresh shuffle each time the task is exhausted."""
    while True:
        yield from torch.randperm(n, generator=gen).split(batch_size)


def epoch_plan(
    method: str,
    sizes: dict[str, int],
    batch_size: int,
    epoch: int,
    epochs: int,
    seed: int,
    steps_per_epoch: int | None = None,
    upweight: dict[str, float] | None = None,
) -> list[tuple[str, torch.Tensor]]:
    """The (task, example indices) of every step of epoch ``epoch`` (1-based)."""
    tasks = list(sizes)
    streams = {t: _batches(sizes[t], batch_size, _generator(seed, epoch, i)) for i, t in enumerate(tasks)}
    if method in ("round-robin", "round-robin-cycle"):
        rounds = steps_in_epoch(method, sizes, batch_size) // len(tasks)
        return [(t, next(streams[t])) for _ in range(rounds) for t in tasks]
    if method not in ("sqrt", "annealed"):
        raise ValueError(f"unknown sampling method {method!r}; known: {', '.join(METHODS)}")
    if not steps_per_epoch:
        raise ValueError(f"sampling {method!r} needs steps_per_epoch")
    draws = task_draws(method, sizes, epoch, epochs, seed, steps_per_epoch, upweight)
    return [(tasks[i], next(streams[tasks[i]])) for i in draws.tolist()]


def task_draws(
    method: str,
    sizes: dict[str, int],
    epoch: int,
    epochs: int,
    seed: int,
    steps_per_epoch: int,
    upweight: dict[str, float] | None = None,
) -> torch.Tensor:
    """The task (its index in ``sizes``) of every step of an epoch of ``sqrt`` or ``annealed`` sampling;
    the cost plan counts them without drawing any batch."""
    alpha = 0.5 if method == "sqrt" else annealed_alpha(epoch, epochs)
    probs = task_probabilities(sizes, alpha, upweight)
    weights = torch.tensor([probs[t] for t in sizes], dtype=torch.float64)
    return torch.multinomial(
        weights, steps_per_epoch, replacement=True, generator=_generator(seed, epoch, 99)
    )
