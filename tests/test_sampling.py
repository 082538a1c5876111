"""Tests of pipeline.training.sampling: annealing schedule, task probabilities and per-epoch plans."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch

from pipeline.training.sampling import annealed_alpha, epoch_plan, task_probabilities

SIZES = {"sst": 50, "para": 200, "sts": 25}  # 5, 20 and 3 batches of 10
BS = 10


def _tasks(plan) -> list[str]:
    return [task for task, _ in plan]


def _indices(plan, task: str) -> list[torch.Tensor]:
    return [index for t, index in plan if t == task]


def _same_plan(p, q) -> bool:
    return len(p) == len(q) and all(a == c and torch.equal(b, d) for (a, b), (c, d) in zip(p, q, strict=True))


# -- annealed alpha ------------------------------------------------------------------------------------
def test_annealed_alpha_endpoints_and_linear() -> None:
    assert annealed_alpha(1, 10) == 1.0
    assert annealed_alpha(10, 10) == pytest.approx(0.2)
    assert annealed_alpha(4, 7) == pytest.approx(1 - 0.8 * 3 / 6)
    values = [annealed_alpha(e, 9) for e in range(1, 10)]
    steps = [b - a for a, b in zip(values, values[1:], strict=False)]
    assert steps == pytest.approx([-0.1] * 8)  # linear: equal decrements of 0.8 / (E - 1)
    assert annealed_alpha(1, 1) == 1.0


@pytest.mark.parametrize(("epoch", "epochs"), [(0, 5), (6, 5), (-1, 3), (2, 1)])
def test_annealed_alpha_out_of_range(epoch: int, epochs: int) -> None:
    with pytest.raises(ValueError):
        annealed_alpha(epoch, epochs)


# -- task probabilities --------------------------------------------------------------------------------
def test_task_probabilities_by_hand() -> None:
    sizes = {"a": 100, "b": 400}
    assert task_probabilities(sizes, 1.0) == pytest.approx({"a": 0.2, "b": 0.8})
    assert task_probabilities(sizes, 0.5) == pytest.approx({"a": 1 / 3, "b": 2 / 3})  # sqrt: 10 vs 20
    assert task_probabilities(sizes, 0.0) == pytest.approx({"a": 0.5, "b": 0.5})
    three = {"sst": 100, "para": 900, "sts": 400}
    assert task_probabilities(three, 0.5) == pytest.approx({"sst": 10 / 60, "para": 30 / 60, "sts": 20 / 60})


def test_task_probabilities_upweight_renormalised() -> None:
    sizes = {"sst": 100, "para": 400, "sts": 100}
    probs = task_probabilities(sizes, 1.0, {"sst": 4})
    # raw weights 4 * 100, 400, 100 -> 4/9, 4/9, 1/9
    assert probs == pytest.approx({"sst": 4 / 9, "para": 4 / 9, "sts": 1 / 9})
    assert sum(probs.values()) == pytest.approx(1.0)
    assert task_probabilities(sizes, 1.0, {}) == task_probabilities(sizes, 1.0, None)


# -- round-robin ---------------------------------------------------------------------------------------
def test_round_robin_visits_every_task_in_turn() -> None:
    plan = epoch_plan("round-robin", SIZES, BS, epoch=1, epochs=3, seed=0)
    rounds = min(math.ceil(n / BS) for n in SIZES.values())
    assert rounds == 3
    assert _tasks(plan) == ["sst", "para", "sts"] * rounds  # not stuck on task 0 (the Bert-n-Pals bug)
    # the smallest task is used exactly once; the larger ones are a random part without repeats
    assert sorted(torch.cat(_indices(plan, "sts")).tolist()) == list(range(SIZES["sts"]))
    for task in ("sst", "para"):
        seen = torch.cat(_indices(plan, task)).tolist()
        assert len(seen) == rounds * BS and len(set(seen)) == len(seen)
        assert all(0 <= i < SIZES[task] for i in seen)
    assert all(len(index) <= BS for _, index in plan)


def test_round_robin_cycle_restarts_small_tasks() -> None:
    plan = epoch_plan("round-robin-cycle", SIZES, BS, epoch=2, epochs=3, seed=0)
    rounds = max(math.ceil(n / BS) for n in SIZES.values())
    assert rounds == 20
    assert _tasks(plan) == ["sst", "para", "sts"] * rounds
    # the largest task: every example exactly once
    assert sorted(torch.cat(_indices(plan, "para")).tolist()) == list(range(SIZES["para"]))
    for task in ("sst", "sts"):
        batches = _indices(plan, task)
        per_cycle = math.ceil(SIZES[task] / BS)
        cycles = [batches[i : i + per_cycle] for i in range(0, len(batches), per_cycle)]
        full = [c for c in cycles if len(c) == per_cycle]
        assert len(full) == rounds // per_cycle
        orders = []
        for cycle in full:  # each cycle uses every index once ...
            order = torch.cat(cycle).tolist()
            assert sorted(order) == list(range(SIZES[task]))
            orders.append(order)
        assert len({tuple(o) for o in orders}) > 1  # ... in a fresh shuffle


def test_round_robin_epochs_differ_and_repeat() -> None:
    first = epoch_plan("round-robin", SIZES, BS, epoch=1, epochs=3, seed=0)
    assert _same_plan(first, epoch_plan("round-robin", SIZES, BS, epoch=1, epochs=3, seed=0))
    assert not _same_plan(first, epoch_plan("round-robin", SIZES, BS, epoch=2, epochs=3, seed=0))
    assert not _same_plan(first, epoch_plan("round-robin", SIZES, BS, epoch=1, epochs=3, seed=1))


# -- sqrt and annealed ---------------------------------------------------------------------------------
def _shares(plan) -> dict[str, float]:
    counts = Counter(_tasks(plan))
    return {t: counts[t] / len(plan) for t in SIZES}


def test_sqrt_steps_and_frequencies() -> None:
    plan = epoch_plan("sqrt", SIZES, BS, epoch=1, epochs=2, seed=0, steps_per_epoch=12000)
    assert len(plan) == 12000
    expected = task_probabilities(SIZES, 0.5)
    for task, share in _shares(plan).items():
        assert share == pytest.approx(expected[task], abs=0.015)


def test_annealed_shifts_towards_uniform() -> None:
    epochs, steps = 5, 12000
    first = epoch_plan("annealed", SIZES, BS, epoch=1, epochs=epochs, seed=3, steps_per_epoch=steps)
    last = epoch_plan("annealed", SIZES, BS, epoch=epochs, epochs=epochs, seed=3, steps_per_epoch=steps)
    assert len(first) == len(last) == steps
    s1, s5 = _shares(first), _shares(last)
    p1, p5 = task_probabilities(SIZES, 1.0), task_probabilities(SIZES, 0.2)
    for task in SIZES:
        assert s1[task] == pytest.approx(p1[task], abs=0.015)
        assert s5[task] == pytest.approx(p5[task], abs=0.015)
    assert s5["para"] < s1["para"] - 0.2  # the largest task loses share ...
    assert s5["sts"] > s1["sts"] + 0.1  # ... and the smallest gains it


def test_upweight_makes_a_task_more_frequent() -> None:
    args = dict(sizes=SIZES, batch_size=BS, epoch=1, epochs=4, seed=0, steps_per_epoch=6000)
    plain = _shares(epoch_plan("annealed", **args))
    weighted_plan = epoch_plan("annealed", upweight={"sst": 8}, **args)
    weighted = _shares(weighted_plan)
    expected = task_probabilities(SIZES, 1.0, {"sst": 8})  # 400, 200, 25 -> sst 0.64
    assert weighted["sst"] == pytest.approx(expected["sst"], abs=0.02)
    assert weighted["sst"] > plain["sst"] + 0.4


def test_sampled_plan_is_deterministic_per_seed_and_epoch() -> None:
    args = dict(sizes=SIZES, batch_size=BS, epochs=4, steps_per_epoch=50)
    plan = epoch_plan("annealed", epoch=2, seed=7, **args)
    assert _same_plan(plan, epoch_plan("annealed", epoch=2, seed=7, **args))
    assert not _same_plan(plan, epoch_plan("annealed", epoch=3, seed=7, **args))
    assert not _same_plan(plan, epoch_plan("annealed", epoch=2, seed=8, **args))


def test_sampled_batches_within_a_pass_are_a_permutation() -> None:
    plan = epoch_plan("sqrt", SIZES, BS, epoch=1, epochs=1, seed=0, steps_per_epoch=400)
    for task, n in SIZES.items():
        batches = _indices(plan, task)
        per_pass = math.ceil(n / BS)
        assert len(batches) >= 2 * per_pass  # at least two full passes drawn
        for start in (0, per_pass):
            order = torch.cat(batches[start : start + per_pass]).tolist()
            assert sorted(order) == list(range(n))  # no duplicates, nothing missed within one pass


def test_bad_method_and_missing_steps_raise() -> None:
    with pytest.raises(ValueError, match="unknown sampling method"):
        epoch_plan("uniform", SIZES, BS, epoch=1, epochs=1, seed=0, steps_per_epoch=10)
    for method in ("sqrt", "annealed"):
        with pytest.raises(ValueError, match="steps_per_epoch"):
            epoch_plan(method, SIZES, BS, epoch=1, epochs=1, seed=0)
    with pytest.raises(ValueError):
        epoch_plan("annealed", SIZES, BS, epoch=3, epochs=2, seed=0, steps_per_epoch=10)


@pytest.mark.parametrize(
    "method, sizes, batch, steps",
    [
        ("round-robin", {"sst": 400, "para": 600, "sts": 401}, 8, None),
        ("round-robin-cycle", {"sst": 400, "para": 600, "sts": 401}, 32, None),
        ("round-robin-cycle", {"sts": 400}, 32, None),
        ("annealed", {"sst": 400, "para": 600, "sts": 400}, 8, 36),
        ("sqrt", {"sst": 40, "para": 60}, 8, 7),
    ],
)
def test_steps_in_epoch_is_the_length_of_every_epochs_plan(method, sizes, batch, steps) -> None:
    """The config's arithmetic (min_steps) counts the steps the sampler really takes."""
    from pipeline.config import steps_in_epoch

    for epoch in (1, 2):
        plan = epoch_plan(method, sizes, batch, epoch, epochs=2, seed=3, steps_per_epoch=steps)
        assert steps_in_epoch(method, sizes, batch, steps) == len(plan)
