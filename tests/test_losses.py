"""Tests of pipeline.model.losses: MNRL against an explicit double loop, and the cosine STS score."""

from __future__ import annotations

import math

import pytest
import torch

from pipeline.model.losses import cosine_matrix, cosine_similarity_score, mnrl_loss


def _mnrl_by_hand(a: torch.Tensor, b: torch.Tensor, scale: float) -> float:
    """-(1/K) sum_i [S_ii - log sum_j exp S_ij], S_ij = scale * cos(a_i, b_j), with plain Python loops."""
    k = len(a)

    def cos(x: torch.Tensor, y: torch.Tensor) -> float:
        dot = sum(float(p) * float(q) for p, q in zip(x, y, strict=True))
        nx = math.sqrt(sum(float(p) ** 2 for p in x))
        ny = math.sqrt(sum(float(q) ** 2 for q in y))
        return dot / (nx * ny)

    total = 0.0
    for i in range(k):
        s = [scale * cos(a[i], b[j]) for j in range(k)]
        total += s[i] - math.log(sum(math.exp(v) for v in s))
    return -total / k


@pytest.mark.parametrize("scale", [1.0, 20.0])
def test_mnrl_matches_direct_computation(scale: float) -> None:
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(6, 8, generator=gen, dtype=torch.float64)
    b = torch.randn(6, 8, generator=gen, dtype=torch.float64)
    assert float(mnrl_loss(a, b, scale=scale)) == pytest.approx(_mnrl_by_hand(a, b, scale), rel=1e-9)


def test_mnrl_default_scale_is_20() -> None:
    gen = torch.Generator().manual_seed(1)
    a, b = torch.randn(5, 4, generator=gen), torch.randn(5, 4, generator=gen)
    assert float(mnrl_loss(a, b)) == pytest.approx(float(mnrl_loss(a, b, scale=20.0)))


def test_mnrl_lower_when_positives_align() -> None:
    gen = torch.Generator().manual_seed(2)
    a = torch.randn(8, 16, generator=gen)
    aligned = a + 0.05 * torch.randn(8, 16, generator=gen)
    shuffled = aligned[torch.roll(torch.arange(8), 1)]  # each anchor paired with another's positive
    unrelated = torch.randn(8, 16, generator=gen)
    low, mid, high = (float(mnrl_loss(a, x)) for x in (aligned, unrelated, shuffled))
    assert low < mid < high
    assert low < 0.01  # scale 20: the matching candidate dominates the softmax
    assert float(mnrl_loss(a, a)) <= low + 1e-6


def test_mnrl_scale_matters() -> None:
    gen = torch.Generator().manual_seed(3)
    a = torch.randn(6, 8, generator=gen)
    b = a + 0.3 * torch.randn(6, 8, generator=gen)
    assert float(mnrl_loss(a, b, scale=1.0)) != pytest.approx(float(mnrl_loss(a, b, scale=20.0)), rel=1e-3)
    # with scale 0 every candidate is equally likely: log K
    assert float(mnrl_loss(a, b, scale=0.0)) == pytest.approx(math.log(6))


def test_mnrl_invariant_to_embedding_norms() -> None:
    gen = torch.Generator().manual_seed(4)
    a, b = torch.randn(5, 8, generator=gen), torch.randn(5, 8, generator=gen)
    factors = torch.rand(5, 1, generator=gen) * 10 + 0.1
    assert float(mnrl_loss(a * factors, b)) == pytest.approx(float(mnrl_loss(a, b)), rel=1e-5)


def test_cosine_similarity_score_fixed_points() -> None:
    x = torch.tensor([[1.0, 2.0, 3.0], [1.0, 0.0, 0.0], [0.0, 3.0, 0.0], [1.0, -1.0, 2.0]])
    y = torch.tensor([[2.0, 4.0, 6.0], [-3.0, 0.0, 0.0], [0.0, 0.0, 5.0], [1.0, -1.0, 2.0]])
    score = cosine_similarity_score(x, y)
    assert score.shape == (4,)
    assert score.tolist() == pytest.approx([5.0, 0.0, 2.5, 5.0], abs=1e-6)
    # one in between: cos = 1/2 -> 3.75
    half = cosine_similarity_score(torch.tensor([1.0, 0.0]), torch.tensor([1.0, math.sqrt(3.0)]))
    assert float(half) == pytest.approx(3.75, abs=1e-6)


def test_cosine_similarity_score_zero_vectors() -> None:
    zero, v = torch.zeros(2, 4), torch.ones(2, 4)
    for score in (cosine_similarity_score(zero, v), cosine_similarity_score(zero, zero)):
        assert torch.isfinite(score).all()
        assert score.tolist() == pytest.approx([2.5, 2.5])
    x = torch.zeros(1, 4, requires_grad=True)
    cosine_similarity_score(x, torch.ones(1, 4)).sum().backward()
    assert torch.isfinite(x.grad).all()
    matrix = cosine_matrix(torch.zeros(2, 3), torch.randn(3, 3))
    assert torch.isfinite(matrix).all() and (matrix == 0).all()


def test_cosine_score_in_range_for_random_vectors() -> None:
    gen = torch.Generator().manual_seed(5)
    score = cosine_similarity_score(torch.randn(200, 16, generator=gen), torch.randn(200, 16, generator=gen))
    assert (score >= 0).all() and (score <= 5).all()
    matrix = cosine_matrix(torch.randn(4, 16, generator=gen), torch.randn(3, 16, generator=gen))
    assert matrix.shape == (4, 3) and (matrix.abs() <= 1 + 1e-6).all()
