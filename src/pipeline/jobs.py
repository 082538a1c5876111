"""What every workflow script does first: its log file, its thread count, quiet libraries."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def start(snakemake):
    """Open the job's log, cap torch's threads at the job's ``threads``, and return a ``log(msg)`` function
    that writes each line to the log and to stderr."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    threads = max(1, int(getattr(snakemake, "threads", 1) or 1))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    if "torch" in sys.modules or _wants_torch(snakemake):
        import torch

        torch.set_num_threads(threads)
    path = Path(snakemake.log[0]) if len(snakemake.log) else None
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    started = time.perf_counter()

    def log(message: str) -> None:
        line = f"[{time.perf_counter() - started:8.1f}s] {message}"
        print(line, file=sys.stderr, flush=True)
        if path:
            with path.open("a") as fh:
                fh.write(line + "\n")

    return log


def _wants_torch(snakemake) -> bool:
    return snakemake.rule.startswith(("finetune", "predict", "pretrain", "tokens", "build_encoder"))
