"""``benchmarks/gpu_suite.py --tiny`` runs every section on the CPU (tiny random BERT, a few steps) and writes
its JSON, with every section ok or skipped for want of CUDA (no section errs), and its Markdown table. The
numbers are not checked: the suite is for a GPU window (benchmarks/README.md). About 40-70 s on the shared
2-core machine (most of it dynamo tracing the tiny BERT for the compile section)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SECTIONS = [
    "device",
    "matmul",
    "mfu",
    "steps",
    "syncs",
    "predict",
    "memory",
    "finetune_run",
    "trainer",
    "constants",
    "compile",
]


@pytest.mark.e2e  # a subprocess: in the full suite (CI), not the fast loop
def test_gpu_suite_tiny_runs_every_section(tmp_path) -> None:
    out = tmp_path / "out"
    command = [sys.executable, str(ROOT / "benchmarks" / "gpu_suite.py"), "--tiny", "--minutes", "3"]
    done = subprocess.run(
        [*command, "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((out / "gpu_suite.json").read_text())
    assert list(results["sections"]) == SECTIONS
    for name, record in results["sections"].items():
        assert record["status"] == "ok" or record["status"].startswith("skipped: no CUDA"), (name, record)
    sections = {name: record["result"] for name, record in results["sections"].items()}
    assert sections["finetune_run"]["progress_line"].startswith("progress: epoch 1/1 ")
    assert sections["finetune_run"]["checkpoint_lines"]
    assert set(sections["memory"]) >= {"full", "lora", "dora", "rslora"}
    assert sections["trainer"]["batch_4"]["ours_over_trainer"] > 0
    entry = next(iter(sections["constants"]["devices_entry"].values()))
    assert set(entry) == {"peak_tflops", "utilisation", "step_overhead_s", "status"}
    assert sections["compile"]["compile"] == "aot_eager"
    assert sections["compile"]["siamese"]["status"] == "ok"
    table = (out / "gpu_suite.md").read_text()
    assert table.startswith("# GPU suite: ") and "| finetune_run | ok |" in table
