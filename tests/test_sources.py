"""Tests of pipeline.data.sources: mirror checks, a local HTTP server for downloads, and generated data."""

from __future__ import annotations

import hashlib
import shutil
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd
import pytest

from pipeline.data.readers import DataError, read_normalised
from pipeline.data.sources import (
    OFFICIAL_BLOBS,
    DownloadError,
    git_blob_sha1,
    materialise,
    mirror_filename,
    official_filename,
)

MIRROR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cs224n"
needs_mirror = pytest.mark.skipif(not MIRROR.is_dir(), reason=f"{MIRROR} absent")

SST_DEV = b"\tid\tsentence\tsentiment\n0\taaa\t Good film .\t4\n1\tbbb\t Bad film .\t0\n"
SST_STUDENT = b"0\t\tid\tsentence\n1\t0.0\tccc\t Some film .\n"
# Official files whose mirror copy is byte-identical (PROVENANCE.md); quora-train.csv there is derived.
IDENTICAL = [name for name in OFFICIAL_BLOBS if name not in ("quora-train.csv", "quora-test-student.csv")]


def test_official_filename() -> None:
    assert official_filename("sst", "train") == "ids-sst-train.csv"
    assert official_filename("para", "dev") == "quora-dev.csv"
    assert official_filename("sts", "test") == "sts-test-student.csv"
    assert official_filename("cfimdb", "test", labelled_test=True) == "ids-cfimdb-test.csv"
    assert set(OFFICIAL_BLOBS) == {
        official_filename(t, s) for t in ("sst", "para", "sts", "cfimdb") for s in ("train", "dev", "test")
    }
    with pytest.raises(ValueError, match="unknown split"):
        official_filename("sst", "valid")


@needs_mirror
@pytest.mark.parametrize("name", IDENTICAL)
def test_official_blobs_match_mirror(name: str) -> None:
    assert git_blob_sha1((MIRROR / name).read_bytes()) == OFFICIAL_BLOBS[name]


def _mirror(folder: Path, files: dict[str, bytes]) -> Path:
    """A mirror folder with ``files`` and their SHA256SUMS."""
    folder.mkdir()
    for name, data in files.items():
        (folder / name).write_bytes(data)
    sums = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in files.items())
    (folder / "SHA256SUMS").write_text(sums, encoding="utf-8")
    return folder


@needs_mirror
def test_real_mirror(tmp_path: Path) -> None:
    source = {"kind": "mirror", "path": str(MIRROR)}
    dev = read_normalised(materialise("sst", "dev", source, tmp_path / "sst-dev.csv"), "sst")
    assert len(dev) == 1101 and dev["label"].notna().all()
    assert mirror_filename(MIRROR, "sts", "test") == "sts-test.csv"  # the labelled reconstruction
    test = read_normalised(materialise("sts", "test", source, tmp_path / "sts-test.csv"), "sts")
    assert len(test) == 1725 and test["label"].between(0, 5).all()
    # no Quora test file in any public snapshot: an empty, unlabelled split rather than a stopped table
    para_test = read_normalised(materialise("para", "test", source, tmp_path / "para-test.csv"), "para")
    assert len(para_test) == 0 and list(para_test.columns) == ["id", "sentence1", "sentence2", "label"]


def test_subset_is_seeded_and_in_file_order(tmp_path: Path) -> None:
    rows = "".join(f"{i}\tid{i:03d}\t Film number {i} .\t{i % 5}\n" for i in range(30))
    folder = _mirror(tmp_path / "m", {"ids-sst-dev.csv": ("\tid\tsentence\tsentiment\n" + rows).encode()})
    source = {"kind": "mirror", "path": str(folder), "seed": 0, "subsets": {"sst-dev": 10}}
    full = read_normalised(
        materialise("sst", "dev", {"kind": "mirror", "path": str(folder)}, tmp_path / "a.csv"), "sst"
    )
    one = read_normalised(materialise("sst", "dev", source, tmp_path / "b.csv"), "sst")
    two = read_normalised(materialise("sst", "dev", source, tmp_path / "c.csv"), "sst")
    assert len(one) == 10 and one.equals(two)
    positions = [full.index[full["id"] == i][0] for i in one["id"]]
    assert positions == sorted(positions)


def test_mirror_verified_and_test_fallback(tmp_path: Path) -> None:
    folder = _mirror(tmp_path / "m", {"ids-sst-dev.csv": SST_DEV, "ids-sst-test-student.csv": SST_STUDENT})
    source = {"kind": "mirror", "path": str(folder)}
    dev = read_normalised(materialise("sst", "dev", source, tmp_path / "out" / "dev.csv"), "sst")
    assert dev.to_dict("list") == {
        "id": ["aaa", "bbb"],
        "sentence": ["Good film .", "Bad film ."],
        "label": [4, 0],
    }
    test = read_normalised(materialise("sst", "test", source, tmp_path / "out" / "test.csv"), "sst")
    assert test["id"].tolist() == ["ccc"] and test["label"].isna().all()


def test_mirror_corrupted_byte(tmp_path: Path) -> None:
    folder = _mirror(tmp_path / "m", {"ids-sst-dev.csv": SST_DEV})
    good = hashlib.sha256(SST_DEV).hexdigest()
    bad = SST_DEV.replace(b"Good", b"Gooe")
    (folder / "ids-sst-dev.csv").write_bytes(bad)
    dest = tmp_path / "out" / "dev.csv"
    with pytest.raises(DataError) as info:
        materialise("sst", "dev", {"kind": "mirror", "path": folder}, dest)
    message = str(info.value)
    assert "ids-sst-dev.csv" in message and good in message and hashlib.sha256(bad).hexdigest() in message
    assert not dest.exists()


def test_mirror_unlisted_file(tmp_path: Path) -> None:
    folder = _mirror(tmp_path / "m", {"ids-sst-dev.csv": SST_DEV})
    shutil.copy(folder / "ids-sst-dev.csv", folder / "ids-sst-train.csv")
    with pytest.raises(DataError, match=r"ids-sst-train\.csv: not listed in .*SHA256SUMS"):
        materialise("sst", "train", {"kind": "mirror", "path": folder}, tmp_path / "train.csv")
    assert not (tmp_path / "train.csv").exists()


def test_unknown_kind(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="allowed kinds: generated, mirror, download"):
        materialise("sst", "dev", {"kind": "ftp"}, tmp_path / "x.csv")


def _fake_generate(monkeypatch: pytest.MonkeyPatch, frame: pd.DataFrame) -> list[tuple]:
    calls: list[tuple] = []

    def generate_task(task: str, split: str, n: int, seed: int) -> pd.DataFrame:
        calls.append((task, split, n, seed))
        return frame

    monkeypatch.setattr("pipeline.data.sources.generate_task", generate_task)
    return calls


def test_generated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    frame = pd.DataFrame(
        {"id": ["a", "b"], "sentence1": ["x", "y"], "sentence2": ["z", "NA"], "label": [0, 1]}
    )
    calls = _fake_generate(monkeypatch, frame)
    source = {"kind": "generated", "seed": 7, "sizes": {"train": 2, "dev": 1, "test": 1}}
    out = materialise("para", "train", source, tmp_path / "para-train.csv")
    assert calls == [("para", "train", 2, 7)]
    pd.testing.assert_frame_equal(read_normalised(out, "para"), frame)


def test_generated_invalid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_generate(monkeypatch, pd.DataFrame({"id": ["a"], "sentence": ["x"], "label": [9]}))
    dest = tmp_path / "sst-dev.csv"
    with pytest.raises(DataError, match=r"generated sst-dev: row 1: label '9' out of range"):
        materialise("sst", "dev", {"kind": "generated", "seed": 0, "sizes": {"dev": 1}}, dest)
    assert not dest.exists()


# --- download against a local HTTP server -------------------------------------------------------------


@dataclass
class Server:
    url: str
    root: Path
    # file name -> ok | fail2 | fail | truncate | hang | stall (half the body, then silence)
    modes: dict[str, str] = field(default_factory=dict)
    hits: Counter = field(default_factory=Counter)
    stop: threading.Event = field(default_factory=threading.Event)


class _Handler(BaseHTTPRequestHandler):
    state: Server  # set on a per-fixture subclass

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        name = self.path.rsplit("/", 1)[-1]
        state = self.state
        state.hits[name] += 1
        mode = state.modes.get(name, "ok")
        path = state.root / name
        if mode == "hang":
            state.stop.wait(5)  # past the client's timeout; released at teardown
            return
        if mode == "fail" or (mode == "fail2" and state.hits[name] <= 2):
            self.send_error(500)
            return
        if not path.is_file():
            self.send_error(404)
            return
        body = path.read_bytes()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) + (100 if mode == "truncate" else 0)))
        self.end_headers()
        if mode == "stall":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            state.stop.wait(5)  # past the client's timeout; released at teardown
            return
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "www"
    root.mkdir()
    state = Server(url="", root=root)
    handler = type("Handler", (_Handler,), {"state": state})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/data/"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.stop.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _serve(server: Server, name: str, data: bytes, mode: str = "ok") -> dict[str, str]:
    (server.root / name).write_bytes(data)
    server.modes[name] = mode
    return {name: git_blob_sha1(data)}


def _source(server: Server, tmp_path: Path, **extra: object) -> dict:
    return {
        "kind": "download",
        "base_url": server.url,
        "cache": str(tmp_path / "cache"),
        "backoff": 0.01,
        **extra,
    }


def test_download_ok_and_cached(server: Server, tmp_path: Path) -> None:
    blobs = _serve(server, "ids-sst-dev.csv", SST_DEV)
    dest = tmp_path / "out" / "sst-dev.csv"
    materialise("sst", "dev", _source(server, tmp_path), dest, blobs=blobs)
    assert read_normalised(dest, "sst")["label"].tolist() == [4, 0]
    assert (tmp_path / "cache" / "ids-sst-dev.csv").read_bytes() == SST_DEV
    server.modes["ids-sst-dev.csv"] = "fail"  # a verified cached copy needs no request
    materialise("sst", "dev", _source(server, tmp_path), tmp_path / "again.csv", blobs=blobs)
    assert server.hits["ids-sst-dev.csv"] == 1


def test_download_test_split_uses_student_file(server: Server, tmp_path: Path) -> None:
    blobs = _serve(server, "ids-sst-test-student.csv", SST_STUDENT)
    out = materialise("sst", "test", _source(server, tmp_path), tmp_path / "t.csv", blobs=blobs)
    assert read_normalised(out, "sst")["label"].isna().all()


def test_download_retries_server_errors(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pipeline.data.sources

    sleeps: list[float] = []
    monkeypatch.setattr(pipeline.data.sources.time, "sleep", sleeps.append)
    blobs = _serve(server, "ids-sst-dev.csv", SST_DEV, "fail2")
    materialise("sst", "dev", _source(server, tmp_path, backoff=0.5), tmp_path / "d.csv", blobs=blobs)
    assert server.hits["ids-sst-dev.csv"] == 3
    assert sleeps == [0.5, 1.0]  # exponential back-off before each retry


def test_download_corrupt_cache_replaced(server: Server, tmp_path: Path) -> None:
    blobs = _serve(server, "ids-sst-dev.csv", SST_DEV)
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "ids-sst-dev.csv").write_bytes(SST_DEV[:-5])
    materialise("sst", "dev", _source(server, tmp_path), tmp_path / "d.csv", blobs=blobs)
    assert (tmp_path / "cache" / "ids-sst-dev.csv").read_bytes() == SST_DEV


def _assert_fails(
    server: Server, tmp_path: Path, blobs: dict[str, str], words: list[str], **extra: object
) -> str:
    dest = tmp_path / "out" / "sst-dev.csv"
    with pytest.raises(DownloadError) as info:
        materialise("sst", "dev", _source(server, tmp_path, **extra), dest, blobs=blobs)
    message = str(info.value)
    for word in [server.url + "ids-sst-dev.csv", "ids-sst-dev.csv", *words]:
        assert word in message
    assert not dest.exists()
    cache = tmp_path / "cache"
    assert not cache.exists() or list(cache.iterdir()) == []
    return message


def test_download_truncated(server: Server, tmp_path: Path) -> None:
    blobs = _serve(server, "ids-sst-dev.csv", SST_DEV, "truncate")
    _assert_fails(server, tmp_path, blobs, ["truncated body", "5 attempt(s)"])
    assert server.hits["ids-sst-dev.csv"] == 5  # retries=4 by default


def test_download_checksum_mismatch(server: Server, tmp_path: Path) -> None:
    _serve(server, "ids-sst-dev.csv", SST_DEV)
    blobs = {"ids-sst-dev.csv": git_blob_sha1(b"something else")}
    _assert_fails(server, tmp_path, blobs, ["checksum mismatch", blobs["ids-sst-dev.csv"]], retries=2)
    assert server.hits["ids-sst-dev.csv"] == 3


def test_download_timeout(server: Server, tmp_path: Path) -> None:
    blobs = _serve(server, "ids-sst-dev.csv", SST_DEV, "hang")
    _assert_fails(server, tmp_path, blobs, ["connection error", "2 attempt(s)"], timeout=0.5, retries=1)


def test_download_body_stalls_mid_transfer(server: Server, tmp_path: Path) -> None:
    """Headers and half the body, then nothing: the read times out, and no partial file is kept."""
    blobs = _serve(server, "ids-sst-dev.csv", SST_DEV, "stall")
    _assert_fails(server, tmp_path, blobs, ["connection error", "2 attempt(s)"], timeout=0.5, retries=1)
    assert server.hits["ids-sst-dev.csv"] == 2


def test_download_not_found_not_retried(server: Server, tmp_path: Path) -> None:
    blobs = {"ids-sst-dev.csv": git_blob_sha1(SST_DEV)}  # nothing served
    _assert_fails(server, tmp_path, blobs, ["HTTP 404", "1 attempt(s)"])
    assert server.hits["ids-sst-dev.csv"] == 1


def test_download_unknown_file(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no pinned git blob id for 'ids-sst-dev.csv'"):
        materialise("sst", "dev", {"kind": "download", "cache": str(tmp_path)}, tmp_path / "x.csv", blobs={})


# --- data versions: the 2024 Quora format, version detection, partial mirrors, the Quora hold-out ---------

HEAD_2024 = MIRROR.parent / "cs224n-2024" / "quora-dev-head.csv"


def test_2024_blobs_and_base_url() -> None:
    from pipeline.data.sources import BASE_URLS, OFFICIAL_BLOBS_2024, VERSION_BLOBS

    assert (
        "amahankali10/CS224N-Spring2024-DFP-Student-Handout/3f64c60c8a0e40a9fe581235b08f4607ff187077"
        in BASE_URLS["2024"]
    )
    assert OFFICIAL_BLOBS_2024["quora-train.csv"] == "1f2e73b884113e629e2786001fb9cc8ae4a696c1"
    assert OFFICIAL_BLOBS_2024["ids-sst-train.csv"] == OFFICIAL_BLOBS["ids-sst-train.csv"]
    assert set(VERSION_BLOBS["2024"]) == set(OFFICIAL_BLOBS)


@pytest.mark.skipif(not HEAD_2024.is_file(), reason=f"{HEAD_2024} absent")
def test_download_2024_quora_from_loopback(server: Server, tmp_path: Path) -> None:
    """The 2024 layout served as quora-dev.csv: read with its 'number uuid' ids, verified by git blob."""
    data = HEAD_2024.read_bytes()
    blobs = _serve(server, "quora-dev.csv", data)
    out = materialise(
        "para", "dev", _source(server, tmp_path, data_version="2024"), tmp_path / "d.csv", blobs=blobs
    )
    frame = read_normalised(out, "para")
    assert len(frame) == 9 and frame["id"][0] == "65977 641bc8de-b905-4ae4-a0ee-abea15fbc88e"
    assert frame["label"].tolist() == [0, 0, 0, 0, 1, 1, 1, 0, 0]
    assert frame["sentence1"][7] == 'What does "Processed Through Sort Facility" mean for USPS?'


def test_mirror_version_detection_and_mismatches(tmp_path: Path) -> None:
    from pipeline.data.sources import mirror_data_version, mirror_mismatches

    v2024 = _mirror(tmp_path / "a", {"quora-dev.csv": b"id\tsentence1\tsentence2\tis_duplicate\n"})
    v2023 = _mirror(tmp_path / "b", {"quora-dev.csv": b"\tid\tsentence1\tsentence2\tis_duplicate\n"})
    assert mirror_data_version(v2024) == "2024" and mirror_data_version(v2023) == "2023"
    problems = mirror_mismatches(v2023, "2023")
    assert problems["quora-dev.csv"].startswith("git blob ") and problems["sts-dev.csv"] == "missing"


@needs_mirror
def test_real_mirror_is_partial_2023() -> None:
    from pipeline.data.sources import mirror_data_version, mirror_mismatches

    assert mirror_data_version(MIRROR) == "2023"
    assert set(mirror_mismatches(MIRROR, "2023")) == {"quora-train.csv", "quora-test-student.csv"}
    assert len(mirror_mismatches(MIRROR, "2024")) == 3  # every Quora file differs from the 2024 pins


def test_quora_holdout_halves(tmp_path: Path) -> None:
    rows = "".join(f"{i}\t{i:025x}\tQuestion {i}?\tOther {i}?\t{i % 2}.0\n" for i in range(20))
    folder = _mirror(
        tmp_path / "m", {"quora-dev.csv": ("\tid\tsentence1\tsentence2\tis_duplicate\n" + rows).encode()}
    )
    source = {"kind": "mirror", "path": str(folder), "quora_holdout": True}
    dev = read_normalised(materialise("para", "dev", source, tmp_path / "dev.csv"), "para")
    test = read_normalised(materialise("para", "test", source, tmp_path / "test.csv"), "para")
    assert len(dev) == len(test) == 10 and not set(dev["id"]) & set(test["id"])
    assert all(int(i, 16) % 2 == 0 for i in dev["id"]) and test["label"].notna().all()
