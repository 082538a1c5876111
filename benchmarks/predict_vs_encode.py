"""Prediction throughput on sentence pairs (STS, paraphrase dev): ours vs SentenceTransformer.encode.

The same encoder (mean pooling), the same pairs, batch size (the scale's ``eval_batch_size``) and maximum
length. Ours: a prediction job's work, reading the token cache file and
``pipeline.evaluation.predict.predict_task``
(length-sorted batches) with a Siamese model (cosine STS head, summed-embedding paraphrase head). The
reference: ``SentenceTransformer.encode`` of each side's sentences (it tokenizes, and sorts by length),
then the cosine of each pair. Examples are pairs; each round predicts every pair of both dev sets once.

    python benchmarks/predict_vs_encode.py
"""

from __future__ import annotations

import common
import torch


def main() -> None:
    p = common.parser(__doc__.splitlines()[0], steps=1, warmup=0)
    args = p.parse_args()
    common.set_threads(args.threads, args.clock)
    ws = common.workspace(args)

    from pipeline.data.batching import TaskData
    from pipeline.evaluation.predict import predict_task
    from pipeline.training.finetune import build_model, pick_device

    device = pick_device()
    from pipeline.model.device import choose_precision

    precision = choose_precision("auto", device)
    tasks = ("sts", "para")
    settings = ws.settings(tasks=list(tasks), pooling="mean", pair_mode="sum", sts_head="cosine")
    batch_size, max_length = settings.eval_batch_size, settings.max_length
    caches = {t: ws.cache(t, "dev") for t in tasks}
    frames = {t: ws.frame(t, "dev") for t in tasks}
    model = build_model(settings, ws.encoder, **ws.load_kwargs).to(device).eval()

    def ours() -> tuple[int, float]:
        common.sync(device)
        start, examples = common.now(), 0
        for _ in range(args.steps):
            for task in tasks:
                data = TaskData.from_cache(caches[task])
                examples += len(predict_task(model, data, max_length, batch_size, device, precision))
        common.sync(device)
        return examples, common.now() - start

    from sentence_transformers import SentenceTransformer

    reference_model = SentenceTransformer(ws.encoder, device=str(device), local_files_only=True)
    reference_model.max_seq_length = max_length

    def reference() -> tuple[int, float]:
        common.sync(device)
        start, examples = common.now(), 0
        for _ in range(args.steps):
            for task in tasks:
                sides = [
                    reference_model.encode(
                        frames[task][c].astype(str).tolist(), batch_size=batch_size, convert_to_tensor=True
                    )
                    for c in ("sentence1", "sentence2")
                ]
                examples += len(torch.nn.functional.cosine_similarity(*sides))
        common.sync(device)
        return examples, common.now() - start

    rates = common.interleave({"ours": ours, "encode": reference}, args.rounds)
    print(
        common.ratio_line(
            "predict sts+para dev pairs vs SentenceTransformer.encode", rates["ours"], rates["encode"]
        )
    )


if __name__ == "__main__":
    main()
