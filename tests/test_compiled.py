"""The opt-in compiled path (config.yaml ``compile``, :mod:`pipeline.training.compiled`): off by default; the
compiled encoder computes the eager losses; checkpoints and saved models keep the eager model's keys (no
``_orig_mod.``), and a compiled run stopped mid-epoch resumes and ends where an eager run ends.

Inductor works on these CPUs (it needs a C++ compiler: gcc here), but compiling takes tens of seconds per
graph on 2 cores, so the whole-run tests use the ``aot_eager`` backend (dynamo's graph capture and
AOTAutograd's joint forward/backward graph, run by eager kernels: the wiring, with no code generated) and one
test compiles a few fixed-shape steps with inductor itself."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
from inprocess import Stopped, finetune_in
from safetensors.torch import load_file

from pipeline.evaluation.predict import to_device
from pipeline.settings import RunControl
from pipeline.training.compiled import compile_choice, compile_encoder
from pipeline.training.finetune import build_model, make_optimizer, train_step

CPU = torch.device("cpu")
CUDA = torch.device("cuda")


def test_compile_is_off_by_default(config) -> None:
    assert config["compile"] is False
    assert RunControl.from_config(config).compile is False
    assert compile_choice(False, CUDA) is None


def test_compile_choices() -> None:
    assert compile_choice(True, CUDA) == ("inductor", "reduce-overhead")  # CUDA graphs on a GPU
    assert compile_choice(True, CPU) == ("inductor", "default")
    assert compile_choice("max-autotune", CPU) == ("inductor", "max-autotune")
    assert compile_choice("aot_eager", CUDA) == ("aot_eager", None)
    with pytest.raises(ValueError, match="compile: 'fast' is not one of false, true, default"):
        compile_choice("fast", CPU)


def test_compiled_run_equals_eager_run_keeps_keys_and_resumes(
    make_settings, task_data, encoder_dir, tmp_path
):
    """aot_eager: stopped after epoch 2's step-10 checkpoint and rerun (compiled again), it ends as an
    uninterrupted eager run: the same history (to 1e-6) and weights (to 1e-6)."""
    settings = make_settings(epochs=2, batch_size=16, max_length=32, eval_batch_size=64)
    ref, _, ref_out = finetune_in(settings, task_data, encoder_dir, tmp_path / "eager")
    folder = tmp_path / "compiled"
    with pytest.raises(Stopped):
        finetune_in(
            settings,
            task_data,
            encoder_dir,
            folder,
            "checkpoint: epoch 2 step 10",
            checkpoint_every_steps=5,
            compile="aot_eager",
        )
    written = torch.load(folder / "checkpoints" / "last.pt", weights_only=True)
    assert not [k for k in written["model"] if "_orig_mod" in k]
    assert (
        written["model"].keys()
        == build_model(settings, encoder_dir, local_files_only=True).state_dict().keys()
    )
    assert not [k for k in load_file(folder / "checkpoints" / "best.safetensors") if "_orig_mod" in k]

    info, lines, out = finetune_in(
        settings, task_data, encoder_dir, folder, checkpoint_every_steps=5, compile="aot_eager"
    )
    assert lines[0].startswith("resuming after epoch 1 and 10 steps of epoch 2 from ")
    assert lines[1] == "compiling the encoder: torch.compile aot_eager (config.yaml compile)"
    assert (info["compile"], ref["compile"]) == ("aot_eager", None)
    assert json.loads(Path(out["run"]).read_text())["compile"] == "aot_eager"
    compiled, eager = (
        {
            **load_file(Path(o["model"]) / "encoder/model.safetensors"),
            **load_file(Path(o["model"]) / "heads.safetensors"),
        }
        for o in (out, ref_out)
    )
    assert compiled.keys() == eager.keys()
    for name, value in eager.items():
        torch.testing.assert_close(compiled[name], value, rtol=1e-6, atol=1e-6, msg=name)
    histories = [pd.read_csv(o["history"]).drop(columns="epoch_seconds") for o in (out, ref_out)]
    pd.testing.assert_frame_equal(*histories, check_exact=False, rtol=1e-6, atol=1e-6)


@pytest.mark.skipif(
    not (shutil.which("g++") or shutil.which("c++")), reason="inductor's CPU code needs a C++ compiler"
)
def test_inductor_losses_equal_eager_losses(make_settings, task_data, encoder_dir, monkeypatch):
    """Four training steps of the tiny BERT (SST, Siamese paraphrase, cross-encoded pairs use the same
    encoder), one batch shape: the losses of the inductor-compiled encoder equal the eager ones to a relative
    1e-4 (measured: about 1e-7). Dropout stays on; ``fallback_random`` makes inductor draw its masks from
    torch's generator as eager does (by default it has its own, so masks, not the computation, differ)."""
    import torch._inductor.config as inductor

    monkeypatch.setattr(inductor, "fallback_random", True)
    settings = make_settings(tasks=["sst"], max_length=32)
    data = task_data["train"]["sst"]
    batch = to_device(data.batch(torch.arange(8), settings.max_length), CPU)

    def losses(compiled: bool) -> list[float]:
        model = build_model(settings, encoder_dir, local_files_only=True).train()
        if compiled:
            assert compile_encoder(model, "default", CPU) == "inductor/default"
        optimizer = make_optimizer(model, settings)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
        torch.manual_seed(1)
        out = [train_step(model, optimizer, scheduler, "sst", copy.deepcopy(batch), CPU) for _ in range(4)]
        return [float(v) for v in out]

    eager, compiled = losses(False), losses(True)
    torch._dynamo.reset()
    assert compiled == pytest.approx(eager, rel=1e-4, abs=1e-6)
    assert len(set(eager)) == 4  # the steps trained: four different losses
