"""Model FLOP utilisation of our fine-tuning step: its FLOPs per second over this machine's measured dense
matrix-multiply rate, both measured in the same run.

The step is ``pipeline.training.finetune.train_step`` (our model with an SST head, fused AdamW, bf16
autocast and SDPA
attention on CUDA) on batches cut from a token cache whose sentences all fill ``--length`` tokens, so every
step has the same shape. FLOPs of one step (forward and backward) are counted by
``torch.utils.flop_counter.FlopCounterMode``; the peak is the best rate of square ``torch.mm`` in the step's
precision (fp32 on CPU, bf16 on CUDA) with the same threads, measured before and after the steps. Reference
is the measured matmul rate: the last line prints MFU as ours/reference.

    python benchmarks/mfu.py                                             # quick encoder, batch 8, length 40
    python benchmarks/mfu.py --encoder bert-base --batch 32 --length 128   # GPU: bert-base shape, random
"""

from __future__ import annotations

import dataclasses

import common
import torch

BERT_BASE = dict(
    vocab_size=30522,
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    max_position_embeddings=512,
)


def matmul_rate(device: torch.device, dtype: torch.dtype, n: int, reps: int = 5) -> float:
    """Best FLOP/s of an n x n x n matrix product."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(reps):
        common.sync(device)
        start = common.now()
        for _ in range(4):
            torch.mm(a, b)
        common.sync(device)
        best = min(best, (common.now() - start) / 4)
    return 2 * n**3 / best


def main() -> None:
    p = common.parser(__doc__.splitlines()[0], steps=20, warmup=3, rounds=2)
    p.add_argument(
        "--encoder", choices=["scale", "bert-base"], default="scale", help="the scale's or bert-base"
    )
    p.add_argument("--batch", type=int, default=None, help="default: the scale's batch size")
    p.add_argument("--length", type=int, default=None, help="default: the scale's max length")
    p.add_argument("--matmul-size", type=int, default=None, help="default: 2048 on CPU, 8192 on CUDA")
    args = p.parse_args()
    common.set_threads(args.threads, args.clock)
    ws = common.workspace(args)

    from torch.utils.flop_counter import FlopCounterMode

    from pipeline.data.batching import Ragged, TaskData
    from pipeline.evaluation.predict import to_device
    from pipeline.model.device import autocast, choose_precision
    from pipeline.tasks import get_task
    from pipeline.training.finetune import build_model, make_optimizer, pick_device, train_step

    device = pick_device()
    precision = choose_precision("auto", device)
    encoder, load_kwargs = ws.encoder, ws.load_kwargs
    if args.encoder == "bert-base":
        from transformers import BertConfig, BertModel

        torch.manual_seed(0)
        encoder = str(ws.work / "bert-base-random")
        BertModel(BertConfig(**BERT_BASE)).save_pretrained(encoder)
    settings = ws.settings(tasks=["sst"])
    batch_size = args.batch or settings.batch_size
    length = args.length or settings.max_length
    settings = dataclasses.replace(settings, batch_size=batch_size, max_length=length)
    model = build_model(settings, encoder, **load_kwargs).to(device).train()
    vocab = model.encoder.config.vocab_size
    rows = batch_size * (args.warmup + args.steps)
    gen = torch.Generator().manual_seed(0)
    text = Ragged(
        torch.randint(1000 % vocab, vocab, (rows * (length - 2),), generator=gen),
        torch.arange(rows) * (length - 2),
        torch.full((rows,), length - 2),
    )
    data = TaskData(
        get_task("sst"), [str(i) for i in range(rows)], text, None, torch.zeros(rows), 101, 102, 0
    )
    batches = list(torch.arange(rows).split(batch_size))
    optimizer = make_optimizer(model, settings)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)

    with FlopCounterMode(display=False) as counter:
        with autocast(device, precision):
            loss = model.loss("sst", to_device(data.batch(batches[0], length), device))
        loss.backward()
    optimizer.zero_grad(set_to_none=True)
    step_flops = counter.get_total_flops()
    dtype = torch.bfloat16 if device.type == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    size = args.matmul_size or (8192 if device.type == "cuda" else 2048)
    if args.tiny:
        size = min(size, 256)

    def ours() -> tuple[float, float]:
        for step, index in enumerate(batches):
            if step == args.warmup:
                common.sync(device)
                start = common.now()
            train_step(
                model,
                optimizer,
                scheduler,
                "sst",
                to_device(data.batch(index, length), device),
                device,
                precision,
            )
        common.sync(device)
        return step_flops * args.steps, common.now() - start

    def peak() -> tuple[float, float]:
        return matmul_rate(device, dtype, size), 1.0

    name = torch.cuda.get_device_name() if device.type == "cuda" else "cpu"
    print(
        f"device {name}, {dtype}, batch {batch_size} x length {length}, "
        f"{sum(p.numel() for p in model.parameters()) / 1e6:.1f} M parameters, "
        f"{step_flops / 1e9:.2f} GFLOP per step (forward + backward)"
    )
    rates = common.interleave({"peak": peak, "ours": ours}, args.rounds, unit="FLOP")
    best_peak = max(rates["peak"])
    mfu = [r / best_peak for r in rates["ours"]]
    print(
        f"RATIO MFU of the training step: ours/reference = {max(mfu):.3f} "
        f"(step {max(rates['ours']) / 1e9:.1f} GFLOP/s, "
        f"measured {dtype} matmul peak {best_peak / 1e9:.1f} GFLOP/s; "
        f"best of {args.rounds} interleaved rounds, {torch.get_num_threads()} threads, "
        f"{common.clock_name()} clock)"
    )


if __name__ == "__main__":
    main()
