"""A sentence embedding: an encoder and how its token states are pooled into one vector per sentence.

``pooling``: ``cls`` (last hidden state of [CLS]), ``pooler`` (BERT's pooler output, as minBERT's classifier
uses) or ``mean`` (mean of the token states, padding excluded, how sentence-transformers models such as
all-MiniLM were trained).

MNRL pre-training (:mod:`pipeline.training.pretrain`) and the zero-shot row
(:mod:`pipeline.evaluation.zero_shot`) use it as it is; the multitask model
(:class:`pipeline.model.heads.MultitaskModel`) is one with task heads on top, so all three embed a sentence
the same way. Its only submodule is ``encoder``: state-dict keys are ``encoder.*``, as the saved models and
checkpoints have them.
"""

from __future__ import annotations

import torch
from torch import nn

POOLINGS = ("cls", "pooler", "mean")


class SentenceEmbedder(nn.Module):
    def __init__(self, encoder: nn.Module, pooling: str):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; known: {', '.join(POOLINGS)}")
        self.encoder = encoder
        self.pooling = pooling

    def embed(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        """One vector per sentence of a batch of encoder inputs ([B, H])."""
        out = self.encoder(**inputs)
        if self.pooling == "pooler":
            return out.pooler_output
        states = out.last_hidden_state
        if self.pooling == "cls":
            return states[:, 0]
        mask = inputs["attention_mask"].unsqueeze(-1).to(states.dtype)
        return (states * mask).sum(1) / mask.sum(1).clamp_min(1.0)
