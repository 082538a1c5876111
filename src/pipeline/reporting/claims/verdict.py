"""The verdict rule: both sides' per-seed values, their paired differences, the interval, p and the verdict
(the rule in words: :func:`rule_text`, and the package docstring)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from pipeline.evaluation.metrics import LEARNED_MARGIN
from pipeline.reporting.claims.catalogue import (
    COMBINE,
    CONFIDENCE,
    COST_METRICS,
    SCORE_MIN_EFFECT,
    TASK_METRICS,
    _transform,
)

PathLike = str | Path

POWER = 0.8  # the minimum detectable effect: the true difference found with this probability
MAX_SEEDS = 10_000  # seeds_needed searches up to here (beyond: inf)
DECIDED = ("holds", "reversed", "same", "differs")
UNTESTABLE = "untestable at this scale"
VOCABULARY = (*DECIDED, "inconclusive", "needs seeds", UNTESTABLE, "not declared")
TEST_REFERENCE = {"difference": "0", "equivalence": "-m and +m", "non-inferiority": "-m"}


# -- the verdict rule -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """Both sides' per-seed values (a side with one value is a constant), the paired differences, their
    mean, spread, interval (nan: none), p-value against the test's reference, the minimum detectable effect
    and the seeds that would detect the paper's own difference, and the verdict with its detail."""

    better: tuple[float, ...]
    worse: tuple[float, ...]
    differences: tuple[float, ...]
    n: int
    difference: float
    sd: float
    low: float
    high: float
    p: float
    mde: float
    seeds_needed: float
    test: str
    reference: tuple[float, ...]
    rule: str
    verdict: str
    detail: str

    @property
    def mean_better(self) -> float:
        return float(np.mean(self.better))

    @property
    def mean_worse(self) -> float:
        return float(np.mean(self.worse))


def paired(better: Sequence[float], worse: Sequence[float]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(better, worse, differences) with seed k of one side paired with seed k of the other; a side with one
    value (a model that does not train, such as the random baseline) is a constant subtracted from every
    seed of the other side."""
    a, b = np.asarray(better, dtype=float), np.asarray(worse, dtype=float)
    if a.ndim != 1 or b.ndim != 1 or not len(a) or not len(b):
        raise ValueError(f"need at least one value per side, got {list(a)} and {list(b)}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError(f"non-finite values: {list(a)} vs {list(b)}")
    if len(a) != len(b) and 1 not in (len(a), len(b)):
        raise ValueError(f"unpaired seeds: {len(a)} values against {len(b)}")
    n = max(len(a), len(b))
    return a, b, np.resize(a, n) - np.resize(b, n)


def t_test(differences: Sequence[float], reference: float, confidence: float = CONFIDENCE) -> tuple:
    """(mean, sd, low, high, p) of paired differences: the t interval of their mean and the two-sided p of
    the paired t test of mean = ``reference`` (``scipy.stats.ttest_rel(better - reference, worse)``). No
    spread (the same difference at every seed): the interval is the point, p is 0, or nan when the mean
    equals the reference (as scipy gives them)."""
    from scipy import stats  # here: importing scipy.stats costs every workflow job's start most of a second

    d = np.asarray(differences, dtype=float)
    n = len(d)
    mean, sd = float(d.mean()), float(d.std(ddof=1))
    se = sd / math.sqrt(n)
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * se
    if se == 0:
        p = math.nan if mean == reference else 0.0
    else:
        p = float(2 * stats.t.sf(abs(mean - reference) / se, n - 1))
    return mean, sd, mean - half, mean + half, p


def mde(sd: float, n: int, confidence: float = CONFIDENCE, power: float = POWER) -> float:
    """The minimum detectable effect of a two-sided paired t test over ``n`` seeds with paired spread
    ``sd``: ``(t[1 - alpha/2, n-1] + t[power, n-1]) * sd / sqrt(n)`` (nan below 2 seeds)."""
    if n < 2 or math.isnan(sd) or sd == 0:  # no spread: nothing to scale the effect by
        return math.nan
    from scipy import stats

    alpha = 1 - confidence
    return float((stats.t.ppf(1 - alpha / 2, n - 1) + stats.t.ppf(power, n - 1)) * sd / math.sqrt(n))


def seeds_needed(sd: float, effect: float, confidence: float = CONFIDENCE, power: float = POWER) -> float:
    """The smallest n >= 2 whose :func:`mde` at paired spread ``sd`` is at most ``|effect|`` (nan: no effect
    or no spread known; inf: more than :data:`MAX_SEEDS`)."""
    if math.isnan(sd) or sd == 0 or math.isnan(effect) or effect == 0:
        return math.nan
    if mde(sd, MAX_SEEDS, confidence, power) > abs(effect):
        return math.inf
    low, high = 2, MAX_SEEDS  # mde falls with n: bisect for the first n with mde(n) <= |effect|
    while low < high:
        mid = (low + high) // 2
        if mde(sd, mid, confidence, power) <= abs(effect):
            high = mid
        else:
            low = mid + 1
    return float(low)


def _magnitude(low: float, high: float, direction: int, stated: tuple[float, float] | None) -> str:
    """Whether the interval overlaps the paper's stated difference (a number or a range)."""
    if stated is None or any(math.isnan(v) for v in stated):
        return ""
    lo, hi = sorted((low * direction, high * direction))
    plo, phi = sorted((stated[0] * direction, stated[1] * direction))
    if hi < plo:
        return "smaller than reported"
    if lo > phi:
        return "larger than reported"
    return "as reported"


def verdict(low: float, high: float, direction: int, min_effect: float, test: str = "") -> str:
    """The verdict of an interval (see :func:`rule_text`): ``test`` difference (direction +-1),
    non-inferiority (+-1) or equivalence (direction 0; the default for it)."""
    if direction not in (-1, 0, 1):
        raise ValueError(f"direction must be 1, -1 or 0, not {direction!r}")
    test = test or ("equivalence" if direction == 0 else "difference")
    if (test == "equivalence") != (direction == 0):
        raise ValueError(f"test {test!r} does not go with direction {direction}")
    if test == "equivalence":
        if -min_effect < low and high < min_effect:
            return "same"
        if low > min_effect or high < -min_effect:
            return "differs"
        return "inconclusive"
    lo, hi = sorted((low * direction, high * direction))  # in the paper's direction: positive = as it says
    bound = 0.0 if test == "difference" else -min_effect
    if lo > bound:
        return "holds"
    if hi < bound:
        return "reversed"
    return "inconclusive"


def compare(
    better: Sequence[float],
    worse: Sequence[float],
    direction: int = 1,
    min_effect: float = SCORE_MIN_EFFECT,
    confidence: float = CONFIDENCE,
    *,
    test: str = "",
    paper_d: float = math.nan,
    stated: tuple[float, float] | None = None,
) -> Comparison:
    """Pair the seeds of both sides and apply the verdict rule (:func:`rule_text`).

    ``paper_d``: the paper's difference (for the seeds that would detect it); ``stated``: the magnitude or
    range the paper states for it (low, high), for "holds, as / smaller than / larger than reported".
    """
    test = test or ("equivalence" if direction == 0 else "difference")
    a, b, d = paired(better, worse)
    n = len(d)
    references = {
        "difference": (0.0,),
        "non-inferiority": (-min_effect * direction,),
        "equivalence": (-min_effect, min_effect),
    }[test]
    base = dict(better=tuple(map(float, a)), worse=tuple(map(float, b)), differences=tuple(map(float, d)))
    if n < 2:
        return Comparison(
            **base, n=n, difference=float(d.mean()), sd=math.nan, low=math.nan, high=math.nan, p=math.nan,
            mde=math.nan, seeds_needed=math.nan, test=test, reference=references,
            rule="fewer than 2 paired seeds: no interval", verdict="needs seeds",
            detail=f"{n} paired seed; the point difference decides nothing",
        )  # fmt: skip
    results = [t_test(d, ref, confidence) for ref in references]
    mean, sd, low, high, _ = results[0]
    p = max(r[4] for r in results)  # equivalence: decided only when the interval excludes both -m and +m
    p = math.nan if any(math.isnan(r[4]) for r in results) else p
    outcome = verdict(low, high, direction, min_effect, test)
    power = mde(sd, n, confidence)
    needed = seeds_needed(sd, paper_d, confidence) if test == "difference" else math.nan
    if outcome == "inconclusive" and sd == 0:
        detail = "no paired spread: the same difference at every seed"
    elif outcome == "inconclusive":
        detail = f"MDE {power:.3f}"
        if not math.isnan(needed):
            detail += (
                f"; {'> ' + str(MAX_SEEDS) if math.isinf(needed) else int(needed)} seeds for the paper's d"
            )
    elif outcome == "holds" and test == "difference":
        detail = _magnitude(low, high, direction, stated)
    elif test == "non-inferiority":
        detail = f"non-inferiority, margin {min_effect:.3g}"
    else:
        detail = ""
    one = len(a) == 1 or len(b) == 1
    rule = (
        f"{'one-sample t interval of the differences from a constant side' if one else 'paired t interval'}"
        f" ({confidence:.0%}, df {n - 1}); {test} test against {TEST_REFERENCE[test]}"
    )
    return Comparison(
        **base, n=n, difference=mean, sd=sd, low=low, high=high, p=p, mde=power, seeds_needed=needed,
        test=test, reference=references, rule=rule, verdict=outcome, detail=detail,
    )  # fmt: skip


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment of the p-values that are not nan (nan stays nan): sorted ascending,
    ``p_(i) * (m - i + 1)`` made non-decreasing and capped at 1."""
    values = np.asarray(pvalues, dtype=float)
    out = np.full(len(values), math.nan)
    index = np.flatnonzero(~np.isnan(values))
    order = index[np.argsort(values[index], kind="stable")]
    m, running = len(order), 0.0
    for i, k in enumerate(order):
        running = max(running, min(1.0, (m - i) * values[k]))
        out[k] = running
    return out.tolist()


def rule_text() -> str:
    """The verdict rule in words, for the top of ``claims.md`` (a Markdown list)."""
    level = f"{CONFIDENCE:.0%}"
    return "\n".join(
        [
            "How to read a verdict. Seeds are paired (seed k of every compared model shares the data subset, "
            "the head initialisation and the batch order): per seed k, d_k = better_k - worse_k (a side "
            "of several models is combined per seed, or a factor's range; costs (time, memory, seconds "
            "per epoch) are compared as natural logs, so d is a log ratio: ln 2 = twice). A side with one "
            "value (the builtin random and zero-shot baselines do not train: one value serves every seed) "
            "is a constant c: d_k = better_k - c, and the paired interval is the one-sample t interval of "
            f"those d_k. Over n paired seeds: the {level} interval mean(d) +- t(0.975, n-1) * s_d / sqrt(n); "
            "p = the two-sided paired t test (scipy.stats.ttest_rel) of mean d = the test's reference "
            "(0; -m; -m and +m, the larger p). m = the finding's margin (min_effect: "
            f"{SCORE_MIN_EFFECT} for scores, i.e. 3 points of accuracy or 0.03 of correlation; "
            "ln 1.1 = 0.095, 10%, for costs). A side that is the best (or worst) of several models is "
            "picked on data it is not scored on (column `selection`): a test finding picks it per seed on "
            "dev; a dev finding picks it on one half of dev (examples split by a hash of their id) and "
            "scores both sides on the other half, so the luckiest model's luck does not count.",
            "",
            "- `holds` / `reversed`: the interval excludes 0 on the paper's / the other side. Where the "
            "paper states a magnitude or range: `as reported` when the interval overlaps it, else "
            "`smaller than reported` / `larger than reported`.",
            '- `same` / `differs` ("about the same" findings, direction 0; equivalence): the interval lies '
            "inside (-m, +m) / wholly outside it.",
            '- non-inferiority ("no negative impact" findings, `test: non-inferiority`): `holds` when the '
            "interval's bound on the side against the paper's direction stays above -m (not worse by m "
            "or more); `reversed` when the whole interval is worse than -m.",
            "- `inconclusive`: the interval contains the reference: too few seeds to tell, not "
            "disagreement. Shown: the minimum detectable effect (MDE, 80% power, two-sided 0.05): "
            "(t(0.975, n-1) + t(0.80, n-1)) * s_d / sqrt(n), and how many seeds would detect the paper's "
            "own d at the observed s_d (smallest n with MDE(n) <= |paper d|; blank without a paper d).",
            "- `needs seeds`: fewer than 2 paired seeds: the point difference is shown, no verdict is "
            "drawn from it.",
            f"- `{UNTESTABLE}`: the compared runs have the same settings at this scale (names and seeds "
            "aside); or a compared trained model (experiment or ensemble; seed 0) did not learn a task the "
            "finding reads: its dev score is not above the task's trivial predictor by more than a margin "
            "(majority class's share of the dev labels for SST, CFIMDB and paraphrase, + "
            f"{LEARNED_MARGIN['acc']} accuracy; correlation 0 for STS, + {LEARNED_MARGIN['corr']}); or the "
            "metric does not measure here what the paper measured: `memory_gib` unless every run.json "
            "records CUDA peak memory (on a CPU it is the process's peak resident set: interpreter, "
            "libraries and data included), `time_s` / `epoch_seconds` unless every compared run ran on "
            "the same GPU model (CPU jobs share the cores with the workflow's other jobs, and run.json "
            "does not record what else ran); or a compared split has no labels.",
            "- `not declared`: no declared experiment checks the finding (`needs` says what would).",
            "- `agrees`: for the decided verdicts (holds, reversed, same, differs) whether the verdict is "
            "the one the paper states; blank otherwise.",
            "- Many findings are tested at once: p-values are Holm-adjusted over every finding with a "
            "p-value (decided or inconclusive); a decided verdict survives when its Holm p < 0.05.",
        ]
    )


IDENTITY_KEYS = ("name", "seed")  # what tells two runs apart without changing what they compute


def same_settings(claim: Mapping, settings: Mapping[str, Mapping | None] | None) -> bool:
    """Whether every model ``claim`` compares ran with the same settings, names and seeds aside (e.g. 2 and 4
    epochs x 0.025 are 1 epoch each at quick scale): such a comparison cannot test the finding. ``settings``:
    each model's resolved settings (seed 0), as its metrics file records them; unknown models: False."""
    models = [*claim["better"], *claim["worse"]]
    if not settings or len(models) < 2 or any(settings.get(m) is None for m in models):
        return False

    def core(model: str) -> dict:
        return {k: v for k, v in settings[model].items() if k not in IDENTITY_KEYS}

    return all(core(m) == core(models[0]) for m in models[1:])


# -- untestable at this scale -----------------------------------------------------------------------------


_TASK_OF = {metric: task for task, metric in TASK_METRICS.items()}


def claim_tasks(claim: Mapping, model: str) -> list[str] | None:
    """The tasks whose scores the claim reads of ``model`` (None: every task of the model, e.g. for
    ``overall`` and the costs)."""
    metric = claim["metrics"][model]
    base = metric.removeprefix("train_").removeprefix("gap_")
    return [_TASK_OF[base]] if base in _TASK_OF else None


def not_learned(claim: Mapping, facts: Mapping[str, Mapping] | None) -> list[str]:
    """``"model (task)"`` for each compared model whose seed-0 run did not learn a task the claim reads
    (``facts[model]["learned"]``: :func:`pipeline.evaluation.metrics.learned_flags` of its dev metrics;
    models without facts, such as the builtin baselines, are not checked)."""
    out = []
    for model in claim["metrics"]:
        learned = ((facts or {}).get(model) or {}).get("learned") or {}
        tasks = claim_tasks(claim, model)
        for task in learned if tasks is None else tasks:
            if learned.get(task) is False:
                out.append(f"{model} ({task})")
    return out


def not_measured(claim: Mapping, facts: Mapping[str, Mapping] | None) -> str:
    """Why the claim's cost metric does not measure here what the paper measured ('' when it does, or when
    nothing is recorded about the runs): memory needs CUDA's peak on every run, times need every run on
    one GPU model."""
    metric = claim["metric"]
    if metric not in COST_METRICS or not facts:
        return ""
    runs = [facts[m] for m in claim["metrics"] if m in facts]
    if not runs:
        return ""
    if metric == "memory_gib":
        kinds = {str(r.get("memory") or "not recorded") for r in runs}
        if kinds != {"cuda_max_memory_allocated"}:
            return f"memory measured as {', '.join(sorted(kinds))}, not the GPU peak the paper reports"
        return ""
    devices = {str(r.get("device") or "not recorded") for r in runs}
    if any(not d.startswith("cuda") for d in devices):
        return "times of CPU jobs, which shared the cores with other jobs"
    hardware = {str(r.get("hardware")) for r in runs}
    if len(hardware) > 1:
        return f"the compared runs ran on different hardware ({'; '.join(sorted(hardware))})"
    return ""


# -- the per-seed values ----------------------------------------------------------------------------------


def selection(claim: Mapping) -> tuple[str, str] | None:
    """(the split a best-of-several side is picked on, the split every side is then scored on), or None
    when no side is the best (or worst) of several models. Picking the best of many models on the data it
    is scored on favours the luckiest one (the winner's curse): a test claim picks on dev and scores on
    test; a dev claim picks on one half of dev and scores both sides on the other half
    (:func:`pipeline.evaluation.metrics.half_of`)."""
    if claim["kind"] != "pairwise" or claim["split"] not in ("dev", "test"):
        return None
    metrics = set(claim["metrics"].values())
    if any(m.startswith(("train_", "gap_")) or m in COST_METRICS for m in metrics):
        return None
    best = [s for s in ("better", "worse") if claim["combine"][s] in ("max", "min") and len(claim[s]) > 1]
    if not best:
        return None
    return ("dev", "test") if claim["split"] == "test" else ("dev_a", "dev_b")


def selection_text(picked: tuple[str, str]) -> str:
    """How a claim's best-of-several side was chosen, for claims.csv."""
    names = {"dev": "dev", "test": "test", "dev_a": "dev half A", "dev_b": "dev half B"}
    return f"picked on {names[picked[0]]}, scored on {names[picked[1]]}"


def _statistic(
    claim: Mapping,
    side: str,
    per_model: Mapping[str, np.ndarray],
    picks: Mapping[str, np.ndarray] | None = None,
) -> np.ndarray:
    """One number per seed for a side: its models' values combined (pairwise) or their range (factor). With
    ``picks`` (each model's per-seed values on the data the pick is made on: :func:`selection`), a ``max`` or
    ``min`` side is, per seed, the ``per_model`` value of the model that is best (worst) on ``picks``."""
    columns = [per_model[m] for m in claim[side]]
    if claim["kind"] == "factor":
        matrix = np.vstack(columns)
        return matrix.max(axis=0) - matrix.min(axis=0)
    how = claim["combine"][side]
    if picks is not None and how in ("max", "min") and len(columns) > 1:
        choose = np.vstack([picks[m] for m in claim[side]])
        index = choose.argmax(axis=0) if how == "max" else choose.argmin(axis=0)
        return np.vstack(columns)[index, np.arange(choose.shape[1])]
    return COMBINE[how](np.vstack(columns), axis=0)


def side_values(
    claim: Mapping,
    side: str,
    per_model: Mapping[str, np.ndarray],
    constants: set[str],
    picks: Mapping[str, np.ndarray] | None = None,
) -> np.ndarray:
    """A side's per-seed values (:func:`_statistic`); one value when each of its models is a constant."""
    values = _statistic(claim, side, per_model, picks)
    return values[:1] if all(m in constants for m in claim[side]) else values


def _lookup(scores: Mapping, model: str, split: str, metric: str, cid: str) -> list[float | None]:
    """Per-seed values of one model's metric (``gap_<m>`` derived from ``train_<m>`` and ``<m>``)."""
    if model not in scores:
        raise KeyError(f"claim {cid!r}: no scores for model {model!r} (known: {sorted(scores)})")
    by_split = scores[model].get(split, {})
    if metric.startswith("gap_") and metric not in by_split:
        train, held = by_split.get("train_" + metric[4:]), by_split.get(metric[4:])
        if train is None or held is None:
            raise KeyError(
                f"claim {cid!r}: model {model!r} has no {'train_' + metric[4:]!r} and {metric[4:]!r}"
            )
        if len(train) != len(held):
            raise ValueError(
                f"claim {cid!r}: model {model!r}: {len(train)} train and {len(held)} {split} seeds"
            )
        return [None if t is None or h is None else t - h for t, h in zip(train, held, strict=True)]
    if metric not in by_split:
        raise KeyError(f"claim {cid!r}: model {model!r} has no {metric!r} on {split}")
    return list(by_split[metric])


def _aligned(
    claim: Mapping, scores: Mapping, split: str | None = None
) -> tuple[dict[str, np.ndarray], set[str]] | None:
    """(each model's per-seed values on ``split`` (default: the claim's), all of one length n, and the
    models with a single value: constants, repeated for every seed); None: some split unlabelled. Seed k of
    every model sits at index k."""
    split = split or claim["split"]
    raw = {m: _lookup(scores, m, split, claim["metrics"][m], claim["id"]) for m in claim["metrics"]}
    if any(v is None for values in raw.values() for v in values):
        return None
    lengths = {len(v) for v in raw.values()} - {1}
    if len(lengths) > 1 or any(len(v) == 0 for v in raw.values()):
        shown = {m: len(v) for m, v in raw.items()}
        raise ValueError(f"claim {claim['id']!r}: models have different numbers of seeds: {shown}")
    n = lengths.pop() if lengths else 1
    constants = {m for m, v in raw.items() if len(v) == 1 and n > 1}
    values = {m: _transform(claim, np.resize(np.asarray(v, dtype=float), n)) for m, v in raw.items()}
    return values, constants
