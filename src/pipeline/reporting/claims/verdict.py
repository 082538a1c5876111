"""The verdict rule: each side's per-seed values, their difference, its interval and the verdict."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import stats

from pipeline.reporting.claims.catalogue import (
    COMBINE,
    CONFIDENCE,
    SCORE_MIN_EFFECT,
    _transform,
)

PathLike = str | Path


# -- the verdict rule -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """Both sides' seeds summarised, their difference, its interval (nan: none) and the verdict."""

    n_better: int
    n_worse: int
    mean_better: float
    mean_worse: float
    std_better: float
    std_worse: float
    difference: float
    low: float
    high: float
    rule: str
    verdict: str


def _std(values: np.ndarray) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else math.nan


def _interval(a: np.ndarray, b: np.ndarray, confidence: float) -> tuple[float, float, str]:
    """(half-width, degrees of freedom, rule) of the t interval for mean(a) - mean(b); half-width nan:
    no interval."""
    na, nb = len(a), len(b)
    va = float(np.var(a, ddof=1)) if na > 1 else math.nan
    vb = float(np.var(b, ddof=1)) if nb > 1 else math.nan
    if na >= 2 and nb >= 2:
        se2 = va / na + vb / nb
        if se2 == 0:
            return math.nan, math.nan, "no spread on either side: no interval, min-effect rule"
        df = se2**2 / ((va / na) ** 2 / (na - 1) + (vb / nb) ** 2 / (nb - 1))
        rule = f"Welch t interval ({confidence:.0%}, df {df:.1f})"
    elif na >= 2 or nb >= 2:
        n, v = (na, va) if na >= 2 else (nb, vb)
        se2 = v * (1 / n + 1)
        if se2 == 0:
            return math.nan, math.nan, "no spread on either side: no interval, min-effect rule"
        df = n - 1
        rule = f"one side single seed: t interval with the other side's spread ({confidence:.0%}, df {df})"
    else:
        return math.nan, math.nan, "single seed: no interval, min-effect rule"
    return float(stats.t.ppf((1 + confidence) / 2, df)) * math.sqrt(se2), df, rule


def verdict(difference: float, low: float, high: float, direction: int, min_effect: float) -> str:
    """The verdict of a difference and its interval (``low``/``high`` nan: no interval); see the module
    docstring."""
    if direction not in (-1, 0, 1):
        raise ValueError(f"direction must be 1, -1 or 0, not {direction!r}")
    if math.isnan(low) or math.isnan(high):
        if abs(difference) < min_effect:
            return "within noise"
        if direction == 0:
            return "reversed"
        return "holds" if difference * direction > 0 else "reversed"
    if direction == 0:
        if -min_effect <= low and high <= min_effect:
            return "holds"
        if low > min_effect or high < -min_effect:
            return "reversed"
        return "within noise"
    lo, hi = sorted((low * direction, high * direction))
    if lo > 0:
        return "holds"
    if hi < 0:
        return "reversed"
    return "within noise"


def compare(
    better: Sequence[float],
    worse: Sequence[float],
    direction: int = 1,
    min_effect: float = SCORE_MIN_EFFECT,
    confidence: float = CONFIDENCE,
) -> Comparison:
    """Summarise the per-seed scores of both sides and apply the verdict rule (module docstring)."""
    a, b = np.asarray(better, dtype=float), np.asarray(worse, dtype=float)
    if a.ndim != 1 or b.ndim != 1 or not len(a) or not len(b):
        raise ValueError(f"need at least one score per side, got {list(a)} and {list(b)}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError(f"non-finite scores: {list(a)} vs {list(b)}")
    d = float(a.mean() - b.mean())
    half, _, rule = _interval(a, b, confidence)
    low, high = (d - half, d + half) if not math.isnan(half) else (math.nan, math.nan)
    return Comparison(
        len(a),
        len(b),
        float(a.mean()),
        float(b.mean()),
        _std(a),
        _std(b),
        d,
        low,
        high,
        rule,
        verdict(d, low, high, direction, min_effect),
    )


def rule_text() -> str:
    """The verdict rule in words, for the top of ``claims.md``."""
    return (
        f"Verdict rule. d = mean(better) - mean(worse) over seeds (costs: time, memory, seconds per epoch "
        f"are compared as natural logs, so d is a log ratio). Interval: a Welch t interval at "
        f"{CONFIDENCE:.0%} when both sides have >= 2 seeds; when one side has a single seed, a t interval "
        f"that takes that side's seed variance to equal the other side's (se = s * sqrt(1/n + 1)); when both "
        f"have a single seed (or no spread) there is no interval and the point difference decides only if "
        f"|d| >= the minimum effect m (default {SCORE_MIN_EFFECT} for scores, ln 1.1 for costs). "
        f"Directional findings: holds = interval on the paper's side of 0, reversed = on the other side, "
        f"within noise = it contains 0 (without an interval: by the sign of d when |d| >= m, else within "
        f"noise). 'About the same' findings (direction 0): holds = interval inside [-m, m], reversed = "
        f"wholly outside it, else within noise (without an interval: reversed when |d| >= m, else within "
        f"noise). "
        f"'agrees' says whether the verdict is one the paper's finding allows. No correction for multiple "
        f"comparisons. Findings no declared experiment can check are listed as not-declared, without "
        f"numbers; 'same settings': every run the finding compares has the same settings at this scale "
        f"(names and seeds aside; a scale's factors can make two of the paper's schedules one), so it is not "
        f"tested here."
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


# -- the table ------------------------------------------------------------------------------------------


def _statistic(claim: Mapping, side: str, per_model: Mapping[str, np.ndarray]) -> np.ndarray:
    """One number per seed for a side: its models' values combined (pairwise) or their range (factor)."""
    columns = [per_model[m] for m in claim[side]]
    if claim["kind"] == "factor":
        matrix = np.vstack(columns)
        return matrix.max(axis=0) - matrix.min(axis=0)
    return COMBINE[claim["combine"][side]](np.vstack(columns), axis=0)


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


def _aligned(claim: Mapping, scores: Mapping) -> dict[str, np.ndarray] | None:
    """Each model's per-seed values, all of one length (single values broadcast); None: some unlabelled."""
    raw = {m: _lookup(scores, m, claim["split"], claim["metrics"][m], claim["id"]) for m in claim["metrics"]}
    if any(v is None for values in raw.values() for v in values):
        return None
    lengths = {len(v) for v in raw.values()} - {1}
    if len(lengths) > 1 or any(len(v) == 0 for v in raw.values()):
        shown = {m: len(v) for m, v in raw.items()}
        raise ValueError(f"claim {claim['id']!r}: models have different numbers of seeds: {shown}")
    n = lengths.pop() if lengths else 1
    return {m: _transform(claim, np.resize(np.asarray(v, dtype=float), n)) for m, v in raw.items()}
