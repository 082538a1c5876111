"""Tests of pipeline.data.readers: the real CS224N files and a corpus of broken ones."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.data.readers import DataError, read_normalised, read_official, validate_frame, write_normalised

MIRROR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cs224n"
needs_mirror = pytest.mark.skipif(not MIRROR.is_dir(), reason=f"{MIRROR} absent")

# file, task, data rows in PROVENANCE.md, labelled
REAL_FILES = [
    ("ids-sst-train.csv", "sst", 8544, True),
    ("ids-sst-dev.csv", "sst", 1101, True),
    ("ids-sst-test.csv", "sst", 2210, True),
    ("ids-sst-test-student.csv", "sst", 2210, False),
    ("quora-dev.csv", "para", 20214, True),
    ("quora-train-small.csv", "para", 5000, True),
    ("quora-train.csv", "para", 13507, True),
    ("sts-train.csv", "sts", 6040, True),
    ("sts-dev.csv", "sts", 863, True),
    ("sts-test.csv", "sts", 1725, True),
    ("sts-test-student.csv", "sts", 1725, False),
    ("ids-cfimdb-train.csv", "cfimdb", 1707, True),
    ("ids-cfimdb-dev.csv", "cfimdb", 245, True),
    ("ids-cfimdb-test.csv", "cfimdb", 488, True),
    ("ids-cfimdb-test-student.csv", "cfimdb", 488, False),
]
# Rows of the official quora-dev.csv with an empty is_duplicate (broken quoting); the course skipped them.
QUORA_DEV_UNLABELLED = (2576, 14221)

SST_HEAD = "\tid\tsentence\tsentiment\n"
STS_HEAD = "\tid\tsentence1\tsentence2\tsimilarity\n"
QUORA_HEAD = "\tid\tsentence1\tsentence2\tis_duplicate\n"


@needs_mirror
@pytest.mark.parametrize(("name", "task", "rows", "labelled"), REAL_FILES, ids=[f[0] for f in REAL_FILES])
def test_real_file(name: str, task: str, rows: int, labelled: bool) -> None:
    df = read_official(MIRROR / name, task)
    expected_rows = rows - len(QUORA_DEV_UNLABELLED) if name == "quora-dev.csv" else rows
    assert len(df) == expected_rows
    pair = task in ("para", "sts")
    text = ["sentence1", "sentence2"] if pair else ["sentence"]
    assert list(df.columns) == ["id", *text, "label"]
    assert df["id"].is_unique
    for column in text:
        assert (df[column].str.strip() == df[column]).all() and (df[column] != "").all()
    if not labelled:
        assert df["label"].isna().all()
    elif task == "sts":
        assert df["label"].dtype == "float64" and df["label"].between(0, 5).all()
    else:
        assert df["label"].dtype == "int64"
        assert set(df["label"]) == set(range({"sst": 5, "para": 2, "cfimdb": 2}[task]))


@needs_mirror
def test_quora_dev_empty_labels_strict() -> None:
    with pytest.raises(DataError, match=r"quora-dev\.csv: row 2576: label is empty"):
        read_official(MIRROR / "quora-dev.csv", "para", drop_unlabelled=False)


@needs_mirror
@pytest.mark.parametrize(
    ("name", "task"),
    [("quora-dev.csv", "para"), ("sts-test-student.csv", "sts"), ("ids-sst-test-student.csv", "sst")],
)
def test_real_roundtrip(tmp_path: Path, name: str, task: str) -> None:
    df = read_official(MIRROR / name, task)
    out = write_normalised(df, tmp_path / "sub" / "out.csv")
    back = read_normalised(out, task)
    pd.testing.assert_frame_equal(back, df)
    assert [p.name for p in out.parent.iterdir()] == ["out.csv"]  # no temp file left


# name, task, file content, expected words (all must appear in the message), read_official kwargs
BROKEN_OFFICIAL = [
    ("empty", "sst", b"", ["header", "empty file"], {}),
    (
        "headerless",
        "para",
        b"1\tabc\tq one\tq two\t0.0\n",
        ["header", "unexpected header", "is_duplicate"],
        {},
    ),
    ("wrong-label-name", "sst", b"\tid\tsentence\tlabel\n0\ta\tfine\t1\n", ["header", "'sentiment'"], {}),
    ("header-only", "sst", SST_HEAD.encode(), ["row 1", "no data rows"], {}),
    (
        "column-count",
        "sst",
        (SST_HEAD + "0\ta\tgood\t1\n1\tb\tbad\n").encode(),
        ["row 2", "wrong column count", "expected 4", "found 3"],
        {},
    ),
    ("label-nan", "sst", (SST_HEAD + "0\ta\tgood\tfour\n").encode(), ["row 1", "'four'", "not a number"], {}),
    (
        "label-range",
        "sst",
        (SST_HEAD + "0\ta\tgood\t1\n1\tb\tgreat\t7\n").encode(),
        ["row 2", "'7'", "out of range"],
        {},
    ),
    ("label-range-sts", "sts", (STS_HEAD + "0\ta\tx y\tx z\t5.5\n").encode(), ["row 1", "out of range"], {}),
    (
        "label-fraction",
        "cfimdb",
        (SST_HEAD + "0\ta\tgood\t0.5\n").encode(),
        ["row 1", "'0.5'", "not an integer"],
        {},
    ),
    (
        "label-empty-strict",
        "para",
        (QUORA_HEAD + "0\ta\tq1\tq2\t\n").encode(),
        ["row 1", "label is empty"],
        {"drop_unlabelled": False},
    ),
    ("label-empty-sst", "sst", (SST_HEAD + "0\ta\tgood\t\n").encode(), ["row 1", "label is empty"], {}),
    (
        "empty-sentence",
        "sst",
        (SST_HEAD + "0\ta\tgood\t1\n1\tb\t   \t2\n").encode(),
        ["row 2", "empty sentence"],
        {},
    ),
    ("empty-sentence2", "sts", (STS_HEAD + "0\ta\tx y\t \t2.0\n").encode(), ["row 1", "empty sentence2"], {}),
    ("empty-id", "sst", (SST_HEAD + "0\t \tgood\t1\n").encode(), ["row 1", "empty id"], {}),
    (
        "duplicate-id",
        "sst",
        (SST_HEAD + "0\ta\tgood\t1\n1\tb\tok\t2\n2\ta\tbad\t0\n").encode(),
        ["row 3", "duplicate id 'a'", "first in row 1"],
        {},
    ),
    # row 1 holds a quoted newline, so the bad byte is on line 4 but in data row 2
    (
        "bad-utf8",
        "sst",
        SST_HEAD.encode() + b'0\ta\t"two\nlines"\t1\n1\tb\tcaf\xe9\t2\n',
        ["row 2", "invalid UTF-8", "byte offset 48"],
        {},
    ),
    (
        "bad-utf8-header",
        "sst",
        b"\tid\tsent\xffence\tsentiment\n",
        ["header", "invalid UTF-8", "byte offset 8"],
        {},
    ),
]


@pytest.mark.parametrize(
    ("name", "task", "content", "words", "kwargs"), BROKEN_OFFICIAL, ids=[c[0] for c in BROKEN_OFFICIAL]
)
def test_broken_official(
    tmp_path: Path, name: str, task: str, content: bytes, words: list[str], kwargs: dict
) -> None:
    path = tmp_path / f"{name}.csv"
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        read_official(path, task, **kwargs)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    for word in words:
        assert word in message


def test_official_parsing_details(tmp_path: Path) -> None:
    """Quoted fields with tabs/newlines, leading spaces, blank lines, float labels and dropped rows."""
    path = tmp_path / "quora.csv"
    rows = '7\tA1\t"Is it\ta\nquestion?"\t What? \t1.0\n\n8\tb2\tq\tr\t\n9\tc3\tNA\tnull\t0.0\n'
    path.write_text(QUORA_HEAD + rows, encoding="utf-8")
    df = read_official(path, "para")  # the empty-label row 3 (after the blank row 2) is dropped
    assert df["id"].tolist() == ["A1", "c3"]
    assert df["sentence1"].tolist() == ["Is it\ta\nquestion?", "NA"]
    assert df["sentence2"].tolist() == ["What?", "null"]
    assert df["label"].tolist() == [1, 0] and df["label"].dtype == "int64"


def test_student_file(tmp_path: Path) -> None:
    path = tmp_path / "ids-sst-test-student.csv"
    path.write_text("0\t\tid\tsentence\n1\t0.0\tabc\t Fine .\n", encoding="utf-8")
    df = read_official(path, "sst")
    assert df["sentence"].tolist() == ["Fine ."] and df["label"].isna().all()


def _normalised(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "norm.csv"
    path.write_bytes(text.encode("utf-8", errors="surrogateescape"))  # a lone \udce9 is the byte 0xe9
    return path


def test_normalised_na_text_stays_text(tmp_path: Path) -> None:
    text = 'id,sentence1,sentence2,label\na,NA,null,\nb,"x, ""y""",N/A,\n'
    df = read_normalised(_normalised(tmp_path, text), "sts")
    assert df["sentence1"].tolist() == ["NA", 'x, "y"'] and df["sentence2"].tolist() == ["null", "N/A"]
    assert df["label"].isna().all()
    labelled = read_normalised(_normalised(tmp_path, "id,sentence,label\na,NA,3\n"), "sst")
    assert labelled["label"].tolist() == [3] and labelled["sentence"].tolist() == ["NA"]


BROKEN_NORMALISED = [
    ("id,sentence\na,good\n", "sst", ["header", "expected ['id', 'sentence', 'label']"]),
    ("", "sst", ["header", "empty file"]),
    ("id,sentence,label\na,good,1\nb,bad\n", "sst", ["row 2", "wrong column count"]),
    ("id,sentence,label\na,good,5\n", "sst", ["row 1", "out of range"]),
    ("id,sentence,label\na,good,x\n", "cfimdb", ["row 1", "not a number"]),
    ("id,sentence,label\na,good,1\nb,,1\n", "sst", ["row 2", "empty sentence"]),
    ("id,sentence,label\na,good,1\na,bad,0\n", "sst", ["row 2", "duplicate id 'a'", "row 1"]),
    ("id,sentence,label\na,good,1\nb,bad,\n", "sst", ["row 2", "label is empty"]),
    ("id,sentence1,sentence2,label\na,x,y,-0.5\n", "sts", ["row 1", "out of range"]),
    ("id,sentence,label\na,good,four\n", "sst", ["row 1", "'four'", "not a number"]),
    ("a,good,1\nb,bad,0\n", "sst", ["header", "unexpected header ['a', 'good', '1']"]),
    ("id,sentence1,sentence2,label\na,x,y,1\nb,x, ,2\n", "sts", ["row 2", "empty sentence2"]),
    ("id,sentence,label\na,good,1\nb,caf\udce9,2\n", "sst", ["row 2", "invalid UTF-8", "byte offset 32"]),
]


@pytest.mark.parametrize(("text", "task", "words"), BROKEN_NORMALISED)
def test_broken_normalised(tmp_path: Path, text: str, task: str, words: list[str]) -> None:
    path = _normalised(tmp_path, text)
    with pytest.raises(DataError) as info:
        read_normalised(path, task)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    for word in words:
        assert word in message


def test_validate_frame() -> None:
    frame = pd.DataFrame(
        {"id": ["a", "b"], "sentence1": ["x", "y"], "sentence2": ["z", "w"], "label": [4.6, 0]}
    )
    out = validate_frame(frame, "sts")
    assert out["label"].tolist() == [4.6, 0.0]
    with pytest.raises(DataError, match=r"<frame>: header: columns"):
        validate_frame(frame, "sst")
    with pytest.raises(DataError, match=r"gen: row 2: duplicate id"):
        validate_frame(frame.assign(id=["a", "a"]), "sts", where="gen")
    with pytest.raises(DataError, match=r"row 1: label '6.0' out of range"):
        validate_frame(frame.assign(label=[6.0, 1.0]), "sts")


def test_write_normalised_atomic(tmp_path: Path) -> None:
    df = pd.DataFrame({"id": ["a"], "sentence": ["NA"], "label": pd.array([pd.NA], dtype="Int64")})
    path = write_normalised(df, tmp_path / "d" / "x.csv")
    assert path.read_text(encoding="utf-8") == "id,sentence,label\na,NA,\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["x.csv"]


# --- the Spring-2024 Quora format -----------------------------------------------------------------------

HEAD_2024 = Path(__file__).resolve().parents[2] / "shared" / "data" / "cs224n-2024" / "quora-dev-head.csv"


@pytest.mark.skipif(not HEAD_2024.is_file(), reason=f"{HEAD_2024} absent")
def test_read_2024_quora_head() -> None:
    frame = read_official(HEAD_2024, "para")
    assert list(frame.columns) == ["id", "sentence1", "sentence2", "label"]
    assert frame["id"].str.fullmatch(r"\d+ [0-9a-f-]{36}").all() and len(frame) == 9
    assert frame["sentence2"][8] == 'What does the Tamil word "Pazhagikalaam" meaning?'


def test_read_2024_quora_generated(tmp_path: Path) -> None:
    labelled = tmp_path / "quora-dev.csv"
    labelled.write_text(
        "id\tsentence1\tsentence2\tis_duplicate\n"
        "12 00000000-0000-0000-0000-00000000000c\tA?\tB?\t1.0\n"
        '13 00000000-0000-0000-0000-00000000000d\t"Say ""hi""?"\tC?\t0.0\n'
    )
    frame = read_official(labelled, "para")
    assert frame["label"].tolist() == [1, 0] and frame["sentence1"][1] == 'Say "hi"?'
    student = tmp_path / "quora-test-student.csv"
    student.write_text("id\tsentence1\tsentence2\n14 00000000-0000-0000-0000-00000000000e\tD?\tE?\n")
    assert read_official(student, "para")["label"].isna().all()
    bad = tmp_path / "bad.csv"
    bad.write_text("id\tsentence1\tsentence2\tis_duplicate\nabc\tA?\tB?\t1.0\n")
    with pytest.raises(
        DataError, match=r"bad\.csv: row 1: id 'abc' is not '<pair id> <uuid>' \(2024 Quora format\)"
    ):
        read_official(bad, "para")
    sst = tmp_path / "sst.csv"
    sst.write_text("id\tsentence1\tsentence2\tis_duplicate\n")
    with pytest.raises(DataError, match="unexpected header"):
        read_official(sst, "sts")
