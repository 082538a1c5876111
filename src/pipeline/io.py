"""Atomic file writers shared by the pipeline stages.

Each writer puts the content into a temporary file in the destination folder and then renames it over
the target with :func:`os.replace`, so a reader (or Snakemake after an interrupted job) never sees a
half-written file. Parent folders are created as needed. ``mkstemp``/``mkdtemp`` create private files (0600)
and folders (0700); each writer gives them the mode the user's umask gives a new file or folder before the
rename, so that on a cluster the rest of a group can read the tables, predictions and models.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

PathLike = str | Path


def umask() -> int:
    """The process's umask (read by setting it and putting it back: there is no read-only call)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def shareable(path: PathLike) -> None:
    """Give ``path`` the mode a plain ``open``/``mkdir`` would have given it under the current umask (files
    0666, folders 0777, less the umask), recursively for a folder."""
    path = Path(path)
    mask = umask()
    if path.is_dir():
        for folder, _dirs, files in os.walk(path):
            os.chmod(folder, 0o777 & ~mask)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o666 & ~mask)
    else:
        os.chmod(path, 0o666 & ~mask)


def write_atomic(path: PathLike, write: Callable[[str], None]) -> None:
    """Call ``write(tmp_path)`` on a temporary file next to ``path``, then rename it to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        shareable(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def folder_atomic(path: PathLike) -> Iterator[Path]:
    """A new temporary folder beside ``path`` to fill; when the block ends without an error it replaces
    ``path`` (a folder already there is removed first), and on any error it is removed, leaving ``path`` as
    it was. For model and encoder folders that a job writes file by file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        shareable(tmp)
        if path.exists():
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def write_text_atomic(text: str, path: PathLike) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    write_atomic(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))


def write_json_atomic(obj: Any, path: PathLike) -> None:
    """Write ``obj`` as indented JSON (NaN/inf rejected, as they are not JSON) to ``path`` atomically."""
    write_text_atomic(json.dumps(obj, indent=2, allow_nan=False) + "\n", path)


def write_csv_atomic(df: pd.DataFrame, path: PathLike) -> None:
    """Write ``df`` as CSV without the index to ``path`` atomically."""
    write_atomic(path, lambda tmp: df.to_csv(tmp, index=False))


#: The packages whose versions an artifact records (read from the installed metadata, nothing imported).
RECORDED_PACKAGES = ("torch", "transformers", "peft", "numpy", "pandas", "scipy", "snakemake")


def package_versions() -> dict[str, str | None]:
    """Python's version and the installed versions of :data:`RECORDED_PACKAGES` (None where absent)."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for name in RECORDED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out
