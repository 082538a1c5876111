"""The claims catalogue: reading and checking each finding of both papers (see the package docstring)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.config import known_models, model_tasks

PathLike = str | Path


VERDICTS = ("holds", "reversed", "same", "differs")  # the decided verdicts: what `accepts` may name
TESTS = ("difference", "equivalence", "non-inferiority")  # see verdict.py
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
    "test",
    "title",
)


class ClaimError(ValueError):
    """A malformed claim in the catalogue; the message names the claim id and the key at fault."""


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
        from pipeline.reporting.methods_tables import parse_duration

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
    tables: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Check and normalise the ``claims:`` lists of the paper files (papers/*.yaml, merged).

    ``models``: the names a claim may compare (experiments, ensembles, builtin models); ``model_tasks``:
    each model's tasks (needed for ``score``/``train_score``/``gap``, which take the model's single task);
    ``tables``: the tables a ``paper_values`` side may cite (``tables`` and ``methods_tables`` of the
    config; a methods table is one with a ``kind``), see :func:`table_value`.
    Returns one dict per claim with every optional key filled in, ``metrics``: ``{model: metric}`` (the
    metric each model is scored on) and ``paper_values`` with each cited cell read as its number. Raises
    :class:`ClaimError` naming the claim id and the key (or the cited table and model).
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
        accepts = list(claim.get("accepts", []))
        claim["test"] = claim.get("test") or ("equivalence" if claim["direction"] == 0 else "difference")
        if "within noise" in accepts:  # the former vocabulary: "no negative impact" / "about the same"
            accepts.remove("within noise")
            if "test" not in entry and claim["direction"] != 0:
                claim["test"] = "non-inferiority"
        if claim["test"] == "equivalence":  # the former words for "about the same" findings
            accepts = [{"holds": "same", "reversed": "differs"}.get(v, v) for v in accepts]
        if claim["test"] not in TESTS or (claim["test"] == "equivalence") != (claim["direction"] == 0):
            raise ClaimError(
                f"claims: claim {cid!r}: 'test' is one of {', '.join(TESTS)}; equivalence goes with "
                "direction 0 (about the same), the others with 1 or -1"
            )
        claim["accepts"] = accepts or (["same"] if claim["test"] == "equivalence" else ["holds"])
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
        claim["paper_values"] = _paper_values(claim, cid, tables or {})
        out.append(claim)
    return out


def catalogue_from_config(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The checked ``claims:`` list of a prepared config (the papers' claims; empty when it has none): every
    name must be a declared experiment, ensemble or builtin model, every cited table cell must exist (for the
    DAG build, e.g. from ``common.smk``)."""

    models = known_models(config)
    tables = {**config.get("tables", {}), **config.get("methods_tables", {})}
    tasks = {m: model_tasks(config, m) for m in models}
    return read_catalogue(config.get("claims") or [], models, tasks, tables)


def claim_models(claims: Sequence[Mapping[str, Any]]) -> list[str]:
    """Every model the declared claims compare, in first-use order (what the claims target needs)."""
    return list(dict.fromkeys(m for c in claims for m in c["metrics"]))


def _paper_values(claim: Mapping, cid: str, tables: Mapping[str, Mapping]) -> dict[str, Any]:
    """The paper's numbers of a claim: a table name (both sides read from it), or per side a table name
    (every model of the side read from that table), ``{model: table name or number}``, or one number for a
    one-model side; ``difference`` a number or ``[low, high]`` that the text states."""
    raw = claim.get("paper_values") or {}
    if isinstance(raw, str) and raw in tables:
        raw = {"better": raw, "worse": raw}
    if not isinstance(raw, Mapping):
        raise ClaimError(f"claims: claim {cid!r}: 'paper_values' must be a declared table or a mapping")
    unknown = sorted(set(raw) - {"better", "worse", "difference"})
    if unknown:
        raise ClaimError(f"claims: claim {cid!r}: unknown key paper_values.{unknown[0]}")
    values: dict[str, Any] = {}
    for side in ("better", "worse"):
        if side not in raw:
            continue
        given = raw[side]
        if isinstance(given, str) and given in tables:
            given = dict.fromkeys(claim[side], given)
        if isinstance(given, Mapping):
            extra = sorted(set(given) - set(claim[side]))
            if extra:
                raise ClaimError(
                    f"claims: claim {cid!r}: paper_values.{side} names {extra[0]!r}, not on that side"
                )
            values[side] = {
                m: _paper_value(claim, m, v, f"{side}.{m}", cid, tables) for m, v in given.items()
            }
        else:
            if len(claim[side]) != 1:
                raise ClaimError(
                    f"claims: claim {cid!r}: paper_values.{side} of a group must be a table or map each "
                    "model to its value"
                )
            model = claim[side][0]
            values[side] = {model: _paper_value(claim, model, given, side, cid, tables)}
    if "difference" in raw:
        diff = raw["difference"]
        pair = diff if isinstance(diff, list) else [diff, diff]
        if len(pair) != 2:
            raise ClaimError(f"claims: claim {cid!r}: paper_values.difference is a number or [low, high]")
        values["difference"] = [_paper_number(v, "score", cid, "difference") for v in pair]
    return values


def _paper_value(claim: Mapping, model: str, given: Any, key: str, cid: str, tables: Mapping) -> float:
    """A side's value for one model: the cell of the named table, or the number (or duration) given."""
    metric = claim["metrics"][model]
    if isinstance(given, str) and given in tables:
        try:
            value = table_value(tables[given], model, metric, claim["split"])
        except LookupError as err:
            raise ClaimError(f"claims: claim {cid!r}: paper_values.{key} -> table {given!r}: {err}") from None
        return _paper_number(value, metric, cid, key)
    if isinstance(given, str) and metric not in COST_METRICS:
        raise ClaimError(
            f"claims: claim {cid!r}: paper_values.{key}: {given!r} is not a declared table"
            f" (known: {', '.join(sorted(tables)) or 'none'})"
        )
    return _paper_number(given, metric, cid, key)


#: the methods-table columns that hold a score: the first of them that a table has is read
_SCORE_COLUMNS = {"dev": ("dev", "final_dev"), "test": ("test",), "train": ("train", "final_train")}


def table_value(table: Mapping[str, Any], model: str, metric: str, split: str) -> float | str:
    """The paper's value of ``model`` for claim metric ``metric`` (one model's, e.g. ``gap_sts_corr``, not
    ``gap``) in a declared table: a Beyond BERT table's row of that model, column ``metric``; a methods
    table's row of that model and the metric's task, column ``dev`` / ``final_dev`` (``test`` for the test
    split) for the score, ``train`` / ``final_train`` for ``train_<m>``, train - dev (rounded to 10
    decimals, the float noise of a difference) for ``gap_<m>``, ``time_s`` / ``memory_gib`` as printed.
    The table's split must be the claim's. Raises :class:`LookupError` saying which row or cell is missing."""
    if table.get("split") != split:
        raise LookupError(f"it shows the {table.get('split')} split, the claim compares {split}")
    if "kind" not in table:
        rows = [r for r in table["rows"] if r["model"] == model]
        if not rows:
            raise LookupError(f"no row of model {model!r}")
        paper = rows[0].get("paper") or {}
        if metric not in paper:
            raise LookupError(f"the row of model {model!r} has no paper value of {metric!r}")
        return paper[metric]
    if table["kind"] != "scores":
        raise LookupError(f"a {table['kind']} table holds no scores")
    part, base = split, metric
    for prefix in ("train_", "gap_"):
        if metric.startswith(prefix):
            part, base = prefix[:-1], metric[len(prefix) :]
    task = next((t for t, m in TASK_METRICS.items() if m == base), None)
    if task is None and metric not in ("time_s", "memory_gib"):
        raise LookupError(f"no column holds {metric!r}")
    rows = [r for r in table["rows"] if r["model"] == model and task in (None, r["task"])]
    where = f"model {model!r}" + (f", task {task!r}" if task else "")
    if not rows:
        raise LookupError(f"no row of {where}")

    def cell(names: Sequence[str]) -> Any:
        column = next((c for c in names if c in table.get("columns", [])), None)
        values = {repr((r.get("paper") or {}).get(column)) for r in rows}
        if column is None or repr(None) in values:
            raise LookupError(f"the row of {where} has no paper value of {' or '.join(names)}")
        if len(values) > 1:
            raise LookupError(f"the rows of {where} differ in {column}: {sorted(values)}")
        return rows[0]["paper"][column]

    if task is None:
        return cell((metric,))
    if part == "gap":
        return round(float(cell(_SCORE_COLUMNS["train"])) - float(cell(_SCORE_COLUMNS[split])), 10)
    return cell(_SCORE_COLUMNS[part])


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


def _transform(claim: Mapping, values: np.ndarray) -> np.ndarray:
    if claim["metric"] in COST_METRICS:
        if (values <= 0).any():
            raise ValueError(
                f"claim {claim['id']!r}: costs must be positive to compare as logs, got {values}"
            )
        return np.log(values)
    return values
