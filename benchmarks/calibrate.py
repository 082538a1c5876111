"""Measure this machine's constants for the cost plan (config.yaml ``devices``), in about a minute.

* ``peak_tflops``: the matrix-multiply rate of one large square matmul at the jobs' thread count and
  precision (fp32 on a CPU, bf16 on a GPU with it);
* ``utilisation`` and ``step_overhead_s``: training steps (forward, backward, fused AdamW) of a BERT encoder
  of the given shape (random weights: the FLOPs are the shape's) with a linear head, at two batch sizes;
  the time of a step is fitted as ``FLOPs / (peak * utilisation) + overhead`` through both points, with the
  FLOPs counted as the plan counts them (:func:`pipeline.reporting.plan.forward_flops_per_token` x 3).

Prints the ``devices`` entry to paste into config.yaml, marked measured with the date and this command.
Times are the process's CPU time on a CPU (other users of a shared machine do not count) and wall time
with synchronisation on CUDA.

    python benchmarks/calibrate.py --name cpu-2core --threads 1
    python benchmarks/calibrate.py --name h100-sxm --precision bf16   # on a GPU
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import time
from pathlib import Path

import torch
from transformers import BertConfig, BertModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from pipeline.reporting.plan import EncoderShape, forward_flops_per_token  # noqa: E402


def clock(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
        return time.perf_counter()
    return time.process_time()


def matmul_rate(device: torch.device, dtype: torch.dtype, n: int, seconds: float) -> float:
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    a @ b  # warm-up
    count, start = 0, clock(device)
    while clock(device) - start < seconds:
        a @ b
        count += 1
    return 2 * n**3 * count / (clock(device) - start)


def step_seconds(model, head, optimizer, batch: int, length: int, steps: int, device, dtype) -> float:
    ids = torch.randint(1000, 2000, (batch, length), device=device)
    labels = torch.randint(0, 5, (batch,), device=device)
    autocast = torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32)

    def step():
        with autocast:
            hidden = model(input_ids=ids).last_hidden_state.mean(dim=1)
            loss = torch.nn.functional.cross_entropy(head(hidden).float(), labels)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(2):
        step()
    start = clock(device)
    for _ in range(steps):
        step()
    return (clock(device) - start) / steps


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", required=True, help="the device's name in config.yaml's devices table")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default="fp32")
    p.add_argument("--layers", type=int, default=6)
    p.add_argument("--hidden", type=int, default=384)
    p.add_argument("--intermediate", type=int, default=1536)
    p.add_argument("--length", type=int, default=32, help="tokens per sequence of the timed steps")
    p.add_argument("--batches", type=int, nargs=2, default=[8, 32])
    p.add_argument("--steps", type=int, default=5)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dtype = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[args.precision]
    peak = matmul_rate(device, dtype, 1024 if device.type == "cpu" else 8192, 5.0)
    config = BertConfig(
        num_hidden_layers=args.layers,
        hidden_size=args.hidden,
        intermediate_size=args.intermediate,
        num_attention_heads=max(1, args.hidden // 64),
        attn_implementation="sdpa",
    )
    model = BertModel(config, add_pooling_layer=False).to(device)
    head = torch.nn.Linear(args.hidden, 5).to(device)
    optimizer = torch.optim.AdamW([*model.parameters(), *head.parameters()], lr=1e-5, fused=True)
    shape = EncoderShape(args.layers, args.hidden, args.intermediate)
    points = []
    for batch in args.batches:
        seconds = step_seconds(model, head, optimizer, batch, args.length, args.steps, device, dtype)
        flops = 3 * forward_flops_per_token(shape, args.length) * batch * args.length
        points.append((flops, seconds))
    (f1, t1), (f2, t2) = points
    per_flop = max((t2 - t1) / (f2 - f1), 1e-18)
    overhead = max(t1 - f1 * per_flop, 0.0)
    command = "python benchmarks/calibrate.py " + " ".join(sys.argv[1:])
    entry = {
        args.name: {
            "peak_tflops": {args.precision: round(peak / 1e12, 4)},
            "utilisation": round(min(1.0, 1 / per_flop / peak), 3),
            "step_overhead_s": round(overhead, 4),
            "status": f"measured {datetime.date.today()} on {torch.get_num_threads()} thread(s): {command}",
        }
    }
    print(json.dumps({"points": [{"flops": f, "seconds": round(t, 4)} for f, t in points]}))
    print(json.dumps(entry, indent=2))


if __name__ == "__main__":
    main()
