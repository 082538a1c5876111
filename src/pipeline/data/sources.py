"""Produce the normalised data file of a (task, split) from one of three kinds of source.

``source`` is a dict from the workflow config:

* ``{"kind": "generated", "seed": 0, "sizes": {"train": 200, ...}}``: synthetic data from
  :func:`pipeline.data.generate.generate_task`.
* ``{"kind": "mirror", "path": "/work/shared/data/cs224n"}``: a local folder of official files, each checked
  against the folder's ``SHA256SUMS``. The test split uses the labelled reconstruction
  (``ids-sst-test.csv`` ...) when the folder has it, else the unlabelled ``*-test-student.csv``.
* ``{"kind": "download", "data_version": "2024", "base_url": ..., "cache": "results/downloads", "timeout": 60,
  "retries": 4, "backoff": 1.0}``: the official files of the CS224N starter repository of that data version
  at a pinned commit, each verified by its git blob id (:data:`VERSION_BLOBS`). Test is the unlabelled
  ``*-test-student.csv`` (the workflow's ``test_labels`` stage writes the labelled test splits, see
  :mod:`pipeline.data.labels`).

Data versions (``data_version``): ``"2024"`` is the Spring-2024 starter both papers used (Quora re-split into
283,003 / 40,429 / 80,858 pairs, ids ``"number uuid"``); ``"2023"`` is the earlier starter (141,506 / 20,214 /
40,431 Quora pairs). SST, STS and CFIMDB are byte-identical in both. A mirror's version is detected from its
``quora-dev.csv`` header (:func:`mirror_data_version`); :func:`mirror_mismatches` lists the files that
differ from the version's pinned blobs (a partial mirror).

``"quora_holdout": true`` (mirror or download) splits Quora dev by the parity of its pair number: the even
half stays dev and the odd half becomes a labelled test split (for a mirror without any Quora test file).

Every path through :func:`materialise` validates the data before the destination is written atomically.
"""

from __future__ import annotations

import hashlib
import http.client
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.data.generate import generate_task
from pipeline.data.readers import (
    DataError,
    PathLike,
    empty_frame,
    read_official,
    validate_frame,
    write_normalised,
)
from pipeline.io import write_atomic
from pipeline.tasks import SPLITS, get_task

log = logging.getLogger(__name__)

KINDS = ("generated", "mirror", "download")
DEFAULT_BASE_URL = (
    "https://raw.githubusercontent.com/gpoesia/minbert-default-final-project/"
    "7ac8260577fc12a86c7aaf38918056c30054ef39/data/"
)
DEFAULT_CACHE = "results/downloads"
DATA_VERSIONS = ("2024", "2023")
DEFAULT_DATA_VERSION = "2024"
#: Where each data version's official files are downloaded from (the starter repository at a pinned commit).
BASE_URLS = {
    "2023": DEFAULT_BASE_URL,
    "2024": (
        "https://raw.githubusercontent.com/amahankali10/CS224N-Spring2024-DFP-Student-Handout/"
        "3f64c60c8a0e40a9fe581235b08f4607ff187077/data/"
    ),
}

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


#: Git blob ids of the Spring-2024 starter's files (../shared/data/cs224n-2024/PROVENANCE.md): SST, STS and
#: CFIMDB as in 2023, Quora re-split.
OFFICIAL_BLOBS_2024: dict[str, str] = {
    **{name: blob for name, blob in OFFICIAL_BLOBS.items() if not name.startswith("quora-")},
    "quora-train.csv": "1f2e73b884113e629e2786001fb9cc8ae4a696c1",
    "quora-dev.csv": "97f9430a53b7f5544f857ff27a236c40bb42b5c7",
    "quora-test-student.csv": "a1b1e5ba3ef282ba1e9b169c509eb80dbbc68666",
}
VERSION_BLOBS = {"2023": OFFICIAL_BLOBS, "2024": OFFICIAL_BLOBS_2024}
#: Rows of the official Quora files of each data version (train, dev, test).
QUORA_ROWS = {
    "2023": {"train": 141_506, "dev": 20_214, "test": 40_431},
    "2024": {"train": 283_003, "dev": 40_429, "test": 80_858},
}


def check_data_version(version: object) -> str:
    """``version`` as a string (``2024`` and ``"2024"`` both work) after checking it is known."""
    text = str(version)
    if text not in DATA_VERSIONS:
        raise ValueError(f"unknown data_version {version!r}; known: {', '.join(DATA_VERSIONS)}")
    return text


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


def download_verified(
    url: str,
    target: PathLike,
    verify: Callable[[bytes], str | None],
    *,
    name: str | None = None,
    timeout: float = 60.0,
    retries: int = 4,
    backoff: float = 1.0,
) -> Path:
    """GET ``url`` into ``target`` once ``verify(body)`` returns None (else it returns the problem).

    A ``target`` that already verifies is reused. Connection errors, timeouts, HTTP 5xx, truncated bodies and
    failed verifications are retried ``retries`` times (so ``retries + 1`` attempts), sleeping
    ``backoff * 2**k`` seconds before retry ``k + 1``; other HTTP errors fail at once. The file appears only
    once verified, written atomically. ``file://`` URLs work the same way (a local copy of a source).
    """
    target = Path(target)
    name = name or target.name
    if target.is_file():
        problem = verify(target.read_bytes())
        if problem is None:
            return target
        log.warning("%s: cached copy fails verification (%s); downloading again", target, problem)
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
            if url.startswith("file:"):
                break
            continue
        problem = verify(body)
        if problem is not None:
            continue
        _write_bytes_atomic(target, body)
        return target
    raise DownloadError(f"could not download {name} from {url} after {attempt} attempt(s): {problem}")


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

    Retries and atomicity as in :func:`download_verified`.
    """
    blobs = OFFICIAL_BLOBS if blobs is None else blobs
    if filename not in blobs:
        raise ValueError(f"no pinned git blob id for {filename!r}; known files: {', '.join(sorted(blobs))}")
    expected = blobs[filename]

    def verify(body: bytes) -> str | None:
        actual = git_blob_sha1(body)
        return (
            None if actual == expected else f"checksum mismatch: expected git blob {expected}, got {actual}"
        )

    url = base_url.rstrip("/") + "/" + filename
    return download_verified(
        url, Path(cache) / filename, verify, timeout=timeout, retries=retries, backoff=backoff
    )


def source_version(source: Mapping[str, Any]) -> str:
    """The data version of a download or mirror source (a mirror's detected one when it declares none)."""
    if source.get("data_version") not in (None, "auto"):
        return check_data_version(source["data_version"])
    if source.get("kind") == "mirror":
        return mirror_data_version(source["path"])
    return DEFAULT_DATA_VERSION


def mirror_data_version(folder: PathLike) -> str:
    """``"2024"`` when the mirror's ``quora-dev.csv`` has the 2024 header (``id`` first), else ``"2023"``."""
    path = Path(folder) / "quora-dev.csv"
    if not path.is_file():
        return "2023"
    with path.open("rb") as f:  # the header only; a bad byte further on is the data stage's to report
        first = f.readline().decode("utf-8", errors="replace").split("\t", 1)[0].lstrip("\ufeff")
    return "2024" if first == "id" else "2023"


def mirror_mismatches(folder: PathLike, version: str) -> dict[str, str]:
    """Official file -> problem, for each file of ``version`` the mirror lacks or holds in another version
    than the pinned blob (e.g. the 2023 mirror's 13,507-row ``quora-train.csv``). Empty: a complete mirror."""
    folder, problems = Path(folder), {}
    for name, blob in VERSION_BLOBS[check_data_version(version)].items():
        path = folder / name
        if not path.is_file():
            problems[name] = "missing"
        elif (actual := git_blob_sha1(path.read_bytes())) != blob:
            problems[name] = f"git blob {actual[:8]}, not the pinned {blob[:8]}"
    return problems


def official_path(
    task_name: str, split: str, source: Mapping[str, Any], blobs: Mapping[str, str] | None = None
) -> Path:
    """The verified official file (unlabelled test) of ``(task, split)``: downloaded or in the mirror.

    ``blobs`` overrides the data version's pinned blob ids (tests serve small synthetic files)."""
    filename = official_filename(task_name, split)
    if source.get("kind") == "mirror":
        return verified_mirror_file(source["path"], filename)
    version = source_version(source)
    return download_official(
        filename,
        source.get("cache", DEFAULT_CACHE),
        base_url=source.get("base_url", BASE_URLS[version]),
        blobs=VERSION_BLOBS[version] if blobs is None else blobs,
        timeout=float(source.get("timeout", 60.0)),
        retries=int(source.get("retries", 4)),
        backoff=float(source.get("backoff", 1.0)),
    )


def pair_number(rid: str) -> int:
    """The number a Quora id starts with (2024: ``"65977 641bc8de-..."``) or the 2023 hex hash as a number."""
    head = rid.split(" ", 1)[0]
    return int(head) if " " in rid else int(head, 16)


def holdout_half(frame: pd.DataFrame, split: str) -> pd.DataFrame:
    """The even (dev) or odd (test) half of a Quora dev frame, by :func:`pair_number` parity."""
    keep = frame["id"].map(pair_number) % 2 == (0 if split == "dev" else 1)
    return frame[keep].reset_index(drop=True)


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
        raw = generate_task(task.name, split, n=int(source["sizes"][split]), seed=int(source["seed"]))
        frame = validate_frame(raw, task.name, where=f"generated {task.name}-{split}")
    elif task.name == "para" and split != "train" and source.get("quora_holdout") and kind in KINDS[1:]:
        # Quora dev split in two halves: dev and a labelled test (no Quora test labels otherwise)
        frame = holdout_half(read_official(official_path(task.name, "dev", source, blobs), task.name), split)
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
        frame = read_official(official_path(task.name, split, source, blobs), task.name)
    else:
        raise ValueError(f"unknown source kind {kind!r}; allowed kinds: {', '.join(KINDS)}")
    return write_normalised(subset(frame, task.name, split, source), dest)


def subset(frame: pd.DataFrame, task_name: str, split: str, source: Mapping[str, Any]) -> pd.DataFrame:
    """The source's seeded subset of ``frame`` for ``(task, split)``, in file order (or ``frame`` itself)."""
    limit = (source.get("subsets") or {}).get(f"{task_name}-{split}")
    if limit and len(frame) > limit:  # quick scale: cheaper evaluation
        frame = frame.sample(n=int(limit), random_state=int(source.get("seed", 0))).sort_index()
        frame = frame.reset_index(drop=True)
    return frame
