"""The SLURM profile (profiles/slurm): what a paper-scale run would ask of the cluster (a dry run, no SLURM
needed), and a real smoke-scale run on a toy single-node SLURM cluster with one fake GPU
(tests/slurm/toy_cluster.sh: Debian's slurm-wlm and munge on 127.0.0.1)."""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.workflow.costs import JobCosts
from pipeline.workflow.validation import load_config

ROOT = Path(__file__).resolve().parents[1]
TOY_CLUSTER = ROOT / "tests" / "slurm" / "toy_cluster.sh"
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
TABLE1 = "results/tables/table1.csv"
# The real-SLURM test installs Debian packages and starts daemons: it runs only when asked for.
# REQUIRE_SLURM_TEST=1 (set by .ci/run): it must run, and fails rather than skips when it cannot;
# RUN_SLURM_TEST=1: run it where the machine allows, skip otherwise.
REQUIRE = os.environ.get("REQUIRE_SLURM_TEST") == "1"
ASKED = REQUIRE or os.environ.get("RUN_SLURM_TEST") == "1"


def is_group_job(rule: str) -> bool:
    """Snakemake names a group job "{group}_{its rules}": model_finetune_predict (or model_finetune)."""
    return rule in ("model_finetune", "model_finetune_predict")


GPU_RULES = ("pretrain", "finetune", "predict", "zero_shot")


def is_gpu_rule(rule: str) -> bool:
    """GPU rules, and the group "model" (an experiment's finetune job with its predict job); zero_shot at
    paper scale (a local CPU job at smoke and quick)."""
    return rule in GPU_RULES or is_group_job(rule)


LOCAL_RULES = ("data", "fetch_encoder", "label_source", "test_labels", "tokens", "random_baseline", "metrics")


def is_local_rule(rule: str) -> bool:
    return rule in (*LOCAL_RULES, "table", "figure", "ensemble")


def copy_workflow(dest: Path) -> Path:
    for name in ("Snakefile", "config.yaml", "environment.yml"):
        shutil.copy(ROOT / name, dest / name)
    for name in ("workflow", "profiles", "papers"):
        shutil.copytree(ROOT / name, dest / name)
    return dest


def planned_resources(text: str) -> list[tuple[str, dict[str, str], dict[str, str]]]:
    """(rule, resources, wildcards) of each job a dry run lists."""
    jobs = []
    # the jobs of a group job ("model": finetune + predict) are listed indented under it
    for match in re.finditer(r"^\s*(?:local)?rule (\S+):\n(.*?)(?=^\s*\[|\Z)", text, re.M | re.S):
        fields = {}
        for key in ("resources", "wildcards"):
            line = re.search(rf"^\s+{key}: (.*)$", match.group(2), re.M)
            fields[key] = dict(item.split("=", 1) for item in line.group(1).split(", ")) if line else {}
        jobs.append((match.group(1), fields["resources"], fields["wildcards"]))
    return jobs


def paper_dry_run(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """A dry run through the SLURM profile at paper scale (no SLURM needed)."""
    command = [*SNAKEMAKE, "--profile", "profiles/slurm", "-n", *args, "--config", "scale=paper"]
    proc = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.mark.e2e
def test_paper_dry_run_asks_for_gpus_on_gpu_rules_only(tmp_path):
    """Table 2 at paper scale through the SLURM profile: GPU rules ask for one GPU and hours, others none."""
    workdir = copy_workflow(tmp_path)
    jobs = planned_resources(paper_dry_run(workdir, "results/tables/table2.csv").stdout)
    rules = {rule for rule, _, _ in jobs}
    assert {
        "finetune",  # writes the dev predictions Table 2 reads: no predict job
        "pretrain",
        "tokens",
        "metrics",
        "table",
        "fetch_encoder",
    } <= rules
    costs = JobCosts.of({**load_config(ROOT), "scale": "paper"}, "2024")
    finetune = {}
    for rule, resources, wildcards in jobs:
        assert (resources.get("gpu") == "1") == is_gpu_rule(rule), (rule, resources)
        assert int(resources["runtime"]) > 0 and int(resources["mem_mb"]) > 0, (rule, resources)
        if rule in ("finetune", "pretrain"):  # each asks for its own projected time (results/paper/plan.md)
            name = wildcards.get("experiment") or wildcards["pretrain"]
            assert int(resources["runtime"]) == costs.runtime_minutes(rule, name), (rule, wildcards)
            finetune[name] = int(resources["runtime"])
    # Table 2's 10-epoch run does not queue as long as its 80-epoch LoRA run
    assert finetune["full-model-10-1e-05"] < finetune["lora-concatembed-80-4e-04"]
    profile = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
    assert profile["executor"] == "slurm" and profile["slurm-logdir"] == "logs/slurm"
    assert profile["rerun-incomplete"] is True and profile["retries"] >= 1
    assert "gpu" not in profile["default-resources"]


def _keys(node) -> set[str]:
    """Every key of a nested YAML mapping (lists included)."""
    if isinstance(node, dict):
        return set(map(str, node)) | {k for value in node.values() for k in _keys(value)}
    if isinstance(node, list):
        return {k for value in node for k in _keys(value)}
    return set()


def test_profile_names_no_rule_of_the_workflow():
    """Resources are the rules' (from the scale's job sizes): the profile only holds defaults for the jobs
    that declare none, so no rule can be missing from it."""
    proc = subprocess.run([*SNAKEMAKE, "--list-rules"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rules = set(proc.stdout.split())
    assert {"finetune", "predict", "ensemble", "pretrain"} <= rules
    assert not any(re.search(r"_(sst|para|sts|cfimdb)(_|$)", rule) for rule in rules)  # no rule per task set
    profile = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
    assert "set-resources" not in profile and "set-threads" not in profile
    assert _keys(profile) & rules == set()
    defaults = profile["default-resources"]
    assert defaults["runtime"] > 0 and defaults["mem_mb"] > 0
    assert not {"gpu", "gpu_model"} & set(defaults)  # a GPU default would reach the CPU jobs


@pytest.mark.e2e
def test_an_experiment_in_any_task_order_gets_its_scales_gpu_runtime_and_memory(tmp_path):
    """A new user's experiment with tasks [sts, sst] (once a rule of its own that the profile did not size,
    killed after the 60-minute default): its training job asks SLURM for the paper scale's GPU, runtime and
    memory, as does its test prediction job."""
    workdir = copy_workflow(tmp_path)
    overlay = tmp_path / "new-experiment.yaml"
    overlay.write_text(yaml.safe_dump({"experiments": {"sts-then-sst": {"tasks": ["sts", "sst"]}}}))
    targets = [
        "results/paper/metrics/sts-then-sst/dev.json",
        "results/paper/predictions/sts-then-sst/test.csv",
    ]
    proc = paper_dry_run(workdir, *targets, "--configfile", str(overlay))
    jobs = {rule: (res, wc) for rule, res, wc in planned_resources(proc.stdout) if rule in GPU_RULES}
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    sizes = config["scales"]["paper"]["jobs"]
    for rule in ("finetune", "predict"):
        resources, wildcards = jobs[rule]
        assert wildcards["experiment"] == "sts-then-sst", proc.stdout[-3000:]
        assert resources["gpu"] == str(sizes[rule]["gpu"]) == "1"
        assert sizes[rule]["runtime"] == "plan"
        assert resources["mem_mb"] == str(sizes[rule]["mem_mb"])
    paper = {**load_config(workdir), "scale": "paper"}
    paper["experiments"]["sts-then-sst"] = {"tasks": ["sts", "sst"]}
    costs = JobCosts.of(paper, "2024")
    for rule in ("finetune", "predict"):  # its own projected time, never the profile's short default
        assert int(jobs[rule][0]["runtime"]) == costs.runtime_minutes(rule, "sts-then-sst")
    default = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())["default-resources"][
        "runtime"
    ]
    assert int(jobs["finetune"][0]["runtime"]) >= config["plan"]["floor_minutes"] >= default


def skip_reason() -> str | None:
    if not ASKED:
        return "the real-SLURM test runs only when asked for: REQUIRE_SLURM_TEST=1 or RUN_SLURM_TEST=1"
    if not sys.platform.startswith("linux"):
        return "the toy SLURM cluster needs Linux"
    if os.geteuid() != 0:
        return "the toy SLURM cluster runs munged, slurmctld and slurmd as root"
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        return 'the SLURM executor plugin is not installed (pip install -e ".[slurm]")'
    installed = all(shutil.which(cmd) for cmd in ("sbatch", "slurmctld", "slurmd", "munged"))
    if not installed and not shutil.which("apt-get"):
        return "SLURM and munge are not installed and there is no apt-get to install them"
    return None


@pytest.fixture(scope="module")
def toy_cluster():
    """A running toy cluster: yields the environment that points SLURM's commands at it; stops exactly its
    daemons afterwards (and checks that they are gone)."""
    reason = skip_reason()
    if reason:
        if REQUIRE:
            pytest.fail(f"REQUIRE_SLURM_TEST=1 but: {reason}")
        pytest.skip(reason)
    install = subprocess.run([str(TOY_CLUSTER), "install"], capture_output=True, text=True, timeout=600)
    if install.returncode != 0:
        message = f"could not install SLURM: {install.stderr[-2000:]}"
        if REQUIRE:
            pytest.fail(message)
        pytest.skip(message)
    # A short path: munged's socket lives under it (unix socket paths are limited to 108 bytes).
    folder = Path(tempfile.mkdtemp(prefix="toy-slurm-", dir="/tmp"))
    start = subprocess.run(
        [str(TOY_CLUSTER), "start", str(folder)], capture_output=True, text=True, timeout=120
    )
    assert start.returncode == 0, start.stdout + start.stderr
    pids = [int(p) for p in re.findall(r"(?:munged|slurmctld|slurmd) (\d+)", start.stdout)]
    assert len(pids) == 3, start.stdout
    env = {
        **os.environ,
        "SLURM_CONF": str(folder / "etc" / "slurm.conf"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "OMP_NUM_THREADS": "1",
    }
    try:
        yield env
    finally:
        stop = subprocess.run(
            [str(TOY_CLUSTER), "stop", str(folder)], capture_output=True, text=True, timeout=120
        )
        assert stop.returncode == 0, stop.stdout + stop.stderr
        assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()], (
            "a toy SLURM daemon is still running"
        )
        shutil.rmtree(folder, ignore_errors=True)


def slurm_jobs(env: dict) -> pd.DataFrame:
    """SLURM's own record of every job of the toy cluster (kept for MinJobAge = 1 h after the job ended)."""
    out = subprocess.run(
        ["scontrol", "-o", "show", "job"], env=env, capture_output=True, text=True, check=True
    )
    rows = []
    for line in out.stdout.splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        if "JobId" not in fields:  # "No jobs in the system"
            continue
        rows.append(
            {
                "id": int(fields["JobId"]),
                # the workflow's jobs carry "rule_<rule>[_wildcards_...]"; the controller job no comment
                "rule": re.sub(r"^rule_(.+?)(_wildcards_.*)?$", r"\1", fields.get("Comment", "")),
                "state": fields["JobState"],
                "gpus": fields.get("TresPerJob", ""),
                "start": datetime.fromisoformat(fields["StartTime"]),
                "end": datetime.fromisoformat(fields["EndTime"]),
            }
        )
    return pd.DataFrame(rows, columns=["id", "rule", "state", "gpus", "start", "end"])


def smaller_table1(workdir: Path) -> Path:
    """Table 1 without its ensemble rows: the MNRL pre-training job and one experiment's group job (finetune +
    predict) still go through sbatch one after the other, in a quarter of the time of all five members (and
    without the claims, which cite those rows' paper values)."""
    paper_file = workdir / "papers/beyond-bert.yaml"
    paper = yaml.safe_load(paper_file.read_text())
    rows = paper["tables"]["table1"]["rows"]
    paper["tables"]["table1"]["rows"] = [r for r in rows if not r["model"].endswith("-ensemble")]
    paper["claims"] = []
    paper_file.write_text(yaml.safe_dump(paper, sort_keys=False))
    return workdir


#: Options of every run on the toy cluster: it has no slurmdbd, so job states come from squeue (MinJobAge is
#: 1 h there), polled often; no retries (fail fast here; the profile's retries are for pre-emption and time
#: limits).
TOY_OPTIONS = (
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "5",
    "--retries",
    "0",
)


@pytest.mark.slurm
def test_smoke_table1_runs_on_a_real_slurm_cluster(toy_cluster, tmp_path):
    """Smoke-scale Table 1 submitted through --profile profiles/slurm: GPU jobs go through sbatch asking for a
    GPU and never overlap (the node's CPUs and memory would let two run at once; its single GPU does not)."""
    workdir = smaller_table1(copy_workflow(tmp_path))
    started = time.monotonic()
    run = functools.partial(subprocess.run, cwd=workdir, env=toy_cluster, capture_output=True, text=True)
    try:
        proc = run(
            [
                *SNAKEMAKE,
                TABLE1,
                "--profile",
                "profiles/slurm",
                "--config",
                "scale=smoke",
                *TOY_OPTIONS,
                "--verbose",  # logs each sbatch call
            ],
            timeout=1800,
        )
    except subprocess.TimeoutExpired as error:
        queue = run(["squeue", "--states=all", "-o", "%i %k %T %S %e"]).stdout
        stderr = (
            (error.stderr or b"").decode(errors="replace")
            if isinstance(error.stderr, bytes)
            else error.stderr
        )
        pytest.fail(f"the SLURM run timed out; SLURM's queue:\n{queue}\nSnakemake:\n{(stderr or '')[-6000:]}")
    wall = time.monotonic() - started
    assert proc.returncode == 0, f"{proc.stdout[-3000:]}\n{proc.stderr[-8000:]}"
    table = pd.read_csv(workdir / TABLE1)
    assert set(table["scale"]) == {"smoke"} and len(table) > 1

    # What the plugin submitted: one sbatch per non-local job, --gpus=1 exactly on the GPU rules.
    calls = re.findall(r"sbatch call: (sbatch .*)", proc.stderr)
    submitted = [(re.search(r"--comment '?rule_(.+?)(?:_wildcards_|'|\s)", c).group(1), c) for c in calls]
    # an experiment's finetune and predict jobs go as one group job ("model"): one queue wait, not two
    finetune_calls = [c for rule, c in submitted if is_group_job(rule)]
    assert finetune_calls, proc.stderr[-3000:]
    for rule, call in submitted:
        assert ("--gpus=1" in call) == is_gpu_rule(rule), call
        assert not is_local_rule(rule), f"local rule {rule} was submitted: {call}"
    # SLURM's record agrees: every job completed, the GPU rules' jobs (and only they) hold gres:gpu:1.
    jobs = slurm_jobs(toy_cluster)
    assert len(jobs) == len(calls) and set(jobs["state"]) == {"COMPLETED"}, jobs
    assert ((jobs["gpus"] == "gres:gpu:1") == jobs["rule"].map(is_gpu_rule)).all(), jobs
    assert jobs["rule"].map(is_group_job).sum() == len(finetune_calls)
    assert not any(r in ("finetune", "tokens") for r in jobs["rule"])  # grouped / local
    gpu_jobs = jobs[jobs["gpus"] != ""].sort_values("start")
    assert len(gpu_jobs) >= 2
    for before, after in zip(gpu_jobs.itertuples(), gpu_jobs.iloc[1:].itertuples(), strict=False):
        assert after.start >= before.end, f"GPU jobs {before.id} and {after.id} overlap"
    # The profile's log folder holds SLURM's output of each job.
    assert list((workdir / "logs/slurm").glob("group_model_finetune*/**/*.log"))
    busy = (jobs["end"] - jobs["start"]).dt.total_seconds()
    print(
        f"\nSLURM smoke run: {wall:.0f} s wall, {len(jobs)} SLURM jobs running {busy.sum():.0f} s in all, "
        f"GPU jobs {busy[jobs['gpus'] != ''].sum():.0f} s; a fine-tuning job: {finetune_calls[0]}"
    )


@pytest.mark.slurm
def test_the_controller_runs_as_a_slurm_job(toy_cluster, tmp_path):
    """profiles/slurm/controller.sbatch, as docs/cluster.md says to use it: `snakemake prefetch` on the login
    node, then the controller submitted with sbatch; inside its job it runs smoke-scale Table 1 through the
    SLURM profile, submitting the GPU jobs itself, with the hub switched off (HF_HUB_OFFLINE) and nothing
    left to download."""
    workdir = smaller_table1(copy_workflow(tmp_path))
    run = functools.partial(subprocess.run, cwd=workdir, env=toy_cluster, capture_output=True, text=True)
    config = ("--config", "scale=smoke")
    started = time.monotonic()
    prefetch = run([*SNAKEMAKE, "prefetch", "--cores", "2", *config], timeout=600)
    assert prefetch.returncode == 0, prefetch.stderr[-3000:]
    before = set(slurm_jobs(toy_cluster)["id"])  # another test's jobs, still on record
    controller = workdir / "profiles/slurm/controller.sbatch"
    # --wait: sbatch returns when the job has ended, with its exit status
    submit = [*("sbatch", "--wait", "--parsable", str(controller)), TABLE1, *TOY_OPTIONS, *config]
    try:
        proc = run(submit, timeout=1800)
    except subprocess.TimeoutExpired:
        queue = run(["squeue", "--states=all", "-o", "%i %j %k %T %S %e"]).stdout
        logs = "\n".join(p.read_text()[-4000:] for p in workdir.glob("slurm-controller-*.log"))
        pytest.fail(f"the controller job did not finish; SLURM's queue:\n{queue}\n{logs}")
    wall = time.monotonic() - started
    job_id = int(proc.stdout.strip().split(";")[0])
    log = (workdir / f"slurm-controller-{job_id}.log").read_text()
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}\n{log[-8000:]}"
    assert f"job {job_id} (restart 0)" in log and "snakemake exited with status 0" in log
    assert set(pd.read_csv(workdir / TABLE1)["scale"]) == {"smoke"}
    # SLURM's record: the controller and, submitted from inside it, the GPU jobs (the controller ran the rest)
    jobs = slurm_jobs(toy_cluster)
    jobs = jobs[~jobs["id"].isin(before)]
    assert set(jobs["state"]) == {"COMPLETED"}, jobs
    own = jobs[jobs["id"] != job_id]
    assert job_id in set(jobs["id"]) and len(own) >= 2, jobs
    assert not own["rule"].map(is_local_rule).any(), jobs  # localrules ran inside the controller job
    assert own["rule"].map(is_group_job).any() and (own["gpus"] == "gres:gpu:1").any(), jobs
    assert jobs.loc[jobs["id"] == job_id, "start"].iloc[0] <= own["start"].min()
    assert jobs.loc[jobs["id"] == job_id, "end"].iloc[0] >= own["end"].max()
    print(
        f"\nSLURM controller job {job_id}: {wall:.0f} s wall (prefetch included), {len(own)} jobs from inside it"
    )


@pytest.mark.e2e
def test_the_controller_stops_before_submitting_when_a_download_is_left(tmp_path):
    """controller.sbatch run where nothing was prefetched (no SLURM needed: it stops after its dry run): it
    names the download jobs left and the prefetch command, and submits nothing."""
    workdir = copy_workflow(tmp_path)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    env.pop("SLURM_JOB_ID", None)
    proc = subprocess.run(
        ["bash", "profiles/slurm/controller.sbatch", TABLE1, "--config", "scale=smoke"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "this run would still download" in proc.stdout and "data 10" in proc.stdout, proc.stdout[-3000:]
    assert "snakemake prefetch" in proc.stdout
    assert not (workdir / "results/smoke/data").exists()  # a dry run only
