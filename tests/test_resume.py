"""A fine-tuning job killed with SIGKILL resumes from its last checkpoint and ends where an uninterrupted
run ends: the same predictions, byte for byte."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import yaml
from test_workflow import SNAKEMAKE, copy_workflow

EXPERIMENT = "full-model-concatembed-60-1e-05"
TARGETS = [f"results/predictions/{EXPERIMENT}/{t}-dev.csv" for t in ("sst", "para", "sts")]


def long_run_workdir(path: Path) -> Path:
    """The workflow with one experiment made long enough (10 epochs at smoke scale) to be killed mid-run."""
    path.mkdir(parents=True)
    workdir = copy_workflow(path)
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["experiments"][EXPERIMENT]["epochs"] = 200  # x 0.05 at smoke scale
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return workdir


def command(*extra: str) -> list[str]:
    return [*SNAKEMAKE, *TARGETS, "--cores", "2", "--resources", "gpu=1", *extra, "--config", "scale=smoke"]


def run(workdir: Path, *extra: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(command(*extra), cwd=workdir, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def test_killed_finetune_job_resumes_and_matches_uninterrupted_run(tmp_path):
    reference = long_run_workdir(tmp_path / "reference")
    run(reference)

    killed = long_run_workdir(tmp_path / "killed")
    checkpoint = killed / "results" / "checkpoints" / EXPERIMENT / "last.pt"
    proc = subprocess.Popen(
        command(), cwd=killed, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 300
    while not checkpoint.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)  # into the next epoch
    assert proc.poll() is None, "the job finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # snakemake and the training job, mid-epoch
    proc.wait(timeout=30)
    assert checkpoint.exists()
    assert not (killed / "results" / "models" / EXPERIMENT / "run.json").exists()

    run(killed, "--unlock")
    run(killed, "--rerun-incomplete")
    log = (killed / "logs" / "finetune" / f"{EXPERIMENT}.log").read_text()
    assert "resuming after epoch" in log, log
    resumed_after = int(log.split("resuming after epoch ")[1].split()[0])
    assert 1 <= resumed_after < 10

    for target in TARGETS:
        assert (killed / target).read_bytes() == (reference / target).read_bytes(), target
    history = [(w / "results/models" / EXPERIMENT / "history.csv").read_text() for w in (reference, killed)]
    strip = [[line.rsplit(",", 1)[0] for line in h.splitlines()] for h in history]  # epoch_seconds differ
    assert strip[0] == strip[1]
    assert not checkpoint.exists()  # removed once the run completed


def test_random_encoder_is_identical_across_builds(tmp_path):
    """Token ids (and so every result) must not depend on the run: the vocabulary is built deterministically."""
    from pipeline.encoders import build_random_encoder
    from pipeline.generate import generate_task

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
