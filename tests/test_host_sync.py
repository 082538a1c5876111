"""No host synchronisation inside a training step: nothing in the forward pass, loss, backward pass or
optimiser step of fine-tuning (every pair mode) and MNRL reads a tensor's value back to Python (``.item()``,
``float()``, ``bool()`` in an ``if``, ``.tolist()``, ``.cpu()``, ``.numpy()``). On a GPU each such read waits
for every queued kernel, so the CPU could not run ahead and queue the next step's work. Losses are kept on
the device and read at checkpoints and epoch ends only (``pipeline.training.finetune._train_epochs``).

Checked on the CPU by intercepting those calls with a ``TorchFunctionMode`` while a step runs (on the CPU a
read costs nothing, but the same Python code runs on CUDA); ``benchmarks/gpu_suite.py`` counts the real
synchronisations of a step on a GPU (``torch.cuda.set_sync_debug_mode``)."""

from __future__ import annotations

import traceback

import pytest
import torch
from torch.overrides import TorchFunctionMode

from pipeline.evaluation.predict import to_device
from pipeline.training.finetune import build_model, make_optimizer, train_step

CPU = torch.device("cpu")
READS = {
    torch.Tensor.item,
    torch.Tensor.__bool__,
    torch.Tensor.__float__,
    torch.Tensor.__int__,
    torch.Tensor.__index__,
    torch.Tensor.tolist,
    torch.Tensor.cpu,
    torch.Tensor.numpy,
}


class HostReads(TorchFunctionMode):
    """Records every call of :data:`READS` (with where it came from) while active."""

    def __init__(self):
        super().__init__()
        self.calls: list[str] = []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        if func in READS:
            self.calls.append(f"{func.__name__} at\n" + "".join(traceback.format_stack(limit=5)[:-1]))
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize(
    "changes",
    [{}, {"pair_mode": "cross"}, {"sts_head": "cosine", "shared_layer": True}, {"tuning": "lora"}],
    ids=["siamese", "cross", "cosine-shared", "lora"],
)
def test_a_finetuning_step_reads_nothing_back(make_settings, task_data, encoder_dir, changes):
    settings = make_settings(max_length=32, **changes)
    model = build_model(settings, encoder_dir, local_files_only=True).train()
    optimizer = make_optimizer(model, settings)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    pair_input = "cross" if settings.pair_mode == "cross" else "siamese"
    for task, data in task_data["train"].items():
        batch = to_device(data.batch(torch.arange(8), settings.max_length, pair_input), CPU)
        with HostReads() as reads:
            loss = train_step(model, optimizer, scheduler, task, batch, CPU)
        assert not reads.calls, f"{task}: " + "\n".join(reads.calls[:3])
        assert loss.requires_grad is False and loss.dim() == 0


def test_an_mnrl_step_reads_nothing_back_on_the_device_side(config, task_data, encoder_dir, monkeypatch):
    """The MNRL step cuts its encoder inputs from the token cache on the host (reading host tensors there
    is no synchronisation); the encoder calls, the loss and the update read nothing back."""
    from pipeline.config import resolve_pretrain
    from pipeline.model.embedding import SentenceEmbedder
    from pipeline.settings import MnrlStage
    from pipeline.training import pretrain

    settings = MnrlStage.from_dict(resolve_pretrain({**config, "scale": "smoke"}, "mnrladddata3"))
    pairs = pretrain.positive_pairs({t: task_data["train"][t] for t in settings.sources}, settings.sts_min)
    embedder = pretrain.mnrl_embedder(settings, encoder_dir, {"local_files_only": True}).train()
    optimizer = torch.optim.AdamW(embedder.parameters(), lr=settings.lr, fused=True)
    reads = HostReads()

    def watched(function):
        def run(*args, **kwargs):
            with reads:
                return function(*args, **kwargs)

        return run

    monkeypatch.setattr(SentenceEmbedder, "embed", watched(SentenceEmbedder.embed))
    monkeypatch.setattr(pretrain, "mnrl_loss", watched(pretrain.mnrl_loss))
    monkeypatch.setattr(pretrain, "backward_step", watched(pretrain.backward_step))
    loss = pretrain.mnrl_step(embedder, optimizer, pairs, torch.arange(8), settings, CPU)
    assert not reads.calls, "\n".join(reads.calls[:3])
    assert torch.isfinite(loss)
