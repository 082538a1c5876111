"""The verdict rule on constructed seeds: its error rates, the minimum detectable effect, Holm's adjustment,
the did-not-learn rule, and a verdict recomputed from claims.csv with scipy alone."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from pipeline.evaluation.metrics import LEARNED_MARGIN, compute_metrics, learned_flags, trivial_scores
from pipeline.reporting import claims as C

DRAWS = 1000


def paired_draws(effect: float, n: int, seed: int, sd: float = 0.02) -> list[tuple[np.ndarray, np.ndarray]]:
    """``DRAWS`` experiments of n seeds: a shared per-seed effect (subset, initialisation, batch order) on
    both sides, independent normal noise of ``sd`` per run, and ``effect`` in paired standard deviations
    (the differences' sd is sd * sqrt(2))."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(DRAWS):
        shared = 0.5 + 0.05 * rng.standard_normal(n)
        worse = shared + sd * rng.standard_normal(n)
        better = shared + sd * rng.standard_normal(n) + effect * sd * math.sqrt(2)
        out.append((better, worse))
    return out


def test_no_effect_rarely_decides():
    """Under no effect with normal noise the paired t test is exact: holds or reversed in 5% of draws in
    expectation. 1,000 draws count 50 +- 7 (binomial), so the bound allows 3 standard errors of that
    sampling noise (at this seed: 53 of 1,000, 28 holds and 25 reversed)."""
    verdicts = [C.compare(b, w).verdict for b, w in paired_draws(0.0, 5, seed=1)]
    decided = sum(v in ("holds", "reversed") for v in verdicts)
    assert decided <= 0.05 * DRAWS + 3 * math.sqrt(DRAWS * 0.05 * 0.95), decided
    assert abs(verdicts.count("holds") - verdicts.count("reversed")) < 20  # both tails alike
    assert set(verdicts) <= {"holds", "reversed", "inconclusive"}


def test_three_paired_sds_with_five_seeds_mostly_holds():
    verdicts = [C.compare(b, w).verdict for b, w in paired_draws(3.0, 5, seed=2)]
    assert verdicts.count("holds") >= 0.8 * DRAWS, verdicts.count("holds")


def test_one_seed_always_needs_seeds():
    rng = np.random.default_rng(3)
    for _ in range(100):
        b, w = rng.random(1), rng.random(1)
        for direction in (-1, 0, 1):
            c = C.compare(b, w, direction)
            assert c.verdict == "needs seeds" and math.isnan(c.low) and math.isnan(c.p)
            assert c.difference == pytest.approx(float(b[0] - w[0]))
    assert C.compare([0.9], [0.1], test="non-inferiority").verdict == "needs seeds"


def test_single_valued_side_is_a_constant():
    """The random baseline has one value: each seed's difference is taken from it (one-sample t interval
    of the differences, n - 1 degrees of freedom), never a second side with zero variance."""
    rng = np.random.default_rng(4)
    for _ in range(50):
        better, constant = 0.6 + 0.02 * rng.standard_normal(4), float(rng.uniform(0.5, 0.7))
        c = C.compare(better, [constant])
        ref = stats.ttest_1samp(better - constant, 0.0)
        ci = ref.confidence_interval(0.95)
        assert (c.low, c.high, c.p) == pytest.approx((ci.low, ci.high, ref.pvalue))
        assert c.n == 4 and c.worse == (constant,)
    c = C.compare([0.60, 0.62, 0.61], [0.58])  # the example of the rule text
    assert c.verdict == "holds" and c.low == pytest.approx(0.03 - 4.302653 * 0.01 / math.sqrt(3))


def test_no_paired_spread():
    """Two models that score alike at every seed (e.g. identical predictions): the interval is the point 0,
    p is undefined (scipy: nan), no MDE; the same non-zero difference at every seed decides."""
    tie = C.compare([0.81, 0.79], [0.81, 0.79])
    assert tie.verdict == "inconclusive" and (tie.low, tie.high) == (0.0, 0.0)
    assert math.isnan(tie.p) and math.isnan(tie.mde) and math.isnan(tie.seeds_needed)
    assert "no paired spread" in tie.detail
    assert C.compare([0.81, 0.79], [0.81, 0.79], direction=0).verdict == "same"
    assert C.compare([0.83, 0.81], [0.81, 0.79]).verdict == "holds"


@pytest.mark.parametrize(("sd", "n"), [(0.01, 2), (0.02, 3), (0.05, 5), (0.013, 10)])
def test_mde_is_the_textbook_paired_formula(sd, n):
    expected = (stats.t.ppf(0.975, n - 1) + stats.t.ppf(0.80, n - 1)) * sd / math.sqrt(n)
    assert C.mde(sd, n) == pytest.approx(expected)
    assert math.isnan(C.mde(sd, 1))


def test_mde_has_the_power_it_says():
    # a true effect equal to the MDE of 5 seeds is detected in about 80% of draws (the t approximation)
    sd_d, n = 0.02 * math.sqrt(2), 5
    effect = C.mde(sd_d, n) / sd_d  # in paired sds
    holds = sum(C.compare(b, w).verdict == "holds" for b, w in paired_draws(effect, n, seed=5))
    assert 0.70 * DRAWS <= holds <= 0.90 * DRAWS, holds


def test_seeds_needed_is_the_smallest_n_whose_mde_reaches_the_effect():
    sd, effect = 0.02, 0.02
    n = C.seeds_needed(sd, effect)
    assert C.mde(sd, int(n)) <= effect < C.mde(sd, int(n) - 1)
    assert C.seeds_needed(sd, -effect) == n  # the size of the paper's effect, either sign
    assert math.isnan(C.seeds_needed(sd, math.nan)) and math.isinf(C.seeds_needed(1.0, 1e-6))


def test_holm_by_hand():
    p = [0.01, 0.04, 0.03, math.nan, 0.005]
    # sorted: 0.005 x4 = 0.02, 0.01 x3 = 0.03, 0.03 x2 = 0.06, 0.04 x1 = 0.04 -> kept monotone: 0.06
    adjusted = C.holm(p)
    assert adjusted[:3] == pytest.approx([0.03, 0.06, 0.06]) and adjusted[4] == pytest.approx(0.02)
    assert math.isnan(adjusted[3])
    assert C.holm([0.5, 0.9, 0.8]) == pytest.approx([1.0, 1.0, 1.0])  # capped at 1
    assert C.holm([]) == []


# -- runs that did not learn ------------------------------------------------------------------------------


def _files(folder, task, labels, preds):
    """A gold and a prediction file of one task in ``folder``."""
    folder.mkdir()
    gold, pred = folder / f"{task}-dev.csv", folder / f"{task}-pred.csv"
    ids = [f"i{k}" for k in range(len(labels))]
    pd.DataFrame({"id": ids, "label": labels}).to_csv(gold, index=False)
    pd.DataFrame({"task": task, "id": ids, "prediction": preds}).to_csv(pred, index=False)
    return pred, {task: gold}


def test_constant_predictor_did_not_learn_and_a_learned_one_did(tmp_path):
    rng = np.random.default_rng(6)
    labels = rng.choice(5, size=400, p=[0.1, 0.3, 0.2, 0.25, 0.15])
    majority = int(np.bincount(labels).argmax())
    result = compute_metrics("m", "dev", *_files(tmp_path / "c", "sst", labels, [majority] * 400))
    assert result["trivial"]["sst"] == pytest.approx(np.mean(labels == majority))
    assert result["scores"]["sst_acc"] == pytest.approx(result["trivial"]["sst"])  # the majority rate
    assert result["learned"] == {"sst": False}
    good = np.where(rng.random(400) < 0.6, labels, rng.integers(0, 5, 400))  # 60% right, rest random
    assert compute_metrics("m", "dev", *_files(tmp_path / "g", "sst", labels, good))["learned"] == {
        "sst": True
    }


def test_learned_flags_margins_and_sts():
    gold = {
        "para": pd.DataFrame({"id": list("abcd"), "label": [1, 0, 0, 0]}),
        "sts": pd.DataFrame({"id": list("abc"), "label": [0.0, 2.5, 5.0]}),
        "sst": pd.DataFrame({"id": list("ab"), "label": [float("nan")] * 2}),
    }
    trivial = trivial_scores(gold)
    assert trivial == {"para": 0.75, "sts": 0.0, "sst": None}
    margin = LEARNED_MARGIN["acc"]
    flags = learned_flags({"para_acc": 0.75 + margin / 2, "sts_corr": 0.3, "sst_acc": None}, trivial)
    assert flags == {"para": False, "sts": True, "sst": None}
    assert learned_flags({"sts_corr": LEARNED_MARGIN["corr"] / 2}, {"sts": 0.0}) == {"sts": False}
    assert learned_flags({"sts_corr": -0.077}, {"sts": 0.0}) == {"sts": False}  # the full fine-tune


def test_claim_over_a_run_that_did_not_learn_is_untestable():
    catalogue = C.read_catalogue(
        [
            {
                "id": "sst",
                "paper": "P",
                "section": "5",
                "statement": "a beats b on SST",
                "metric": "sst_acc",
                "split": "dev",
                "better": "a",
                "worse": "b",
                "direction": 1,
            },
            {
                "id": "sts",
                "paper": "P",
                "section": "5",
                "statement": "a beats b on STS",
                "metric": "sts_corr",
                "split": "dev",
                "better": "a",
                "worse": "b",
                "direction": 1,
            },
            {
                "id": "all",
                "paper": "P",
                "section": "5",
                "statement": "a beats b overall",
                "metric": "overall",
                "split": "dev",
                "better": "a",
                "worse": "b",
                "direction": 1,
            },
        ],  # fmt: skip
        ["a", "b"],
        {"a": ["sst", "sts"], "b": ["sst", "sts"]},
    )
    values = {"sst_acc": [0.5, 0.52, 0.51], "sts_corr": [0.3, 0.31, 0.29], "overall": [0.5, 0.51, 0.5]}
    scores = {m: {"dev": dict(values)} for m in "ab"}
    scores["b"]["dev"] = {k: [v - 0.1 for v in vs] for k, vs in values.items()}
    facts = {
        "a": {"learned": {"sst": True, "sts": True}},
        "b": {"learned": {"sst": False, "sts": True}, "scores": {"sst_acc": 0.26}, "trivial": {"sst": 0.26}},
    }
    frame = C.claims_frame(catalogue, scores, facts=facts).set_index("id")
    assert frame.loc["sst", "verdict"] == "untestable at this scale"
    assert frame.loc["sst", "detail"] == "did not learn: b (sst)" and frame.loc["sst", "agrees"] == ""
    assert math.isnan(frame.loc["sst", "p"]) and frame.loc["sst", "better_values"]  # values kept
    assert frame.loc["sts", "verdict"] == "holds"  # b learned STS: that finding stands
    assert frame.loc["all", "verdict"] == "untestable at this scale"  # overall reads every task
    lines = C.not_learned_runs(facts)
    assert len(lines) == 1 and lines[0].startswith("`b`: sst dev sst_acc 0.260, trivial predictor 0.260")


def test_memory_on_cpu_and_times_of_shared_cores_are_untestable():
    def cost(cid, metric):
        return {"id": cid, "paper": "P", "section": "5", "statement": "s", "metric": metric, "split": "dev",
                "better": "a", "worse": "b", "direction": -1}  # fmt: skip

    catalogue = C.read_catalogue(
        [cost("mem", "memory_gib"), cost("time", "time_s")], ["a", "b"], {"a": ["sst"], "b": ["sst"]}
    )
    scores = {"a": {"dev": {"memory_gib": [1.0, 1.1, 1.0], "time_s": [10.0, 11.0, 10.0]}},
              "b": {"dev": {"memory_gib": [2.0, 2.1, 2.0], "time_s": [20.0, 21.0, 20.0]}}}  # fmt: skip
    gpu = {"device": "cuda:0", "hardware": "NVIDIA T4", "memory": "cuda_max_memory_allocated"}
    cpu = {"device": "cpu", "hardware": "CPU x, 1 threads", "memory": "cpu_peak_rss"}
    on_gpu = C.claims_frame(catalogue, scores, facts={"a": gpu, "b": gpu})
    assert list(on_gpu["verdict"]) == ["holds", "holds"]
    on_cpu = C.claims_frame(catalogue, scores, facts={"a": cpu, "b": cpu}).set_index("id")
    assert (on_cpu["verdict"] == "untestable at this scale").all()
    assert (
        "cpu_peak_rss" in on_cpu.loc["mem", "detail"] and "shared the cores" in on_cpu.loc["time", "detail"]
    )
    mixed = C.claims_frame(catalogue, scores, facts={"a": gpu, "b": {**gpu, "hardware": "NVIDIA A100"}})
    assert "different hardware" in mixed.set_index("id").loc["time", "detail"]
    assert mixed.set_index("id").loc["mem", "verdict"] == "holds"


def test_run_facts_from_metrics_and_run_json():
    metrics = {"dev": {"scores": {"sst_acc": 0.3}, "learned": {"sst": False}, "trivial": {"sst": 0.29}}}
    run = {"run": {"device": "cpu", "hardware": "CPU x", "peak_memory_kind": "cpu_peak_rss"}}
    facts = C.run_facts(metrics, run)
    assert facts["learned"] == {"sst": False} and facts["memory"] == "cpu_peak_rss"
    assert facts["device"] == "cpu" and C.run_facts({"test": {}})["learned"] == {}


# -- recomputing a verdict from claims.csv with scipy alone ---------------------------------------------


def test_verdicts_recomputed_from_the_csv_with_scipy_alone(tmp_path):
    entries = [
        {"id": "gain", "better": "a", "worse": "b", "direction": 1},
        {"id": "const", "better": "a", "worse": "random", "direction": 1},
        {"id": "same", "better": "a", "worse": "c", "direction": 0},
        {"id": "noninf", "better": "c", "worse": "b", "direction": 1, "test": "non-inferiority"},
    ]
    catalogue = C.read_catalogue(
        [
            {"paper": "P", "section": "5", "statement": "s", "metric": "sst_acc", "split": "dev", **e}
            for e in entries
        ],  # fmt: skip
        ["a", "b", "c", "random"],
        {m: ["sst"] for m in "abc"},
    )
    rng = np.random.default_rng(7)
    base = 0.5 + 0.03 * rng.standard_normal(5)
    scores = {
        "a": {"dev": {"sst_acc": list(base + 0.04 + 0.005 * rng.standard_normal(5))}},
        "b": {"dev": {"sst_acc": list(base + 0.005 * rng.standard_normal(5))}},
        "c": {"dev": {"sst_acc": list(base + 0.04 + 0.005 * rng.standard_normal(5))}},
        "random": {"dev": {"sst_acc": [0.2]}},
    }
    frame = C.claims_frame(catalogue, scores)
    C.write_claims(frame, tmp_path / "claims.csv", tmp_path / "claims.md")
    csv = pd.read_csv(tmp_path / "claims.csv", dtype={"better_values": str, "worse_values": str})
    for row in csv.itertuples():
        better = np.array([float(v) for v in row.better_values.split(";")])
        worse = np.array([float(v) for v in row.worse_values.split(";")])
        if len(worse) == 1:
            worse = np.repeat(worse, len(better))  # a constant side
        n = len(better)
        assert n == row.n
        refs = [float(r) for r in str(row.reference).split(";")]
        tests = [stats.ttest_rel(better - ref, worse) for ref in refs]
        d = better - worse
        half = stats.t.ppf(0.975, n - 1) * d.std(ddof=1) / math.sqrt(n)
        assert (row.low, row.high) == pytest.approx((d.mean() - half, d.mean() + half), abs=1e-9)
        assert row.p == pytest.approx(max(t.pvalue for t in tests), rel=1e-6)
        assert (row.p < 0.05) == (row.verdict in ("holds", "reversed", "same", "differs"))
    assert list(csv["verdict"]) == ["holds", "holds", "same", "holds"]
    assert csv["p_holm"].tolist() == pytest.approx(C.holm(csv["p"].tolist()))
