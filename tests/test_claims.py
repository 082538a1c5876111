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


# -- the verdict rule (statistical properties: test_verdict.py) ------------------------------------------


def test_clear_gain_holds():
    c = C.compare(seeds(0.52, 0.005, 5, 1), seeds(0.45, 0.005, 5, 2), direction=1)
    assert c.verdict == "holds"
    assert c.low > 0 and c.high > c.low
    assert c.difference == pytest.approx(0.07, abs=0.01)
    assert c.rule.startswith("paired t interval") and c.n == 5


def test_clear_loss_reversed():
    c = C.compare(seeds(0.40, 0.005, 5, 1), seeds(0.45, 0.005, 5, 2), direction=1)
    assert c.verdict == "reversed" and c.high < 0


def test_claimed_decrease_holds_when_lower():
    # direction -1 (e.g. a shorter training time): lower is what the paper says
    assert C.compare([1.0, 1.1, 0.9], [2.0, 2.1, 1.9], direction=-1).verdict == "holds"
    assert C.compare([2.0, 2.1, 1.9], [1.0, 1.1, 0.9], direction=-1).verdict == "reversed"


def test_paired_interval_matches_scipy():
    from scipy import stats

    a, b = [0.50, 0.52, 0.51, 0.55], [0.47, 0.49, 0.44, 0.50]
    c = C.compare(a, b)
    test = stats.ttest_rel(a, b)
    ci = test.confidence_interval(0.95)
    assert (c.low, c.high) == pytest.approx((ci.low, ci.high))
    assert c.p == pytest.approx(test.pvalue)
    assert c.differences == pytest.approx(np.subtract(a, b))
    assert c.sd == pytest.approx(np.std(np.subtract(a, b), ddof=1))


def test_pairing_is_tighter_than_unpaired_when_seeds_share_noise():
    # seed k moves both sides alike (shared subset, initialisation, batch order): pairing removes it
    shared = np.array([0.00, 0.04, -0.03, 0.02, -0.01])
    a, b = 0.52 + shared + [0.001, -0.002, 0.0, 0.002, -0.001], 0.50 + shared
    c = C.compare(a, b)
    assert c.verdict == "holds" and c.high - c.low < 0.01


def test_single_seed_needs_seeds():
    small = C.compare([0.52], [0.50], direction=1)
    assert small.verdict == "needs seeds" and math.isnan(small.low) and math.isnan(small.p)
    assert small.difference == pytest.approx(0.02)
    assert C.compare([0.80], [0.10], direction=1).verdict == "needs seeds"  # however large


def test_documented_constant_side_example():
    """The rule text's example: [0.60, 0.62, 0.61] against the random baseline's single 0.58 is a
    one-sample t interval of the differences [0.02, 0.04, 0.03] (not a zero-variance second side)."""
    from scipy import stats

    c = C.compare([0.60, 0.62, 0.61], [0.58])
    one = stats.ttest_1samp([0.02, 0.04, 0.03], 0.0)
    ci = one.confidence_interval(0.95)
    assert c.n == 3 and c.worse == (0.58,)
    assert c.differences == pytest.approx((0.02, 0.04, 0.03))
    assert (c.low, c.high) == pytest.approx((ci.low, ci.high))  # 0.030 +- 4.303 * 0.01 / sqrt(3)
    assert c.low == pytest.approx(0.03 - stats.t.ppf(0.975, 2) * 0.01 / math.sqrt(3))
    assert c.p == pytest.approx(one.pvalue)
    assert c.verdict == "holds" and c.rule.startswith("one-sample t interval")
    assert C.compare([0.58], [0.60, 0.62, 0.61]).verdict == "reversed"  # either side may be the constant


def test_unpaired_seed_counts_rejected():
    with pytest.raises(ValueError, match="unpaired"):
        C.compare([0.5, 0.6], [0.5, 0.6, 0.7])


def test_about_the_same_claims():
    same = C.compare(seeds(0.50, 0.002, 6, 3), seeds(0.50, 0.002, 6, 4), direction=0)
    assert same.verdict == "same" and same.test == "equivalence"
    apart = C.compare(seeds(0.60, 0.002, 6, 3), seeds(0.50, 0.002, 6, 4), direction=0)
    assert apart.verdict == "differs"
    wide = C.compare(seeds(0.50, 0.05, 3, 3), seeds(0.50, 0.05, 3, 4), direction=0)
    assert wide.verdict == "inconclusive"
    assert C.compare([0.51], [0.50], direction=0).verdict == "needs seeds"


def test_equivalence_p_is_the_larger_of_the_tests_against_both_margins():
    from scipy import stats

    a, b = [0.50, 0.51, 0.50, 0.52], [0.50, 0.50, 0.51, 0.50]
    c = C.compare(a, b, direction=0, min_effect=0.03)
    p = max(stats.ttest_rel(np.subtract(a, m), b).pvalue for m in (-0.03, 0.03))
    assert c.p == pytest.approx(p) and (c.p < 0.05) == (c.verdict in ("same", "differs"))


def test_non_inferiority():
    # "more epochs, without negative impact on SST": holds when not worse by the margin (0.03)
    slightly = C.compare([0.50, 0.51, 0.49, 0.50], [0.51, 0.51, 0.50, 0.51], test="non-inferiority")
    assert slightly.difference < 0 and slightly.verdict == "holds"
    assert slightly.p < 0.05 and slightly.reference == (-0.03,)
    worse = C.compare([0.40, 0.41, 0.39, 0.40], [0.51, 0.51, 0.50, 0.51], test="non-inferiority")
    assert worse.verdict == "reversed"
    noisy = C.compare([0.45, 0.55, 0.40, 0.52], [0.51, 0.51, 0.50, 0.51], test="non-inferiority")
    assert noisy.verdict == "inconclusive"
    # direction -1 (a cost that should not grow): not more than m above
    assert (
        C.compare([1.0, 1.01, 1.0], [1.0, 1.0, 1.01], -1, 0.0953, test="non-inferiority").verdict == "holds"
    )


def test_magnitude_compared_with_the_stated_range():
    low = C.compare([0.52, 0.53, 0.52, 0.53], [0.50, 0.50, 0.50, 0.50], stated=(0.1, 0.2))
    assert low.verdict == "holds" and low.detail == "smaller than reported"
    inside = C.compare([0.65, 0.66, 0.64, 0.65], [0.50, 0.50, 0.50, 0.50], stated=(0.1, 0.2))
    assert inside.detail == "as reported"
    high = C.compare([0.80, 0.81, 0.80, 0.79], [0.50, 0.50, 0.50, 0.50], stated=(0.1, 0.2))
    assert high.detail == "larger than reported"
    faster = C.compare(np.log([50, 51, 50]), np.log([100, 101, 99]), -1, stated=(-0.6931, -0.4055))
    assert faster.verdict == "holds" and faster.detail == "as reported"  # 2x faster: 1.5-2x stated


def test_inconclusive_shows_the_minimum_detectable_effect():
    c = C.compare([0.50, 0.53, 0.49], [0.50, 0.50, 0.50], paper_d=0.01)
    assert c.verdict == "inconclusive"
    assert c.mde == pytest.approx(C.mde(c.sd, 3)) and f"MDE {c.mde:.3f}" in c.detail
    assert c.seeds_needed > 3 and f"{int(c.seeds_needed)} seeds for the paper's d" in c.detail


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


def test_test_key_and_former_accepts():
    plain, same, noninf = read(
        claim(id="p"), claim(id="s", direction=0), claim(id="n", test="non-inferiority", title="no harm")
    )
    assert (plain["test"], plain["accepts"]) == ("difference", ["holds"])
    assert (same["test"], same["accepts"]) == ("equivalence", ["same"])
    assert (noninf["test"], noninf["accepts"], noninf["title"]) == ("non-inferiority", ["holds"], "no harm")
    # the former words: "holds or within noise" was "no negative impact"; "holds" of direction 0 is "same"
    (former,) = read(claim(id="f", accepts=["holds", "within noise"]))
    assert (former["test"], former["accepts"]) == ("non-inferiority", ["holds"])
    (about,) = read(claim(id="a", direction=0, accepts=["holds", "within noise"]))
    assert (about["test"], about["accepts"]) == ("equivalence", ["same"])
    with pytest.raises(C.ClaimError, match="'test'"):
        read(claim(id="bad", direction=0, test="non-inferiority"))
    with pytest.raises(C.ClaimError, match="'test'"):
        read(claim(id="bad", test="superiority"))


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
    assert frame.loc["noise", "verdict"] == "inconclusive" and frame.loc["noise", "agrees"] == ""
    assert frame.loc["noise", "detail"].startswith("MDE ")
    assert frame.loc["gain", "paper_difference"] == "+0.070"
    assert frame.loc["gain", "mean_better"] == pytest.approx(0.52)
    assert frame.loc["gain", "n"] == 3
    assert frame.loc["gain", "better_values"] == "0.52;0.53;0.51"
    assert frame.loc["gain", "differences"] == "0.07;0.09;0.05"
    assert frame["p_holm"].tolist() == pytest.approx(C.holm(frame["p"].tolist()))


def test_groups_combine_per_seed():
    entry = claim(better="a", worse=["b", "c"], metric="overall", combine={"worse": "mean"}, paper_values={})
    scores = scores_of(a={"overall": [0.70, 0.71]}, b={"overall": [0.60, 0.65]}, c={"overall": [0.66, 0.61]})
    row = C.claims_frame(read(entry), scores).iloc[0]
    assert row["mean_worse"] == pytest.approx(0.63)  # mean per seed: 0.63, 0.63
    assert row["selection"] == ""


def test_the_best_of_several_is_picked_on_data_it_is_not_scored_on():
    """No winner's curse: a dev claim picks the best of a group on dev half A and scores every side on half
    B; a test claim picks on dev and scores on test."""
    entry = claim(better="a", worse=["b", "c"], metric="overall", combine={"worse": "max"}, paper_values={})
    scores = scores_of(a={"overall": [0.70, 0.71]}, b={"overall": [0.60, 0.65]}, c={"overall": [0.66, 0.61]})
    for model, (half_a, half_b) in {
        "a": ([0.70, 0.70], [0.72, 0.74]),
        "b": ([0.70, 0.60], [0.50, 0.66]),  # seed 0: b is best on half A, poor on half B
        "c": ([0.60, 0.66], [0.64, 0.58]),  # seed 1: c is best on half A
    }.items():
        scores[model].update(dev_a={"overall": half_a}, dev_b={"overall": half_b})
    row = C.claims_frame(read(entry), scores).iloc[0]
    assert row["selection"] == "picked on dev half A, scored on dev half B"
    assert row["worse_values"] == "0.5;0.58" and row["better_values"] == "0.72;0.74"
    # on test: picked on (the whole of) dev, scored on test
    tests = {"a": 0.9, "b": 0.2, "c": 0.3}
    test_scores = {m: {"dev": v["dev"], "test": {"overall": [tests[m]] * 2}} for m, v in scores.items()}
    row = C.claims_frame(read({**entry, "split": "test"}), test_scores).iloc[0]
    assert row["selection"] == "picked on dev, scored on test"
    # dev: c best in seed 0 (0.66), b in seed 1 (0.65); their test values 0.3 and 0.2
    assert row["worse_values"] == "0.3;0.2"


def test_metrics_without_dev_halves_leave_a_best_of_claim_untestable():
    entry = claim(better="a", worse=["b", "c"], metric="overall", combine={"worse": "max"}, paper_values={})
    scores = scores_of(a={"overall": [0.70, 0.71]}, b={"overall": [0.60, 0.65]}, c={"overall": [0.66, 0.61]})
    row = C.claims_frame(read(entry), scores).iloc[0]
    assert row["verdict"] == C.UNTESTABLE and "rerun the metrics jobs" in row["detail"]


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
    scores = scores_of(a={"time_s": [100.0, 110.0]}, b={"time_s": [200.0, 210.0]})
    row = C.claims_frame(read(entry), scores).iloc[0]
    assert row["difference"] == pytest.approx(np.mean(np.log([100 / 200, 110 / 210])))
    assert row["paper_difference"] == f"{math.log(0.5):+.3f}"
    assert row["verdict"] == "holds" and row["metric"] == "time_s (log)"


def test_gap_and_train_metrics():
    entry = claim(metric="gap_sst_acc", direction=-1, paper_values={})
    scores = scores_of(
        a={"sst_acc": [0.5, 0.5], "train_sst_acc": [0.55, 0.56]},
        b={"sst_acc": [0.5, 0.5], "train_sst_acc": [0.9, 0.92]},
    )
    row = C.claims_frame(read(entry), scores).iloc[0]
    assert row["difference"] == pytest.approx(-0.355) and row["verdict"] == "holds"


def test_single_value_is_a_constant_and_unlabelled():
    entry = claim(better="a", worse="random", metric="overall", split="test", paper_values={})
    scores = scores_of(a={"overall": [0.60, 0.62, 0.61]}, random={"overall": [0.58]})
    ok = C.claims_frame(read(entry), scores).iloc[0]
    assert ok["verdict"] == "holds" and ok["n"] == 3  # the documented example: one-sample t interval
    assert ok["worse_values"] == "0.58" and ok["differences"] == "0.02;0.04;0.03"
    assert ok["rule"].startswith("one-sample t interval")
    none = C.claims_frame(read(entry), scores_of(a={"overall": [None]}, random={"overall": [0.4]})).iloc[0]
    assert none["verdict"] == "untestable at this scale" and "no labels" in none["detail"]


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
    assert row["verdict"] == "not declared" and math.isnan(row["difference"]) and row["agrees"] == ""


def test_runs_with_the_same_settings_test_nothing():
    """At quick scale 2 and 4 epochs x 0.025 are 1 epoch each: a finding over two such runs gets no numbers
    and the verdict "untestable at this scale" (it would otherwise read as "inconclusive", or hold an "about
    the same" finding by construction); one differing setting (a learning rate) is a real comparison."""
    catalogue = read(claim(id="epochs", direction=0), claim(id="lr"))
    scores = scores_of(a={"sst_acc": [0.52, 0.53]}, b={"sst_acc": [0.52, 0.53]})
    base = {"name": "a", "seed": 0, "epochs": 1, "lr": 3e-5}
    settings = {"a": base, "b": {**base, "name": "b"}}
    frame = C.claims_frame(catalogue, scores, settings)
    assert list(frame["verdict"]) == ["untestable at this scale"] * 2
    assert (frame["detail"] == "the compared runs have the same settings at this scale").all()
    assert frame["difference"].isna().all() and (frame["agrees"] == "").all()
    assert "2 findings: 2 untestable at this scale." in C.claims_markdown(frame, scale="quick", seeds=2)
    settings["b"] = {**base, "name": "b", "lr": 1e-4}
    frame = C.claims_frame(catalogue, scores, settings)
    # the same scores at every seed: no paired spread, so "about the same" is shown, "a beats b" is not
    assert list(frame["verdict"]) == ["same", "inconclusive"] and frame["difference"].notna().all()
    assert list(C.claims_frame(catalogue, scores)["verdict"]) == ["same", "inconclusive"]  # unknown settings


def test_markdown_states_rule_and_figure_written(tmp_path):
    catalogue = read(claim(id="gain"), claim(id="cost", metric="time_s", direction=-1, paper_values={}))
    scores = scores_of(
        a={"sst_acc": [0.52, 0.53, 0.52], "time_s": [10.0, 11.0, 10.0]},
        b={"sst_acc": [0.45, 0.44, 0.45], "time_s": [20.0, 21.0, 20.0]},
    )
    cpu = {"device": "cpu", "hardware": "CPU x", "memory": "cpu_peak_rss"}
    frame = C.claims_frame(catalogue, scores, facts={"a": cpu, "b": cpu})
    assert "CPU jobs, which shared the cores" in frame.set_index("id").loc["cost", "detail"]
    text = C.claims_markdown(frame, scale="smoke", seeds=2, not_learned=["`b`: sst dev ..."])
    for verdict in C.VOCABULARY:
        assert f"`{verdict}`" in text  # each word with its rule, above the table
    assert "| 5.4 | gain | a beats b | sst_acc | +0.070 |" in text
    assert (
        "2 findings: 1 holds, 1 untestable at this scale. Holm over the 1 finding with a p-value: 1 of 1 decided"
        in text
    )
    assert text.index("## P") > text.index("How to read a verdict")
    assert "Runs that did not learn" in text and "- `b`: sst dev ..." in text
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
        "run": {"best_epoch": 1, "train_seconds": 6.0, "wall_seconds": 9.0, "peak_memory_bytes": 2 * 1024**3},
        "history": history,
    }
    values = C.run_values(metrics, run)
    assert values["dev"]["train_sst_acc"] == 0.6 and values["dev"]["time_s"] == 9.0  # as the tables' time_s
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
