"""Each benchmark script runs on tiny inputs (generated data, a tiny random BERT, a few steps) and ends with
its ratio line. Timings are not checked: the benchmarks themselves are run by hand (benchmarks/README.md)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e  # starts whole workflows or subprocess jobs: not in the fast loop

ROOT = Path(__file__).resolve().parents[1]
REFERENCES = ("sentence_transformers", "datasets")  # the `bench` extra of pyproject.toml
RUNS = {
    "finetune_vs_trainer.py": ["--steps", "2"],
    "finetune_vs_trainer.py group_by_length": ["--steps", "2", "--trainer-sampling", "group_by_length"],
    "mnrl_vs_sentence_transformers.py": ["--steps", "1", "--warmup", "1"],
    "predict_vs_encode.py": [],
    "tokenize_cache_vs_per_job.py": [],
    "mfu.py": ["--steps", "2", "--warmup", "1"],
}
NEEDS_REFERENCES = {"finetune_vs_trainer.py", "mnrl_vs_sentence_transformers.py", "predict_vs_encode.py"}
RATIO = re.compile(r"^RATIO .+: ours/reference = \d+\.\d{3} \(")


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("bench")  # shared: the tiny encoder and caches are built once


@pytest.mark.parametrize("run", list(RUNS))
def test_benchmark_prints_ratio(run, work) -> None:
    script = run.split()[0]
    missing = [m for m in REFERENCES if importlib.util.find_spec(m) is None]
    if script in NEEDS_REFERENCES and missing:
        pytest.fail(
            f"{script} compares against {', '.join(missing)}, not installed: "
            'pip install "torch==2.13.0" -e ".[bench]" (as .ci/run does)'
        )
    command = [
        sys.executable,
        str(ROOT / "benchmarks" / script),
        "--tiny",
        "--rounds",
        "1",
        "--work",
        str(work),
    ]
    done = subprocess.run([*command, *RUNS[run]], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    assert lines and RATIO.match(lines[-1]), done.stdout[-2000:]
    assert float(lines[-1].split("= ")[1].split()[0]) > 0
