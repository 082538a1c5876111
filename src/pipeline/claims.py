"""Claims: every finding of both papers, checked against our runs over seeds.

A *claim* is one finding a paper states, declared in ``config.yaml`` under ``claims:`` (read with
:func:`read_catalogue`)::

    - id: bb-mnrl-sts                       # unique
      paper: Beyond BERT                    # or: Comparing BERT fine-tuning methods
      section: "5.4"                        # where the paper states it (cite)
      statement: "MNRL ... STS dev correlation increased by ~0.1-0.2"
      metric: sts_corr                      # see METRICS below
      split: dev                            # dev | test
      better: full-model-mnrladddata3-anneal3600-60-1e-05-cos      # one model or a list (a group)
      worse: full-model-anneal3600-60-1e-05-cos                    # one model or a list
      direction: 1                          # the sign the paper reports for better - worse: 1, -1 or 0
      paper_values: {better: 0.517, worse: 0.459, difference: [0.1, 0.2]}
      # optional: kind (pairwise | factor), combine {better, worse: mean | max | min}, min_effect,
      #           accepts (verdicts consistent with the finding), note, status (declared | not-declared),
      #           needs (for not-declared claims: the experiment that would be needed)

``better`` is the side the finding is about (the method the paper favours, or the treatment), ``worse`` the
reference; ``direction`` is the sign the paper reports for ``better - worse`` (1: higher, -1: lower, e.g. a
shorter training time, 0: "about the same"). A side that lists several models is a group: its score at each
seed is the ``combine`` (default ``mean``; ``max``: "beats the best of them", ``min``: "every one of them")
of its models' scores at that seed. ``kind: factor`` compares two factors instead of two models: each side
lists the levels of one factor (e.g. LoRA target sets vs LoRA ranks), its statistic at each seed is the
range (max - min) of its levels' scores, and ``direction: 1`` says the ``better`` factor moves the metric
more. ``status: not-declared`` lists a finding no declared experiment can check (``needs`` names what
would); it gets no verdict and no numbers.

Metrics (:data:`METRICS`): the task metrics ``sst_acc, para_acc, sts_corr, cfimdb_acc`` and ``overall`` on
the claim's split; ``train_<m>`` (training-set score at the best epoch), ``gap_<m>`` (``train_<m> - <m>``:
over-fitting), ``time_s`` (training job seconds), ``memory_gib`` (peak memory), ``epoch_seconds`` (seconds
per training epoch); ``score`` / ``train_score`` / ``gap`` stand for the task metric of each model's single
task (second study: one task per run). Costs (``time_s, memory_gib, epoch_seconds``) are compared as
natural logarithms, so their difference is a log ratio (ln 2 = twice as long).

Verdict rule (:func:`compare`; stated again at the top of ``claims.md`` by :func:`rule_text`). Let
``d = mean(better) - mean(worse)`` over seeds and ``m`` the claim's minimum effect (default 0.03 for scores,
i.e. 3 points of accuracy or 0.03 of correlation; ln 1.1, a 10% ratio, for costs).

* Both sides with >= 2 seeds: a Welch t interval at 95% for ``d`` (Welch-Satterthwaite degrees of freedom).
* One side with 1 seed, the other with n >= 2: that side's seed variance is unknown and is taken to equal
  the other side's (``se = s * sqrt(1/n + 1)``, n - 1 degrees of freedom): the interval is a t interval of
  a new run against the mean of n runs.
* Both sides with 1 seed, or no spread on either side: no interval; the point difference decides only when
  ``|d| >= m``.

Directional claims (``direction`` +-1): ``holds`` when the interval lies on the paper's side of 0,
``reversed`` when it lies on the other side, ``within noise`` when it contains 0; without an interval:
``holds``/``reversed`` by the sign of ``d`` when ``|d| >= m``, else ``within noise``. "About the same"
claims (``direction`` 0): ``holds`` when the interval lies inside [-m, m] (equivalence), ``reversed`` when
it lies wholly outside it, else ``within noise``; without an interval ``reversed`` when ``|d| >= m``, else
``within noise`` (one run cannot show equivalence). No correction for multiple comparisons: with dozens of
claims at 95%, a few verdicts on true null effects are expected to come out ``holds`` or ``reversed``.
A claim *agrees* with the paper when its verdict is in ``accepts`` (default: ``holds``; for direction 0 and
for "no negative impact" findings: ``holds`` and ``within noise``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

PathLike = str | Path

VERDICTS = ("holds", "reversed", "within noise")
CONFIDENCE = 0.95
SCORE_MIN_EFFECT = 0.03
COST_MIN_EFFECT = math.log(1.1)

TASK_METRICS = {"sst": "sst_acc", "para": "para_acc", "sts": "sts_corr", "cfimdb": "cfimdb_acc"}
COST_METRICS = ("time_s", "memory_gib", "epoch_seconds")
_BASE = (*TASK_METRICS.values(), "overall")
METRICS = (
    *_BASE,
    *(f"train_{m}" for m in _BASE),
    *(f"gap_{m}" for m in _BASE),
    *COST_METRICS,
    "score",
    "train_score",
    "gap",
)
PER_TASK = {"score": "", "train_score": "train_", "gap": "gap_"}  # resolved to each model's own task metric
KINDS = ("pairwise", "factor")
COMBINE = {"mean": np.mean, "max": np.max, "min": np.min}
STATUSES = ("declared", "not-declared")
REQUIRED = ("id", "paper", "section", "statement", "metric", "split", "direction")
OPTIONAL = (
    "kind",
    "better",
    "worse",
    "combine",
    "paper_values",
    "min_effect",
    "accepts",
    "note",
    "status",
    "needs",
)


class ClaimError(ValueError):
    """A malformed claim in the catalogue; the message names the claim id and the key at fault."""


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


# -- the catalogue --------------------------------------------------------------------------------------


def _side(claim: Mapping, key: str, cid: str) -> list[str]:
    value = claim.get(key)
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise ClaimError(f"claims: claim {cid!r}: {key!r} must be a model name or a non-empty list of them")


def _paper_number(value: Any, metric: str, cid: str, key: str) -> float:
    if metric in COST_METRICS and isinstance(value, str):
        from pipeline.methods_tables import parse_duration

        try:
            return parse_duration(value)
        except ValueError as err:
            raise ClaimError(f"claims: claim {cid!r}: paper_values.{key}: {err}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ClaimError(f"claims: claim {cid!r}: paper_values.{key} must be a number, not {value!r}")
    return float(value)


def read_catalogue(
    entries: Sequence[Mapping[str, Any]],
    models: Sequence[str] | Mapping[str, Any],
    model_tasks: Mapping[str, Sequence[str]] | None = None,
) -> list[dict[str, Any]]:
    """Check and normalise the ``claims:`` list of config.yaml.

    ``models``: the names a claim may compare (experiments, ensembles, builtin models); ``model_tasks``:
    each model's tasks (needed for ``score``/``train_score``/``gap``, which take the model's single task).
    Returns one dict per claim with every optional key filled in and ``metrics``: ``{model: metric}``
    (the metric each model is scored on). Raises :class:`ClaimError` naming the claim id and the key.
    """
    if not isinstance(entries, Sequence) or isinstance(entries, str):
        raise ClaimError("claims: must be a list of claims")
    known = set(models)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries, start=1):
        if not isinstance(entry, Mapping):
            raise ClaimError(f"claims: entry {i} is not a mapping")
        cid = str(entry.get("id", f"#{i}"))
        for key in REQUIRED:
            if key not in entry:
                raise ClaimError(f"claims: claim {cid!r} lacks required key {key!r}")
        unknown = sorted(set(entry) - set(REQUIRED) - set(OPTIONAL))
        if unknown:
            raise ClaimError(f"claims: claim {cid!r}: unknown key {unknown[0]!r}")
        if cid in seen:
            raise ClaimError(f"claims: claim id {cid!r} is used twice")
        seen.add(cid)
        claim = dict(entry)
        claim.setdefault("kind", "pairwise")
        claim.setdefault("status", "declared")
        claim.setdefault("note", "")
        claim.setdefault("needs", "")
        if claim["kind"] not in KINDS:
            raise ClaimError(f"claims: claim {cid!r}: 'kind' must be one of {', '.join(KINDS)}")
        if claim["status"] not in STATUSES:
            raise ClaimError(f"claims: claim {cid!r}: 'status' must be one of {', '.join(STATUSES)}")
        if claim["direction"] not in (-1, 0, 1) or isinstance(claim["direction"], bool):
            raise ClaimError(f"claims: claim {cid!r}: 'direction' must be 1, -1 or 0")
        if claim["split"] not in ("dev", "test"):
            raise ClaimError(f"claims: claim {cid!r}: 'split' must be dev or test")
        metric = claim["metric"]
        if metric not in METRICS:
            raise ClaimError(
                f"claims: claim {cid!r}: unknown 'metric' {metric!r}; known: {', '.join(METRICS)}"
            )
        cost = metric in COST_METRICS
        default_effect = COST_MIN_EFFECT if cost else SCORE_MIN_EFFECT
        claim["min_effect"] = float(claim.get("min_effect", default_effect))
        if not claim["min_effect"] > 0:
            raise ClaimError(f"claims: claim {cid!r}: 'min_effect' must be > 0")
        default_accepts = ["holds", "within noise"] if claim["direction"] == 0 else ["holds"]
        claim["accepts"] = list(claim.get("accepts", default_accepts))
        bad = [v for v in claim["accepts"] if v not in VERDICTS]
        if bad:
            raise ClaimError(f"claims: claim {cid!r}: 'accepts' has unknown verdict {bad[0]!r}")
        combine = dict(claim.get("combine") or {})
        for side, how in combine.items():
            if side not in ("better", "worse") or how not in COMBINE:
                raise ClaimError(
                    f"claims: claim {cid!r}: 'combine' maps better/worse to one of {', '.join(COMBINE)}"
                )
        claim["combine"] = {"better": combine.get("better", "mean"), "worse": combine.get("worse", "mean")}
        if claim["status"] == "not-declared":
            if not claim["needs"]:
                raise ClaimError(
                    f"claims: claim {cid!r}: a not-declared claim needs 'needs' (what would check it)"
                )
            claim["better"], claim["worse"] = claim.get("better") or [], claim.get("worse") or []
            claim["metrics"] = {}
            claim["paper_values"] = dict(claim.get("paper_values") or {})
            out.append(claim)
            continue
        claim["better"], claim["worse"] = _side(entry, "better", cid), _side(entry, "worse", cid)
        if claim["kind"] == "factor" and (len(claim["better"]) < 2 or len(claim["worse"]) < 2):
            raise ClaimError(f"claims: claim {cid!r}: a factor claim lists >= 2 levels on each side")
        metrics: dict[str, str] = {}
        for model in claim["better"] + claim["worse"]:
            if model not in known:
                raise ClaimError(f"claims: claim {cid!r} names unknown model {model!r}")
            if metric in PER_TASK:
                tasks = list((model_tasks or {}).get(model, []))
                if len(tasks) != 1:
                    raise ClaimError(
                        f"claims: claim {cid!r}: metric {metric!r} needs single-task models; "
                        f"{model!r} has tasks {tasks}"
                    )
                metrics[model] = PER_TASK[metric] + TASK_METRICS[tasks[0]]
            else:
                metrics[model] = metric
        claim["metrics"] = metrics
        claim["paper_values"] = _paper_values(claim, cid)
        out.append(claim)
    return out


def catalogue_from_config(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The checked ``claims:`` list of a loaded config.yaml (empty when it has none): every name must be a
    declared experiment, ensemble or builtin model (for the DAG build, e.g. from ``common.smk``)."""
    from pipeline.config import known_models, model_tasks

    models = known_models(config)
    return read_catalogue(config.get("claims") or [], models, {m: model_tasks(config, m) for m in models})


def claim_models(claims: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every model the declared claims compare, in first-use order (what the claims target needs)."""
    return list(dict.fromkeys(m for c in claims for m in c["metrics"]))


def _paper_values(claim: Mapping, cid: str) -> dict[str, Any]:
    raw = claim.get("paper_values") or {}
    if not isinstance(raw, Mapping):
        raise ClaimError(f"claims: claim {cid!r}: 'paper_values' must be a mapping")
    unknown = sorted(set(raw) - {"better", "worse", "difference"})
    if unknown:
        raise ClaimError(f"claims: claim {cid!r}: unknown key paper_values.{unknown[0]}")
    values: dict[str, Any] = {}
    for side in ("better", "worse"):
        if side not in raw:
            continue
        given = raw[side]
        if isinstance(given, Mapping):
            extra = sorted(set(given) - set(claim[side]))
            if extra:
                raise ClaimError(
                    f"claims: claim {cid!r}: paper_values.{side} names {extra[0]!r}, not on that side"
                )
            values[side] = {
                m: _paper_number(v, claim["metric"], cid, f"{side}.{m}") for m, v in given.items()
            }
        else:
            if len(claim[side]) != 1:
                raise ClaimError(
                    f"claims: claim {cid!r}: paper_values.{side} of a group must map each model to its value"
                )
            values[side] = {claim[side][0]: _paper_number(given, claim["metric"], cid, side)}
    if "difference" in raw:
        diff = raw["difference"]
        pair = diff if isinstance(diff, list) else [diff, diff]
        if len(pair) != 2:
            raise ClaimError(f"claims: claim {cid!r}: paper_values.difference is a number or [low, high]")
        values["difference"] = [_paper_number(v, "score", cid, "difference") for v in pair]
    return values


# -- the table ------------------------------------------------------------------------------------------


def _statistic(claim: Mapping, side: str, per_model: Mapping[str, np.ndarray]) -> np.ndarray:
    """One number per seed for a side: its models' values combined (pairwise) or their range (factor)."""
    columns = [per_model[m] for m in claim[side]]
    if claim["kind"] == "factor":
        matrix = np.vstack(columns)
        return matrix.max(axis=0) - matrix.min(axis=0)
    return COMBINE[claim["combine"][side]](np.vstack(columns), axis=0)


def _transform(claim: Mapping, values: np.ndarray) -> np.ndarray:
    if claim["metric"] in COST_METRICS:
        if (values <= 0).any():
            raise ValueError(
                f"claim {claim['id']!r}: costs must be positive to compare as logs, got {values}"
            )
        return np.log(values)
    return values


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


def paper_difference(claim: Mapping) -> tuple[float, float, float]:
    """(value, low, high) of the paper's difference in the claim's units (nan when the paper gives none):
    its stated difference, else its numbers combined like ours."""
    values = claim["paper_values"]
    if "difference" in values:
        low, high = values["difference"]
        return (low + high) / 2, low, high
    sides = []
    for side in ("better", "worse"):
        given = values.get(side) or {}
        if not given:
            return math.nan, math.nan, math.nan
        numbers = {m: _transform(claim, np.array([v])) for m, v in given.items()}
        if claim["kind"] == "factor":
            column = np.concatenate(list(numbers.values()))
            sides.append(float(column.max() - column.min()))
        else:
            sides.append(float(COMBINE[claim["combine"][side]](np.concatenate(list(numbers.values())))))
    d = sides[0] - sides[1]
    return d, d, d


def _paper_side(claim: Mapping, side: str) -> str:
    given = claim["paper_values"].get(side) or {}
    if not given:
        return ""
    if len(given) == 1 and len(claim[side]) == 1:
        return f"{next(iter(given.values())):g}"
    return "; ".join(f"{m}: {v:g}" for m, v in given.items())


COLUMNS = (
    "id", "paper", "section", "statement", "metric", "split", "kind", "better", "worse", "direction",
    "paper_better", "paper_worse", "paper_difference", "n_seeds", "mean_better", "std_better", "mean_worse",
    "std_worse", "difference", "low", "high", "rule", "verdict", "agrees", "status", "needs", "note",
)  # fmt: skip


def claims_frame(
    claims: Sequence[Mapping[str, Any]],
    scores: Mapping[str, Mapping[str, Mapping]],
    settings: Mapping[str, Mapping | None] | None = None,
) -> pd.DataFrame:
    """One row per claim (as returned by :func:`read_catalogue`): the paper's numbers and direction, ours
    (mean and standard deviation over seeds), the difference with its interval, and the verdict.

    ``scores[model][split][metric]``: the per-seed values of that model (a list; one value per seed, a
    single value is used for every seed; ``None``: the split is unlabelled for that task). Costs are given
    in their units (seconds, GiB); the frame holds their logs. Not-declared claims get no numbers, and
    neither do claims whose runs have the same settings (``settings``: see :func:`same_settings`).
    """
    records = []
    for claim in claims:
        paper_d, paper_lo, paper_hi = (
            paper_difference(claim) if claim["status"] == "declared" else (math.nan,) * 3
        )
        record: dict[str, Any] = {
            "id": claim["id"],
            "paper": claim["paper"],
            "section": str(claim["section"]),
            "statement": claim["statement"],
            "metric": claim["metric"] + (" (log)" if claim["metric"] in COST_METRICS else ""),
            "split": claim["split"],
            "kind": claim["kind"],
            "better": ", ".join(claim["better"]),
            "worse": ", ".join(claim["worse"]),
            "direction": claim["direction"],
            "paper_better": _paper_side(claim, "better") if claim["status"] == "declared" else "",
            "paper_worse": _paper_side(claim, "worse") if claim["status"] == "declared" else "",
            "paper_difference": _range_text(paper_d, paper_lo, paper_hi),
            "paper_d": paper_d,
            "paper_lo": paper_lo,
            "paper_hi": paper_hi,
            "status": claim["status"],
            "needs": claim["needs"],
            "note": claim["note"],
        }
        empty = dict.fromkeys(
            ("mean_better", "std_better", "mean_worse", "std_worse", "difference", "low", "high"), math.nan
        )
        if claim["status"] == "not-declared":
            record.update(empty, n_seeds="", rule="", verdict="not declared", agrees="")
        elif same_settings(claim, settings):
            rule = "the compared runs have the same settings at this scale"
            record.update(empty, n_seeds="", rule=rule, verdict="same settings", agrees="")
        else:
            per_model = _aligned(claim, scores)
            if per_model is None:
                record.update(
                    empty, n_seeds="", rule="a compared split has no labels", verdict="unlabelled", agrees=""
                )
            else:
                better, worse = _statistic(claim, "better", per_model), _statistic(claim, "worse", per_model)
                c = compare(better, worse, claim["direction"], claim["min_effect"])
                record.update(
                    n_seeds=f"{c.n_better}/{c.n_worse}" if c.n_better != c.n_worse else str(c.n_better),
                    mean_better=c.mean_better, std_better=c.std_better, mean_worse=c.mean_worse,
                    std_worse=c.std_worse, difference=c.difference, low=c.low, high=c.high, rule=c.rule,
                    verdict=c.verdict, agrees="yes" if c.verdict in claim["accepts"] else "no",
                )  # fmt: skip
        records.append(record)
    return pd.DataFrame.from_records(records, columns=[*COLUMNS, "paper_d", "paper_lo", "paper_hi"])


def _range_text(value: float, low: float, high: float) -> str:
    if math.isnan(value):
        return ""
    return f"{value:+.3f}" if low == high else f"{low:+.3f} to {high:+.3f}"


def _md(value: Any) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.3f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def claims_markdown(
    frame: pd.DataFrame, *, scale: str = "", seeds: int | None = None, caption: str = ""
) -> str:
    """``claims.md``: a title, the verdict rule, counts of verdicts, then one table row per claim."""
    counts = frame["verdict"].value_counts()
    shown = (*VERDICTS, "same settings", "unlabelled", "not declared")
    summary = ", ".join(f"{counts[v]} {v}" for v in shown if v in counts)
    where = f" at {scale} scale" if scale else ""
    seeds_text = f", {seeds} seed{'s' if seeds != 1 else ''} per experiment" if seeds else ""
    lines = [f"# Claims of both papers, checked{where}{seeds_text}", ""]
    if caption:
        lines += [caption, ""]
    lines += [rule_text(), "", f"{len(frame)} findings: {summary}.", ""]
    shown = [c for c in frame.columns if c not in ("paper_d", "paper_lo", "paper_hi")]
    lines.append("| " + " | ".join(shown) + " |")
    lines.append("|" + "|".join("---" for _ in shown) + "|")
    for rec in frame[shown].itertuples(index=False):
        lines.append("| " + " | ".join(_md(v) for v in rec) + " |")
    return "\n".join(lines) + "\n"


def write_claims(frame: pd.DataFrame, csv_path: PathLike, md_path: PathLike, **markdown) -> None:
    """``claims.csv`` (without the figure's helper columns) and ``claims.md``, each written atomically."""
    from pipeline.io import write_csv_atomic, write_text_atomic

    write_csv_atomic(frame.drop(columns=["paper_d", "paper_lo", "paper_hi"]), csv_path)
    write_text_atomic(claims_markdown(frame, **markdown), md_path)


# -- the figure -----------------------------------------------------------------------------------------


def claims_figure(frame: pd.DataFrame, path: PathLike) -> None:
    """Each checked claim's difference (better - worse, in the paper's direction: right = as the paper
    says) with its interval, the paper's difference marked; score claims and cost claims (log ratios) in
    separate panels. Not-declared, unlabelled and same-settings claims are left out."""
    from matplotlib.figure import Figure

    from pipeline.figures import _save

    checked = frame[~frame["verdict"].isin(["not declared", "unlabelled", "same settings"])]
    cost = checked["metric"].str.endswith("(log)")
    panels = [(title, part) for title, part in (
        ("score difference (better - worse)", checked[~cost]),
        ("cost log ratio ln(better / worse)", checked[cost]),
    ) if len(part)]  # fmt: skip
    heights = [max(1.5, 0.28 * len(part) + 0.8) for _, part in panels] or [1.5]
    fig = Figure(figsize=(9, sum(heights) + 0.6), layout="constrained")  # no label under the next panel
    if not panels:
        fig.text(0.5, 0.5, "no checked claims", ha="center", va="center")
        _save(fig, path)
        return
    axes = fig.subplots(len(panels), 1, squeeze=False, gridspec_kw={"height_ratios": heights})[:, 0]
    colours = {"holds": "tab:green", "reversed": "tab:red", "within noise": "tab:grey"}
    for ax, (title, part) in zip(axes, panels, strict=True):
        y = np.arange(len(part))[::-1]
        sign = np.where(part["direction"].to_numpy() == 0, 1, part["direction"].to_numpy())
        d = part["difference"].to_numpy(dtype=float) * sign
        lo, hi = sorted_interval(
            part["low"].to_numpy(dtype=float) * sign, part["high"].to_numpy(dtype=float) * sign
        )
        for yi, di, loi, hii, v in zip(y, d, lo, hi, part["verdict"], strict=True):
            xerr = None if math.isnan(loi) else [[di - loi], [hii - di]]
            ax.errorbar(di, yi, xerr=xerr, fmt="o", color=colours.get(v, "black"), capsize=3, ms=4)
        pd_ = part["paper_d"].to_numpy(dtype=float) * sign
        plo = part["paper_lo"].to_numpy(dtype=float) * sign
        phi = part["paper_hi"].to_numpy(dtype=float) * sign
        ax.scatter(pd_, y, marker="x", color="tab:blue", zorder=3, label="paper")
        for yi, a, b in zip(y, plo, phi, strict=True):
            if not math.isnan(a) and a != b:
                ax.plot([a, b], [yi, yi], color="tab:blue", lw=4, alpha=0.3)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(y, part["id"].tolist(), fontsize=7)
        ax.set_xlabel(f"{title}; right of 0 = the paper's direction", fontsize=8)
        ax.legend(loc="lower right", fontsize=7)
    axes[0].set_title(
        "Claims: ours (green holds, red reversed, grey within noise) vs the paper (x)", fontsize=9
    )
    _save(fig, path)


def sorted_interval(low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Element-wise (min, max) of two interval bounds (a sign flip swaps them); nan stays nan."""
    return np.minimum(low, high), np.maximum(low, high)


# -- gathering scores ----------------------------------------------------------------------------------


def run_values(
    metrics: Mapping[str, Mapping], run: Mapping | None = None
) -> dict[str, dict[str, float | None]]:
    """One seed's values of one model, as :func:`claims_frame` reads them: ``{split: {metric: value}}``.

    ``metrics[split]``: the model's metrics JSON for that split (:func:`pipeline.metrics.compute_metrics`);
    ``run``: what :func:`pipeline.methods_tables.load_run` returns for a trained experiment (None for an
    ensemble or the random baseline): adds ``train_<m>`` (at the best epoch, when the history has it),
    ``time_s`` (the job's benchmark seconds, else the run's training seconds), ``memory_gib`` and
    ``epoch_seconds`` (mean seconds per epoch) under every split.
    """
    from pipeline.methods_tables import GIB

    extra: dict[str, float | None] = {}
    if run is not None:
        history, record = run["history"], run["run"]
        best = history[history["epoch"] == int(record["best_epoch"])]
        row = (best if len(best) else history).iloc[-1]
        for column in history.columns:
            if column.startswith("train_") and column != "train_loss":
                extra[column] = float(row[column])
        extra["time_s"] = float(run.get("job_seconds") or record["train_seconds"])
        extra["memory_gib"] = float(record["peak_memory_bytes"]) / GIB
        if "epoch_seconds" in history.columns:
            extra["epoch_seconds"] = float(history["epoch_seconds"].mean())
    out: dict[str, dict[str, float | None]] = {}
    for split, result in metrics.items():
        values: dict[str, float | None] = dict(result.get("scores", {}))
        values["overall"] = result.get("overall")
        out[split] = {**values, **extra}
    return out


def gather_scores(per_seed: Mapping[str, Sequence[Mapping[str, Mapping[str, float | None]]]]) -> dict:
    """``{model: [run_values of seed 0, seed 1, ...]}`` -> ``scores[model][split][metric] = [per seed]``."""
    scores: dict[str, dict[str, dict[str, list]]] = {}
    for model, seeds in per_seed.items():
        by_split: dict[str, dict[str, list]] = {}
        for values in seeds:
            for split, metrics in values.items():
                for metric, value in metrics.items():
                    by_split.setdefault(split, {}).setdefault(metric, []).append(value)
        scores[model] = by_split
    return scores
