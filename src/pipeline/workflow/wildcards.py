"""Wildcard constraints: each wildcard matches exactly the names the config declares (names may hold dots
and dashes), and a model name may carry a seed (``name~seedK``, K >= 1)."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

from pipeline.config import known_models, split_seed
from pipeline.tasks import SPLITS, TASKS


def name_regex(names: Iterable[str]) -> str:
    """A regular expression matching exactly the given names (matching nothing when there are none)."""
    return "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True)) or "(?!)"


def seeded_regex(names: Iterable[str]) -> str:
    """A regular expression matching the given names and their seeds (``name~seedK``, K >= 1)."""
    return f"(?:{name_regex(names)})(?:~seed[1-9][0-9]*)?"


def global_constraints(config: Mapping) -> dict[str, str]:
    """The constraints every rule shares: task, split, encoder, pretrain and model names."""
    return {
        "task": name_regex(TASKS),
        "split": name_regex(SPLITS),
        "encoder": name_regex(config["encoders"]),
        "pretrain": seeded_regex(config["pretrains"]),  # one MNRL run per seed
        "model": seeded_regex(known_models(config)),
    }


def unknown_regex(names: Iterable[str]) -> str:
    """A regular expression matching a folder name (a path segment followed by ``/``) that is none of the
    given names or their seeds: the wildcard of the rule that stops a target naming an unknown model
    (:func:`unknown_model`)."""
    return f"(?!(?:{seeded_regex(names)})/)[^/]+"


def unknown_model(config: Mapping, name: str) -> list[str]:
    """Stops the DAG with the closest known names (an input function of the ``unknown_model`` rule)."""
    known = known_models(config)
    close = difflib.get_close_matches(split_seed(name)[0], known, n=3, cutoff=0.5)
    hint = f"; closest: {', '.join(close)}" if close else ""
    raise ValueError(
        f"no experiment, ensemble or baseline is named {name!r}{hint} "
        "(`snakemake results/experiments.md` lists every experiment)"
    )
