"""The multitask model: one BERT encoder, one head per task, and the ways a pair of sentences is combined.

Sentence embedding (``pooling``): :class:`pipeline.model.embedding.SentenceEmbedder`, which this model
extends with the heads (``cls``, ``pooler`` or ``mean``).

Pair tasks (``para``, ``sts``), ``pair_mode``:

* ``sum``: the two sentences are encoded alone and their embeddings added (Beyond BERT's baseline);
* ``concat``: encoded alone, embeddings concatenated (Siamese network of the second study);
* ``cross``: one sequence ``[CLS] a [SEP] b [SEP]`` with token types, a cross-encoder (input concatenation).

``pair_features: interaction`` (a scale's departure, not the papers': docs/fidelity.md) lets the heads of a
Siamese pair mode also read the element-wise product ``u*v`` and distance ``|u-v|`` of the two embeddings (the
features of Sentence-BERT's classification objective), from which a linear head can express a similarity.

``sts_head: cosine`` replaces the STS layer by the cosine similarity of the two embeddings rescaled to [0, 5]
(needs a Siamese pair mode). ``shared_layer`` adds a trainable layer shared by the paraphrase and STS heads:
it reads the concatenated embeddings, and its output is added to each task's own output (Beyond BERT 4).

Each head is an MLP adaptor: dropout before every layer, ``head_layers`` hidden ReLU layers of width H, then
the output layer (5 logits for SST, 2 for CFIMDB, 1 value for STS trained with MSE; for paraphrase one logit
trained with BCE, as in Beyond BERT, or with ``para_outputs: 2`` two logits trained with cross-entropy, as in
the second study).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from pipeline.model.embedding import SentenceEmbedder
from pipeline.model.losses import cosine_similarity_score
from pipeline.settings import Heads
from pipeline.tasks import get_task

PAIR_MODES = ("sum", "concat", "cross")
PAIR_FEATURES = ("plain", "interaction")


def adaptor(width_in: int, width_out: int, hidden_layers: int, hidden: int, dropout: float) -> nn.Sequential:
    """Dropout before every layer, ReLU between layers, no activation after the last."""
    layers: list[nn.Module] = []
    width = width_in
    for _ in range(hidden_layers):
        layers += [nn.Dropout(dropout), nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    layers += [nn.Dropout(dropout), nn.Linear(width, width_out)]
    return nn.Sequential(*layers)


class MultitaskModel(SentenceEmbedder):
    """The encoder's sentence embedding (``encoder.*``) with one head per task (``heads.*``) and the optional
    shared layer (``shared.*``); the heads are initialised in task order from torch's current seed."""

    def __init__(self, encoder: nn.Module, heads: Heads):
        super().__init__(encoder, heads.pooling)
        self.tasks = list(heads.tasks)
        self.pair_mode = heads.pair_mode
        self.sts_head = heads.sts_head
        if self.pair_mode not in PAIR_MODES:
            raise ValueError(f"unknown pair_mode {self.pair_mode!r}; known: {', '.join(PAIR_MODES)}")
        self.pair_features = heads.pair_features
        if self.pair_features not in PAIR_FEATURES:
            known = ", ".join(PAIR_FEATURES)
            raise ValueError(f"unknown pair_features {self.pair_features!r}; known: {known}")
        self.interaction = self.pair_features == "interaction" and self.pair_mode != "cross"
        hidden = encoder.config.hidden_size
        pair_width = {"sum": hidden, "concat": 2 * hidden, "cross": hidden}[self.pair_mode]
        pair_width += 2 * hidden if self.interaction else 0
        depth, dropout = heads.head_layers, heads.dropout
        self.para_outputs = heads.para_outputs
        if self.para_outputs not in (1, 2):
            raise ValueError(f"para_outputs must be 1 (BCE) or 2 (cross-entropy), not {self.para_outputs!r}")
        self.heads = nn.ModuleDict()
        for name in self.tasks:
            task = get_task(name)
            if name == "sts" and self.sts_head == "cosine":
                continue  # no parameters: the cosine of the two embeddings is the prediction
            width_in = pair_width if task.pair else hidden
            width_out = 1 if task.pair else task.num_labels  # pairs: one logit (BCE) or one value (MSE)
            if name == "para" and self.para_outputs == 2:
                width_out = 2
            self.heads[name] = adaptor(width_in, width_out, depth, hidden, dropout)
        self.shared = nn.Linear(2 * hidden, 1) if heads.shared_layer else None

    @torch.no_grad()
    def set_sts_bias(self, value: float) -> None:
        """Start the STS head's output at ``value`` (its last layer's bias; no STS layer: nothing)."""
        if "sts" in self.heads:
            self.heads["sts"][-1].bias.fill_(value)

    def _pair(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """(combined features, embedding 1, embedding 2) of a pair batch."""
        if self.pair_mode == "cross":
            return self.embed(batch["inputs"]), None, None
        e1, e2 = self.embed(batch["inputs1"]), self.embed(batch["inputs2"])
        return self.combine(e1, e2), e1, e2

    def combine(self, e1: torch.Tensor, e2: torch.Tensor) -> torch.Tensor:
        """The features a Siamese pair's heads read: ``u+v`` (sum) or ``[u; v]`` (concat), then ``u*v`` and
        ``|u-v|`` with ``pair_features: interaction``."""
        parts = [e1 + e2] if self.pair_mode == "sum" else [e1, e2]
        if self.interaction:
            parts += [e1 * e2, (e1 - e2).abs()]
        return torch.cat(parts, -1) if len(parts) > 1 else parts[0]

    # -- outputs -----------------------------------------------------------------------------------
    def forward(self, task: str, batch: dict) -> torch.Tensor:
        """Logits [B, C] for multi-class tasks (and paraphrase with two outputs), one logit [B] for
        paraphrase with one output, a similarity [B] for STS."""
        if not get_task(task).pair:
            return self.heads[task](self.embed(batch["inputs"]))
        return self.pair_output(task, *self._pair(batch))

    def pair_output(
        self, task: str, features: torch.Tensor | None, e1: torch.Tensor | None, e2: torch.Tensor | None
    ) -> torch.Tensor:
        """A pair task's output from the combined features and the two sentence embeddings (Siamese) or the
        cross-encoder's features; ``features`` None: combined here (prediction embeds each side apart)."""
        if features is None:
            features = self.combine(e1, e2)
        if task == "sts" and self.sts_head == "cosine":
            out = cosine_similarity_score(e1, e2)
        elif task == "para" and self.para_outputs == 2:
            return self.heads[task](features)
        else:
            out = self.heads[task](features).squeeze(-1)
        if self.shared is not None:
            out = out + self.shared(torch.cat([e1, e2], -1)).squeeze(-1)
        return out

    def loss(self, task: str, batch: dict) -> torch.Tensor:
        out, labels = self(task, batch), batch["labels"]
        if task == "para" and self.para_outputs == 1:
            return F.binary_cross_entropy_with_logits(out.float(), labels.float())
        if task == "sts":
            return F.mse_loss(out.float(), labels.float())
        return F.cross_entropy(out.float(), labels.long())

    @torch.no_grad()
    def predict(self, task: str, batch: dict) -> torch.Tensor:
        """Predicted class ids (classification) or similarity scores (STS)."""
        return self.decision(task, self(task, batch).float())

    def decision(self, task: str, out: torch.Tensor) -> torch.Tensor:
        """Class ids (classification) or scores (STS) from a task's outputs."""
        if task == "para" and self.para_outputs == 1:
            return (out > 0).long()
        if task == "sts":
            return out
        return out.argmax(-1)
