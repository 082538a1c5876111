"""MNRL pre-training throughput: our MNRL step vs sentence-transformers' MultipleNegativesRankingLoss.

The same encoder (the quick one: ours with mean pooling, as its sentence-transformers modules pool), the
same positive pairs (``pretrains.mnrladddata3`` at quick scale: Quora duplicates and STS pairs >= 4, the
scale's seeded pair subset), batch size, maximum length, learning rate, scale and number of steps. Ours:
``pipeline.training.pretrain.mnrl_step`` on batches cut from the token cache. The reference: the way its
docs train
(``SentenceTransformerTrainer`` on a ``datasets.Dataset`` of raw text pairs, ``MultipleNegativesRankingLoss``,
its default batch sampler and training arguments), tokenizing in its collator. Steps after ``--warmup`` are
timed in both arms.

    python benchmarks/mnrl_vs_sentence_transformers.py
"""

from __future__ import annotations

import common
import torch


def main() -> None:
    p = common.parser(__doc__.splitlines()[0], steps=40, warmup=3)
    p.add_argument("--pretrain", default="mnrladddata3")
    args = p.parse_args()
    common.set_threads(args.threads, args.clock)
    ws = common.workspace(args)

    from pipeline.config import resolve_pretrain
    from pipeline.settings import MnrlStage
    from pipeline.training.finetune import pick_device
    from pipeline.training.pretrain import mnrl_embedder, mnrl_step, positive_pairs

    device = pick_device()
    from pipeline.model.device import choose_precision

    precision = choose_precision("auto", device)
    cfg = dict(ws.config, scale=ws.scale)
    settings = MnrlStage.from_dict({**resolve_pretrain(cfg, args.pretrain), "pooling": "mean"})
    sources = settings.sources
    pairs = positive_pairs({t: ws.task_data(t, "train", subset=False) for t in sources}, settings.sts_min)
    texts1, texts2 = [], []
    for task in sources:
        frame = ws.frame(task, "train")
        keep = frame["label"] == 1 if task == "para" else frame["label"] >= settings.sts_min
        texts1 += frame.loc[keep, "sentence1"].astype(str).tolist()
        texts2 += frame.loc[keep, "sentence2"].astype(str).tolist()
    assert len(texts1) == len(pairs)
    keep = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(settings.seed))
    keep = keep[: settings.pair_subset or len(pairs)]
    pairs = pairs.take(keep)
    texts1, texts2 = [texts1[i] for i in keep.tolist()], [texts2[i] for i in keep.tolist()]
    batch_size = settings.batch_size
    total = args.warmup + args.steps
    if total * batch_size > len(pairs):
        raise SystemExit(
            f"{total} steps of {batch_size} need {total * batch_size} pairs; there are {len(pairs)}"
        )

    def ours() -> tuple[int, float]:
        embedder = mnrl_embedder(settings, ws.encoder, ws.load_kwargs).to(device).train()
        optimizer = torch.optim.AdamW(embedder.parameters(), lr=settings.lr, fused=True)
        order = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(settings.seed * 1000 + 1))
        examples, start = 0, None
        for step, index in enumerate(order.split(batch_size)[:total]):
            if step == args.warmup:
                common.sync(device)
                start, examples = common.now(), 0
            mnrl_step(embedder, optimizer, pairs, index, settings, device, precision)
            examples += len(index)
        common.sync(device)
        return examples, common.now() - start

    import datasets
    from sentence_transformers import (
        SentenceTransformer,
        SentenceTransformerTrainer,
        SentenceTransformerTrainingArguments,
    )
    from sentence_transformers.losses import MultipleNegativesRankingLoss

    dataset = datasets.Dataset.from_dict({"anchor": texts1, "positive": texts2})

    def reference() -> tuple[int, float]:
        model = SentenceTransformer(ws.encoder, device=str(device), local_files_only=True)
        model.max_seq_length = settings.max_length
        timer = common.StepTimer(args.warmup)
        training_args = common.hf_args(
            SentenceTransformerTrainingArguments, args, ws.work / "st", settings, batch_size
        )
        trainer = SentenceTransformerTrainer(
            model=model,
            args=training_args,
            train_dataset=dataset,
            loss=MultipleNegativesRankingLoss(model, scale=settings.scale),
            callbacks=[timer.callback],
        )
        trainer.train()
        return args.steps * batch_size, timer.seconds

    rates = common.interleave({"ours": ours, "sentence-transformers": reference}, args.rounds)
    label = f"MNRL {args.pretrain} vs sentence-transformers MultipleNegativesRankingLoss"
    print(common.ratio_line(label, rates["ours"], rates["sentence-transformers"]))


if __name__ == "__main__":
    main()
