"""Read the official CS224N data files and our normalised CSVs, validating every row.

The official files are tab-separated UTF-8 with quoted fields that may contain newlines; they are parsed
with :func:`csv.reader` exactly as the course's ``datasets.py`` did. Every problem raises
:class:`DataError` with a message ``"{path}: row {n}: {problem}"`` (``n`` is the 1-based data row, the
record number given by the csv module) or ``"{path}: header: {problem}"``.

One deliberate exception copies the course: its paraphrase loader wrapped each row in ``try/except`` and
so silently skipped rows whose ``is_duplicate`` is empty. The official ``quora-dev.csv`` has two such rows
(broken quoting, rows 2576 and 14221), so the course trained and evaluated on 20,212 of its 20,214 rows.
:func:`read_official` drops empty-label ``para`` rows the same way (and logs them) unless
``drop_unlabelled=False``; any other bad label still raises.

Quora files come in two layouts. 2023: a leading unnamed column (the pair's row in the public
``quora_duplicate_questions.tsv``) and a 25-hex-character id. Spring 2024 (:data:`QUORA_2024_HEADERS`): no
index column, and an id of two tokens, the public pair id and a UUID (``"65977 641bc8de-b905-..."``); the
whole string is kept as the id.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import re
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.io import write_csv_atomic
from pipeline.tasks import Task, get_task

PathLike = str | Path
log = logging.getLogger(__name__)

#: Name of the label column in the official files of each task.
LABEL_COLUMNS = {"sst": "sentiment", "cfimdb": "sentiment", "para": "is_duplicate", "sts": "similarity"}


#: Headers of the Spring-2024 Quora files: labelled (train, dev) and ``quora-test-student.csv``.
QUORA_2024_HEADERS = {
    True: ["id", "sentence1", "sentence2", "is_duplicate"],
    False: ["id", "sentence1", "sentence2"],
}
QUORA_2024_ID = re.compile(r"\d+ [0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class DataError(ValueError):
    """A data file or frame whose content is not what its task requires; the message says where."""


def official_header(task: Task, labelled: bool) -> list[str]:
    """Header of an official file: the labelled train/dev/test layout or the ``*-test-student`` one."""
    if task.pair:
        head = ["", "id", "sentence1", "sentence2"]
    else:
        head = ["", "id", "sentence"] if labelled else ["0", "", "id", "sentence"]
    return [*head, LABEL_COLUMNS[task.name]] if labelled else head


def _decode(path: Path, delimiter: str) -> str:
    """The file as text; invalid UTF-8 raises :class:`DataError` naming the row and byte offset."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        prefix = data[: e.start].decode("utf-8")
        try:  # the bad byte lies in the last record of the valid prefix (plus a sentinel character)
            n = sum(1 for _ in csv.reader(io.StringIO(prefix + "x", newline=""), delimiter=delimiter)) - 1
            where = "header" if n == 0 else f"row {n}"
        except csv.Error:
            where = "row ?"
        raise DataError(f"{path}: {where}: invalid UTF-8 at byte offset {e.start} ({e.reason})") from None
    return text.removeprefix("\ufeff")


def _parse_label(raw: str, task: Task, at: str) -> float:
    """The label ``raw`` as a number within the task's range (integral for classification tasks)."""
    if not raw.strip():
        raise DataError(f"{at}: label is empty")
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise DataError(f"{at}: label {raw!r} is not a number")
    if not task.label_min <= value <= task.label_max:
        raise DataError(f"{at}: label {raw!r} out of range [{task.label_min}, {task.label_max}]")
    if task.kind == "classification" and value != int(value):
        raise DataError(f"{at}: label {raw!r} is not an integer class")
    return value


def _frame(
    rows: Iterable[tuple[int, list[str]]],
    task: Task,
    where: str,
    labelled: bool,
    drop_unlabelled: bool = False,
) -> pd.DataFrame:
    """Validate ``(row number, [id, *sentences, label])`` records and build the normalised frame."""
    ids: list[str] = []
    texts: list[list[str]] = [[] for _ in task.text_columns]
    labels: list[float] = []
    first_row: dict[str, int] = {}
    dropped: list[int] = []
    for n, fields in rows:
        at = f"{where}: row {n}"
        if labelled and drop_unlabelled and not fields[-1].strip():
            dropped.append(n)
            continue
        rid = fields[0].strip()
        if not rid:
            raise DataError(f"{at}: empty id")
        if rid in first_row:
            raise DataError(f"{at}: duplicate id {rid!r} (first in row {first_row[rid]})")
        first_row[rid] = n
        for column, values, text in zip(task.text_columns, texts, fields[1:-1], strict=True):
            text = text.strip()
            if not text:
                raise DataError(f"{at}: empty {column}")
            values.append(text)
        if labelled:
            labels.append(_parse_label(fields[-1], task, at))
        ids.append(rid)
    if dropped:
        log.warning(
            "%s: dropped %d row(s) with an empty label, as the course loader did: rows %s",
            where,
            len(dropped),
            dropped,
        )
    if not ids:
        raise DataError(f"{where}: row 1: no data rows")
    classification = task.kind == "classification"
    if labelled:
        label = pd.Series(labels, dtype="int64" if classification else "float64")
    else:
        label = pd.Series(
            pd.NA if classification else np.nan,
            index=range(len(ids)),
            dtype="Int64" if classification else "float64",
        )
    frame = pd.DataFrame({"id": ids, **dict(zip(task.text_columns, texts, strict=True))})
    frame["label"] = label
    return frame


def _records(reader: Iterable[list[str]], where: str, header: list[str], keep: list[int], pad: bool):
    """Yield ``(row number, kept fields)`` for each non-blank record, checking its column count."""
    n = 0
    try:
        for n, record in enumerate(reader, 1):
            if not record:  # a blank line, skipped like csv.DictReader does
                continue
            if len(record) != len(header):
                raise DataError(
                    f"{where}: row {n}: wrong column count: expected {len(header)} "
                    f"({', '.join(map(repr, header))}), found {len(record)}"
                )
            yield n, [record[i] for i in keep] + ([""] if pad else [])
    except csv.Error as e:
        raise DataError(f"{where}: row {n + 1}: malformed CSV ({e})") from None


def _open_csv(path: Path, delimiter: str) -> tuple[list[str], Iterable[list[str]]]:
    """Header and record iterator of a delimited UTF-8 file; an empty file raises :class:`DataError`."""
    text = _decode(path, delimiter)
    if not text.strip():
        raise DataError(f"{path}: header: empty file")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return next(reader), reader
    except csv.Error as e:
        raise DataError(f"{path}: header: malformed CSV ({e})") from None


def read_official(path: PathLike, task_name: str, *, drop_unlabelled: bool | None = None) -> pd.DataFrame:
    """Read an official CS224N file of ``task_name`` into a validated normalised frame.

    Whether the file is labelled is decided by its header (labelled layout or ``*-test-student`` layout).
    The label is ``int64`` for classification tasks and ``float64`` for ``sts``; an unlabelled file gets an
    all-missing label. ``drop_unlabelled`` (default: only for ``para``, as the course did) skips rows with
    an empty label instead of raising.
    """
    path, task = Path(path), get_task(task_name)
    header, reader = _open_csv(path, "\t")
    layouts = {True: official_header(task, True), False: official_header(task, False)}
    labelled = next((flag for flag, layout in layouts.items() if header == layout), None)
    v2024 = task.name == "para" and labelled is None and header in QUORA_2024_HEADERS.values()
    if v2024:
        labelled = header == QUORA_2024_HEADERS[True]
    if labelled is None:
        extra = f", or the 2024 {QUORA_2024_HEADERS[True]!r}" if task.name == "para" else ""
        raise DataError(
            f"{path}: header: unexpected header {header!r}; expected {layouts[True]!r} "
            f"(labelled) or {layouts[False]!r} (test-student){extra} for task {task.name!r}"
        )
    names = ["id", *task.text_columns] + ([LABEL_COLUMNS[task.name]] if labelled else [])
    keep = [header.index(name) for name in names]
    if drop_unlabelled is None:
        drop_unlabelled = task.name == "para"
    records = _records(reader, str(path), header, keep, not labelled)
    if v2024:
        records = _check_2024_ids(records, str(path))
    return _frame(records, task, str(path), labelled, drop_unlabelled)


def _check_2024_ids(records: Iterable[tuple[int, list[str]]], where: str):
    """Pass records through, checking each id has the 2024 Quora form ``"<pair id> <uuid>"``."""
    for n, fields in records:
        if not QUORA_2024_ID.fullmatch(fields[0].strip()):
            raise DataError(
                f"{where}: row {n}: id {fields[0]!r} is not '<pair id> <uuid>' (2024 Quora format)"
            )
        yield n, fields


def validate_frame(df: pd.DataFrame, task_name: str, where: str = "<frame>") -> pd.DataFrame:
    """Check a normalised frame (e.g. generated data) like :func:`read_normalised` and return it canonical.

    The frame is labelled when any label is present; then every label must be valid.
    """
    task = get_task(task_name)
    if list(df.columns) != list(task.columns):
        raise DataError(f"{where}: header: columns {list(df.columns)!r}; expected {list(task.columns)!r}")
    cells = df.astype(object).where(df.notna(), "").astype(str).to_numpy().tolist()
    return _frame(enumerate(cells, 1), task, where, any(row[-1].strip() for row in cells))


def read_normalised(path: PathLike, task_name: str) -> pd.DataFrame:
    """Read one of our normalised CSVs (see :mod:`pipeline.tasks`), validating it like an official file.

    Parsed with the csv module (comma-separated), so an empty label is missing while a sentence reading
    ``NA`` or ``null`` stays text, and errors name the exact record.
    """
    path, task = Path(path), get_task(task_name)
    header, reader = _open_csv(path, ",")
    if header != list(task.columns):
        raise DataError(f"{path}: header: unexpected header {header!r}; expected {list(task.columns)!r}")
    rows = list(_records(reader, str(path), header, list(range(len(header))), False))
    if not rows:  # a split the source does not have (see sources.materialise): no examples, no labels
        return empty_frame(task_name)
    return _frame(rows, task, str(path), any(fields[-1].strip() for _, fields in rows))


def empty_frame(task_name: str) -> pd.DataFrame:
    """A normalised frame with the task's columns and no rows."""
    return pd.DataFrame({column: pd.Series(dtype=str) for column in get_task(task_name).columns})


def write_normalised(df: pd.DataFrame, path: PathLike) -> Path:
    """Write a normalised frame as CSV (missing labels empty) atomically; returns the path."""
    write_csv_atomic(df, path)
    return Path(path)
