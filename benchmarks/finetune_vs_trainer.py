"""Fine-tuning throughput: our training step vs ``transformers.Trainer``, side by side in one process.

The same model (our multitask model on the quick encoder, an SST head, mean pooling), the same SST training
subset, batch size, maximum length, learning rate and number of steps. Ours: batches cut from the token
cache, grouped by length (``bucket_batches``), fused AdamW (``pipeline.training.finetune``). The Trainer:
the data
tokenized beforehand with ``datasets.map`` (truncated to the same maximum length), its default collator
(dynamic padding), its default optimizer and settings, sampling ``random`` (its default) or
``group_by_length`` (``--trainer-sampling``). Each round times one whole epoch of the training subset in
both arms (the Trainer's ``group_by_length`` puts the longest batches of each window of 50 first, so a part
of an epoch would not be comparable), after ``--warmup`` untimed steps (default 0: a fresh model each round,
the process already warm after the first).

    python benchmarks/finetune_vs_trainer.py                                     # vs the Trainer's default
    python benchmarks/finetune_vs_trainer.py --trainer-sampling group_by_length
"""

from __future__ import annotations

import common
import torch


def main() -> None:
    p = common.parser(__doc__.splitlines()[0], steps=None, warmup=0)
    p.add_argument("--trainer-sampling", choices=["random", "group_by_length"], default="random")
    p.add_argument("--task", default="sst", choices=["sst", "cfimdb"])
    args = p.parse_args()
    common.set_threads(args.threads, args.clock)
    ws = common.workspace(args)

    from pipeline.evaluation.predict import to_device
    from pipeline.training.finetune import build_model, make_optimizer, pick_device, train_step, training_plan

    device = pick_device()
    from pipeline.model.device import choose_precision

    precision = choose_precision("auto", device)  # bf16 on a GPU that has it, as the training jobs
    settings = ws.settings(tasks=[args.task], pooling="mean")
    batch_size, max_length = settings.batch_size, settings.max_length
    data = ws.task_data(args.task, "train")
    epoch = len(data) // batch_size  # full batches only: the same examples per step in both arms
    args.steps = min(args.steps or epoch, epoch - args.warmup)
    total = args.warmup + args.steps

    def ours() -> tuple[int, float]:
        model = build_model(settings, ws.encoder, **ws.load_kwargs).to(device).train()
        optimizer = make_optimizer(model, settings)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
        plan_args = dict(
            method="round-robin",
            sizes={args.task: len(data)},
            batch_size=batch_size,
            epochs=1,
            seed=settings.seed,
        )
        plan = training_plan({args.task: data}, settings, 1, plan_args)[:total]
        examples, start = 0, None
        for step, (task, index) in enumerate(plan):
            if step == args.warmup:
                common.sync(device)
                start, examples = common.now(), 0
            batch = to_device(data.batch(index, max_length), device)
            train_step(model, optimizer, scheduler, task, batch, device, precision)
            examples += len(index)
        common.sync(device)
        return examples, common.now() - start

    frame = ws.frame(args.task, "train")
    rows = frame.set_index("id").loc[data.ids].reset_index()  # the same subset as ours
    tokenizer = ws.tokenizer()
    import datasets
    from transformers import Trainer, TrainingArguments

    dataset = datasets.Dataset.from_dict(
        {"text": rows["sentence"].astype(str).tolist(), "labels": rows["label"].astype(int).tolist()}
    ).map(
        lambda b: tokenizer(b["text"], truncation=True, max_length=max_length),
        batched=True,
        remove_columns=["text"],
    )

    class Adapter(torch.nn.Module):
        """Our model behind the Trainer's interface: keyword tensors in, ``{"loss": ...}`` out."""

        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, labels, token_type_ids=None):
            inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                inputs["token_type_ids"] = token_type_ids
            return {"loss": self.model.loss(args.task, {"inputs": inputs, "labels": labels})}

    def reference() -> tuple[int, float]:
        model = Adapter(build_model(settings, ws.encoder, **ws.load_kwargs))
        timer = common.StepTimer(args.warmup)
        training_args = common.hf_args(
            TrainingArguments,
            args,
            ws.work / "trainer",
            settings,
            batch_size,
            train_sampling_strategy=args.trainer_sampling,
        )
        trainer = Trainer(
            model=model,
            args=training_args,
            train_dataset=dataset,
            processing_class=tokenizer,
            callbacks=[timer.callback],
        )
        trainer.train()
        return args.steps * batch_size, timer.seconds

    rates = common.interleave({"ours": ours, "trainer": reference}, args.rounds)
    label = f"finetune {args.task} vs Trainer ({args.trainer_sampling})"
    print(common.ratio_line(label, rates["ours"], rates["trainer"]))


if __name__ == "__main__":
    main()
