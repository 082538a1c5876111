"""Labelled test splits rebuilt from public releases, trusted only by agreement with the official labels.

The CS224N test files carry no labels. The labels exist in public releases, and each task's matching is
described in ``../shared/data/cs224n/PROVENANCE.md``:

* ``sst``: the SST-5 release as fastText lines (``__label__{1..5}<TAB>sentence``, :data:`SOURCE_FILES`).
  Each CS224N split is the SST-5 split in the same order: row ``n`` matches row ``n`` after
  :func:`normalise_text`; the label is ``k - 1``.
* ``sts``: the original STS Benchmark (``genre, file, year, id, score, sentence1, sentence2[, ...]``).
  CS224N re-split all 8,628 items; each pair is looked up by its normalised ``(sentence1, sentence2)``.
  The scores used by CS224N train and dev are taken out of the pool first, so a pair listed twice gets
  the remaining score; every STS-B item must be used exactly once.
* ``cfimdb``: the counterfactually revised half of Kaushik et al.'s CAD data (``sentiment/new/``,
  ``Sentiment<TAB>Text``), each split in the same order as CS224N's; Positive is 1, Negative 0.
* ``para``: the public ``quora_duplicate_questions.tsv`` (404,290 pairs), joined by pair id: the number
  that starts a 2024 id (``"65977 641bc8de-..."``) or the leading index column of a 2023 file. The pair's
  normalised questions must equal the CS224N sentences.

Before a test label is used, the same matching must reproduce every train and dev label of the task
(:func:`rebuild_test_labels`). Any disagreement, unmatched row or malformed source raises
:class:`LabelError` with one line ``"{file}: row {n}: {problem}"``; nothing is written.
"""

from __future__ import annotations

import csv
import hashlib
import io
import math
import tarfile
import unicodedata
import zipfile
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.data.readers import DataError, PathLike, read_official, write_normalised
from pipeline.data.sources import download_verified, official_path, source_version, subset
from pipeline.io import write_atomic, write_json_atomic
from pipeline.tasks import get_task

#: The label-source files of each task, named as in ``../shared/data/cs224n/label-sources/`` (train, dev,
#: test for the split-wise releases; one file for Quora).
SOURCE_FILES: dict[str, tuple[str, ...]] = {
    "sst": ("sst_train.txt", "sst_dev.txt", "sst_test.txt"),
    "sts": ("stsbenchmark-sts-train.csv", "stsbenchmark-sts-dev.csv", "stsbenchmark-sts-test.csv"),
    "cfimdb": ("cad-sentiment-new-train.tsv", "cad-sentiment-new-dev.tsv", "cad-sentiment-new-test.tsv"),
    "para": ("quora_duplicate_questions.tsv",),
}
#: What each task's test labels are rebuilt from, for captions and the provenance record.
RELEASES = {
    "sst": "SST-5 (Stanford Sentiment Treebank, fine-grained)",
    "sts": "STS Benchmark (original release)",
    "cfimdb": "counterfactually-augmented IMDB data (Kaushik et al. 2020, sentiment/new/)",
    "para": "Quora question pairs (quora_duplicate_questions.tsv)",
}
_PTB = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}"}
_SPLITS = ("train", "dev", "test")
_STS_TOLERANCE = 1e-6


class LabelError(DataError):
    """A label source that does not reproduce the official labels, or cannot be matched or parsed."""


@dataclass(frozen=True)
class Item:
    """One record of a label source: its 1-based row (line) number, its texts and its label."""

    row: int
    texts: tuple[str, ...]
    label: float


def normalise_text(text: str) -> str:
    """Text reduced for matching: PTB brackets restored, ASCII-folded, lower-cased, alphanumerics only."""
    for token, bracket in _PTB.items():
        text = text.replace(token, bracket)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return "".join(ch for ch in text.lower() if ch.isalnum())


def _lines(path: Path) -> list[tuple[int, str]]:
    """``(line number, line)`` of every non-empty line of a UTF-8 text file."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        row = data[: e.start].count(b"\n") + 1
        raise LabelError(f"{path}: row {row}: invalid UTF-8 at byte offset {e.start}") from None
    if not text.strip():
        raise LabelError(f"{path}: row 1: empty file")
    return [(n, line.rstrip("\r")) for n, line in enumerate(text.split("\n"), 1) if line.strip()]


def read_sst5(path: PathLike) -> list[Item]:
    """SST-5 fastText lines ``__label__{1..5}<TAB>sentence``; the label is returned as 0-4."""
    path, items = Path(path), []
    for n, line in _lines(path):
        tag, _, sentence = line.partition("\t")
        if (
            not tag.startswith("__label__")
            or tag[9:] not in {"1", "2", "3", "4", "5"}
            or not sentence.strip()
        ):
            raise LabelError(
                f"{path}: row {n}: expected '__label__{{1..5}}<TAB>sentence', found {line[:60]!r}"
            )
        items.append(Item(n, (sentence,), int(tag[9:]) - 1))
    return items


def read_stsb(path: PathLike) -> list[Item]:
    """STS Benchmark lines (tab-separated, no quoting): score in column 5, sentences in columns 6 and 7."""
    path, items = Path(path), []
    for n, line in _lines(path):
        fields = line.split("\t")
        if len(fields) < 7:
            raise LabelError(
                f"{path}: row {n}: expected at least 7 tab-separated fields, found {len(fields)}"
            )
        try:
            score = float(fields[4])
        except ValueError:
            score = math.nan
        if not 0.0 <= score <= 5.0:
            raise LabelError(f"{path}: row {n}: score {fields[4]!r} is not a number in [0, 5]")
        items.append(Item(n, (fields[5], fields[6]), score))
    return items


def read_cad(path: PathLike) -> list[Item]:
    """CAD sentiment TSV with header ``Sentiment<TAB>Text``; Positive is 1, Negative 0."""
    path = Path(path)
    lines = _lines(path)
    if lines[0][1] != "Sentiment\tText":
        raise LabelError(f"{path}: header: expected 'Sentiment<TAB>Text', found {lines[0][1][:60]!r}")
    items = []
    for n, line in lines[1:]:
        sentiment, _, text = line.partition("\t")
        if sentiment not in ("Positive", "Negative") or not text.strip():
            raise LabelError(f"{path}: row {n}: expected 'Positive|Negative<TAB>text', found {line[:60]!r}")
        items.append(Item(n, (text,), 1 if sentiment == "Positive" else 0))
    return items


QUORA_HEADER = ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]


def read_quora_pairs(path: PathLike) -> dict[int, Item]:
    """The public Quora question pairs TSV (quoted fields) as pair id -> item (row = data record number)."""
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as e:
        raise LabelError(f"{path}: row ?: invalid UTF-8 at byte offset {e.start}") from None
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t")
    pairs: dict[int, Item] = {}
    n = 0
    try:
        header = next(reader, None)
        if header != QUORA_HEADER:
            raise LabelError(f"{path}: header: expected {QUORA_HEADER!r}, found {header!r}")
        for n, record in enumerate(reader, 1):
            if not record:
                continue
            if len(record) != len(QUORA_HEADER) or not record[0].isdigit() or record[5] not in ("0", "1"):
                raise LabelError(f"{path}: row {n}: expected 'id qid1 qid2 question1 question2 0|1' record")
            pid = int(record[0])
            if pid in pairs:
                raise LabelError(f"{path}: row {n}: duplicate pair id {pid} (first in row {pairs[pid].row})")
            pairs[pid] = Item(n, (record[3], record[4]), int(record[5]))
    except csv.Error as e:
        raise LabelError(f"{path}: row {n + 1}: malformed TSV ({e})") from None
    if not pairs:
        raise LabelError(f"{path}: row 1: no data rows")
    return pairs


def _key(texts: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return tuple(normalise_text(t) for t in texts)


def _official_texts(frame: pd.DataFrame, i: int, task_name: str) -> tuple[str, ...]:
    return tuple(frame.at[i, c] for c in get_task(task_name).text_columns)


def _label_text(task_name: str, value: float) -> str:
    return f"{value:g}" if get_task(task_name).kind == "regression" else str(int(value))


def _match_in_order(
    task_name: str, official: Mapping[str, Path], sources: Mapping[str, Path], read
) -> tuple[list[float], dict]:
    """SST and CFIMDB: each official split matches its source split row by row."""
    agreement, test_labels = {}, []
    for split, name in zip(_SPLITS, SOURCE_FILES[task_name], strict=True):
        src, off = Path(sources[name]), official[split]
        items = read(src)
        frame = read_official(off, task_name)
        if len(items) < len(frame):
            raise LabelError(
                f"{src}: row {len(items) + 1}: missing; {off.name} has {len(frame)} rows, "
                f"the source {len(items)}"
            )
        if len(items) > len(frame):
            raise LabelError(
                f"{src}: row {items[len(frame)].row}: extra row; {off.name} has {len(frame)} rows, "
                f"the source {len(items)}"
            )
        for i, item in enumerate(items):
            if _key(item.texts) != _key(_official_texts(frame, i, task_name)):
                raise LabelError(
                    f"{src}: row {item.row}: text does not match "
                    f"{off.name} row {i + 1} (id {frame.at[i, 'id']})"
                )
            if split != "test" and item.label != frame.at[i, "label"]:
                raise LabelError(
                    f"{src}: row {item.row}: label {_label_text(task_name, item.label)} disagrees with "
                    f"{off.name} row {i + 1} (id {frame.at[i, 'id']}): "
                    f"{_label_text(task_name, frame.at[i, 'label'])}"
                )
        if split == "test":
            test_labels = [item.label for item in items]
        else:
            agreement[split] = {"matched": len(frame), "rows": len(frame)}
    return test_labels, agreement


def _match_sts(official: Mapping[str, Path], sources: Mapping[str, Path]) -> tuple[list[float], dict]:
    """STS: look each pair up in the pooled STS Benchmark, train and dev scores taken out first."""
    pool: dict[tuple[str, ...], list[tuple[Path, Item]]] = defaultdict(list)
    total = 0
    for name in SOURCE_FILES["sts"]:
        src = Path(sources[name])
        for item in read_stsb(src):
            pool[_key(item.texts)].append((src, item))
            total += 1
    agreement: dict[str, dict[str, int]] = {}
    test_labels: list[float] = []
    for split in _SPLITS:
        off = official[split]
        frame = read_official(off, "sts")
        for i in range(len(frame)):
            key = _key(_official_texts(frame, i, "sts"))
            entries = pool.get(key)
            where = f"{off.name} row {i + 1} (id {frame.at[i, 'id']})"
            if not entries:
                names = "/".join(SOURCE_FILES["sts"])
                problem = "no unused STS-B item" if key in pool else "no STS-B item"
                raise LabelError(f"{names}: row ?: {problem} has the sentence pair of {where}")
            if split == "test":
                test_labels.append(entries.pop(0)[1].label)
                continue
            gold = float(frame.at[i, "label"])
            at = next(
                (k for k, (_, it) in enumerate(entries) if abs(it.label - gold) <= _STS_TOLERANCE), None
            )
            if at is None:
                src, item = entries[0]
                raise LabelError(
                    f"{src}: row {item.row}: score {item.label:g} disagrees with {where}: {gold:g}"
                )
            entries.pop(at)
        if split != "test":
            agreement[split] = {"matched": len(frame), "rows": len(frame)}
    unused = [(src, item) for entries in pool.values() for src, item in entries]
    if unused:
        src, item = unused[0]
        raise LabelError(
            f"{src}: row {item.row}: {len(unused)} of {total} STS-B item(s) unused by the CS224N splits "
            f"(first this one): the source does not match the official files"
        )
    agreement["sources_used"] = {"matched": total, "rows": total}
    return test_labels, agreement


def official_pair_ids(path: PathLike) -> dict[str, int]:
    """CS224N Quora id -> public pair id: the number starting a 2024 id, or a 2023 file's leading index."""
    path = Path(path)
    text = path.read_bytes().decode("utf-8", errors="replace").removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter="\t")
    header = next(reader)
    column = header.index("id")
    out = {}
    for n, record in enumerate(reader, 1):
        if len(record) <= column:
            continue
        rid = record[column].strip()
        number = rid.split(" ", 1)[0] if column == 0 else record[0].strip()
        if not number.isdigit():
            raise LabelError(f"{path}: row {n}: no public pair id in {record[0]!r} (id {rid!r})")
        out[rid] = int(number)
    return out


def _match_quora(official: Mapping[str, Path], sources: Mapping[str, Path]) -> tuple[list[float], dict]:
    """Quora: join every official row to the public pairs file by pair id; questions and labels must agree."""
    src = Path(sources[SOURCE_FILES["para"][0]])
    pairs = read_quora_pairs(src)
    agreement: dict[str, dict[str, int]] = {}
    test_labels: list[float] = []
    for split in _SPLITS:
        off = official[split]
        frame = read_official(off, "para")
        numbers = official_pair_ids(off)
        for i in range(len(frame)):
            rid = frame.at[i, "id"]
            where = f"{off.name} row {i + 1} (id {rid})"
            item = pairs.get(numbers[rid])
            if item is None:
                raise LabelError(f"{src}: row ?: no pair id {numbers[rid]}, needed by {where}")
            if _key(item.texts) != _key(_official_texts(frame, i, "para")):
                raise LabelError(f"{src}: row {item.row}: questions do not match {where}")
            if split == "test":
                test_labels.append(item.label)
            elif item.label != frame.at[i, "label"]:
                raise LabelError(
                    f"{src}: row {item.row}: is_duplicate {item.label} disagrees with {where}: "
                    f"{int(frame.at[i, 'label'])}"
                )
        if split != "test":
            agreement[split] = {"matched": len(frame), "rows": len(frame)}
    return test_labels, agreement


def sha256_file(path: PathLike) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def rebuild_test_labels(
    task_name: str, official: Mapping[str, PathLike], sources: Mapping[str, PathLike]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The labelled test frame of ``task_name`` and its provenance record.

    ``official``: split -> the official CS224N file (``train``, ``dev`` labelled; ``test`` the student
    file); ``sources``: file name (:data:`SOURCE_FILES`) -> path. Raises :class:`LabelError` unless every
    train and dev label is reproduced and every test row is matched.
    """
    task = get_task(task_name)
    official = {split: Path(official[split]) for split in _SPLITS}
    missing = [name for name in SOURCE_FILES[task.name] if name not in sources]
    if missing:
        raise LabelError(f"{missing[0]}: row ?: label source not given for task {task.name!r}")
    if task.name in ("sst", "cfimdb"):
        read = read_sst5 if task.name == "sst" else read_cad
        labels, agreement = _match_in_order(task.name, official, sources, read)
    elif task.name == "sts":
        labels, agreement = _match_sts(official, sources)
    else:
        labels, agreement = _match_quora(official, sources)
    test = read_official(official["test"], task.name)
    if len(labels) != len(test):  # cannot happen past the matchers' checks; a guard, not a path
        raise LabelError(f"{official['test']}: row ?: {len(labels)} labels for {len(test)} rows")
    test["label"] = pd.Series(labels, dtype="int64" if task.kind == "classification" else "float64")
    record = {
        "task": task.name,
        "release": RELEASES[task.name],
        "sources": {
            name: {"file": Path(sources[name]).name, "sha256": sha256_file(sources[name])}
            for name in SOURCE_FILES[task.name]
        },
        "official": {
            split: {"file": path.name, "sha256": sha256_file(path)} for split, path in official.items()
        },
        "agreement": agreement,
        "test": {"rows": len(test), "labelled": int(test["label"].notna().sum())},
    }
    if task.kind == "classification":
        counts = test["label"].value_counts().sort_index()
        record["test"]["label_counts"] = {str(k): int(v) for k, v in counts.items()}
    return test, record


def agreement_text(record: Mapping[str, Any]) -> str:
    """One phrase for captions, e.g. ``"sst test labels from SST-5 (...): train 8544/8544, dev 1101/1101
    labels reproduced"``."""
    parts = [
        f"{split} {a['matched']}/{a['rows']}"
        for split, a in record["agreement"].items()
        if split in ("train", "dev")
    ]
    return (
        f"{record['task']} test labels ({record['test']['labelled']} rows) rebuilt from {record['release']}, "
        f"reproducing official labels {', '.join(parts)}"
    )


# --- label sources: declared in config (location, format, sha256), fetched atomically with retries ------

#: The format of each label-source file name (config ``test_labels.sources.*.format`` must agree).
FORMATS = {
    **{name: "sst5-fasttext" for name in SOURCE_FILES["sst"]},
    **{name: "stsb-tsv" for name in SOURCE_FILES["sts"]},
    **{name: "cad-tsv" for name in SOURCE_FILES["cfimdb"]},
    SOURCE_FILES["para"][0]: "quora-pairs-tsv",
}


def _as_url(location: str) -> str:
    """A URL for ``location``: itself when it has a scheme, else the ``file://`` URL of a local path."""
    if "://" in location:
        return location
    return Path(location).expanduser().resolve().as_uri()


def _extract(archive: bytes, member: str, where: str) -> bytes:
    """``member`` of a zip or tar(.gz/.bz2/.xz) archive; a truncated or corrupt archive raises LabelError."""

    try:
        if archive[:4] == b"PK\x03\x04":
            with zipfile.ZipFile(io.BytesIO(archive)) as z:
                return z.read(member)
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:*") as t:
            f = t.extractfile(member)
            if f is None:
                raise KeyError(member)
            return f.read()
    except KeyError:
        raise LabelError(f"{where}: row ?: archive has no member {member!r}") from None
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, ValueError) as e:
        raise LabelError(f"{where}: row ?: truncated or corrupt archive ({e})") from None


def fetch_label_source(
    name: str,
    spec: Mapping[str, Any],
    target: PathLike,
    *,
    timeout: float = 60.0,
    retries: int = 4,
    backoff: float = 1.0,
) -> Path:
    """Fetch label source ``name`` as declared in ``spec`` (``url``: URL or local path, ``format``,
    ``sha256``: hex or null, optional ``member`` of an archive) into ``target``; returns ``target``.

    The download is verified by ``sha256`` when known, retried and written atomically (see
    :func:`pipeline.data.sources.download_verified`); an archive is unpacked after verification.
    """

    if name not in FORMATS:
        raise LabelError(f"{name}: row ?: unknown label source; known: {', '.join(FORMATS)}")
    if spec.get("format", FORMATS[name]) != FORMATS[name]:
        raise LabelError(
            f"{name}: row ?: format {spec.get('format')!r} declared; this file is {FORMATS[name]!r}"
        )
    url, expected = _as_url(str(spec["url"])), spec.get("sha256")
    member, target = spec.get("member"), Path(target)

    def verify(body: bytes) -> str | None:
        if not body:
            return "empty body"
        if expected and (actual := hashlib.sha256(body).hexdigest()) != expected.lower():
            return f"checksum mismatch: expected sha256 {expected}, got {actual}"
        if member:
            try:
                _extract(body, member, name)
            except LabelError as e:
                return str(e).split(": row ?: ", 1)[-1]
        return None

    if not member:
        return download_verified(
            url, target, verify, name=name, timeout=timeout, retries=retries, backoff=backoff
        )
    archive = target.parent / "archives" / Path(url.split("?", 1)[0]).name
    download_verified(url, archive, verify, name=name, timeout=timeout, retries=retries, backoff=backoff)
    data = _extract(archive.read_bytes(), member, str(archive))
    write_atomic(target, lambda tmp: Path(tmp).write_bytes(data))
    return target


def write_test_split(
    task_name: str,
    source: Mapping[str, Any],
    label_sources: Mapping[str, PathLike],
    dest: PathLike,
    record_path: PathLike,
    *,
    blobs: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Rebuild the labelled test split of ``task_name`` for a download or mirror ``source`` and write the
    normalised ``dest`` and its provenance JSON ``record_path``; nothing is written unless every check
    passes. Returns the record."""

    official = {split: official_path(task_name, split, source, blobs) for split in _SPLITS}
    test, record = rebuild_test_labels(task_name, official, label_sources)
    record["data_version"] = source_version(source)
    record["source_kind"] = source.get("kind")
    kept = subset(test, task_name, "test", source)
    if len(kept) != len(test):
        record["test"]["subset"] = len(kept)
    write_json_atomic(record, record_path)
    try:
        write_normalised(kept, dest)
    except BaseException:
        Path(record_path).unlink(missing_ok=True)
        raise
    return record
