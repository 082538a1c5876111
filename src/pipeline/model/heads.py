"""The multitask model: one BERT encoder, one head per task, and the ways a pair of sentences is combined.

Sentence embedding (``pooling``): ``cls`` (last hidden state of [CLS]), ``pooler`` (BERT's pooler output, as
minBERT's classifier uses) or ``mean`` (mean of the token states, how sentence-transformers models such as
all-MiniLM were trained).

Pair tasks (``para``, ``sts``), ``pair_mode``:

* ``sum``: the two sentences are encoded alone and their embeddings added (Beyond BERT's baseline);
* ``concat``: encoded alone, embeddings concatenated (Siamese network of the second study);
* ``cross``: one sequence ``[CLS] a [SEP] b [SEP]`` with token types, a cross-encoder (input concatenation).

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

from pipeline.model.losses import cosine_similarity_score
from pipeline.tasks import get_task

POOLINGS = ("cls", "pooler", "mean")
PAIR_MODES = ("sum", "concat", "cross")


def adaptor(width_in: int, width_out: int, hidden_layers: int, hidden: int, dropout: float) -> nn.Sequential:
    """Dropout before every layer, ReLU between layers, no activation after the last."""
    layers: list[nn.Module] = []
    width = width_in
    for _ in range(hidden_layers):
        layers += [nn.Dropout(dropout), nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    layers += [nn.Dropout(dropout), nn.Linear(width, width_out)]
    return nn.Sequential(*layers)


class MultitaskModel(nn.Module):
    def __init__(self, encoder: nn.Module, settings: dict):
        super().__init__()
        self.encoder = encoder
        self.tasks = list(settings["tasks"])
        self.pooling = settings["pooling"]
        self.pair_mode = settings["pair_mode"]
        self.sts_head = settings["sts_head"]
        if self.pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {self.pooling!r}; known: {', '.join(POOLINGS)}")
        if self.pair_mode not in PAIR_MODES:
            raise ValueError(f"unknown pair_mode {self.pair_mode!r}; known: {', '.join(PAIR_MODES)}")
        hidden = encoder.config.hidden_size
        pair_width = {"sum": hidden, "concat": 2 * hidden, "cross": hidden}[self.pair_mode]
        depth, dropout = settings["head_layers"], settings["dropout"]
        self.para_outputs = settings.get("para_outputs", 1)
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
        self.shared = nn.Linear(2 * hidden, 1) if settings["shared_layer"] else None

    # -- embeddings --------------------------------------------------------------------------------
    def embed(self, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
        out = self.encoder(**inputs)
        if self.pooling == "pooler":
            return out.pooler_output
        states = out.last_hidden_state
        if self.pooling == "cls":
            return states[:, 0]
        mask = inputs["attention_mask"].unsqueeze(-1).to(states.dtype)
        return (states * mask).sum(1) / mask.sum(1).clamp_min(1.0)

    def _pair(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        """(combined features, embedding 1, embedding 2) of a pair batch."""
        if self.pair_mode == "cross":
            return self.embed(batch["inputs"]), None, None
        e1, e2 = self.embed(batch["inputs1"]), self.embed(batch["inputs2"])
        return (e1 + e2 if self.pair_mode == "sum" else torch.cat([e1, e2], -1)), e1, e2

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
            features = e1 + e2 if self.pair_mode == "sum" else torch.cat([e1, e2], -1)
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
