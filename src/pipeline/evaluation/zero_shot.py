"""The encoder before fine-tuning, as a row of Tables 1 and 2: its zero-shot paraphrase and STS predictions.

Each sentence is embedded alone by the encoder as it is loaded (no head, no training), with the pooling
and truncation of the scale's experiments (:class:`pipeline.model.embedding.SentenceEmbedder`, the
embedding the experiments' models compute), and each pair is read through the cosine of its two embeddings:

* STS: the least-squares line ``a * cosine + b`` fitted on the training split's 0-5 similarities (Pearson
  correlation is unchanged by a line with positive slope, so the dev/test correlation is that of the cosine
  itself; the line only puts the predictions on the 0-5 scale);
* paraphrase: ``cosine > t``, with ``t`` the threshold of highest accuracy on the training split (among the
  midpoints between consecutive training cosines; ties: the smallest such threshold).

SST has no zero-shot reading: the last-linear-layer row (a linear probe of the frozen encoder) is it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from pipeline.data.batching import TaskData
from pipeline.evaluation.predict import embed_sentences
from pipeline.model.embedding import SentenceEmbedder


def embedder(encoder: torch.nn.Module, pooling: str) -> SentenceEmbedder:
    """``encoder`` with the experiments' ``pooling``, in evaluation mode."""
    return SentenceEmbedder(encoder, pooling).eval()


def pair_cosines(
    model: SentenceEmbedder, data: TaskData, max_length: int, batch_size: int, device: torch.device
) -> np.ndarray:
    """Cosine of the two sentence embeddings of every pair of ``data``, in file order."""
    if data.text2 is None:
        raise ValueError(f"{data.task.name} is not a pair task: no zero-shot cosine")
    with torch.inference_mode():
        e1, e2 = (
            embed_sentences(model, data, t, max_length, batch_size, device) for t in (data.text1, data.text2)
        )
        cos = torch.nn.functional.cosine_similarity(e1.float(), e2.float(), dim=-1)
    return cos.cpu().numpy().astype(np.float64)


def best_threshold(cosines: np.ndarray, labels: np.ndarray) -> float:
    """The threshold ``t`` (a midpoint between consecutive distinct cosines, or below/above all of them)
    that maximises the accuracy of ``cosine > t`` against the 0/1 ``labels``; ties: the smallest ``t``."""
    values = np.unique(cosines)
    candidates = np.concatenate([[values[0] - 1.0], (values[1:] + values[:-1]) / 2, [values[-1] + 1.0]])
    positive = labels.astype(bool)
    accuracy = [float(np.mean((cosines > t) == positive)) for t in candidates]
    return float(candidates[int(np.argmax(accuracy))])


def fit_line(cosines: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """(slope, intercept) of the least-squares line of ``scores`` on ``cosines``."""
    if np.ptp(cosines) == 0:
        return 0.0, float(np.mean(scores))
    slope, intercept = np.polyfit(cosines, scores, 1)
    return float(slope), float(intercept)


def fit(task: str, cosines: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """The map from cosine to prediction, fitted on the training split."""
    if np.isnan(labels).any():
        raise ValueError(f"{task} train split has unlabelled rows: cannot fit the zero-shot reading")
    if task == "para":
        return {"threshold": best_threshold(cosines, labels)}
    if task == "sts":
        slope, intercept = fit_line(cosines, labels)
        return {"slope": slope, "intercept": intercept}
    raise ValueError(f"no zero-shot reading of task {task!r} (only para and sts)")


def apply(task: str, cosines: np.ndarray, fitted: Mapping[str, float]) -> np.ndarray:
    """Predictions (0/1 for para, 0-5-scale scores for sts) from cosines and the fitted map."""
    if task == "para":
        return (cosines > fitted["threshold"]).astype(np.int64)
    return fitted["slope"] * cosines + fitted["intercept"]
