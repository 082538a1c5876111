"""Generated data for the smoke scale: small, deterministic, and learnable.

Each task gets sentences built from a small English vocabulary, so that a tiny BERT trained for a few seconds
clearly beats the random baseline:

* ``sst`` / ``cfimdb``: the label decides which sentiment words appear among neutral filler words
  (with some noise: a word of a neighbouring class now and then).
* ``para``: question pairs about topics. A duplicate pair is two questions about the same topic; a
  non-duplicate pair is about two topics of the same topic group. Topics of group A are duplicated more
  often than those of group B (as popular Quora questions are), so even a model that scores each sentence
  on its own (summed embeddings) can do better than chance, and one that compares the sentences can do
  better still.
* ``sts``: the similarity is the share of topic words the two sentences have in common, scaled to 0-5, plus
  noise; group A topics lean similar.

Every (task, split) draws from its own seeded generator, so files are reproducible and splits differ.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.tasks import SPLITS, get_task

SENTIMENT_WORDS = (
    ("awful", "terrible", "dreadful", "horrible", "painful"),
    ("dull", "weak", "bland", "tedious", "flat"),
    ("average", "okay", "ordinary", "middling", "fair"),
    ("good", "nice", "pleasant", "solid", "enjoyable"),
    ("brilliant", "superb", "wonderful", "masterful", "stunning"),
)
FILLER = (
    "the movie film story acting plot was really quite a with and scenes cast director this "
    "its script music camera ending of in at"
).split()
TOPICS = (
    ("pasta", "kitchen", "recipe", "sauce", "oven"),
    ("guitar", "chords", "music", "songs", "band"),
    ("python", "code", "program", "software", "bug"),
    ("football", "match", "team", "goal", "league"),
    ("garden", "plants", "soil", "flowers", "seeds"),
    ("bitcoin", "money", "crypto", "wallet", "price"),
    ("ocean", "beach", "waves", "surfing", "sand"),
    ("exam", "study", "school", "grades", "teacher"),
    ("car", "engine", "tires", "fuel", "driving"),
    ("phone", "battery", "screen", "apps", "android"),
    ("travel", "flight", "hotel", "visa", "airport"),
    ("dog", "puppy", "leash", "training", "bark"),
)
GROUP_A = range(0, len(TOPICS) // 2)  # topics duplicated / similar more often
QUESTION_STARTS = ("how do i", "what is the best", "why does my", "can i improve", "where can i find")
_TASK_SALT = {"sst": 11, "para": 23, "sts": 37, "cfimdb": 53}


def _rng(task: str, split: str, seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, _TASK_SALT[task], SPLITS.index(split)])


def _sentiment_sentence(rng: np.random.Generator, label: int, classes: tuple[int, ...], length: int) -> str:
    words = list(rng.choice(FILLER, size=length))
    for _ in range(int(rng.integers(1, 3))):
        cls = classes[label]
        if rng.random() < 0.15:  # noise: a neighbouring class's word
            cls = int(np.clip(cls + rng.choice((-1, 1)), 0, 4))
        words.insert(int(rng.integers(0, len(words) + 1)), str(rng.choice(SENTIMENT_WORDS[cls])))
    return " ".join(words)


def _topic_question(rng: np.random.Generator, topic: int, n_words: int = 3) -> str:
    words = rng.choice(TOPICS[topic], size=n_words, replace=False)
    return f"{rng.choice(QUESTION_STARTS)} {' '.join(words)} ?"


def _other_topic(rng: np.random.Generator, topic: int) -> int:
    group = [t for t in (GROUP_A if topic in GROUP_A else range(len(TOPICS) // 2, len(TOPICS))) if t != topic]
    return int(rng.choice(group))


def _ids(rng: np.random.Generator, n: int) -> list[str]:
    digits = rng.integers(0, 16, size=(n, 25))
    return ["".join(f"{d:x}" for d in row) for row in digits]


def generate_task(task: str, split: str, n: int, seed: int) -> pd.DataFrame:
    """``n`` rows of normalised data for ``task`` and ``split``, reproducible from ``seed``."""
    get_task(task)
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; known splits: {', '.join(SPLITS)}")
    rng = _rng(task, split, seed)
    rows = []
    for _ in range(n):
        if task == "sst":
            label = int(rng.integers(0, 5))
            rows.append((_sentiment_sentence(rng, label, (0, 1, 2, 3, 4), int(rng.integers(4, 9))), label))
        elif task == "cfimdb":
            label = int(rng.integers(0, 2))
            cls = (int(rng.choice((0, 1))), int(rng.choice((3, 4))))
            rows.append((_sentiment_sentence(rng, label, cls, int(rng.integers(10, 20))), label))
        elif task == "para":
            topic = int(rng.integers(0, len(TOPICS)))
            label = int(rng.random() < (0.8 if topic in GROUP_A else 0.2))
            other = topic if label else _other_topic(rng, topic)
            rows.append((_topic_question(rng, topic), _topic_question(rng, other), label))
        else:  # sts
            topic = int(rng.integers(0, len(TOPICS)))
            shared = int(rng.choice(4, p=(0.1, 0.2, 0.3, 0.4) if topic in GROUP_A else (0.4, 0.3, 0.2, 0.1)))
            first = list(rng.choice(TOPICS[topic], size=3, replace=False))
            rest = [w for w in TOPICS[_other_topic(rng, topic)]]
            second = first[:shared] + list(rng.choice(rest, size=3 - shared, replace=False))
            score = float(np.clip(shared * 5 / 3 + rng.normal(0, 0.4), 0, 5))
            rows.append(
                (
                    " ".join(["a", "story", "about", *first]),
                    " ".join(["news", "on", *second]),
                    round(score, 1),
                )
            )
    spec = get_task(task)
    frame = pd.DataFrame(rows, columns=[*spec.text_columns, "label"])
    frame.insert(0, "id", _ids(rng, n))
    return frame
