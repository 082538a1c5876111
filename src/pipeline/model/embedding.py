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
        out = self.encoder(**encoder_inputs(self.encoder, inputs))
        if self.pooling == "pooler":
            return out.pooler_output
        states = out.last_hidden_state
        if self.pooling == "cls":
            return states[:, 0]
        mask = inputs["attention_mask"].unsqueeze(-1).to(states.dtype)
        return (states * mask).sum(1) / mask.sum(1).clamp_min(1.0)


def encoder_inputs(encoder: nn.Module, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """``inputs`` with an SDPA encoder's padding mask ``[B, L]`` given as the boolean ``[B, 1, 1, L]`` mask
    SDPA applies (True: attend), which ``transformers`` passes on as it is. Given the 2D mask, it would first
    ask whether the mask has any padding at all (``mask.all()`` in a Python ``if``), a host synchronisation
    on every encoder call on a GPU; the attention computed is the same."""
    mask = inputs.get("attention_mask")
    attention = getattr(getattr(encoder, "config", None), "_attn_implementation", None)
    if mask is None or mask.dim() != 2 or attention != "sdpa":
        return inputs
    return {**inputs, "attention_mask": mask[:, None, None, :].bool()}
