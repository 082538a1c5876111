"""End-to-end: results/claims.md at smoke scale over 2 seeds (the smoke default is 3; 2 keeps the suite
within its time budget and still gives intervals), and what a change of seeds reruns.

The full catalogue compares 72 experiments (216 training jobs at 3 seeds; about an hour on 2 CPU cores,
each job's imports take longer than its training), so this module keeps the claims on one pair of
experiments that cover a score, a train-dev gap (history.csv) and a training time (run.json).
"""

from __future__ import annotations

import pandas as pd
import pytest
import yaml
from test_workflow import copy_workflow, planned_jobs, snakemake

from pipeline.reporting.claims import VERDICTS

pytestmark = pytest.mark.e2e  # starts whole workflows or subprocess jobs: not in the fast loop

KEPT = ("cs-cross-para", "cs-cross-overfit-para", "cs-cross-time-para")
CROSS = "methods-para-cross-full"


@pytest.fixture(scope="module")
def claims_run(tmp_path_factory):
    workdir = copy_workflow(tmp_path_factory.mktemp("claims"))
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["claims"] = [c for c in config["claims"] if c["id"] in KEPT]
    config["scales"]["smoke"]["seeds"] = 2
    (workdir / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    snakemake(workdir, "results/claims.md")
    return workdir


def test_every_kept_claim_has_a_verdict_over_the_seeds(claims_run):
    frame = pd.read_csv(claims_run / "results/claims.csv")
    assert list(frame["id"]) == list(KEPT)
    assert set(frame["verdict"]) <= set(VERDICTS)
    assert (frame["n_seeds"].astype(str) == "2").all()
    assert frame["difference"].notna().all()
    text = (claims_run / "results/claims.md").read_text()
    assert "2 seeds per experiment" in text and "Verdict rule" in text
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
    assert f"models/{CROSS}~seed2/model.safetensors" in proc.stdout
    # one seed fewer: only the claims table (its inputs changed), no training
    assert planned_jobs(snakemake(claims_run, "-n", "results/claims.md", config=("seeds=1",))) == {
        "claims": 1
    }
    # seed 0 is the plain name at every seed count: the tables' rows do not move
    assert planned_jobs(snakemake(claims_run, "-n", f"results/smoke/metrics/{CROSS}/dev.json")) == {}


def test_claims_plan_offline_at_paper_scale(claims_run):
    proc = snakemake(claims_run, "-n", "results/claims.md", scale="paper")
    jobs = planned_jobs(proc)
    assert jobs["finetune"] == 2 and jobs["claims"] == 1  # paper scale: one seed
