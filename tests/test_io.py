"""Atomic writers leave files and folders with the mode the user's umask gives (shareable on a cluster)."""

import os
import stat
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure

from pipeline.io import folder_atomic, write_csv_atomic, write_json_atomic, write_text_atomic
from pipeline.reporting.figures import _save


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o022, 0o077, 0o002])
def mask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def test_files_get_the_umask_mode(tmp_path, mask):
    write_text_atomic("x", tmp_path / "a.txt")
    write_json_atomic({"a": 1}, tmp_path / "deep" / "b.json")
    write_csv_atomic(pd.DataFrame({"a": [1]}), tmp_path / "c.csv")
    fig = Figure()
    fig.add_subplot().plot([0, 1])
    _save(fig, tmp_path / "d.png")
    for name in ("a.txt", "deep/b.json", "c.csv", "d.png"):
        assert mode(tmp_path / name) == 0o666 & ~mask, name
    assert mode(tmp_path / "deep") == 0o777 & ~mask
    assert not list(tmp_path.glob(".*.tmp")), "no temporary file left behind"


def test_folders_get_the_umask_mode(tmp_path, mask):
    with folder_atomic(tmp_path / "model") as tmp:
        (tmp / "weights.bin").write_bytes(b"0")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "config.json").write_text("{}")
    for path, base in ((tmp_path / "model", 0o777), (tmp_path / "model" / "sub", 0o777)):
        assert mode(path) == base & ~mask, path
    for path in (tmp_path / "model" / "weights.bin", tmp_path / "model" / "sub" / "config.json"):
        assert mode(path) == 0o666 & ~mask, path


def test_a_failed_folder_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), folder_atomic(tmp_path / "model") as tmp:
        (tmp / "weights.bin").write_bytes(b"0")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
