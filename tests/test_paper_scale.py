"""What a paper-scale run on a cluster relies on: the pinned encoder fetch, GPU-only jobs, precision, code
provenance of checkpoints, the checkpoint lock, trainable-only checkpoints, progress lines, attempt logs."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path

import pytest
import torch
from fakehub import FakeHub
from inprocess import CPU, LOAD, Stopped, finetune_in, run_control

from pipeline.jobs import history_path, start
from pipeline.model import device as devices
from pipeline.model.encoders import FetchError, fetch_hub_encoder, sha256_file
from pipeline.training.checkpoints import CheckpointLocked, Checkpoints, CodeChanged, RunState
from pipeline.training.progress import Attempt, Progress

pytestmark = pytest.mark.e2e  # starts whole workflows or subprocess jobs: not in the fast loop

REPO, REVISION = "org/tiny", "89abcdef0123456789abcdef0123456789abcdef"


# -- the encoder fetch ----------------------------------------------------------------------------------
def spec_for(encoder_dir, **changes) -> dict:
    files = sorted(p.name for p in Path(encoder_dir).iterdir())
    sha = {"model.safetensors": sha256_file(Path(encoder_dir) / "model.safetensors")}
    return {"repo": REPO, "revision": REVISION, "files": files, "sha256": sha, **changes}


def test_fetch_downloads_only_the_listed_files_at_the_pinned_revision(encoder_dir, tmp_path):
    spec = spec_for(encoder_dir, files=["config.json", "model.safetensors", "tokenizer.json", "vocab.txt"])
    with FakeHub(encoder_dir, REPO, REVISION) as hub:
        manifest = fetch_hub_encoder(tmp_path / "enc", spec, endpoint=hub.url, log=lambda m: None)
    out = tmp_path / "enc"
    assert sorted(p.name for p in out.iterdir()) == sorted([*spec["files"], "manifest.json"])
    assert {path for _, path in hub.requests} == {f"/{REPO}/resolve/{REVISION}/{f}" for f in spec["files"]}
    for name in spec["files"]:
        assert manifest["files"][name]["sha256"] == sha256_file(Path(encoder_dir) / name)
        assert (out / name).read_bytes() == (Path(encoder_dir) / name).read_bytes()
    assert json.loads((out / "manifest.json").read_text())["revision"] == REVISION
    assert sorted(p.name for p in tmp_path.iterdir()) == ["enc"]  # no temporary folder left


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda hub, spec: hub.corrupt.add("model.safetensors"), "model.safetensors: sha256"),
        (lambda hub, spec: hub.fail.update({"vocab.txt": 404}), "could not download vocab.txt"),
        (lambda hub, spec: hub.fail.update({"config.json": 403}), "could not download config.json"),
        (lambda hub, spec: spec.update(revision="main"), "is not a 40-hex commit hash"),
        (lambda hub, spec: spec.update(files=["config.json", "model.safetensors"]), "tokenizer has 5 tokens"),
    ],
)
def test_fetch_of_a_broken_source_stops_and_leaves_nothing(encoder_dir, tmp_path, breakage, message):
    spec = spec_for(encoder_dir)
    with FakeHub(encoder_dir, REPO, REVISION) as hub:
        breakage(hub, spec)
        with pytest.raises(FetchError, match=message):
            fetch_hub_encoder(tmp_path / "enc", spec, endpoint=hub.url, log=lambda m: None, retries=1)
    assert list(tmp_path.iterdir()) == []


# -- device and precision ------------------------------------------------------------------------------
def test_cpu_only_at_paper_settings_stops(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(devices.CudaRequired, match="finetune x needs a CUDA GPU"):
        devices.pick_device(require_cuda=True, where="finetune x")
    assert devices.pick_device(require_cuda=False) == CPU


def test_precision_is_bf16_only_where_the_gpu_has_it(monkeypatch):
    cuda = torch.device("cuda")
    assert devices.choose_precision("auto", CPU) == "fp32"
    with pytest.raises(ValueError, match="fp16 needs a CUDA GPU"):
        devices.choose_precision("fp16", CPU)
    assert devices.choose_precision("bf16", CPU) == "bf16"  # asked for: CPU autocast (quick scale)
    assert devices.autocast(CPU, "bf16").fast_dtype == torch.bfloat16
    assert not devices.autocast(CPU, "fp32")._enabled
    monkeypatch.setattr(devices, "native_bf16", lambda d: True)
    assert devices.choose_precision("auto", cuda) == "bf16"
    assert devices.choose_precision("fp32", cuda) == "fp32"
    monkeypatch.setattr(devices, "native_bf16", lambda d: False)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda d=None: "Tesla T4")
    assert devices.choose_precision("auto", cuda) == "fp16"  # with a gradient scaler
    with pytest.raises(ValueError, match="Tesla T4 has no native bf16"):
        devices.choose_precision("bf16", cuda)
    assert not devices.grad_scaler(CPU, "fp16").is_enabled()  # the scaler is for CUDA fp16 only


# -- checkpoints ---------------------------------------------------------------------------------------
def tiny_state():
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 1.0)
    return model, optimizer, scheduler


def test_a_checkpoint_of_other_code_is_not_resumed_silently(tmp_path):
    model, optimizer, scheduler = tiny_state()
    Checkpoints(tmp_path, "fp", code="aaaa").save(model, optimizer, scheduler, RunState(epoch=3))
    lines = []
    with pytest.raises(
        CodeChanged, match="written by library code aaaa, this is bbbb.*resume_other_code=true"
    ):
        Checkpoints(tmp_path, "fp", code="bbbb", log=lines.append).load(*tiny_state())
    told = Checkpoints(tmp_path, "fp", code="bbbb", resume_other_code=True, log=lines.append)
    assert told.load(*tiny_state()).epoch == 3
    assert any("other library code (aaaa, now bbbb)" in line for line in lines)
    # other settings: ignored (the run starts over), and the log says so
    assert Checkpoints(tmp_path, "other", code="aaaa", log=lines.append).load(*tiny_state()) is None
    assert "belongs to other settings" in lines[-1]


def test_a_training_run_refuses_a_checkpoint_of_other_code(
    make_settings, task_data, encoder_dir, tmp_path, monkeypatch
):
    import pipeline.training.finetune as training

    settings = make_settings(epochs=2, batch_size=16, max_length=32)
    outputs = {k: str(tmp_path / f"{k}.out") for k in ("model", "history", "run")}

    def stop_after_epoch_1(message):  # epoch 1's checkpoint is written; epoch 2's not yet
        if message.startswith("epoch 2/"):
            raise KeyboardInterrupt

    args = (settings, task_data["train"], task_data["dev"], encoder_dir, outputs, str(tmp_path / "ckpt"), CPU)
    with pytest.raises(KeyboardInterrupt):
        training.train(*args, stop_after_epoch_1, LOAD, control=run_control())
    monkeypatch.setattr(training, "code_hash", lambda: "0000changed0000")
    with pytest.raises(CodeChanged, match="this is 0000changed0000"):
        training.train(*args, lambda m: None, LOAD, control=run_control())
    assert not Path(outputs["run"]).exists()


LOCK_PROBE = """
import sys
from pipeline.training.checkpoints import Checkpoints, CheckpointLocked
try:
    Checkpoints(sys.argv[1], "fp").acquire()
except CheckpointLocked as error:
    print(error)
    sys.exit(3)
print("acquired")
"""


def test_two_runs_of_one_experiment_cannot_both_train(tmp_path):
    def probe():
        return subprocess.run(
            [sys.executable, "-c", LOCK_PROBE, str(tmp_path / "ckpt")],
            capture_output=True,
            text=True,
            timeout=60,
        )

    with Checkpoints(tmp_path / "ckpt", "fp"):
        other = probe()
        assert other.returncode == 3, other.stderr
        assert "another run of this experiment is training into this folder" in other.stdout
        assert '"pid": ' in other.stdout  # the holder is named
    assert probe().stdout.strip() == "acquired"  # released with the run
    assert issubclass(CheckpointLocked, RuntimeError)


def test_missing_best_weights_is_an_error_not_the_last_epoch(tmp_path):
    model, _, _ = tiny_state()
    with pytest.raises(FileNotFoundError, match="refusing to save the last epoch"):
        Checkpoints(tmp_path, "fp").restore_best(model)


def test_lora_checkpoints_hold_trainable_weights_only_and_resume_exactly(
    make_settings, task_data, encoder_dir, tmp_path
):
    settings = make_settings(epochs=2, batch_size=16, max_length=32, tuning="lora", lr=1e-3)
    ref, _, ref_out = finetune_in(settings, task_data, encoder_dir, tmp_path / "ref")
    folder = tmp_path / "run"
    with pytest.raises(Stopped):
        finetune_in(
            settings, task_data, encoder_dir, folder, "checkpoint: epoch 2 step 10", checkpoint_every_steps=5
        )
    payload = torch.load(folder / "checkpoints" / "last.pt", weights_only=True)
    assert payload["weights"] == "trainable"
    assert payload["model"] and all("lora_" in k or "encoder." not in k for k in payload["model"])
    from transformers import BertModel

    everything = BertModel.from_pretrained(encoder_dir).state_dict()  # the frozen encoder alone
    assert len(payload["model"]) < len(everything) / 2
    info, lines, out = finetune_in(settings, task_data, encoder_dir, folder, checkpoint_every_steps=5)
    assert lines[0].startswith("resuming after epoch 1 and 10 steps of epoch 2")
    # the saved adapter and heads (the model card's times differ between the runs) are byte for byte the same
    for name in ("adapter/adapter_model.safetensors", "heads.safetensors"):
        saved, reference = Path(out["model"]) / name, Path(ref_out["model"]) / name
        assert saved.read_bytes() == reference.read_bytes(), name
    # time and memory add up over the attempts
    assert info["attempts"] == 2 and ref["attempts"] == 1
    assert info["wall_seconds"] > info["attempt_wall_seconds"] > 0
    assert info["peak_memory_bytes"] >= info["attempt_peak_memory_bytes"] > 0
    assert info["code_hash"] and info["code_hashes"] == [info["code_hash"]]
    assert info["precision"] == "fp32" and info["device_record"]["torch"] == torch.__version__


# -- what a user watching the log sees ------------------------------------------------------------------
def test_progress_lines_appear_in_the_log(make_settings, task_data, encoder_dir, tmp_path):
    settings = make_settings(epochs=2, batch_size=16, max_length=32)
    _, lines, _ = finetune_in(settings, task_data, encoder_dir, tmp_path, log_every_steps=5)
    progress = [line for line in lines if line.startswith("progress:")]
    assert len(progress) == 2 * 3  # 18 steps an epoch: steps 5, 10, 15 of each
    assert progress[0].startswith("progress: epoch 1/2 step 5/18 | run step 5/36 | ")
    assert progress[-1].startswith("progress: epoch 2/2 step 15/18 | run step 33/36 | ")
    assert all("examples/s | epoch ETA " in line and "| run ETA " in line for line in progress)


def test_progress_rates_and_etas():
    clock = iter([0.0, 0.0, 5.0, 10.0]).__next__  # built, epoch start, steps 10 and 20
    lines = []
    progress = Progress(total_steps=100, every=10, batch_size=8, log=lines.append, clock=clock)
    progress.start_epoch(1, 2, 50, 0)
    for step in range(1, 21):
        progress.step(step)
    # 10 steps in 5 s: 2 steps/s, 16 examples/s; 40 steps of the epoch left at step 10: 20 s
    assert lines[0] == (
        "progress: epoch 1/2 step 10/50 | run step 10/100 | 16.0 examples/s | epoch ETA 0:00:20 | "
        "run ETA 0:00:45"
    )
    assert len(lines) == 2 and "run step 20/100" in lines[1]


def test_attempt_totals_continue_a_restored_state():
    ticks = iter([100.0, 130.0]).__next__
    attempt = Attempt(clock=ticks)
    attempt.resume(RunState(wall_seconds=50.0, peak_memory_bytes=900, attempts=1, codes=["a"]))
    state = RunState(codes=["a"])
    attempt.record(state, 400, "b")
    assert (state.wall_seconds, state.peak_memory_bytes, state.attempts) == (80.0, 900, 2)
    assert state.codes == ["a", "b"]


def test_each_attempt_appends_to_the_rule_log_with_its_header(tmp_path, monkeypatch):
    log_file = tmp_path / "logs" / "finetune" / "x.log"
    monkeypatch.setenv("SLURM_JOB_ID", "4242")
    hook = sys.excepthook
    try:
        job = types.SimpleNamespace(log=[str(log_file)], threads=1, rule="finetune")
        start(job, offline=False)("first attempt's line")
        log_file.unlink()  # what Snakemake does before a job's next attempt
        log = start(job, offline=False)
        log("second attempt's line")
        try:
            raise RuntimeError("out of memory")
        except RuntimeError:
            sys.excepthook(*sys.exc_info())
    finally:
        sys.excepthook = hook
    text = log_file.read_text()
    assert text.startswith("=== attempt 1 (rule finetune, host ")
    assert "SLURM job 4242" in text and "=== attempt 2 (rule finetune" in text
    assert text.index("first attempt's line") < text.index("=== attempt 2") < text.index("second attempt")
    assert "Traceback" in text and "RuntimeError: out of memory" in text
    assert history_path(log_file).read_text() == text


def test_jobs_close_the_hub(monkeypatch):
    import os

    import huggingface_hub.constants

    for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE"):
        monkeypatch.setenv(var, "0")  # recorded, so the variable is restored (or removed) afterwards
        monkeypatch.delenv(var)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", huggingface_hub.constants.HF_HUB_OFFLINE)
    hook = sys.excepthook
    try:
        start(types.SimpleNamespace(log=[], threads=1, rule="tokens"))
    finally:
        sys.excepthook = hook
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert huggingface_hub.constants.HF_HUB_OFFLINE is True


def test_the_scaled_step_of_fp16_equals_the_plain_step():
    """The gradient-scaler path (fp16 on CUDA) exercised on the CPU: the same update as without scaling, and
    a step with overflowing gradients is skipped."""
    from pipeline.model.device import backward_step

    def step(scaler, poison=False):
        torch.manual_seed(0)
        layer = torch.nn.Linear(4, 1)
        optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
        loss = layer(torch.ones(2, 4)).sum() * (float("inf") if poison else 1.0)
        backward_step(loss, optimizer, scaler)
        return layer.weight.detach().clone()

    torch.manual_seed(0)
    untouched = torch.nn.Linear(4, 1).weight.detach().clone()
    plain = step(None)
    assert not torch.equal(plain, untouched)
    assert torch.allclose(plain, step(torch.amp.GradScaler("cpu", init_scale=2.0**12)))
    assert torch.equal(step(torch.amp.GradScaler("cpu"), poison=True), untouched)  # overflow: no step
