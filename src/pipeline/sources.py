"""Produce the normalised data file of a (task, split) from one of three kinds of source.

``source`` is a dict from the workflow config:

* ``{"kind": "generated", "seed": 0, "sizes": {"train": 200, ...}}``: synthetic data from
  :func:`pipeline.generate.generate_task`.
* ``{"kind": "mirror", "path": "/work/shared/data/cs224n"}``: a local folder of official files, each checked
  against the folder's ``SHA256SUMS``. The test split uses the labelled reconstruction
  (``ids-sst-test.csv`` ...) when the folder has it, else the unlabelled ``*-test-student.csv``.
* ``{"kind": "download", "base_url": ..., "cache": "results/downloads", "timeout": 60, "retries": 4,
  "backoff": 1.0}``: the official files of the CS224N starter repository at a pinned commit, each verified
  by its git blob id (:data:`OFFICIAL_BLOBS`). Test is always the unlabelled ``*-test-student.csv``.

Every path through :func:`materialise` validates the data before the destination is written atomically.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pipeline.io import write_atomic
from pipeline.readers import (
    DataError,
    PathLike,
    empty_frame,
    read_official,
    validate_frame,
    write_normalised,
)
from pipeline.tasks import SPLITS, get_task

log = logging.getLogger(__name__)

KINDS = ("generated", "mirror", "download")
DEFAULT_BASE_URL = (
    "https://raw.githubusercontent.com/gpoesia/minbert-default-final-project/"
    "7ac8260577fc12a86c7aaf38918056c30054ef39/data/"
)
DEFAULT_CACHE = "results/downloads"

#: File name prefix of each task's official files.
FILE_PREFIXES = {"sst": "ids-sst", "para": "quora", "sts": "sts", "cfimdb": "ids-cfimdb"}

#: Git blob ids (sha1 of ``b"blob <size>\0" + content``) of the official files at the pinned commit.
OFFICIAL_BLOBS: dict[str, str] = {
    "ids-sst-train.csv": "9cb7333cb1dae49c2bd2a4b56a24882a6e8704b5",
    "ids-sst-dev.csv": "3171aa629a340809d2db4a50df8f6e5ec9420ab0",
    "ids-sst-test-student.csv": "bbd2313758825f86e24416d6aad64cd93370cf7a",
    "quora-train.csv": "a3b5546f6a0e65b60a328a5d294d1038f5bed1da",
    "quora-dev.csv": "de7cfa32428fd470b93f778fccc45a619e01336f",
    "quora-test-student.csv": "f257ef00558555afb50819578a58205732b16354",
    "sts-train.csv": "12b17760e7795fee35aeeabc290d5651de02622a",
    "sts-dev.csv": "9392860e584717976b8d817cc40c9e6ceeec27e0",
    "sts-test-student.csv": "25f0cf8fafdd1f82b9e2bb460c708af34341ce60",
    "ids-cfimdb-train.csv": "cd57bcbd2f7214ea6dd1783d3e885d324b1f478d",
    "ids-cfimdb-dev.csv": "8a0f5dcf3d40189b96c801a12cd79bf8003e61de",
    "ids-cfimdb-test-student.csv": "1e789c709b3ca0511f027a309b6d8bd21cde41b2",
}


class DownloadError(RuntimeError):
    """A file could not be downloaded and verified; the message names the URL, file and last problem."""


def official_filename(task_name: str, split: str, labelled_test: bool = False) -> str:
    """Official file name of ``(task, split)``; test is ``*-test.csv`` if ``labelled_test`` else student."""
    prefix = FILE_PREFIXES[get_task(task_name).name]
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known splits: {', '.join(SPLITS)}")
    if split == "test" and not labelled_test:
        return f"{prefix}-test-student.csv"
    return f"{prefix}-{split}.csv"


def git_blob_sha1(data: bytes) -> str:
    """The git blob id of ``data`` (what ``git hash-object`` prints)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def _sha256sums(folder: Path) -> dict[str, str]:
    """File name -> sha256 from ``folder/SHA256SUMS`` (``sha256sum`` text or binary format)."""
    sums_path = folder / "SHA256SUMS"
    if not sums_path.is_file():
        raise DataError(f"{sums_path}: checksum list missing")
    sums = {}
    for line in sums_path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.lstrip("*")] = digest.lower()
    return sums


def verified_mirror_file(folder: PathLike, filename: str) -> Path:
    """``folder/filename`` after checking its sha256 against ``folder/SHA256SUMS``."""
    folder = Path(folder)
    path = folder / filename
    expected = _sha256sums(folder).get(filename)
    if expected is None:
        raise DataError(f"{path}: not listed in {folder / 'SHA256SUMS'}; cannot verify it")
    if not path.is_file():
        raise DataError(f"{path}: listed in SHA256SUMS but missing from the mirror")
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != expected:
        raise DataError(f"{path}: sha256 mismatch: expected {expected}, actual {actual}")
    return path


def mirror_filename(folder: PathLike, task_name: str, split: str) -> str:
    """The mirror file for ``(task, split)``: for test, the labelled one when the folder has it."""
    labelled = official_filename(task_name, split, labelled_test=True)
    if split == "test" and not (Path(folder) / labelled).is_file():
        return official_filename(task_name, split, labelled_test=False)
    return labelled


def _fetch(url: str, timeout: float) -> bytes:
    """One GET of ``url``; a body shorter than its Content-Length raises ``IncompleteRead``."""
    with urllib.request.urlopen(url, timeout=timeout) as response:
        body = response.read()
        length = response.headers.get("Content-Length")
    if length is not None and len(body) != int(length):
        raise http.client.IncompleteRead(body, int(length) - len(body))
    return body


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename."""
    write_atomic(path, lambda tmp: Path(tmp).write_bytes(data))


def download_official(
    filename: str,
    cache: PathLike = DEFAULT_CACHE,
    *,
    base_url: str = DEFAULT_BASE_URL,
    blobs: Mapping[str, str] | None = None,
    timeout: float = 60.0,
    retries: int = 4,
    backoff: float = 1.0,
) -> Path:
    """Download ``base_url + filename`` into ``cache`` verified by its git blob id; returns the cached path.

    A cached copy with the right blob id is reused. Connection errors, timeouts, HTTP 5xx, truncated
    bodies and checksum mismatches are retried ``retries`` times (so ``retries + 1`` attempts), sleeping
    ``backoff * 2**k`` seconds before retry ``k + 1``; other HTTP errors fail at once. The file appears in
    the cache only once verified.
    """
    blobs = OFFICIAL_BLOBS if blobs is None else blobs
    if filename not in blobs:
        raise ValueError(f"no pinned git blob id for {filename!r}; known files: {', '.join(sorted(blobs))}")
    expected = blobs[filename]
    target = Path(cache) / filename
    if target.is_file():
        if git_blob_sha1(target.read_bytes()) == expected:
            return target
        log.warning("%s: cached copy does not match blob %s; downloading again", target, expected)
    url = base_url.rstrip("/") + "/" + filename
    problem, attempt = "", 0
    for attempt in range(1, retries + 2):
        if attempt > 1:
            time.sleep(backoff * 2 ** (attempt - 2))
        try:
            body = _fetch(url, timeout)
        except urllib.error.HTTPError as e:
            e.close()
            problem = f"HTTP {e.code} {e.reason}"
            if e.code < 500:
                break
            continue
        except http.client.IncompleteRead as e:
            problem = f"truncated body ({len(e.partial)} bytes received, {e.expected} more expected)"
            continue
        except (urllib.error.URLError, http.client.HTTPException, OSError) as e:
            problem = f"connection error: {getattr(e, 'reason', None) or e!r}"
            continue
        actual = git_blob_sha1(body)
        if actual != expected:
            problem = f"checksum mismatch: expected git blob {expected}, got {actual}"
            continue
        _write_bytes_atomic(target, body)
        return target
    raise DownloadError(f"could not download {filename} from {url} after {attempt} attempt(s): {problem}")


def materialise(
    task_name: str,
    split: str,
    source: Mapping[str, Any],
    dest: PathLike,
    *,
    blobs: Mapping[str, str] | None = None,
) -> Path:
    """Write the normalised file ``dest`` of ``(task, split)`` from ``source``; returns ``dest``.

    Nothing is written to ``dest`` unless the data passed validation. ``blobs`` overrides
    :data:`OFFICIAL_BLOBS` for the download kind (tests serve small synthetic files).
    """
    task = get_task(task_name)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known splits: {', '.join(SPLITS)}")
    kind = source.get("kind")
    if kind == "generated":
        from pipeline.generate import generate_task

        raw = generate_task(task.name, split, n=int(source["sizes"][split]), seed=int(source["seed"]))
        frame = validate_frame(raw, task.name, where=f"generated {task.name}-{split}")
    elif kind == "mirror":
        folder = Path(source["path"])
        name = mirror_filename(folder, task.name, split)
        if split == "test" and not (folder / name).exists():
            # e.g. quora-test-student.csv, absent from every public snapshot: an empty, unlabelled split, so
            # test cells say "unlabelled" instead of stopping the whole table
            log.warning(
                "%s: no %s in the mirror; writing an empty %s-%s split", folder, name, task.name, split
            )
            return write_normalised(empty_frame(task.name), dest)
        frame = read_official(verified_mirror_file(folder, name), task.name)
    elif kind == "download":
        path = download_official(
            official_filename(task.name, split),
            source.get("cache", DEFAULT_CACHE),
            base_url=source.get("base_url", DEFAULT_BASE_URL),
            blobs=blobs,
            timeout=float(source.get("timeout", 60.0)),
            retries=int(source.get("retries", 4)),
            backoff=float(source.get("backoff", 1.0)),
        )
        frame = read_official(path, task.name)
    else:
        raise ValueError(f"unknown source kind {kind!r}; allowed kinds: {', '.join(KINDS)}")
    limit = (source.get("subsets") or {}).get(f"{task.name}-{split}")
    if limit and len(frame) > limit:  # a seeded subset, in file order (quick scale: cheaper evaluation)
        frame = frame.sample(n=int(limit), random_state=int(source.get("seed", 0))).sort_index()
        frame = frame.reset_index(drop=True)
    return write_normalised(frame, dest)
