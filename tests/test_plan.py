"""The cost plan: steps and examples exactly as the sampling plans draw them, FLOPs as torch counts them."""

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import BertConfig, BertModel

from pipeline.reporting.plan import (
    Device,
    EncoderShape,
    _examples_in,
    finetune_cost,
    forward_flops_per_token,
    steps_and_examples,
)
from pipeline.training.sampling import epoch_plan

SIZES = {"sst": 103, "para": 250, "sts": 61}


def settings(**changes):
    base = {
        "tasks": ["sst", "para", "sts"],
        "sampling": "round-robin",
        "batch_size": 8,
        "epochs": 3,
        "seed": 2,
        "steps_per_epoch": None,
        "upweight": {},
        "pair_mode": "sum",
        "max_length": 128,
        "tuning": "full",
        "train_score": False,
    }
    return {**base, **changes}


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"sampling": "round-robin-cycle"},
        {"sampling": "sqrt", "steps_per_epoch": 40},
        {"sampling": "annealed", "steps_per_epoch": 57, "upweight": {"sst": 4}},
        {"tasks": ["sts"], "batch_size": 7},
    ],
)
def test_steps_and_examples_equal_the_sampling_plans(changes):
    s = settings(**changes)
    sizes = {t: SIZES[t] for t in s["tasks"]}
    steps, examples = steps_and_examples(s, sizes)
    drawn = [
        (task, len(rows))
        for epoch in range(1, s["epochs"] + 1)
        for task, rows in epoch_plan(
            s["sampling"],
            sizes,
            s["batch_size"],
            epoch,
            s["epochs"],
            s["seed"],
            s["steps_per_epoch"],
            s["upweight"],
        )
    ]
    assert steps == len(drawn)
    assert examples == {t: sum(n for task, n in drawn if task == t) for t in s["tasks"]}


def test_examples_of_a_stream_of_batches():
    assert _examples_in(10, 4, 3) == 10  # 4 + 4 + 2
    assert _examples_in(10, 4, 4) == 14  # then a new shuffle
    assert _examples_in(8, 4, 5) == 20


@pytest.mark.parametrize("seq_len", [16, 48])
def test_forward_flops_equal_torchs_count(seq_len):
    config = BertConfig(
        vocab_size=100,
        hidden_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=128,
        max_position_embeddings=64,
        attn_implementation="eager",
    )
    model = BertModel(config, add_pooling_layer=False).eval()
    ids = torch.randint(0, 100, (3, seq_len))
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(input_ids=ids)
    expected = forward_flops_per_token(EncoderShape.from_config(config.to_dict()), seq_len) * 3 * seq_len
    assert counter.get_total_flops() == pytest.approx(expected, rel=0.01)


def test_costs_scale_with_tuning_and_epochs():
    shape = EncoderShape(12, 768, 3072)
    sizes = {t: {"train": n, "dev": 50} for t, n in SIZES.items()}
    full = finetune_cost(settings(), sizes, shape)
    lora = finetune_cost(settings(tuning="lora"), sizes, shape)
    assert lora["train_flops"] == pytest.approx(full["train_flops"] * 2 / 3)
    assert lora["eval_flops"] == full["eval_flops"]
    longer = finetune_cost(settings(epochs=6), sizes, shape)
    assert longer["steps"] == 2 * full["steps"]
    device = Device("x", 100e12, 0.5, 0.01, "assumed")
    assert device.seconds(1e14, 100) == pytest.approx(2.0 + 1.0)
