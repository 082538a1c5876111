"""Tests of pipeline.data.generate: reproducible, valid and learnable generated data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from pipeline.data.generate import SENTIMENT_WORDS, TOPICS, generate_task
from pipeline.data.readers import validate_frame
from pipeline.tasks import get_task

TASKS = ("sst", "para", "sts", "cfimdb")


@pytest.mark.parametrize("task", TASKS)
def test_deterministic_per_seed_and_split(task: str) -> None:
    frame = generate_task(task, "train", 120, seed=0)
    pd.testing.assert_frame_equal(frame, generate_task(task, "train", 120, seed=0))
    for other in (generate_task(task, "train", 120, seed=1), generate_task(task, "dev", 120, seed=0)):
        assert not frame.equals(other)
        assert not set(frame["id"]) & set(other["id"])
        text = get_task(task).text_columns[0]
        assert (frame[text] != other[text]).mean() > 0.5


@pytest.mark.parametrize("task", TASKS)
def test_valid_frame_with_unique_ids(task: str) -> None:
    spec = get_task(task)
    frame = generate_task(task, "dev", 300, seed=4)
    assert list(frame.columns) == list(spec.columns)
    assert len(frame) == 300
    assert frame["id"].is_unique
    assert frame["id"].str.fullmatch(r"[0-9a-f]{25}").all()
    checked = validate_frame(frame, task, where=f"generated {task}")
    assert len(checked) == 300
    assert checked["label"].notna().all()


def test_label_ranges() -> None:
    sst = generate_task("sst", "train", 500, seed=0)["label"]
    assert sst.dtype.kind == "i" and set(sst) == {0, 1, 2, 3, 4}
    for task in ("para", "cfimdb"):
        labels = generate_task(task, "train", 500, seed=0)["label"]
        assert labels.dtype.kind == "i" and set(labels) == {0, 1}
    sts = generate_task("sts", "train", 500, seed=0)["label"]
    assert sts.dtype.kind == "f" and sts.between(0.0, 5.0).all()
    assert np.allclose(sts, sts.round(1))  # one decimal, like the official file
    assert sts.std() > 1.0  # spread over the range


def test_unknown_task_or_split_raises() -> None:
    with pytest.raises(ValueError, match="unknown task"):
        generate_task("qnli", "train", 5, seed=0)
    with pytest.raises(ValueError, match="unknown split"):
        generate_task("sst", "validation", 5, seed=0)


def test_labels_are_learnable() -> None:
    """The label shows in the text: sentiment words of the label's class, shared topic words for pairs."""
    sst = generate_task("sst", "train", 400, seed=0)
    hits = [
        any(word in SENTIMENT_WORDS[label] for word in sentence.split())
        for sentence, label in zip(sst["sentence"], sst["label"], strict=True)
    ]
    assert np.mean(hits) > 0.8

    def topic(sentence: str) -> set[int]:
        words = set(sentence.split())
        return {i for i, t in enumerate(TOPICS) if words & set(t)}

    para = generate_task("para", "train", 400, seed=0)
    same = [topic(a) == topic(b) for a, b in zip(para["sentence1"], para["sentence2"], strict=True)]
    assert np.array_equal(np.array(same), para["label"].to_numpy() == 1)

    sts = generate_task("sts", "train", 400, seed=0)
    overlap = [
        len(set(a.split()[3:]) & set(b.split()[2:]))
        for a, b in zip(sts["sentence1"], sts["sentence2"], strict=True)
    ]
    assert np.corrcoef(overlap, sts["label"])[0, 1] > 0.8
