"""Which library code produced an artifact: a hash of the ``pipeline`` package's source files.

Snakemake reruns a job when its settings (params), inputs or rule script change, but not when a module it
imports changes: a fix in ``src/pipeline/training/finetune.py`` reruns nothing by itself
(docs/workflow.md, "What reruns what").
So every run.json and metrics file records :func:`code_hash`; a checkpoint written by other code is not
resumed silently (:mod:`pipeline.training.checkpoints`), and a table whose rows come from different code
versions
says so in its caption (:func:`code_versions_note`).
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Iterable
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


@cache
def code_hash(folder: str | Path = PACKAGE) -> str:
    """A short sha256 over the names and contents of every ``*.py`` file of the package, in name order."""
    digest = hashlib.sha256()
    for path in sorted(Path(folder).rglob("*.py")):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def code_versions_note(hashes: Iterable[str | None]) -> str:
    """Caption text when rows come from more than one code version (empty when all agree)."""
    known = sorted({h for h in hashes if h})
    if len(known) <= 1:
        return ""
    return (
        f"Rows come from {len(known)} versions of the library code ({', '.join(known)}): rerun the older "
        "rows (docs/workflow.md, 'What reruns what') before comparing them."
    )


def fingerprint(settings: dict) -> str:
    """A short stable hash of the resolved settings: a checkpoint only resumes the run it belongs to."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:16]


def versions() -> dict[str, str]:
    """The versions of Python and the libraries a training run's numbers depend on (run.json)."""
    # imported here, not at the top: code_hash() is read by light jobs (metrics, tables) that never load torch
    import peft
    import torch
    import transformers

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
    }
