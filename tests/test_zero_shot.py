"""The zero-shot row (pipeline/evaluation/zero_shot.py) against a hand computation on the tiny encoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import LOAD_KWARGS

from pipeline.data.batching import TaskData
from pipeline.evaluation import zero_shot
from pipeline.model.encoders import load_encoder

MAX_LENGTH = 64  # the tiny encoder's positions: no generated sentence is truncated


def hand_cosines(encoder_dir, tokenizer, frame, pooling):
    """Each sentence through the transformers model alone ([CLS] a [SEP]), pooled, then the cosine."""
    model = load_encoder(encoder_dir, **LOAD_KWARGS).eval()
    out = []
    with torch.inference_mode():
        for a, b in zip(frame["sentence1"], frame["sentence2"], strict=True):
            vectors = []
            for text in (a, b):
                inputs = tokenizer(text, return_tensors="pt", truncation=True, max_length=MAX_LENGTH)
                result = model(**inputs)
                if pooling == "pooler":
                    vectors.append(result.pooler_output[0].numpy())
                else:
                    vectors.append(result.last_hidden_state[0].mean(0).numpy())
            u, v = vectors
            out.append(float(u @ v / np.linalg.norm(u) / np.linalg.norm(v)))
    return np.array(out)


@pytest.mark.parametrize("pooling", ["pooler", "mean"])
def test_cosines_equal_the_hand_computation(encoder_dir, tokenizer, frames, cache_files, pooling):
    model = zero_shot.embedder(load_encoder(encoder_dir, **LOAD_KWARGS), pooling)
    for task in ("para", "sts"):
        data = TaskData.from_cache(cache_files["dev"][task])
        ours = zero_shot.pair_cosines(model, data, MAX_LENGTH, 7, torch.device("cpu"))
        hand = hand_cosines(encoder_dir, tokenizer, frames["dev"][task], pooling)
        np.testing.assert_allclose(ours, hand, atol=1e-5)


def test_threshold_and_line_equal_the_hand_computation(encoder_dir, tokenizer, frames):
    para, sts = frames["train"]["para"], frames["train"]["sts"]
    cos = hand_cosines(encoder_dir, tokenizer, para, "pooler")
    labels = para["label"].to_numpy(dtype=float)
    t = zero_shot.fit("para", cos, labels)["threshold"]
    # by hand: the best accuracy over every cut between sorted cosines
    best = max(np.mean((cos > c) == labels.astype(bool)) for c in np.concatenate([[-2.0], cos, [2.0]]))
    assert np.mean((cos > t) == labels.astype(bool)) == pytest.approx(best)
    assert np.array_equal(zero_shot.apply("para", cos, {"threshold": t}), (cos > t).astype(int))

    cos = hand_cosines(encoder_dir, tokenizer, sts, "pooler")
    y = sts["label"].to_numpy(dtype=float)
    fitted = zero_shot.fit("sts", cos, y)
    slope, intercept = np.polyfit(cos, y, 1)
    assert (fitted["slope"], fitted["intercept"]) == pytest.approx((slope, intercept))
    predicted = zero_shot.apply("sts", cos, fitted)
    assert np.corrcoef(predicted, y)[0, 1] == pytest.approx(abs(np.corrcoef(cos, y)[0, 1]))


def test_threshold_on_constructed_cosines():
    assert zero_shot.best_threshold(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 0, 1, 1])) == pytest.approx(
        0.5
    )
    assert zero_shot.best_threshold(np.array([0.3, 0.3]), np.array([1, 1])) < 0.3  # all positive
    with pytest.raises(ValueError, match="only para and sts"):
        zero_shot.fit("sst", np.zeros(2), np.zeros(2))


def test_an_empty_split_embeds_to_no_rows():
    """A split with no rows (an unlabelled Quora test left out at a scale) gives an empty embedding, not a
    batch whose ids and mask disagree."""
    import torch
    from transformers import BertConfig, BertModel

    from pipeline.data.batching import Ragged
    from pipeline.evaluation.predict import embed_sentences
    from pipeline.model.embedding import SentenceEmbedder

    config = BertConfig(hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    model = SentenceEmbedder(BertModel(config).eval(), "mean")
    empty = Ragged.from_list([])

    class Data:
        pass

    out = embed_sentences(model, Data(), empty, 16, 8, torch.device("cpu"))
    assert out.shape == (0, 16)
