"""What every workflow script does first: its log file, its thread count, quiet and offline libraries."""

from __future__ import annotations

import atexit
import os
import re
import sys
import time
import traceback
from pathlib import Path

#: Environment that keeps the Hugging Face libraries off the network inside jobs: every job loads the
#: encoder folder the fetch_encoder rule wrote (on the submit host), so a compute node never needs the hub.
OFFLINE_ENV = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
ATTEMPT = re.compile(r"^=== attempt (\d+) ", re.M)


def go_offline() -> None:
    """Close the hub inside this process: the environment for libraries not yet imported, and
    huggingface_hub's own switch where it already is (it reads the environment once, at import)."""
    os.environ.update(OFFLINE_ENV)
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        constants.HF_HUB_OFFLINE = True


def attempt_header(path: Path | None, rule: str) -> str:
    """``=== attempt N (...) ===``: N counts the headers already in the log (retried jobs append)."""
    previous = ATTEMPT.findall(path.read_text(errors="replace")) if path and path.exists() else []
    number = int(previous[-1]) + 1 if previous else 1
    where = [f"rule {rule}", f"host {os.uname().nodename}", f"pid {os.getpid()}"]
    if os.environ.get("SLURM_JOB_ID"):
        where.append(f"SLURM job {os.environ['SLURM_JOB_ID']}")
    return f"=== attempt {number} ({', '.join(where)}) at {time.strftime('%Y-%m-%d %H:%M:%S')} ==="


def history_path(log: Path) -> Path:
    """Where the lines of a job's unfinished attempts are kept: Snakemake deletes the declared log before
    every attempt, so each line also goes to this sibling, which the next attempt copies back first and a
    successful attempt removes."""
    return log.with_name(f".{log.name}.attempts")


def start(snakemake, offline: bool = True):
    """Open the job's log (earlier unfinished attempts first, then a header for this one), send uncaught
    tracebacks there too, cap torch's threads at the job's ``threads``, close the network to the hub unless
    ``offline=False`` (only the fetch_encoder job), and return a ``log(msg)`` function that writes each line
    to the log and to stderr."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    if offline:
        go_offline()
    threads = max(1, int(getattr(snakemake, "threads", 1) or 1))
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    if "torch" in sys.modules or _wants_torch(snakemake):
        import torch  # only here: the light jobs (data, metrics, tables) never load torch

        torch.set_num_threads(threads)
    path = Path(snakemake.log[0]) if len(snakemake.log) else None
    started = time.perf_counter()
    failed = []

    def write(line: str) -> None:
        if path:
            for target in (path, history_path(path)):
                with target.open("a") as fh:
                    fh.write(line + "\n")

    def log(message: str) -> None:
        line = f"[{time.perf_counter() - started:8.1f}s] {message}"
        print(line, file=sys.stderr, flush=True)
        write(line)

    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        history = history_path(path)
        earlier = history.read_text(errors="replace") if history.exists() else ""
        path.write_text(earlier)  # Snakemake removed the log; the earlier attempts come back first
        if not earlier:
            history.write_text("")
        write(attempt_header(path, snakemake.rule))

        def forget_history() -> None:  # a finished attempt: the next run of this job starts a new log
            if not failed:
                history.unlink(missing_ok=True)

        atexit.register(forget_history)
    previous_hook = sys.excepthook

    def hook(kind, value, tb):
        failed.append(kind)
        write("".join(traceback.format_exception(kind, value, tb)).rstrip())
        previous_hook(kind, value, tb)

    sys.excepthook = hook
    return log


def _wants_torch(snakemake) -> bool:
    return snakemake.rule.startswith(("finetune", "predict", "pretrain", "tokens", "build_encoder"))


def requires_cuda(config) -> bool:
    """Whether the active scale's GPU jobs must find CUDA (``scales.<scale>.require_cuda``)."""
    return bool(config["scales"][config["scale"]]["require_cuda"])
