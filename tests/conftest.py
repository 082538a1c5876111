"""Shared fixtures: generated data, a tiny random BERT built once per session, its token caches, the config
(config.yaml with papers/*.yaml merged in, as the workflow loads it) and a helper that resolves experiment
settings from it with modifications."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import pytest

from pipeline.config import deep_merge, resolve_experiment
from pipeline.settings import Experiment
from pipeline.workflow.validation import load_config

ROOT = Path(__file__).resolve().parents[1]
TASK_NAMES = ("sst", "para", "sts")
SIZES = {"train": 96, "dev": 40}
ENCODER_SPEC = {
    "vocab_size": 300,
    "hidden": 32,
    "layers": 1,
    "heads": 2,
    "intermediate": 64,
    "max_position": 64,
    "seed": 0,
}
LOAD_KWARGS = {"local_files_only": True}


@pytest.fixture(scope="session", autouse=True)
def one_torch_thread():
    """Run torch on one thread: the tiny models gain nothing from more, and two OpenMP threads on two cores
    that another job keeps busy spin-wait (a 2 s test module then takes over a minute)."""
    torch = sys.modules.get("torch")  # imported at collection by the modules that use it
    if torch is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def config() -> dict:
    """config.yaml with the papers merged in and the schema's defaults filled (prepare_config)."""
    return load_config(ROOT)


@pytest.fixture(scope="session")
def make_settings(config):
    """``make_settings(**changes)``: the smoke-scale :class:`pipeline.settings.Experiment` of a plain
    experiment (the ``defaults`` resolved by :func:`pipeline.config.resolve_experiment`), with
    ``changes`` deep-merged on top of the plain dict (after the scale's rules, so the values given are the
    values used)."""

    def make(**changes) -> Experiment:
        cfg = copy.deepcopy(config)
        cfg["scale"] = "smoke"
        cfg["experiments"] = {"unit-test": {}}
        settings = resolve_experiment(cfg, "unit-test")
        return Experiment.from_dict(deep_merge(settings, changes))

    return make


@pytest.fixture(scope="session")
def frames() -> dict:
    """Generated frames: ``frames[split][task]`` (small train and dev splits)."""
    from pipeline.data.generate import generate_task

    return {
        split: {task: generate_task(task, split, n, seed=0) for task in TASK_NAMES}
        for split, n in SIZES.items()
    }


@pytest.fixture(scope="session")
def encoder_dir(tmp_path_factory) -> str:
    """A tiny random BERT with a WordPiece vocabulary trained on generated training text."""
    from pipeline.data.generate import generate_task
    from pipeline.model.encoders import build_random_encoder

    texts: list[str] = []
    for task in TASK_NAMES:
        frame = generate_task(task, "train", 300, seed=0)
        for column in frame.columns:
            if column.startswith("sentence"):
                texts += frame[column].tolist()
    out = tmp_path_factory.mktemp("encoders") / "tiny"
    build_random_encoder(out, texts, ENCODER_SPEC)
    return str(out)


@pytest.fixture(scope="session")
def tokenizer(encoder_dir):
    from pipeline.model.encoders import load_tokenizer

    return load_tokenizer(encoder_dir, **LOAD_KWARGS)


@pytest.fixture(scope="session")
def cache_files(tmp_path_factory, frames, tokenizer) -> dict:
    """Token cache files ``cache_files[split][task]`` of the generated frames."""
    from pipeline.data.tokens import build_cache, save_cache

    folder = tmp_path_factory.mktemp("tokens")
    out: dict = {}
    for split, by_task in frames.items():
        out[split] = {}
        for task, frame in by_task.items():
            path = folder / f"{task}-{split}.pt"
            save_cache(build_cache(tokenizer, frame, task), path)
            out[split][task] = path
    return out


@pytest.fixture(scope="session")
def task_data(cache_files) -> dict:
    """``task_data[split][task]``: :class:`pipeline.data.batching.TaskData` read back from the cache files."""
    from pipeline.data.batching import TaskData

    return {
        split: {task: TaskData.from_cache(path) for task, path in by_task.items()}
        for split, by_task in cache_files.items()
    }
