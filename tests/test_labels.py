# ruff: noqa: F811  (the server fixture, imported from test_sources, is a parameter of several tests)
"""Tests of pipeline.data.labels: test labels rebuilt from public releases, trusted by train/dev agreement.

The real label sources of ../shared/data/cs224n/label-sources/ are served by a loopback HTTP server and the
rebuilt test files are compared with the mirror's reconstructions; Quora's join is tested on generated
pairs files in the 2023 and 2024 formats; broken sources each stop with a one-line error and no file.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import shutil
import tarfile
import uuid
from pathlib import Path

import pytest
from test_sources import MIRROR, Server, needs_mirror, server  # noqa: F401 (server is a fixture)

from pipeline.data.labels import (
    SOURCE_FILES,
    LabelError,
    agreement_text,
    fetch_label_source,
    normalise_text,
    official_pair_ids,
    rebuild_test_labels,
    write_test_split,
)
from pipeline.data.readers import read_normalised, read_official
from pipeline.data.sources import DownloadError, git_blob_sha1

LABEL_SOURCES = MIRROR / "label-sources"
PREFIX = {"sst": "ids-sst", "sts": "sts", "cfimdb": "ids-cfimdb"}
CONFIG_SOURCES = Path(__file__).resolve().parents[1] / "config.yaml"


def test_normalise_text() -> None:
    assert normalise_text(" A -LRB- very -RRB- good film .") == normalise_text("a (very) good film")
    assert normalise_text("Café , naïve") == "cafenaive"
    assert normalise_text("It 's") == normalise_text("It's")


def _specs(url: str, names: list[str]) -> dict[str, dict]:
    """Config-style declarations of ``names`` at ``url`` with the sha256 declared in config.yaml."""
    import yaml

    declared = yaml.safe_load(CONFIG_SOURCES.read_text())["test_labels"]["sources"]
    return {n: {**declared[n], "url": url + n} for n in names}


@needs_mirror
@pytest.mark.parametrize("task", ["sst", "sts", "cfimdb"])
def test_rebuilt_from_served_sources_equals_mirror_reconstruction(
    task: str,
    server: Server,
    tmp_path: Path,
) -> None:
    names = list(SOURCE_FILES[task])
    for name in names:
        shutil.copy(LABEL_SOURCES / name, server.root / name)
    specs = _specs(server.url, names)
    fetched = {n: fetch_label_source(n, s, tmp_path / "cache" / n, backoff=0.01) for n, s in specs.items()}
    source = {"kind": "mirror", "path": str(MIRROR)}
    dest, record_path = tmp_path / "out" / f"{task}-test.csv", tmp_path / "out" / f"{task}-test.json"
    record = write_test_split(task, source, fetched, dest, record_path)
    rebuilt = read_normalised(dest, task)
    reference = read_official(MIRROR / f"{PREFIX[task]}-test.csv", task)
    assert rebuilt["id"].tolist() == reference["id"].tolist()
    assert rebuilt["label"].tolist() == reference["label"].tolist()  # label for label
    rows = {
        "sst": {"train": 8544, "dev": 1101},
        "sts": {"train": 6040, "dev": 863},
        "cfimdb": {"train": 1707, "dev": 245},
    }[task]
    for split, n in rows.items():
        assert record["agreement"][split] == {"matched": n, "rows": n}
    assert json.loads(record_path.read_text()) == record
    assert record["test"]["labelled"] == len(reference)
    assert record["data_version"] == "2023"  # the mirror's quora-dev.csv has the 2023 header
    if task == "sts":
        assert record["agreement"]["sources_used"] == {"matched": 8628, "rows": 8628}
    if task == "sst":
        assert record["test"]["label_counts"] == {"0": 279, "1": 633, "2": 389, "3": 510, "4": 399}
    assert f"train {rows['train']}/{rows['train']}" in agreement_text(record)


# --- Quora: the join by pair id, on generated files in both formats ----------------------------------------


def _tsv(rows: list[list[str]]) -> bytes:
    out = io.StringIO()
    csv.writer(out, delimiter="\t", lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


def _quora(tmp_path: Path, version: str, n: int = 40) -> tuple[dict[str, Path], dict[str, Path], dict]:
    """A public pairs file of ``n`` pairs and official train/dev/test files in the ``version`` format."""
    pairs = [["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]]
    truth = {}
    for i in range(n):
        label = (i * 7) % 3 == 0
        q1 = f'How do I learn "topic {i}"?' if i % 5 == 0 else f"How do I learn topic {i}?"
        pairs.append([str(1000 + i), str(2 * i), str(2 * i + 1), q1, f"What is topic {i}?", str(int(label))])
        truth[1000 + i] = int(label)
    root = tmp_path / version
    root.mkdir()
    (root / "quora_duplicate_questions.tsv").write_bytes(_tsv(pairs))
    order = list(range(n))[::-1]  # the official files list pairs in another order than the public file
    splits = {"train": order[: n // 2], "dev": order[n // 2 : 3 * n // 4], "test": order[3 * n // 4 :]}
    official, ids = {}, {}
    for split, members in splits.items():
        labelled = split != "test"
        if version == "2024":
            header = ["id", "sentence1", "sentence2"] + (["is_duplicate"] if labelled else [])
        else:
            header = ["", "id", "sentence1", "sentence2"] + (["is_duplicate"] if labelled else [])
        rows = [header]
        for i in members:
            pid = 1000 + i
            rid = (
                f"{pid} {uuid.UUID(int=pid)}"
                if version == "2024"
                else hashlib.md5(str(i).encode()).hexdigest()[:25]
            )
            ids[rid] = pid
            # CS224N's text may be tokenised differently; normalisation absorbs it
            q1 = pairs[i + 1][3].replace("?", " ?")
            row = [rid, q1, pairs[i + 1][4]] + ([f"{truth[pid]:.1f}"] if labelled else [])
            rows.append(row if version == "2024" else [str(pid), *row])
        official[split] = root / f"quora-{split}.csv"
        official[split].write_bytes(_tsv(rows))
    return (
        official,
        {"quora_duplicate_questions.tsv": root / "quora_duplicate_questions.tsv"},
        {"ids": ids, "truth": truth},
    )


@pytest.mark.parametrize("version", ["2023", "2024"])
def test_quora_join_by_pair_id(tmp_path: Path, version: str) -> None:
    official, sources, info = _quora(tmp_path, version)
    assert official_pair_ids(official["dev"]).items() <= info["ids"].items()
    test, record = rebuild_test_labels("para", official, sources)
    assert record["agreement"] == {"train": {"matched": 20, "rows": 20}, "dev": {"matched": 10, "rows": 10}}
    assert len(test) == 10
    for rid, label in zip(test["id"], test["label"], strict=True):
        assert label == info["truth"][info["ids"][rid]]


@pytest.mark.parametrize("version", ["2023", "2024"])
def test_quora_flipped_label(tmp_path: Path, version: str) -> None:
    official, sources, _ = _quora(tmp_path, version)
    path = sources["quora_duplicate_questions.tsv"]
    rows = list(csv.reader(io.StringIO(path.read_text()), delimiter="\t"))
    rows[13][5] = "1" if rows[13][5] == "0" else "0"  # pair 1012: in dev
    path.write_bytes(_tsv(rows))
    with pytest.raises(
        LabelError,
        match=r"quora_duplicate_questions\.tsv: row 13: is_duplicate \d disagrees with quora-dev\.csv row \d+",
    ):
        rebuild_test_labels("para", official, sources)


def test_quora_missing_pair_and_altered_question(tmp_path: Path) -> None:
    official, sources, _ = _quora(tmp_path, "2024")
    path = sources["quora_duplicate_questions.tsv"]
    rows = list(csv.reader(io.StringIO(path.read_text()), delimiter="\t"))
    path.write_bytes(_tsv(rows[:2] + rows[3:]))  # pair 1001 (a test row) removed
    with pytest.raises(
        LabelError,
        match=r"quora_duplicate_questions\.tsv: row \?: no pair id 1001, needed by quora-test\.csv row \d+",
    ):
        rebuild_test_labels("para", official, sources)
    rows[5][4] = "What is something else?"
    path.write_bytes(_tsv(rows))
    with pytest.raises(
        LabelError, match=r"quora_duplicate_questions\.tsv: row 5: questions do not match quora-"
    ):
        rebuild_test_labels("para", official, sources)


# --- broken sources: one-line error naming the file and row, nothing written -------------------------------


def _small_sst(tmp_path: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    """A three-split SST-like task: official files and SST-5 fastText sources, two rows per split."""
    root = tmp_path / "sst"
    root.mkdir()
    official, sources = {}, {}
    for k, split in enumerate(("train", "dev", "test")):
        sentences = [f" A -LRB- {split} -RRB- film number {k}{j} ." for j in range(3)]
        labels = [(k + j) % 5 for j in range(3)]
        if split == "test":
            rows = [["0", "", "id", "sentence"]] + [
                [str(j), "0.0", f"{split}{j}", s] for j, s in enumerate(sentences)
            ]
            name = "ids-sst-test-student.csv"
        else:
            rows = [["", "id", "sentence", "sentiment"]]
            rows += [
                [str(j), f"{split}{j}", s, str(y)]
                for j, (s, y) in enumerate(zip(sentences, labels, strict=True))
            ]
            name = f"ids-sst-{split}.csv"
        official[split] = root / name
        official[split].write_bytes(_tsv(rows))
        text = "".join(
            f"__label__{y + 1}\t{s.strip().replace('-LRB-', '(').replace('-RRB-', ')')}\n"
            for s, y in zip(sentences, labels, strict=True)
        )
        sources[f"sst_{split}.txt"] = root / f"sst_{split}.txt"
        sources[f"sst_{split}.txt"].write_text(text)
    return official, sources


def _mirror_of(official: dict[str, Path], folder: Path) -> dict:
    folder.mkdir()
    for path in official.values():
        shutil.copy(path, folder / path.name)
    sums = "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n" for p in official.values())
    (folder / "SHA256SUMS").write_text(sums)
    return {"kind": "mirror", "path": str(folder)}


def _expect_failure(tmp_path: Path, official: dict, sources: dict, words: list[str]) -> str:
    source = _mirror_of(official, tmp_path / "mirror")
    dest, record = tmp_path / "out" / "sst-test.csv", tmp_path / "out" / "sst-test.json"
    with pytest.raises(LabelError) as info:
        write_test_split("sst", source, sources, dest, record)
    message = str(info.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message
    assert not dest.exists() and not record.exists()
    return message


def test_small_sst_rebuilds(tmp_path: Path) -> None:
    official, sources = _small_sst(tmp_path)
    source = _mirror_of(official, tmp_path / "mirror")
    record = write_test_split("sst", source, sources, tmp_path / "t.csv", tmp_path / "t.json")
    assert read_normalised(tmp_path / "t.csv", "sst")["label"].tolist() == [2, 3, 4]
    assert record["agreement"]["train"] == {"matched": 3, "rows": 3}


def test_broken_flipped_label(tmp_path: Path) -> None:
    official, sources = _small_sst(tmp_path)
    path = sources["sst_dev.txt"]
    path.write_text(path.read_text().replace("__label__3", "__label__5", 1))
    _expect_failure(
        tmp_path,
        official,
        sources,
        ["sst_dev.txt: row 2: label 4 disagrees with ids-sst-dev.csv row 2 (id dev1): 2"],
    )


def test_broken_missing_test_row(tmp_path: Path) -> None:
    official, sources = _small_sst(tmp_path)
    path = sources["sst_test.txt"]
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:2]))
    _expect_failure(
        tmp_path, official, sources, ["sst_test.txt: row 3: missing", "ids-sst-test-student.csv has 3 rows"]
    )


def test_broken_altered_text(tmp_path: Path) -> None:
    official, sources = _small_sst(tmp_path)
    path = sources["sst_train.txt"]
    path.write_text(path.read_text().replace("number 01", "number 02"))
    _expect_failure(
        tmp_path,
        official,
        sources,
        ["sst_train.txt: row 2: text does not match ids-sst-train.csv row 2 (id train1)"],
    )


def test_broken_malformed_line(tmp_path: Path) -> None:
    official, sources = _small_sst(tmp_path)
    path = sources["sst_test.txt"]
    path.write_text(path.read_text().replace("__label__", "label", 1))
    _expect_failure(
        tmp_path, official, sources, ["sst_test.txt: row 1: expected '__label__{1..5}<TAB>sentence'"]
    )


@needs_mirror
def test_broken_sts_score_and_unmatched_row(tmp_path: Path) -> None:
    official = {s: MIRROR / f"sts-{s}.csv" for s in ("train", "dev")} | {
        "test": MIRROR / "sts-test-student.csv"
    }
    sources = {n: tmp_path / n for n in SOURCE_FILES["sts"]}
    for n in SOURCE_FILES["sts"]:
        shutil.copy(LABEL_SOURCES / n, tmp_path / n)
    lines = sources["stsbenchmark-sts-dev.csv"].read_text().splitlines(keepends=True)
    original = list(lines)
    # an item CS224N put in its train split (a changed test-split score can only be caught by its sha256)
    train = read_official(official["train"], "sts")
    keys = {
        (normalise_text(a), normalise_text(b))
        for a, b in zip(train["sentence1"], train["sentence2"], strict=True)
    }
    k = next(
        i for i, line in enumerate(lines) if tuple(normalise_text(t) for t in line.split("\t")[5:7]) in keys
    )
    fields = lines[k].split("\t")
    fields[4] = "0.123"
    lines[k] = "\t".join(fields)
    sources["stsbenchmark-sts-dev.csv"].write_text("".join(lines))
    with pytest.raises(
        LabelError,
        match=rf"stsbenchmark-sts-dev\.csv: row {k + 1}: score 0\.123 disagrees with sts-train\.csv row \d+",
    ):
        rebuild_test_labels("sts", official, sources)
    # a source missing an item: some CS224N row (train, dev or test) has no STS-B item left
    sources["stsbenchmark-sts-dev.csv"].write_text("".join(original[:9] + original[10:]))
    with pytest.raises(
        LabelError,
        match=r"stsbenchmark-sts-train\.csv/.*: row \?: no (unused )?STS-B item has the sentence pair of sts-(train|dev|test-student)\.csv row \d+",
    ):
        rebuild_test_labels("sts", official, sources)


@needs_mirror
def test_broken_real_cfimdb_flipped(tmp_path: Path) -> None:
    official = {s: MIRROR / f"ids-cfimdb-{s}.csv" for s in ("train", "dev")} | {
        "test": MIRROR / "ids-cfimdb-test-student.csv"
    }
    sources = {n: LABEL_SOURCES / n for n in SOURCE_FILES["cfimdb"]}
    bad = tmp_path / "cad-sentiment-new-train.tsv"
    text = (LABEL_SOURCES / bad.name).read_text()
    lines = text.splitlines(keepends=True)
    lines[100] = (
        lines[100].replace("Negative", "Positive", 1)
        if lines[100].startswith("Negative")
        else lines[100].replace("Positive", "Negative", 1)
    )
    bad.write_text("".join(lines))
    with pytest.raises(
        LabelError,
        match=r"cad-sentiment-new-train\.tsv: row 101: label \d disagrees with ids-cfimdb-train\.csv row 100",
    ):
        rebuild_test_labels("cfimdb", official, {**sources, bad.name: bad})


# --- fetching declared sources: checksum, HTTP errors, truncation, archives ---------------------------------


def _fetch_fails(
    server: Server, tmp_path: Path, spec: dict, words: list[str], name: str = "sst_dev.txt"
) -> None:
    target = tmp_path / "cache" / name
    with pytest.raises((DownloadError, LabelError)) as info:
        fetch_label_source(name, spec, target, backoff=0.01, timeout=2, retries=1)
    message = str(info.value)
    assert "\n" not in message and name in message
    for word in words:
        assert word in message, message
    assert not target.exists()
    cache = tmp_path / "cache"
    assert not cache.exists() or not [p for p in cache.rglob("*") if p.is_file()]


def test_fetch_wrong_checksum(server: Server, tmp_path: Path) -> None:
    (server.root / "sst_dev.txt").write_text("__label__1\tx\n")
    spec = {"url": server.url + "sst_dev.txt", "format": "sst5-fasttext", "sha256": "0" * 64}
    _fetch_fails(server, tmp_path, spec, ["checksum mismatch", "0" * 64, "2 attempt(s)"])


def test_fetch_http_404_and_500(server: Server, tmp_path: Path) -> None:
    spec = {"url": server.url + "sst_dev.txt", "format": "sst5-fasttext", "sha256": None}
    _fetch_fails(server, tmp_path, spec, ["HTTP 404", "1 attempt(s)"])
    (server.root / "sst_dev.txt").write_text("__label__1\tx\n")
    server.modes["sst_dev.txt"] = "fail"
    _fetch_fails(server, tmp_path, spec, ["HTTP 500", "2 attempt(s)"])


def test_fetch_truncated_body(server: Server, tmp_path: Path) -> None:
    (server.root / "sst_dev.txt").write_text("__label__1\tx\n")
    server.modes["sst_dev.txt"] = "truncate"
    spec = {"url": server.url + "sst_dev.txt", "format": "sst5-fasttext", "sha256": None}
    _fetch_fails(server, tmp_path, spec, ["truncated body"])


def _tar_gz(member: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        info = tarfile.TarInfo(member)
        info.size = len(data)
        t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_fetch_archive_member_and_truncated_archive(server: Server, tmp_path: Path) -> None:
    data = b"".join(
        b"genre\tfile\t2012\t%04d\t%.3f\tA man %d.\tA man plays %d.\n" % (i, i / 2, i, i) for i in range(200)
    )
    archive = _tar_gz("stsbenchmark/sts-dev.csv", data)
    (server.root / "Stsbenchmark.tar.gz").write_bytes(archive)
    spec = {
        "url": server.url + "Stsbenchmark.tar.gz",
        "format": "stsb-tsv",
        "sha256": None,
        "member": "stsbenchmark/sts-dev.csv",
    }
    target = fetch_label_source(
        "stsbenchmark-sts-dev.csv", spec, tmp_path / "ok" / "stsbenchmark-sts-dev.csv", backoff=0.01
    )
    assert target.read_bytes() == data
    (server.root / "Stsbenchmark.tar.gz").write_bytes(archive[: len(archive) // 2])  # truncated archive
    _fetch_fails(
        server,
        tmp_path,
        spec,
        ["truncated or corrupt archive", "2 attempt(s)"],
        name="stsbenchmark-sts-dev.csv",
    )
    (server.root / "Stsbenchmark.tar.gz").write_bytes(archive)
    _fetch_fails(
        server,
        tmp_path,
        {**spec, "member": "nope.csv"},
        ["no member 'nope.csv'"],
        name="stsbenchmark-sts-dev.csv",
    )


def test_fetch_local_path_and_wrong_format(tmp_path: Path) -> None:
    local = tmp_path / "copy.txt"
    local.write_text("__label__2\tfine\n")
    spec = {
        "url": str(local),
        "format": "sst5-fasttext",
        "sha256": hashlib.sha256(local.read_bytes()).hexdigest(),
    }
    assert (
        fetch_label_source("sst_dev.txt", spec, tmp_path / "c" / "sst_dev.txt").read_text()
        == local.read_text()
    )
    with pytest.raises(LabelError, match=r"sst_dev\.txt: row \?: format 'stsb-tsv' declared"):
        fetch_label_source("sst_dev.txt", {**spec, "format": "stsb-tsv"}, tmp_path / "d" / "sst_dev.txt")
    assert not (tmp_path / "d").exists()


def test_gzip_is_not_a_member_archive(tmp_path: Path) -> None:
    """A plain .gz (no tar) with a member declared: a clear error, not a crash."""
    local = tmp_path / "x.gz"
    local.write_bytes(gzip.compress(b"__label__2\tfine\n"))
    with pytest.raises(DownloadError, match="sst_dev.txt"):
        fetch_label_source(
            "sst_dev.txt",
            {"url": str(local), "sha256": None, "member": "a"},
            tmp_path / "o" / "sst_dev.txt",
            retries=0,
        )


def test_git_blob_helper_is_shared() -> None:
    assert git_blob_sha1(b"") == "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391"
