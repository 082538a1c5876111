"""Failure paths: broken data stops the run before training with nothing half-written, outputs are written
atomically, nothing unsafe is loaded or executed, and each job uses its Snakemake thread count."""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
import yaml
from test_readers import BROKEN_OFFICIAL
from test_workflow import SNAKEMAKE, copy_workflow

from pipeline.data.readers import DataError
from pipeline.data.sources import materialise, official_filename
from pipeline.io import (
    folder_atomic,
    write_atomic,
    write_csv_atomic,
    write_json_atomic,
    write_text_atomic,
)

pytestmark = pytest.mark.e2e  # starts whole workflows or subprocess jobs: not in the fast loop

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*(ROOT / "src" / "pipeline").glob("*.py"), *(ROOT / "workflow" / "scripts").glob("*.py")])
RULES = sorted((ROOT / "workflow" / "rules").glob("*.smk")) + [ROOT / "Snakefile"]


def mirror(folder: Path, files: dict[str, bytes], sums: dict[str, bytes] | None = None) -> Path:
    """A mirror folder holding ``files``; SHA256SUMS lists the sha256 of ``sums[name]`` (default: the file)."""
    folder.mkdir(parents=True)
    listed = {**files, **(sums or {})}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    text = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in listed.items())
    (folder / "SHA256SUMS").write_text(text, encoding="utf-8")
    return folder


def leftovers(folder: Path) -> list[str]:
    return (
        sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
        if folder.exists()
        else []
    )


# -- bad data: each broken official file, read through the mirror source, stops with nothing written -------
THROUGH_MIRROR = [case for case in BROKEN_OFFICIAL if not case[4]]  # the rest need reader options
GOOD_SST = b"\tid\tsentence\tsentiment\n0\ta\t Good film .\t4\n1\tb\t Bad film .\t0\n"


@pytest.mark.parametrize(
    ("name", "task", "content", "words"),
    [(*case[:4],) for case in THROUGH_MIRROR]
    + [("checksum-mismatch", "sst", GOOD_SST, ["sha256 mismatch", hashlib.sha256(GOOD_SST).hexdigest()])],
    ids=[case[0] for case in THROUGH_MIRROR] + ["checksum-mismatch"],
)
def test_broken_mirror_file_stops_with_nothing_written(tmp_path, name, task, content, words):
    filename = official_filename(task, "dev")
    sums = {filename: b"what the file held when it was listed"} if name == "checksum-mismatch" else None
    folder = mirror(tmp_path / "mirror", {filename: content}, sums)
    results = tmp_path / "results"
    with pytest.raises(DataError) as info:
        materialise(
            task, "dev", {"kind": "mirror", "path": str(folder)}, results / "data" / f"{task}-dev.csv"
        )
    message = str(info.value)
    assert message.startswith(f"{folder / filename}: ") and "\n" not in message
    for word in words:
        assert word in message
    assert leftovers(results) == []


# End to end: six broken files, one per data job of a three-task experiment, each with a different problem.
SST_HEAD = "\tid\tsentence\tsentiment\n"
PAIR_HEAD = "\tid\tsentence1\tsentence2\t{}\n"
E2E_FILES = {
    "ids-sst-train.csv": (SST_HEAD + "0\ta\tgood\t1\n1\tb\tbad\n").encode(),
    "ids-sst-dev.csv": GOOD_SST,  # listed with another checksum
    "quora-train.csv": (PAIR_HEAD.format("is_duplicate") + "0\tq\tx y\tx z\t1\n1\tq\tu v\tu w\t0\n").encode(),
    "quora-dev.csv": PAIR_HEAD.format("is_duplicate").encode() + b"0\tq\tna\xefve\tx\t1\n",
    "sts-train.csv": (PAIR_HEAD.format("similarity") + "0\ta\tx y\tx z\t7.5\n").encode(),
    "sts-dev.csv": b"0\ta\tx y\tx z\t2.0\n",  # no header line
}
E2E_ERRORS = {
    "ids-sst-train.csv": "row 2: wrong column count",
    "ids-sst-dev.csv": "sha256 mismatch",
    "quora-train.csv": "row 2: duplicate id 'q' (first in row 1)",
    "quora-dev.csv": "row 1: invalid UTF-8",
    "sts-train.csv": "row 1: label '7.5' out of range",
    "sts-dev.csv": "header: unexpected header",
}


def test_bad_data_stops_the_workflow_before_training(tmp_path):
    folder = mirror(tmp_path / "mirror", E2E_FILES, {"ids-sst-dev.csv": b"another file"})
    (tmp_path / "work").mkdir()
    workdir = copy_workflow(tmp_path / "work")
    experiment = "full-model-10-1e-05"  # sst, para, sts
    cmd = [*SNAKEMAKE, f"results/quick/models/{experiment}/run.json", "--cores", "2", "--resources", "gpu=1"]
    cmd += ["--keep-going", "--config", "scale=quick", f"data_mirror={folder}"]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    for name, problem in E2E_ERRORS.items():
        assert f"{folder / name}: {problem}" in output, (name, output[-3000:])
    assert "rule finetune" not in output and "rule tokens" not in output  # nothing after the data stage ran
    assert leftovers(workdir / "results") == []


# -- atomic outputs ---------------------------------------------------------------------------------------
def _half_then_fail(path, **_):
    Path(path).write_text("id,label\n1,")
    raise OSError("disk full")


@pytest.mark.parametrize("existing", [False, True])
def test_interrupted_writer_leaves_no_file(tmp_path, existing):
    """A write that fails half-way leaves neither a partial target nor its temporary file; a previous
    complete version stays as it was."""
    target = tmp_path / "out" / "artifact.csv"
    if existing:
        write_text_atomic("id,label\n1,0\n", target)
    for write in (
        lambda: write_atomic(target, _half_then_fail),
        lambda: write_csv_atomic(types.SimpleNamespace(to_csv=_half_then_fail), target),
    ):
        with pytest.raises(OSError, match="disk full"):
            write()
        assert leftovers(tmp_path) == (["out/artifact.csv"] if existing else [])
    if existing:
        assert target.read_text() == "id,label\n1,0\n"
    write_json_atomic({"a": 1}, target)
    assert leftovers(tmp_path) == ["out/artifact.csv"] and target.read_text() == '{\n  "a": 1\n}\n'


@pytest.mark.parametrize("existing", [False, True])
def test_interrupted_folder_writer_leaves_the_old_folder(tmp_path, existing):
    """folder_atomic (encoder and MNRL folders): a fill that fails half-way leaves no partial folder and no
    temporary one, and an earlier complete folder as it was; a fill that ends replaces it whole."""
    target = tmp_path / "encoders" / "tiny"
    if existing:
        with folder_atomic(target) as tmp:
            (tmp / "config.json").write_text("old")
    with pytest.raises(OSError, match="disk full"), folder_atomic(target) as tmp:
        (tmp / "config.json").write_text("new")
        raise OSError("disk full")
    assert leftovers(tmp_path) == (["encoders/tiny/config.json"] if existing else [])
    assert list((tmp_path / "encoders").iterdir()) == ([target] if existing else [])
    if existing:
        assert (target / "config.json").read_text() == "old"
    with folder_atomic(target) as tmp:
        (tmp / "vocab.txt").write_text("new")
    assert leftovers(tmp_path) == ["encoders/tiny/vocab.txt"]  # the old folder's files went with it


# What writes files, and the temporary-name evidence each use must show on its line.
WRITERS = re.compile(
    r"\.to_csv\(|\.write_text\(|\.write_bytes\(|torch\.save\(|savefig\(|save_model\(|save_pretrained\("
    r"|open\([^)]*['\"][wa]b?['\"]|shutil\.copy"
)
ALLOWED = {
    # jobs.py writes the job's log and its attempts history (append-only streams), which are not artifacts
    ("jobs.py", "path.write_text(earlier)"),
    ("jobs.py", 'history.write_text("")'),
    ("jobs.py", 'target.open("a")'),
}


def test_every_writer_goes_through_a_temporary_name():
    """Each line that writes a file writes to ``tmp`` (a temporary name renamed on success)."""
    offenders = []
    for path in SOURCES:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if not WRITERS.search(line) or line.lstrip().startswith(("#", '"', "`")):
                continue
            if "tmp" in line or any(path.name == f and snippet in line for f, snippet in ALLOWED):
                continue
            offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


# -- safe loading -----------------------------------------------------------------------------------------
def test_nothing_unsafe_is_loaded_or_executed():
    """torch.load only with weights_only=True, YAML only with safe_load, no pickle/eval/exec/os.system, and
    no rule runs a shell command (which could be built from config values): every rule has a script."""
    problems = []
    for path in SOURCES:
        text = path.read_text()
        for number, line in enumerate(text.splitlines(), 1):
            where = f"{path.relative_to(ROOT)}:{number}"
            if "torch.load(" in line and "weights_only=True" not in line:
                problems.append(f"{where}: torch.load without weights_only=True")
            if re.search(r"yaml\.(load|unsafe_load|full_load)\(", line):
                problems.append(f"{where}: yaml loader other than safe_load")
            if re.search(r"import pickle|pickle\.load|(?<![\w.])(eval|exec)\(|os\.system\(|shell=True", line):
                problems.append(f"{where}: {line.strip()}")
    for path in RULES:
        text = path.read_text()
        if re.search(r"^\s+(shell|run):", text, re.M):
            problems.append(f"{path.relative_to(ROOT)}: a rule with shell: or run:")
        if path.suffix == ".smk":
            # every rule that makes files does so with a script (target rules have no output)
            for block in re.split(r"^(?=\s*rule\b)", text, flags=re.M)[1:]:
                if re.search(r"^\s+output:", block, re.M) and not re.search(r"^\s+script:", block, re.M):
                    problems.append(f"{path.relative_to(ROOT)}: {block.strip().split(':')[0]} has no script:")
    assert problems == []


def test_yaml_safe_load_refuses_python_objects(tmp_path):
    """The config reader the workflow uses (PyYAML's safe loader) does not build Python objects."""
    with pytest.raises(yaml.constructor.ConstructorError):
        yaml.safe_load("x: !!python/object/apply:os.system ['true']")


# -- threads ----------------------------------------------------------------------------------------------
def test_job_start_sets_torch_threads_to_the_rule_threads(tmp_path):
    """A job started by pipeline.jobs.start runs torch (and OpenMP/MKL) on exactly its ``threads``."""
    code = (
        "import types, os, torch\n"
        "from pipeline.jobs import start\n"
        f"sm = types.SimpleNamespace(threads=3, rule='finetune', log=[{str(tmp_path / 'job.log')!r}])\n"
        "start(sm)('started')\n"
        "print(torch.get_num_threads(), os.environ['OMP_NUM_THREADS'], os.environ['MKL_NUM_THREADS'])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["3", "3", "3"]
    assert "started" in (tmp_path / "job.log").read_text()
