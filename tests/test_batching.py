"""Tests of pipeline.data.tokens and pipeline.data.batching: the token cache and batches built without a tokenizer,
checked against the encoder's own tokenizer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from pipeline.data.batching import TaskData, truncate_pair
from pipeline.data.tokens import build_cache, load_cache, save_cache, tokenize_texts, unragged


def test_cache_round_trip(frames, tokenizer, tmp_path) -> None:
    frame = frames["train"]["para"]
    cache = build_cache(tokenizer, frame, "para")
    path = tmp_path / "sub" / "para-train.pt"
    save_cache(cache, path)
    assert [p.name for p in path.parent.iterdir()] == ["para-train.pt"]  # no temporary file left
    for loaded in (load_cache(path), torch.load(path, weights_only=True)):
        assert set(loaded) == set(cache)
        assert loaded["ids"] == list(frame["id"]) and loaded["task"] == "para"
        for key, value in cache.items():
            if isinstance(value, torch.Tensor):
                assert torch.equal(loaded[key], value), key
            else:
                assert loaded[key] == value, key
    assert cache["labels"].dtype == torch.float32
    assert np.array_equal(cache["labels"].numpy(), frame["label"].to_numpy(np.float32))
    assert (cache["cls_id"], cache["sep_id"], cache["pad_id"]) == (
        tokenizer.cls_token_id,
        tokenizer.sep_token_id,
        tokenizer.pad_token_id,
    )
    assert cache["text1_flat"].dtype == torch.int32 and cache["text1_offsets"].dtype == torch.int64
    for i, column in ((1, "sentence1"), (2, "sentence2")):
        seqs = unragged(cache[f"text{i}_flat"], cache[f"text{i}_offsets"])
        expected = [tokenizer(s, add_special_tokens=False)["input_ids"] for s in frame[column]]
        assert [s.tolist() for s in seqs] == expected


def test_cache_single_task_has_no_second_text(frames, tokenizer) -> None:
    cache = build_cache(tokenizer, frames["dev"]["sst"], "sst")
    assert "text2_flat" not in cache
    assert len(cache["text1_offsets"]) == len(frames["dev"]["sst"]) + 1


def test_unlabelled_split(tokenizer, tmp_path) -> None:
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            "sentence": ["the movie was good", "awful", "a film"],
            "label": pd.Series([pd.NA] * 3, dtype="Int64"),
        }
    )
    path = tmp_path / "sst-test.pt"
    save_cache(build_cache(tokenizer, frame, "sst"), path)
    data = TaskData.from_cache(path)
    assert torch.isnan(data.labels).all() and not data.labelled
    assert len(data) == 3


def test_tokenize_texts_batches(tokenizer, monkeypatch) -> None:
    import pipeline.data.tokens as tokens

    texts = [f"the movie {w}" for w in ("good", "bad", "okay", "was dull", "superb", "fair", "flat")]
    expected = tokenize_texts(tokenizer, texts)
    monkeypatch.setattr(tokens, "BATCH", 3)  # several calls of the tokenizer, same result
    assert tokenize_texts(tokenizer, texts) == expected
    assert len(expected) == len(texts)


def test_single_batch_matches_tokenizer(task_data, frames, tokenizer) -> None:
    data, frame = task_data["train"]["sst"], frames["train"]["sst"]
    index = [3, 0, 17, 42, 5]
    batch = data.batch(index, max_length=32)
    ids, mask = batch["inputs"]["input_ids"], batch["inputs"]["attention_mask"]
    expected = tokenizer([frame["sentence"][i] for i in index], padding=True, return_tensors="pt")
    assert torch.equal(ids, expected["input_ids"]) and torch.equal(mask, expected["attention_mask"])
    assert set(batch) == {"inputs", "labels"}
    assert torch.equal(batch["labels"], torch.tensor(frame["label"].to_numpy(np.float32)[index]))
    for row, i in enumerate(index):
        n = len(data.text1[i])
        assert ids[row, 0] == data.cls_id and ids[row, n + 1] == data.sep_id
        assert torch.equal(ids[row, 1 : n + 1], data.text1[i])
        assert (ids[row, n + 2 :] == data.pad_id).all()
        assert mask[row].tolist() == [1] * (n + 2) + [0] * (ids.shape[1] - n - 2)
    assert ids.shape[1] == max(len(data.text1[i]) for i in index) + 2  # padded to the batch's longest


def test_single_truncation(task_data, frames, tokenizer) -> None:
    data, frame = task_data["train"]["sst"], frames["train"]["sst"]
    index = list(range(12))
    max_length = 6
    assert max(len(data.text1[i]) for i in index) > max_length - 2
    batch = data.batch(index, max_length=max_length)
    ids = batch["inputs"]["input_ids"]
    assert ids.shape[1] <= max_length
    expected = tokenizer(
        [frame["sentence"][i] for i in index],
        padding=True,
        truncation=True,
        max_length=max_length,
        return_tensors="pt",
    )
    assert torch.equal(ids, expected["input_ids"])
    assert torch.equal(batch["inputs"]["attention_mask"], expected["attention_mask"])


def test_siamese_batch(task_data) -> None:
    data = task_data["dev"]["sts"]
    index = torch.tensor([4, 1, 9])
    batch = data.batch(index, max_length=32)
    assert set(batch) == {"inputs1", "inputs2", "labels"}
    first = data.single_inputs([data.text1[i] for i in index.tolist()], 32)
    second = data.single_inputs([data.text2[i] for i in index.tolist()], 32)
    for got, want in ((batch["inputs1"], first), (batch["inputs2"], second)):
        assert torch.equal(got["input_ids"], want["input_ids"])
        assert torch.equal(got["attention_mask"], want["attention_mask"])
    assert torch.equal(batch["labels"], data.labels[index])


def test_cross_batch_matches_tokenizer(task_data, frames, tokenizer) -> None:
    data, frame = task_data["train"]["para"], frames["train"]["para"]
    index = list(range(0, 40, 3))
    batch = data.batch(index, max_length=64, pair_input="cross")
    inputs = batch["inputs"]
    expected = tokenizer(
        [frame["sentence1"][i] for i in index],
        [frame["sentence2"][i] for i in index],
        padding=True,
        return_tensors="pt",
    )
    for key in ("input_ids", "token_type_ids", "attention_mask"):
        assert torch.equal(inputs[key], expected[key]), key
    for row, i in enumerate(index):
        n, m = len(data.text1[i]), len(data.text2[i])
        assert inputs["token_type_ids"][row].tolist()[: n + m + 3] == [0] * (n + 2) + [1] * (m + 1)
        assert inputs["attention_mask"][row].sum() == n + m + 3


def test_cross_batch_truncation_matches_tokenizer(task_data, frames, tokenizer) -> None:
    """Truncated pairs as the tokenizer's own longest-first truncation cuts them."""
    data, frame = task_data["train"]["para"], frames["train"]["para"]
    index = list(range(len(data)))
    max_length = 12
    inputs = data.batch(index, max_length=max_length, pair_input="cross")["inputs"]
    assert inputs["input_ids"].shape[1] == max_length
    expected = tokenizer(
        [frame["sentence1"][i] for i in index],
        [frame["sentence2"][i] for i in index],
        padding=True,
        truncation="longest_first",
        max_length=max_length,
        return_tensors="pt",
    )
    mismatched = [
        i
        for row, i in enumerate(index)
        if not torch.equal(inputs["input_ids"][row], expected["input_ids"][row])
    ]
    assert not mismatched, (
        f"{len(mismatched)} of {len(index)} truncated pairs differ from the tokenizer, e.g. example "
        f"{mismatched[0]} with sentence lengths {len(data.text1[mismatched[0]])}, {len(data.text2[mismatched[0]])}"
    )
    for key in ("token_type_ids", "attention_mask"):
        assert torch.equal(inputs[key], expected[key]), key


def test_truncate_pair_longest_first() -> None:
    a, b = torch.arange(10), torch.arange(100, 102)
    x, y = truncate_pair(a, b, 8)
    assert torch.equal(x, a[:6]) and torch.equal(y, b)  # only the longer sentence is cut, from its end
    x, y = truncate_pair(b, a, 8)
    assert torch.equal(x, b) and torch.equal(y, a[:6])
    x, y = truncate_pair(torch.arange(9), torch.arange(7), 8)
    assert (len(x), len(y)) == (4, 4)  # both cut once they are equally long
    x, y = truncate_pair(a, b, 20)
    assert torch.equal(x, a) and torch.equal(y, b)  # within budget: untouched
    for n in range(0, 9):
        for m in range(0, 9):
            for budget in range(0, 12):
                x, y = truncate_pair(torch.arange(n), torch.arange(m), budget)
                assert len(x) + len(y) == min(n + m, budget)
                assert len(x) >= min(n, budget // 2) and len(y) >= min(m, budget // 2)


def test_eval_batches_cover_every_index_once(task_data) -> None:
    for data in task_data["dev"].values():
        batches = data.eval_batches(7)
        flat = [i for batch in batches for i in batch]
        assert sorted(flat) == list(range(len(data)))
        assert all(1 <= len(batch) <= 7 for batch in batches)
        lengths = data.lengths()
        assert [lengths[i] for i in flat] == sorted(lengths)  # similar lengths together


def test_lengths_and_subset(task_data) -> None:
    data = task_data["train"]["sts"]
    assert data.lengths() == [len(a) + len(b) for a, b in zip(data.text1, data.text2, strict=True)]
    sub = data.subset(30, seed=1)
    assert len(sub) == 30 and sub.task == data.task
    positions = [data.ids.index(i) for i in sub.ids]
    assert positions == sorted(positions)  # file order kept
    for k, pos in enumerate(positions):
        assert torch.equal(sub.text1[k], data.text1[pos]) and torch.equal(sub.text2[k], data.text2[pos])
        assert sub.labels[k] == data.labels[pos]
    assert data.subset(30, seed=1).ids == sub.ids
    assert data.subset(30, seed=2).ids != sub.ids
    assert data.subset(None, seed=1) is data and data.subset(10_000, seed=1) is data
    assert data.labelled


def test_truncate_pair_lengths_match_the_loop() -> None:
    """The vectorised longest-first rule equals cutting one token at a time, on every small case."""
    from pipeline.data.batching import truncate_pair_lengths

    def loop(n: int, m: int, budget: int) -> tuple[int, int]:
        first_longer = n > m
        while n + m > budget:
            if n > m or (n == m and not first_longer):
                n -= 1
            else:
                m -= 1
        return n, m

    cases = [(n, m) for n in range(12) for m in range(12)]
    n, m = torch.tensor([c[0] for c in cases]), torch.tensor([c[1] for c in cases])
    for budget in range(0, 25):
        got_n, got_m = truncate_pair_lengths(n, m, budget)
        assert list(zip(got_n.tolist(), got_m.tolist(), strict=True)) == [
            loop(a, b, budget) for a, b in cases
        ]


def test_batches_equal_per_example_construction(task_data) -> None:
    """Tensor-indexed batches equal batches built one example at a time from the sentences."""
    data = task_data["train"]["para"]
    index = [5, 0, 33, 7]
    for max_length in (8, 64):
        batch = data.batch(index, max_length)
        for key, text in (("inputs1", data.text1), ("inputs2", data.text2)):
            ids = batch[key]["input_ids"]
            for row, i in enumerate(index):
                body = text[i][: max_length - 2].tolist()
                expected = [data.cls_id, *body, data.sep_id]
                assert ids[row, : len(expected)].tolist() == expected
                assert (ids[row, len(expected) :] == data.pad_id).all()
                assert batch[key]["attention_mask"][row].sum() == len(expected)


def test_bucket_by_length_keeps_tasks_and_examples(task_data) -> None:
    from pipeline.data.batching import bucket_by_length
    from pipeline.training.sampling import epoch_plan

    train = task_data["train"]
    sizes = {t: len(d) for t, d in train.items()}
    plan = epoch_plan("round-robin-cycle", sizes, batch_size=8, epoch=1, epochs=1, seed=0)
    lengths = {t: d.length_tensor() for t, d in train.items()}
    bucketed = bucket_by_length(plan, lengths, 4, torch.Generator().manual_seed(0))
    again = bucket_by_length(plan, lengths, 4, torch.Generator().manual_seed(0))
    assert [t for t, _ in bucketed] == [t for t, _ in plan]  # the same task at every step
    assert all(torch.equal(a, b) for (_, a), (_, b) in zip(bucketed, again, strict=True))  # deterministic
    for task in train:
        steps = [s for s, (t, _) in enumerate(plan) if t == task]
        for start in range(0, len(steps), 4):
            window = steps[start : start + 4]
            before = torch.cat([plan[s][1] for s in window]).sort().values
            after = torch.cat([bucketed[s][1] for s in window]).sort().values
            assert torch.equal(before, after)  # the same examples within each window

    def padding(p) -> int:
        return sum(int(lengths[t][i].max()) * len(i) - int(lengths[t][i].sum()) for t, i in p)

    assert padding(bucketed) < padding(plan)
    assert bucket_by_length(plan, lengths, 1, torch.Generator()) is plan


def test_ragged_concat_and_take(task_data) -> None:
    from pipeline.data.batching import Ragged

    data = task_data["dev"]["sts"]
    both = Ragged.concat(data.text1, data.text2)
    assert len(both) == 2 * len(data)
    assert torch.equal(both[len(data) + 3], data.text2[3]) and torch.equal(both[2], data.text1[2])
    shared = Ragged.concat(data.text1.take(torch.tensor([4, 1])), data.text1.take(torch.tensor([0])))
    assert shared.flat is data.text1.flat
    assert [s.tolist() for s in shared] == [data.text1[i].tolist() for i in (4, 1, 0)]
