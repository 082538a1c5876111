"""Loss functions written on embeddings, so tests can check the formulas on fixed tensors.

* Multiple negatives ranking loss (Beyond BERT section 4, after Henderson et al. and sentence-transformers):
  for pairs (a_i, b_i), S(a_i, b_j) = scale * cos(a_i, b_j) and
  J = -1/K sum_i [S(a_i, b_i) - log sum_j exp S(a_i, b_j)], i.e. cross-entropy over the in-batch
  candidates with the matching b_i as the target.
* Cosine-similarity STS score: cos(x1, x2) with eps = 1e-8, rescaled from [-1, 1] to the label range [0, 5];
  the STS loss is the MSE between that score and the gold similarity.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

COSINE_EPS = 1e-8


def cosine_matrix(a: torch.Tensor, b: torch.Tensor, eps: float = COSINE_EPS) -> torch.Tensor:
    """cos(a_i, b_j) for every i, j, with norms clamped below at ``eps`` as in the paper."""
    a = a / a.norm(dim=-1, keepdim=True).clamp_min(eps)
    b = b / b.norm(dim=-1, keepdim=True).clamp_min(eps)
    return a @ b.T


def mnrl_loss(a: torch.Tensor, b: torch.Tensor, scale: float = 20.0) -> torch.Tensor:
    """Multiple negatives ranking loss of anchor embeddings ``a`` and positives ``b`` (both [K, H])."""
    scores = scale * cosine_matrix(a, b)
    return F.cross_entropy(scores, torch.arange(len(a), device=a.device))


def cosine_similarity_score(x1: torch.Tensor, x2: torch.Tensor, eps: float = COSINE_EPS) -> torch.Tensor:
    """The paper's STS prediction: cosine similarity of the two embeddings, rescaled to [0, 5]."""
    cos = (x1 * x2).sum(-1) / (x1.norm(dim=-1).clamp_min(eps) * x2.norm(dim=-1).clamp_min(eps))
    return (cos + 1.0) * 2.5
