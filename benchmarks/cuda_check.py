"""CUDA check of the training code path: every tuning method trains and predicts on the GPU.

Builds smoke-scale data and a BERT encoder with random weights (``--encoder tiny`` or ``--encoder base``, the
latter with bert-base-uncased's shape), trains one short epoch of a three-task experiment per tuning method
with pipeline.training.finetune.train (bf16 autocast, fused AdamW, pinned copies), and prints time,
examples per second
and peak GPU memory per method. Needs no hub access.

    PYTHONPATH=src python benchmarks/cuda_check.py --encoder base --out /tmp/cuda_check
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
from pathlib import Path

import torch
import yaml

from pipeline.config import resolve_experiment
from pipeline.data.batching import TaskData
from pipeline.data.generate import generate_task
from pipeline.data.tokens import build_cache, save_cache
from pipeline.evaluation.predict import predict_task
from pipeline.model.device import choose_precision
from pipeline.model.encoders import build_random_encoder
from pipeline.model.export import load_trained
from pipeline.settings import Experiment, RunControl
from pipeline.training.finetune import train

ROOT = Path(__file__).resolve().parents[1]
# checkpoints at epoch ends only, no progress lines, no checkpoint of other code to resume
QUIET = RunControl(
    checkpoint_every_steps=0,
    checkpoint_every_minutes=0.0,
    log_every_steps=0,
    resume_other_code=False,
    compile=False,
)
SHAPES = {
    "tiny": {"vocab_size": 400, "hidden": 64, "layers": 2, "heads": 2, "intermediate": 128},
    "base": {"vocab_size": 30522, "hidden": 768, "layers": 12, "heads": 12, "intermediate": 3072},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoder", choices=SHAPES, default="tiny")
    parser.add_argument("--train-rows", type=int, default=2000)
    parser.add_argument("--out", default=tempfile.mkdtemp())
    args = parser.parse_args()
    device = torch.device("cuda")
    out = Path(args.out)
    frames = {
        (t, s): generate_task(t, s, args.train_rows if s == "train" else 300, seed=0)
        for t in ("sst", "para", "sts")
        for s in ("train", "dev")
    }
    texts = [x for (t, _), f in frames.items() for c in f.columns[1:-1] for x in f[c]]
    spec = {**SHAPES[args.encoder], "max_position": 512, "seed": 0}
    encoder = out / "encoder"
    build_random_encoder(encoder, texts, spec)
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(encoder)
    data = {}
    for (task, split), frame in frames.items():
        save_cache(build_cache(tokenizer, frame, task), out / f"{task}-{split}.pt")
        data[task, split] = TaskData.from_cache(out / f"{task}-{split}.pt")

    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["scale"] = "smoke"
    results = {}
    for method in ("full", "last-layer", "lora", "dora", "rslora"):
        cfg = copy.deepcopy(config)
        cfg["experiments"]["check"] = {
            "tuning": method,
            "batch_size": 32,
            "epochs": 20,  # x 0.05 at smoke scale = 1 epoch
            "lr": 2.0e-5,
            "lora": {"rank": 8, "alpha": 16, "targets": "all"},
        }
        settings = Experiment.from_dict({**resolve_experiment(cfg, "check"), "max_length": 128})
        torch.cuda.reset_peak_memory_stats()
        run = train(
            settings,
            {t: data[t, "train"] for t in ("sst", "para", "sts")},
            {t: data[t, "dev"] for t in ("sst", "para", "sts")},
            str(encoder),
            {k: str(out / method / k) for k in ("model", "history", "run")},  # model: the model folder
            str(out / "checkpoints" / method),
            device=device,
            load_kwargs={"local_files_only": True},
            control=QUIET,
        )

        model = load_trained(out / method / "model", local_files_only=True).to(device)
        values = predict_task(model, data["sts", "dev"], 128, 256, device, choose_precision("auto", device))
        assert torch.isfinite(torch.tensor(values)).all()
        results[method] = {
            "train_seconds": round(run["train_seconds"], 2),
            "peak_gib": round(run["peak_memory_bytes"] / 2**30, 3),
            "trainable": run["trainable_parameters"],
            "dev_overall": round(run["best_dev_overall"], 4),
        }
        print(method, json.dumps(results[method]), flush=True)
    print(json.dumps({"device": torch.cuda.get_device_name(), "encoder": args.encoder, "results": results}))


if __name__ == "__main__":
    main()
