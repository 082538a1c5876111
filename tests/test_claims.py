"""The claims target: verdict rule on constructed inputs, catalogue checks, table, markdown, figure, and the
catalogue in the paper files."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from pipeline.reporting import claims as C
from pipeline.workflow.validation import load_config

ROOT = Path(__file__).resolve().parents[1]
MODELS = ["a", "b", "c", "d", "random"]
TASKS = {
    "a": ["sst"],
    "b": ["sst"],
    "c": ["sts"],
    "d": ["sst", "para", "sts"],
    "random": ["sst", "para", "sts"],
}


def claim(**extra):
    base = {
        "id": "x",
        "paper": "P",
        "section": "5.4",
        "statement": "a beats b",
        "metric": "sst_acc",
        "split": "dev",
        "better": "a",
        "worse": "b",
        "direction": 1,
        "paper_values": {"better": 0.52, "worse": 0.45},
    }
    base.update(extra)
    return base


def read(*entries):
    return C.read_catalogue(list(entries), MODELS, TASKS)


def seeds(mean, std, n, seed):
    rng = np.random.default_rng(seed)
    return list(mean + std * rng.standard_normal(n))


# -- the verdict rule -------------------------------------------------------------------------------------


def test_clear_gain_holds():
    c = C.compare(seeds(0.52, 0.005, 5, 1), seeds(0.45, 0.005, 5, 2), direction=1)
    assert c.verdict == "holds"
    assert c.low > 0 and c.high > c.low
    assert c.difference == pytest.approx(0.07, abs=0.01)
    assert c.rule.startswith("Welch")


def test_clear_loss_reversed():
    c = C.compare(seeds(0.40, 0.005, 5, 1), seeds(0.45, 0.005, 5, 2), direction=1)
    assert c.verdict == "reversed" and c.high < 0


def test_claimed_decrease_holds_when_lower():
    # direction -1 (e.g. a shorter training time): lower is what the paper says
    assert C.compare([1.0, 1.1, 0.9], [2.0, 2.1, 1.9], direction=-1).verdict == "holds"
    assert C.compare([2.0, 2.1, 1.9], [1.0, 1.1, 0.9], direction=-1).verdict == "reversed"


def test_pure_noise_within_noise():
    # both sides drawn from one distribution: the interval covers 0 for (nearly) every draw
    verdicts = [
        C.compare(seeds(0.5, 0.02, 5, 2 * k), seeds(0.5, 0.02, 5, 2 * k + 1), direction=1).verdict
        for k in range(40)
    ]
    assert verdicts.count("within noise") >= 34  # 95% intervals: about 2 of 40 expected outside
    assert C.compare(seeds(0.5, 0.02, 5, 0), seeds(0.5, 0.02, 5, 1)).verdict == "within noise"


def test_welch_interval_matches_scipy():
    from scipy import stats

    a, b = [0.50, 0.52, 0.51, 0.55], [0.47, 0.49, 0.44]
    c = C.compare(a, b)
    ci = stats.ttest_ind(a, b, equal_var=False).confidence_interval(0.95)
    assert (c.low, c.high) == pytest.approx((ci.low, ci.high))
    assert c.std_better == pytest.approx(np.std(a, ddof=1))


def test_single_seed_needs_min_effect():
    small = C.compare([0.52], [0.50], direction=1)
    assert small.verdict == "within noise" and math.isnan(small.low)
    assert small.rule.startswith("single seed")
    assert C.compare([0.56], [0.50], direction=1).verdict == "holds"
    assert C.compare([0.46], [0.50], direction=1).verdict == "reversed"
    assert C.compare([0.56], [0.50], direction=1, min_effect=0.1).verdict == "within noise"


def test_one_side_single_seed_uses_other_spread():
    c = C.compare([0.60], [0.50, 0.51, 0.49, 0.50], direction=1)
    assert c.rule.startswith("one side single seed") and c.verdict == "holds"
    noisy = C.compare([0.52], [0.45, 0.55, 0.50, 0.48], direction=1)
    assert noisy.verdict == "within noise"


def test_no_spread_falls_back_to_min_effect():
    assert C.compare([0.5, 0.5], [0.49, 0.49]).verdict == "within noise"
    assert C.compare([0.6, 0.6], [0.5, 0.5]).verdict == "holds"


def test_about_the_same_claims():
    same = C.compare(seeds(0.50, 0.002, 6, 3), seeds(0.50, 0.002, 6, 4), direction=0)
    assert same.verdict == "holds"
    apart = C.compare(seeds(0.60, 0.002, 6, 3), seeds(0.50, 0.002, 6, 4), direction=0)
    assert apart.verdict == "reversed"
    assert C.compare([0.51], [0.50], direction=0).verdict == "within noise"  # one run cannot show equality
    assert C.compare([0.60], [0.50], direction=0).verdict == "reversed"


def test_compare_rejects_empty_and_nan():
    with pytest.raises(ValueError):
        C.compare([], [0.5])
    with pytest.raises(ValueError):
        C.compare([math.nan], [0.5])


# -- the catalogue ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["id", "section", "metric", "direction", "split"])
def test_missing_key_names_claim_and_key(key):
    entry = claim(id="bb-x")
    del entry[key]
    with pytest.raises(C.ClaimError, match=f"'{key}'") as err:
        read(entry)
    if key != "id":
        assert "'bb-x'" in str(err.value)


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        ({"direction": 2}, "'direction'"),
        ({"metric": "sst_accuracy"}, "unknown 'metric'"),
        ({"split": "train"}, "'split'"),
        ({"better": []}, "'better'"),
        ({"colour": "red"}, "unknown key 'colour'"),
        ({"combine": {"better": "median"}}, "'combine'"),
        ({"paper_values": {"better": "high"}}, "paper_values.better"),
        ({"kind": "factor"}, "factor claim"),
        ({"status": "not-declared"}, "'needs'"),
        ({"accepts": ["maybe"]}, "'accepts'"),
    ],
)
def test_malformed_entry_names_claim_and_key(extra, words):
    with pytest.raises(C.ClaimError, match="'bad-1'") as err:
        read(claim(id="bad-1", **extra))
    assert words in str(err.value)


def test_unknown_experiment_named():
    with pytest.raises(C.ClaimError, match=r"claim 'bb-y' names unknown model 'full-model-typo'"):
        read(claim(id="bb-y", worse=["b", "full-model-typo"]))


def test_duplicate_ids():
    with pytest.raises(C.ClaimError, match="used twice"):
        read(claim(), claim())


def test_per_task_metric_needs_single_task_models():
    (ok,) = read(claim(metric="score", better="a", worse="c", paper_values={}))
    assert ok["metrics"] == {"a": "sst_acc", "c": "sts_corr"}
    with pytest.raises(C.ClaimError, match="'d'"):
        read(claim(metric="gap", better="d", worse="a", paper_values={}))


# -- the table --------------------------------------------------------------------------------------------


def scores_of(**models):
    return {m: {"dev": v, "test": v} for m, v in models.items()}


def test_frame_gain_loss_noise_and_paper_difference():
    catalogue = read(
        claim(id="gain"),
        claim(id="loss", better="b", worse="a", paper_values={"better": 0.5, "worse": 0.4}),
        claim(id="noise", better="a", worse="c", metric="overall", paper_values={}),
    )
    scores = scores_of(
        a={"sst_acc": [0.52, 0.53, 0.51], "overall": [0.60, 0.62, 0.58]},
        b={"sst_acc": [0.45, 0.44, 0.46]},
        c={"overall": [0.61, 0.59, 0.60]},
    )
    frame = C.claims_frame(catalogue, scores).set_index("id")
    assert frame.loc["gain", "verdict"] == "holds" and frame.loc["gain", "agrees"] == "yes"
    assert frame.loc["loss", "verdict"] == "reversed" and frame.loc["loss", "agrees"] == "no"
    assert frame.loc["noise", "verdict"] == "within noise"
    assert frame.loc["gain", "paper_difference"] == "+0.070"
    assert frame.loc["gain", "mean_better"] == pytest.approx(0.52)
    assert frame.loc["gain", "n_seeds"] == "3"


def test_groups_combine_per_seed():
    entry = claim(better="a", worse=["b", "c"], metric="overall", combine={"worse": "max"}, paper_values={})
    scores = scores_of(a={"overall": [0.70, 0.71]}, b={"overall": [0.60, 0.65]}, c={"overall": [0.66, 0.61]})
    row = C.claims_frame(read(entry), scores).iloc[0]
    assert row["mean_worse"] == pytest.approx(0.655)  # max per seed: 0.66, 0.65


def test_factor_claim_compares_ranges():
    entry = claim(kind="factor", better=["a", "b"], worse=["c", "d"], metric="overall", paper_values={})
    scores = scores_of(
        a={"overall": [0.50, 0.50, 0.51]},
        b={"overall": [0.60, 0.61, 0.60]},
        c={"overall": [0.55, 0.55, 0.56]},
        d={"overall": [0.56, 0.55, 0.55]},
    )
    row = C.claims_frame(read(entry), scores).iloc[0]
    assert row["verdict"] == "holds"
    assert row["mean_better"] == pytest.approx(np.mean([0.10, 0.11, 0.09]))


def test_costs_compared_as_log_ratio():
    entry = claim(
        metric="time_s",
        better="a",
        worse="b",
        direction=-1,
        paper_values={"better": "17m 32s", "worse": "35m 4s"},
    )
    row = C.claims_frame(read(entry), scores_of(a={"time_s": [100.0]}, b={"time_s": [200.0]})).iloc[0]
    assert row["difference"] == pytest.approx(math.log(0.5))
    assert row["paper_difference"] == f"{math.log(0.5):+.3f}"
    assert row["verdict"] == "holds"


def test_gap_and_train_metrics():
    entry = claim(metric="gap_sst_acc", direction=-1, paper_values={})
    scores = scores_of(
        a={"sst_acc": [0.5], "train_sst_acc": [0.55]}, b={"sst_acc": [0.5], "train_sst_acc": [0.9]}
    )
    row = C.claims_frame(read(entry), scores).iloc[0]
    assert row["difference"] == pytest.approx(-0.35) and row["verdict"] == "holds"


def test_single_value_broadcasts_and_unlabelled():
    entry = claim(better="a", worse="random", metric="overall", split="test", paper_values={})
    ok = C.claims_frame(read(entry), scores_of(a={"overall": [0.6, 0.62, 0.61]}, random={"overall": [0.4]}))
    assert ok.iloc[0]["verdict"] == "holds"
    none = C.claims_frame(read(entry), scores_of(a={"overall": [None]}, random={"overall": [0.4]}))
    assert none.iloc[0]["verdict"] == "unlabelled"


def test_mismatched_seed_counts_and_missing_scores():
    entry = read(claim(paper_values={}))
    with pytest.raises(ValueError, match="numbers of seeds"):
        C.claims_frame(entry, scores_of(a={"sst_acc": [0.5, 0.6]}, b={"sst_acc": [0.5, 0.6, 0.7]}))
    with pytest.raises(KeyError, match="'b'"):
        C.claims_frame(entry, scores_of(a={"sst_acc": [0.5]}))


def test_not_declared_has_no_numbers():
    entry = {
        **claim(id="nd"),
        "status": "not-declared",
        "needs": "an experiment x",
        "better": [],
        "worse": [],
    }
    row = C.claims_frame(read(entry), {}).iloc[0]
    assert row["verdict"] == "not declared" and math.isnan(row["difference"])


def test_runs_with_the_same_settings_test_nothing():
    """At quick scale 2 and 4 epochs x 0.025 are 1 epoch each: a finding over two such runs gets no numbers
    and the verdict "same settings" (it would otherwise read as "within noise", or hold an "about the same"
    finding by construction); one differing setting (a learning rate) is a real comparison."""
    catalogue = read(claim(id="epochs", direction=0), claim(id="lr"))
    scores = scores_of(a={"sst_acc": [0.52, 0.53]}, b={"sst_acc": [0.52, 0.53]})
    base = {"name": "a", "seed": 0, "epochs": 1, "lr": 3e-5}
    settings = {"a": base, "b": {**base, "name": "b"}}
    frame = C.claims_frame(catalogue, scores, settings)
    assert list(frame["verdict"]) == ["same settings", "same settings"]
    assert frame["difference"].isna().all() and (frame["agrees"] == "").all()
    assert "2 findings: 2 same settings." in C.claims_markdown(frame, scale="quick", seeds=2)
    settings["b"] = {**base, "name": "b", "lr": 1e-4}
    frame = C.claims_frame(catalogue, scores, settings)
    assert list(frame["verdict"]) == ["within noise", "within noise"] and frame["difference"].notna().all()
    assert list(C.claims_frame(catalogue, scores)["verdict"]) == ["within noise", "within noise"]  # unknown


def test_markdown_states_rule_and_figure_written(tmp_path):
    catalogue = read(claim(id="gain"), claim(id="cost", metric="time_s", direction=-1, paper_values={}))
    scores = scores_of(
        a={"sst_acc": [0.52, 0.53], "time_s": [10.0, 11.0]},
        b={"sst_acc": [0.45, 0.44], "time_s": [20.0, 21.0]},
    )
    frame = C.claims_frame(catalogue, scores)
    text = C.claims_markdown(frame, scale="smoke", seeds=2)
    assert "Welch t interval" in text and "within noise" in text and "| gain |" in text
    C.write_claims(frame, tmp_path / "claims.csv", tmp_path / "claims.md", scale="smoke")
    assert (tmp_path / "claims.md").read_text().startswith("# Claims")
    C.claims_figure(frame, tmp_path / "claims.png")
    assert (tmp_path / "claims.png").read_bytes()[:4] == b"\x89PNG"


def test_run_values_and_gather():
    import pandas as pd

    metrics = {"dev": {"scores": {"sst_acc": 0.5}, "overall": 0.5}}
    history = pd.DataFrame(
        {"epoch": [1, 2], "train_loss": [1.0, 0.5], "train_sst_acc": [0.6, 0.7], "epoch_seconds": [2.0, 4.0]}
    )
    run = {
        "run": {"best_epoch": 1, "train_seconds": 6.0, "peak_memory_bytes": 2 * 1024**3},
        "history": history,
    }
    values = C.run_values(metrics, {**run, "job_seconds": None})
    assert values["dev"]["train_sst_acc"] == 0.6 and values["dev"]["time_s"] == 6.0
    assert values["dev"]["memory_gib"] == 2.0 and values["dev"]["epoch_seconds"] == 3.0
    scores = C.gather_scores({"a": [values, values]})
    assert scores["a"]["dev"]["sst_acc"] == [0.5, 0.5]


# -- the catalogue in the paper files ---------------------------------------------------------------------


def test_config_catalogue_reads_and_cites():
    from pipeline.config import known_models, model_tasks

    config = load_config(ROOT)
    models = known_models(config)
    tables = {**config["tables"], **config["methods_tables"]}
    catalogue = C.read_catalogue(
        config["claims"], models, {m: model_tasks(config, m) for m in models}, tables
    )
    assert C.catalogue_from_config(config) == catalogue
    assert set(C.claim_models(catalogue)) <= set(models)
    papers = {c["paper"] for c in catalogue}
    assert papers == {"Beyond BERT", "Comparing BERT fine-tuning methods"}
    assert all(str(c["section"]).strip() for c in catalogue)
    for c in catalogue:
        if c["status"] == "not-declared":
            assert c["needs"]
        else:
            assert c["paper_values"] or c["note"], c["id"]
