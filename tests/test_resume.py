"""Killed jobs resume where their last checkpoint was taken and end as an uninterrupted run ends.

End to end: a fine-tuning job and an MNRL pre-training job are each killed with SIGKILL (Snakemake and the
job's process group) in the middle of an epoch, between two mid-epoch checkpoints; ``--rerun-incomplete``
continues from the last checkpoint, and the results equal those of an uninterrupted run, byte for byte.
In process: the same for ``train()`` and ``pretrain()`` stopped right after a given checkpoint, and a
checkpoint folder written by the code before the settings were typed (commit 1a7c908) resumes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from inprocess import CPU, LOAD, Stopped, finetune_in, logger, run_control
from test_workflow import SNAKEMAKE, copy_workflow, edit_yaml

from pipeline.config import resolve_pretrain
from pipeline.model.export import load_trained
from pipeline.provenance import fingerprint
from pipeline.settings import Experiment, MnrlStage
from pipeline.training.pretrain import pretrain

pytestmark = pytest.mark.e2e  # starts whole workflows or subprocess jobs: not in the fast loop

EXPERIMENT = "full-model-concatembed-60-1e-05"  # 3 epochs of 96 steps at smoke scale
TARGETS = [f"results/smoke/predictions/{EXPERIMENT}/dev.csv"]  # every task's best-epoch dev predictions
PRETRAIN = "mnrl1"  # made 5 epochs of 17 steps at smoke scale (0.1 s each)
PRETRAINED = f"results/smoke/pretrained/{PRETRAIN}"
UPSTREAM = ("results/smoke/data", "results/smoke/encoders", "results/smoke/tokens")


def command(targets: list[str], *extra: str, every: int | None = None) -> list[str]:
    config = ["scale=smoke"] + ([f"checkpoint_every_steps={every}"] if every is not None else [])
    # mtime only: the upstream files copied from the reference have no provenance records here. One thread a
    # job: two OpenMP threads spin-wait on 2 cores another process keeps busy (10x slower steps).
    fixed = ["--cores", "2", "--resources", "gpu=1", "--rerun-triggers", "mtime", "--set-threads"]
    fixed += ["finetune=1", "pretrain=1", "predict=1"]
    return [*SNAKEMAKE, *targets, *fixed, *extra, "--config", *config]


def run(workdir: Path, targets: list[str], *extra: str, every: int | None = None) -> None:
    proc = subprocess.run(
        command(targets, *extra, every=every), cwd=workdir, capture_output=True, text=True, timeout=600
    )
    assert proc.returncode == 0, proc.stderr[-4000:]


def kill_when_logged(workdir: Path, targets: list[str], log: Path, line: str, every: int) -> None:
    """Start Snakemake, wait until the job's log shows ``line``, let it train a little further, SIGKILL."""
    proc = subprocess.Popen(
        command(targets, every=every),
        cwd=workdir,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 300
    while proc.poll() is None and time.monotonic() < deadline:
        if log.exists() and line in log.read_text():
            break
        time.sleep(0.02)
    time.sleep(0.05)  # a few steps past that checkpoint: work the kill throws away
    assert proc.poll() is None, "the job finished (or failed) before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # snakemake and the job, mid-epoch
    proc.wait(timeout=30)


def workflow_copy(path: Path) -> Path:
    workdir = copy_workflow(path)
    edit_yaml(workdir / "papers/beyond-bert.yaml", lambda p: p["pretrains"][PRETRAIN].update(epochs=100))
    return workdir  # (100 epochs x 0.05 at smoke scale)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """Both jobs uninterrupted, with the default checkpoint interval (no mid-epoch checkpoint at smoke)."""
    workdir = workflow_copy(tmp_path_factory.mktemp("reference"))
    run(workdir, [*TARGETS, PRETRAINED])
    return workdir


def fresh_copy(reference: Path, path: Path) -> Path:
    """The workflow with the reference's data, encoder and token files (mtimes kept: nothing reruns)."""
    workdir = workflow_copy(path)
    for folder in UPSTREAM:
        shutil.copytree(reference / folder, workdir / folder)
    return workdir


def resumed_from(log: Path) -> tuple[int, int]:
    text = log.read_text()
    assert "resuming after epoch" in text, text
    words = text.split("resuming after epoch ")[1].split()
    return int(words[0]), int(words[2]) if words[1] == "and" else 0


def test_killed_finetune_job_resumes_mid_epoch_and_matches_uninterrupted_run(reference, tmp_path):
    killed = fresh_copy(reference, tmp_path)
    log = killed / "logs" / "smoke" / "finetune" / f"{EXPERIMENT}.log"
    folder = killed / "results" / "smoke" / "checkpoints" / EXPERIMENT
    kill_when_logged(killed, TARGETS, log, "checkpoint: epoch 2 step 30", every=10)
    assert not (killed / "results" / "smoke" / "models" / EXPERIMENT / "run.json").exists()
    kept = {p.name for p in folder.iterdir() if not p.name.endswith(".tmp")}
    # the latest state, the best weights and their dev predictions, the lock
    assert kept == {"last.pt", "best.safetensors", "best-dev.pt", "lock"}

    run(killed, TARGETS, "--unlock")
    run(killed, TARGETS, "--rerun-incomplete", every=10)
    epoch, step = resumed_from(log)
    assert epoch == 1 and 30 <= step < 96, (epoch, step)  # in epoch 2, past its start
    attempts = log.read_text().split("=== attempt ")[1:]  # the killed attempt's lines come first
    assert [a.split(" ", 1)[0] for a in attempts] == ["1", "2"] and "epoch 1/3" in attempts[0]
    assert "epoch 1/3" not in attempts[1]  # epoch 1 is not trained again

    for target in TARGETS:
        assert (killed / target).read_bytes() == (reference / target).read_bytes(), target
    for name in ("encoder/model.safetensors", "heads.safetensors", "heads.json"):  # the saved model
        model = f"results/smoke/models/{EXPERIMENT}/{name}"
        assert (killed / model).read_bytes() == (reference / model).read_bytes(), name
    card = (killed / f"results/smoke/models/{EXPERIMENT}/README.md").read_text()  # written by the job
    assert "- Paper: Beyond BERT" in card and "2 attempt(s)" in card
    history = [
        (w / "results/smoke/models" / EXPERIMENT / "history.csv").read_text() for w in (reference, killed)
    ]
    strip = [[line.rsplit(",", 1)[0] for line in h.splitlines()] for h in history]  # epoch_seconds differ
    assert strip[0] == strip[1]
    record = json.loads((killed / "results/smoke/models" / EXPERIMENT / "run.json").read_text())
    assert (record["resumed_after_epoch"], record["resumed_at_step"]) == (epoch, step)
    assert record["attempts"] == 2 and record["wall_seconds"] > record["attempt_wall_seconds"]
    assert record["threads"] == 1  # --set-threads finetune=1 reached torch
    assert not folder.exists()  # removed once the run completed


def test_killed_mnrl_job_resumes_mid_epoch_and_matches_uninterrupted_run(reference, tmp_path):
    killed = fresh_copy(reference, tmp_path)
    log = killed / "logs" / "smoke" / "pretrain" / f"{PRETRAIN}.log"
    kill_when_logged(killed, [PRETRAINED], log, "checkpoint: epoch 3 step 4", every=2)
    assert not (killed / PRETRAINED).exists()
    run(killed, [PRETRAINED], "--unlock")
    run(killed, [PRETRAINED], "--rerun-incomplete", every=2)
    epoch, step = resumed_from(log)
    assert epoch == 2 and step >= 4, (epoch, step)
    assert "MNRL epoch 2/5" not in log.read_text().split("=== attempt 2 ")[1]
    for name in ("model.safetensors", "config.json"):
        assert (killed / PRETRAINED / name).read_bytes() == (reference / PRETRAINED / name).read_bytes(), name
    runs = [json.loads((w / PRETRAINED / "run.json").read_text()) for w in (reference, killed)]
    assert [h["mnrl_loss"] for h in runs[0]["history"]] == [h["mnrl_loss"] for h in runs[1]["history"]]
    assert not (killed / "results" / "smoke" / "checkpoints" / f"pretrain-{PRETRAIN}").exists()


def test_random_encoder_is_identical_across_builds(tmp_path):
    """Token ids (and so every result) must not depend on the run: the vocabulary is built deterministically."""
    from pipeline.data.generate import generate_task
    from pipeline.model.encoders import build_random_encoder

    texts = list(generate_task("sst", "train", 200, 0)["sentence"]) + list(
        generate_task("para", "train", 200, 0)["sentence1"]
    )
    spec = {
        "vocab_size": 120,
        "hidden": 16,
        "layers": 1,
        "heads": 2,
        "intermediate": 32,
        "max_position": 32,
        "seed": 0,
    }
    for name in ("a", "b"):
        build_random_encoder(tmp_path / name, texts, spec)
    for file in ("vocab.txt", "model.safetensors"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file


# -- in-process: a run stopped right after a mid-epoch checkpoint continues from that step ------------------
def test_finetune_resumes_mid_epoch_exactly(make_settings, task_data, encoder_dir, tmp_path):
    """18 steps an epoch (3 tasks x 6 batches), a checkpoint every 5: stopped after epoch 2's step-10
    checkpoint, rerun, it trains steps 11-18 of epoch 2 only and ends as a run that never checkpointed."""
    settings = make_settings(epochs=2, batch_size=16, max_length=32, eval_batch_size=64)
    ref, _, ref_out = finetune_in(
        settings, task_data, encoder_dir, tmp_path / "ref", checkpoint_every_steps=0
    )
    folder = tmp_path / "run"
    with pytest.raises(Stopped):
        finetune_in(
            settings, task_data, encoder_dir, folder, "checkpoint: epoch 2 step 10", checkpoint_every_steps=5
        )
    # kept: the latest state, the best weights (epoch 1) and their dev predictions, nothing else
    assert sorted(p.name for p in (folder / "checkpoints").iterdir()) == [
        "best-dev.pt",
        "best.safetensors",
        "last.pt",
        "lock",
    ]
    info, lines, out = finetune_in(settings, task_data, encoder_dir, folder, checkpoint_every_steps=5)
    assert lines[0].startswith("resuming after epoch 1 and 10 steps of epoch 2 from ")
    assert [line for line in lines if line.startswith("checkpoint:")] == ["checkpoint: epoch 2 step 15"]
    assert (info["resumed_after_epoch"], info["resumed_at_step"]) == (1, 10)
    for name in ("encoder/model.safetensors", "heads.safetensors"):
        assert (Path(out["model"]) / name).read_bytes() == (Path(ref_out["model"]) / name).read_bytes(), name
    strip = [
        [line.rsplit(",", 1)[0] for line in Path(o["history"]).read_text().splitlines()]
        for o in (ref_out, out)
    ]
    assert strip[0] == strip[1]  # every column but epoch_seconds, train loss included
    assert info["best_epoch"] == ref["best_epoch"]
    assert not (folder / "checkpoints").exists()  # removed with the run complete


def test_mnrl_resumes_mid_epoch_exactly(config, task_data, encoder_dir, tmp_path):
    settings = MnrlStage.from_dict(resolve_pretrain({**config, "scale": "smoke"}, "mnrladddata3"))
    data = {t: task_data["train"][t] for t in settings.sources}

    def run(name: str, every: int, stop_at: str | None = None):
        lines, log = logger(stop_at)
        out, folder = tmp_path / name / "encoder", tmp_path / name / "ckpt"
        control = run_control(checkpoint_every_steps=every)
        pretrain(settings, data, encoder_dir, str(out), str(folder), CPU, log, LOAD, control=control)
        return lines, out

    _, ref = run("ref", 0)
    with pytest.raises(Stopped):
        run("run", 1, stop_at="checkpoint: epoch 2 step 2")
    lines, out = run("run", 1)
    assert lines[0].startswith("resuming after epoch 1 and 2 steps of epoch 2 from ")
    assert (out / "model.safetensors").read_bytes() == (ref / "model.safetensors").read_bytes()
    runs = [json.loads((d / "run.json").read_text()) for d in (ref, out)]
    assert [h["mnrl_loss"] for h in runs[0]["history"]] == [h["mnrl_loss"] for h in runs[1]["history"]]
    assert (runs[1]["resumed_after_epoch"], runs[1]["resumed_at_step"]) == (1, 2)


# -- a checkpoint written before the settings were typed resumes ----------------------------------------------
BEFORE_TYPED = Path(__file__).parent / "data" / "checkpoint-1a7c908"


def test_a_checkpoint_written_with_plain_settings_resumes_with_typed_settings(
    task_data, encoder_dir, tmp_path
):
    """The folder ``tests/data/checkpoint-1a7c908`` was written by commit 1a7c908, whose ``train()`` took the
    settings as a plain dict and fingerprinted that dict (its README says how). Today's ``train()`` takes an
    :class:`Experiment` built from the same dict: it finds the checkpoint its own (same fingerprint), resumes
    it at epoch 2's step 10 (as told to, the library code being another), writes the plain dict to run.json,
    and ends where an uninterrupted run of today's code ends."""
    plain = json.loads((BEFORE_TYPED / "settings.json").read_text())
    settings = Experiment.from_dict(plain)
    folder = tmp_path / "run"
    shutil.copytree(BEFORE_TYPED, folder / "checkpoints", ignore=shutil.ignore_patterns("*.json", "*.md"))
    written = torch.load(folder / "checkpoints" / "last.pt", weights_only=True)
    assert (
        written["fingerprint"] == "757d1592667524f5" == fingerprint(plain) == fingerprint(settings.to_dict())
    )

    info, lines, out = finetune_in(
        settings, task_data, encoder_dir, folder, checkpoint_every_steps=5, resume_other_code=True
    )
    assert lines[0].startswith(f"resuming a checkpoint of other library code ({written['code']}, now ")
    assert lines[1].startswith("resuming after epoch 1 and 10 steps of epoch 2 from ")
    assert [line for line in lines if line.startswith("checkpoint:")] == ["checkpoint: epoch 2 step 15"]
    assert (info["resumed_after_epoch"], info["resumed_at_step"]) == (1, 10)
    assert info["fingerprint"] == written["fingerprint"]
    recorded = json.loads(Path(out["run"]).read_text())["settings"]
    assert json.dumps(recorded) == json.dumps(plain)  # the same keys, values and order

    ref, _, ref_out = finetune_in(settings, task_data, encoder_dir, tmp_path / "ref")
    resumed, uninterrupted = (load_trained(o["model"]).state_dict() for o in (out, ref_out))
    assert resumed.keys() == uninterrupted.keys()
    for name, value in uninterrupted.items():  # close, not equal: the fixture may come from another machine
        assert torch.allclose(resumed[name], value, atol=1e-5), name
    histories = [pd.read_csv(o["history"]).drop(columns="epoch_seconds") for o in (out, ref_out)]
    pd.testing.assert_frame_equal(*histories, check_exact=False, atol=1e-5)
    assert info["best_epoch"] == ref["best_epoch"]
