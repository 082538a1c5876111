"""End-to-end: results/claims.md at smoke scale over 2 seeds (the smoke default is 3; 2 keeps the suite
within its time budget and still gives intervals), and what a change of seeds reruns.

The full catalogue compares 82 experiments (246 training jobs at 3 seeds; about an hour on 2 CPU cores,
each job's imports take longer than its training), so this module keeps the claims on one pair of
experiments that cover a score, a train-dev gap (history.csv) and a training time (run.json).
"""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from test_workflow import copy_workflow, edit_yaml, planned_jobs, snakemake

from pipeline.reporting.claims import DECIDED, VOCABULARY

pytestmark = pytest.mark.e2e  # starts whole workflows or subprocess jobs: not in the fast loop

KEPT = ("cs-cross-para", "cs-cross-overfit-para", "cs-cross-time-para")
CROSS = "methods-para-cross-full"


@pytest.fixture(scope="module")
def claims_run(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("claims"))
    for paper in (workdir / "papers").glob("*.yaml"):
        edit_yaml(paper, lambda p: p.update(claims=[c for c in p.get("claims", []) if c["id"] in KEPT]))
    edit_yaml(workdir / "config.yaml", lambda c: c["scales"]["smoke"].update(seeds=2))
    snakemake(workdir, "results/claims.md")
    return workdir


def test_every_kept_claim_has_a_verdict_over_the_seeds(claims_run):
    frame = pd.read_csv(claims_run / "results/claims.csv")
    assert list(frame["id"]) == list(KEPT)
    assert set(frame["verdict"]) <= set(VOCABULARY) - {"needs seeds", "not declared"}
    assert (frame["n"] == 2).all() and frame["difference"].notna().all()
    assert frame["better_values"].str.count(";").eq(1).all()  # both seeds, in seed order
    checked = frame[frame["verdict"].isin([*DECIDED, "inconclusive"])]
    assert checked["low"].notna().all()
    assert checked.loc[checked["sd_difference"] > 0, "p"].notna().all()  # no paired spread, d = 0: p nan
    time = frame.set_index("id").loc["cs-cross-time-para"]
    assert time["verdict"] == "untestable at this scale" and "CPU" in time["detail"]  # CPU times
    text = (claims_run / "results/claims.md").read_text()
    assert "2 seeds per experiment" in text and "How to read a verdict" in text and "Holm" in text
    assert "## Comparing BERT fine-tuning methods" in text
    metrics = yaml.safe_load((claims_run / f"results/smoke/metrics/{CROSS}/dev.json").read_text())
    assert set(metrics["learned"]) == set(metrics["trivial"]) == {"para"}
    assert "hardware: CPU" in text and "1 thread(s) per job" in text  # where the time claim was measured
    assert (claims_run / "results/figures/claims.png").stat().st_size > 0
    run = yaml.safe_load((claims_run / f"results/smoke/models/{CROSS}~seed1/run.json").read_text())
    assert run["settings"]["seed"] == 1  # an extra seed is a separate model, trained with seed + 1
    assert not (claims_run / f"results/smoke/models/{CROSS}~seed2").exists()


def test_a_seed_change_reruns_only_that_seeds_branch(claims_run):
    # one more seed: the new seed's jobs and the claims table, nothing of seeds 0-1
    proc = snakemake(claims_run, "-n", "results/claims.md", config=("seeds=3",))
    # (the dev predictions are the fine-tuning job's own: no predict job)
    assert planned_jobs(proc) == {"finetune": 2, "metrics": 2, "claims": 1}
    assert f"models/{CROSS}~seed2/README.md" in proc.stdout  # the model card: the folder complete
    # one seed fewer: only the claims table (its inputs changed), no training
    assert planned_jobs(snakemake(claims_run, "-n", "results/claims.md", config=("seeds=1",))) == {
        "claims": 1
    }
    # seed 0 is the plain name at every seed count: the tables' rows do not move
    assert planned_jobs(snakemake(claims_run, "-n", f"results/smoke/metrics/{CROSS}/dev.json")) == {}


def test_claims_plan_offline_at_paper_scale(claims_run):
    proc = snakemake(claims_run, "-n", "results/claims.md", scale="paper")
    jobs = planned_jobs(proc)
    assert jobs["finetune"] == 6 and jobs["claims"] == 1  # paper scale: 3 seeds of each of the two
