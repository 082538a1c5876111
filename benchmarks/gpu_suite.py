"""Everything the project needs to know about a GPU, measured in one command within a time budget.

    python benchmarks/gpu_suite.py --minutes 8                 # on a CUDA machine, no network needed
    python benchmarks/gpu_suite.py --tiny            # every section on the CPU, tiny shapes, < 1 min

Writes ``{out}/gpu_suite.json`` (every number, each section's status, errors with their traceback) and
``{out}/gpu_suite.md`` (one table to paste back), after every section, so a run cut short keeps what it
measured. Sections (each time-boxed; an error or overrun is recorded and the next section runs):

* ``device``: GPU, compute capability, memory, driver, torch/CUDA/cuDNN, the precision training uses;
* ``matmul``: dense matmul TFLOP/s in bf16, fp16, fp32 and TF32;
* ``mfu``: model FLOP utilisation of a bert-base-shaped BERT (``BertConfig`` default sizes, random weights,
  no download) at batch 32 x length 128, forward + backward + fused AdamW, bf16, through our step;
* ``steps``: our training step at batch 8 for SST (one sentence), Siamese and cross-encoded paraphrase
  (``pipeline.training.finetune.train_step``, the project's model and losses, length-grouped batches shaped
  like the CS224N files), and MNRL pre-training (``pipeline.training.pretrain.mnrl_step``);
* ``syncs``: host synchronisations per training step (``torch.cuda.set_sync_debug_mode``; on the CPU the
  Python-level reads a GPU would wait for);
* ``predict``: prediction throughput (``pipeline.evaluation.predict.predict_task``), SST and Siamese pairs;
* ``memory``: peak ``torch.cuda.max_memory_allocated`` of full, LoRA, DoRA and rsLoRA fine-tuning at the
  second study's settings (``papers/comparing-methods.yaml``: batch 32, rank 8 on every linear layer);
* ``finetune_run``: a short fine-tuning run through the workflow's own ``train()`` at paper settings
  (``require_cuda``, precision ``auto`` = bf16, a mid-epoch checkpoint, progress lines) on generated data;
* ``trainer``: our step vs ``transformers.Trainer`` at batch 8 and 32 (examples per second, interleaved);
* ``constants``: config.yaml's ``devices`` entry (peak_tflops per precision, utilisation, step_overhead_s),
  in the format of ``benchmarks/calibrate.py``;
* ``compile``: eager vs ``torch.compile`` step time (``compile: true``: CUDA graphs over the batch shapes).

``--tiny`` runs each section on the CPU with a tiny random BERT: what needs CUDA (bf16 autocast,
``max_memory_allocated``, CUDA graphs) falls back to its CPU counterpart or is recorded as skipped, and
``compile`` uses the ``aot_eager`` backend (inductor takes minutes on a small CPU).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime
import gc
import json
import math
import os
import platform
import shutil
import signal
import statistics
import sys
import time
import traceback
import warnings
from pathlib import Path

import common
import torch

from pipeline.reporting.plan import SENTENCE_TOKENS  # mean tokens per sentence of the CS224N files

ROOT = common.ROOT
#: BertConfig's default sizes (bert-base), random weights.
BERT_BASE = dict(vocab_size=30522, hidden=768, layers=12, heads=12, intermediate=3072, max_position=512)
TINY_BERT = dict(vocab_size=300, hidden=32, layers=1, heads=2, intermediate=64, max_position=64)
PAPER = {  # the experiments whose settings a section uses (papers/comparing-methods.yaml, paper scale)
    "sst": "methods-sst-full",
    "siamese": "methods-para-siamese-full",
    "cross": "methods-para-cross-full",
    "memory": ("methods-sst-full", "methods-sst-lora", "methods-sst-dora", "methods-sst-rslora"),
    "run": "methods-multi-sst-sts-para",
}
#: Each section's share of the time budget, in the order they run (compile last: it may overrun).
SHARES = {
    "device": 0.01,
    "matmul": 0.05,
    "mfu": 0.07,
    "steps": 0.09,
    "syncs": 0.03,
    "predict": 0.04,
    "memory": 0.10,
    "finetune_run": 0.15,
    "trainer": 0.13,
    "constants": 0.09,
    "compile": 0.24,
}


@dataclasses.dataclass
class Sizes:
    encoder: dict
    mfu: tuple[int, int]  # batch, length
    matmul: int
    rows: int  # synthetic examples per task
    steps: int  # timed steps (at most; a section's budget may cut them short)
    warmup: int
    memory_steps: int
    run_rows: dict
    lengths: tuple[int, int]  # calibration: length, and the two batch sizes below
    batches: tuple[int, int]


FULL = Sizes(BERT_BASE, (32, 128), 8192, 2048, 30, 3, 4, {"train": 1500, "dev": 300}, (128, 0), (8, 32))
TINY = Sizes(TINY_BERT, (4, 16), 256, 64, 3, 1, 2, {"train": 48, "dev": 24}, (16, 0), (4, 8))


class SectionTimeout(Exception):
    pass


def _alarm(signum, frame):
    raise SectionTimeout("the section ran past its hard limit")


class Suite:
    def __init__(self, args: argparse.Namespace):
        self.args, self.tiny = args, args.tiny
        self.sizes = TINY if args.tiny else FULL
        self.started = time.perf_counter()
        self.total = args.minutes * 60.0
        self.device = torch.device("cuda" if torch.cuda.is_available() and not args.tiny else "cpu")
        self.cuda = self.device.type == "cuda"
        from pipeline.model.device import choose_precision

        self.precision = choose_precision("auto", self.device)
        self.out = Path(args.out)
        self.work = Path(args.work or self.out / "gpu_suite_work")
        self.work.mkdir(parents=True, exist_ok=True)
        self.results: dict = {
            "meta": {
                "command": "python benchmarks/gpu_suite.py " + " ".join(sys.argv[1:]),
                "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
                "minutes": args.minutes,
                "tiny": args.tiny,
                "host": platform.node(),
            },
            "sections": {},
        }
        self.config = common.load_config()
        self._encoder: str | None = None
        self.deadline = 0.0

    # -- time ---------------------------------------------------------------------------------------------
    def left(self) -> float:
        """Seconds left of the whole budget."""
        return self.total - (time.perf_counter() - self.started)

    def section_left(self) -> float:
        return self.deadline - time.perf_counter()

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def clock(self) -> float:
        self.sync()
        return time.perf_counter()

    # -- inputs -------------------------------------------------------------------------------------------
    def encoder(self) -> str:
        """A BERT folder with random weights (bert-base's shape, or the tiny one), made once."""
        if self._encoder is None:
            from transformers import BertConfig, BertModel

            spec = self.sizes.encoder
            path = self.work / ("bert-tiny-random" if self.tiny else "bert-base-random")
            if not (path / "config.json").exists():
                torch.manual_seed(0)
                config = BertConfig(
                    vocab_size=spec["vocab_size"],
                    hidden_size=spec["hidden"],
                    num_hidden_layers=spec["layers"],
                    num_attention_heads=spec["heads"],
                    intermediate_size=spec["intermediate"],
                    max_position_embeddings=spec["max_position"],
                )
                BertModel(config).save_pretrained(path)
            self._encoder = str(path)
        return self._encoder

    def settings(self, name: str, **changes):
        """The resolved paper-scale settings of experiment ``name`` (``changes`` replaced)."""
        from pipeline.config import resolve_experiment
        from pipeline.settings import Experiment

        config = {**self.config, "scale": "paper"}
        settings = Experiment.from_dict(resolve_experiment(config, name))
        if self.tiny:
            changes = {"max_length": self.sizes.encoder["max_position"], **changes}
        return dataclasses.replace(settings, **changes)

    def synthetic(self, task: str, rows: int | None = None, seed: int = 0):
        """``rows`` examples of ``task`` with random token ids and lengths spread around the CS224N files'
        mean (x0.5 to x1.5), so that batches pad as the real ones do."""
        from pipeline.data.batching import Ragged, TaskData
        from pipeline.tasks import get_task

        rows = rows or self.sizes.rows
        vocab = self.sizes.encoder["vocab_size"]
        gen = torch.Generator().manual_seed(seed)
        scale = 0.5 if self.tiny else 1.0

        def side(mean: float) -> Ragged:
            n = ((torch.rand(rows, generator=gen) + 0.5) * mean * scale).round().long().clamp(min=3) - 2
            flat = torch.randint(110 if vocab > 200 else 5, vocab, (int(n.sum()),), generator=gen)
            return Ragged(flat, torch.cumsum(n, 0) - n, n)

        means = SENTENCE_TOKENS[task]
        text1 = side(means[0])
        text2 = side(means[1]) if len(means) > 1 else None
        labels = {
            "sst": lambda: torch.randint(0, 5, (rows,), generator=gen).float(),
            "para": lambda: torch.randint(0, 2, (rows,), generator=gen).float(),
            "sts": lambda: torch.rand(rows, generator=gen) * 5,
        }[task]()
        return TaskData(
            get_task(task), [f"{task}{i}" for i in range(rows)], text1, text2, labels, 101, 102, 0
        )

    def plan(self, data, settings) -> list:
        """(task, index) of one epoch, length-grouped as training groups them."""
        from pipeline.training.finetune import training_plan

        args = dict(
            method="round-robin",
            sizes={data.task.name: len(data)},
            batch_size=settings.batch_size,
            epochs=1,
            seed=settings.seed,
        )
        return training_plan({data.task.name: data}, settings, 1, args)

    def model(self, settings):
        from pipeline.training.finetune import build_model, make_optimizer

        model = build_model(settings, self.encoder(), local_files_only=True).to(self.device).train()
        optimizer = make_optimizer(model, settings)
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
        return model, optimizer, scheduler

    def timed_steps(self, settings, data, steps=None, warmup=None, model=None, plan=None):
        """Our training steps on length-grouped batches of ``data`` (or the batches ``plan``): (seconds per
        step, examples per second, steps timed). Batches are cut and copied inside the timing, as in the
        training loop; ``model``: (model, optimizer, scheduler) to train (default: a new one)."""
        from pipeline.evaluation.predict import to_device
        from pipeline.training.finetune import train_step

        model, optimizer, scheduler = model or self.model(settings)
        pair = "cross" if settings.pair_mode == "cross" else "siamese"
        plan = plan or self.plan(data, settings)
        steps = steps or self.sizes.steps
        warmup = self.sizes.warmup if warmup is None else warmup
        budget = max(self.section_left() / 4, 1.0)

        def step(k: int) -> int:
            task, index = plan[k % len(plan)]
            batch = to_device(data.batch(index, settings.max_length, pair), self.device)
            train_step(model, optimizer, scheduler, task, batch, self.device, self.precision)
            return len(index)

        for k in range(warmup):
            step(k)
        start, examples, done = self.clock(), 0, 0
        while done < steps and (done < 2 or time.perf_counter() - start < budget):
            examples += step(warmup + done)
            done += 1
        seconds = self.clock() - start
        return seconds / done, examples / seconds, done

    def free(self) -> None:
        gc.collect()
        if self.cuda:
            torch.cuda.empty_cache()

    # -- running ------------------------------------------------------------------------------------------
    def run(self, sections: dict) -> None:
        names = [n for n in SHARES if n in sections]
        for i, name in enumerate(names):
            remaining_share = sum(SHARES[n] for n in names[i:])
            budget = max(self.left(), 0.0) * SHARES[name] / remaining_share
            record: dict = {"budget_s": round(budget, 1)}
            if self.left() < (5 if self.tiny else 10):
                record.update(status="skipped: out of time")
                self.results["sections"][name] = record
                self.write()
                continue
            self.deadline = time.perf_counter() + budget
            hard = budget * 2 + (15 if self.tiny else 60)
            previous = signal.signal(signal.SIGALRM, _alarm)
            signal.setitimer(signal.ITIMER_REAL, hard)
            t0 = time.perf_counter()
            print(f"[gpu_suite] {name} (budget {budget:.0f} s) ...", flush=True)
            try:
                record["result"] = sections[name](self)
                record["status"] = "ok"
            except SectionTimeout as error:
                record.update(status="error", error=f"{error} ({hard:.0f} s)")
            except Exception as error:  # one section's failure must not lose the others
                record.update(
                    status="error",
                    error=f"{type(error).__name__}: {error}"[:2000],
                    traceback=traceback.format_exc()[-4000:],
                )
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                signal.signal(signal.SIGALRM, previous)
            record["seconds"] = round(time.perf_counter() - t0, 1)
            if isinstance(record.get("result"), dict) and record["result"].get("skipped"):
                record["status"] = "skipped: " + record["result"]["skipped"]
            print(f"[gpu_suite] {name}: {record['status']} in {record['seconds']} s", flush=True)
            self.results["sections"][name] = record
            self.free()
            self.write()
        self.results["meta"]["seconds"] = round(time.perf_counter() - self.started, 1)
        self.write()

    def write(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        for path, text in (
            (self.out / "gpu_suite.json", json.dumps(self.results, indent=2, default=str)),
            (self.out / "gpu_suite.md", markdown(self.results)),
        ):
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(text)
            os.replace(tmp, path)


# -- sections --------------------------------------------------------------------------------------------
def section_device(s: Suite) -> dict:
    import transformers

    from pipeline.model.device import device_record, native_bf16

    out = {
        **device_record(s.device, s.precision),
        "bf16_native": native_bf16(s.device),
        "transformers": transformers.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
    }
    if s.cuda:
        props = torch.cuda.get_device_properties(s.device)
        out.update(multiprocessors=props.multi_processor_count, devices=torch.cuda.device_count())
    return out


def matmul_tflops(s: Suite, dtype: torch.dtype, n: int, seconds: float, tf32: bool = False) -> float:
    """Best TFLOP/s of an n x n x n product over ``seconds``."""
    before = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = tf32
    try:
        a = torch.randn(n, n, device=s.device, dtype=dtype)
        b = torch.randn(n, n, device=s.device, dtype=dtype)
        torch.mm(a, b)
        best, end = math.inf, time.perf_counter() + seconds
        while time.perf_counter() < end or best == math.inf:
            start = s.clock()
            for _ in range(4):
                torch.mm(a, b)
            best = min(best, (s.clock() - start) / 4)
        return round(2 * n**3 / best / 1e12, 4)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = before


def section_matmul(s: Suite) -> dict:
    n = s.sizes.matmul
    kinds = [("bf16", torch.bfloat16, False), ("fp32", torch.float32, False)]
    if s.cuda:
        kinds += [("fp16", torch.float16, False), ("tf32", torch.float32, True)]
    each = max(s.section_left() / (len(kinds) + 1), 0.2)
    out = {f"{name}_tflops": matmul_tflops(s, dtype, n, each, tf32) for name, dtype, tf32 in kinds}
    out["size"] = n
    if not s.cuda:
        out["note"] = "CPU: fp32 and bf16 (emulated or AMX) at one size; no fp16/TF32"
    return out


def section_mfu(s: Suite) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    from pipeline.data.batching import Ragged, TaskData
    from pipeline.evaluation.predict import to_device
    from pipeline.model.device import autocast
    from pipeline.tasks import get_task
    from pipeline.training.finetune import train_step

    batch, length = s.sizes.mfu
    settings = s.settings(PAPER["sst"], batch_size=batch, max_length=length)
    model, optimizer, scheduler = s.model(settings)
    vocab = s.sizes.encoder["vocab_size"]
    text = Ragged(  # fixed shape: every sentence fills the length
        torch.randint(110 if vocab > 200 else 5, vocab, (batch * (length - 2),)),
        torch.arange(batch) * (length - 2),
        torch.full((batch,), length - 2),
    )
    data = TaskData(
        get_task("sst"), [str(i) for i in range(batch)], text, None, torch.zeros(batch), 101, 102, 0
    )
    inputs = to_device(data.batch(torch.arange(batch), length), s.device)
    with FlopCounterMode(display=False) as counter:
        with autocast(s.device, s.precision):
            loss = model.loss("sst", inputs)
        loss.backward()
    optimizer.zero_grad(set_to_none=True)
    flops = counter.get_total_flops()
    for _ in range(s.sizes.warmup):
        train_step(model, optimizer, scheduler, "sst", inputs, s.device, s.precision)
    start, done = s.clock(), 0
    while done < s.sizes.steps and (done < 2 or time.perf_counter() - start < s.section_left() * 0.6):
        train_step(model, optimizer, scheduler, "sst", inputs, s.device, s.precision)
        done += 1
    seconds = (s.clock() - start) / done
    matmul = s.results["sections"].get("matmul", {}).get("result", {})
    peak_key = "bf16_tflops" if s.precision in ("bf16", "fp16") else "fp32_tflops"
    peak = matmul.get(peak_key) or matmul_tflops(s, torch.bfloat16 if s.cuda else torch.float32, 1024, 1.0)
    achieved = flops / seconds / 1e12
    spec = s.sizes.encoder
    return {
        "shape": f"{spec['layers']} layers x {spec['hidden']}, batch {batch} x {length}",
        "precision": s.precision,
        "gflop_per_step": round(flops / 1e9, 4),
        "step_ms": round(seconds * 1e3, 2),
        "achieved_tflops": round(achieved, 3),
        "peak_tflops_measured": peak,
        "mfu_vs_measured_peak": round(achieved / peak, 3),
        "steps": done,
    }


def section_steps(s: Suite) -> dict:
    out = {}
    for label, name, task in (
        ("sst", PAPER["sst"], "sst"),
        ("para_siamese", PAPER["siamese"], "para"),
        ("para_cross", PAPER["cross"], "para"),
    ):
        settings = s.settings(name, batch_size=8)
        seconds, rate, done = s.timed_steps(settings, s.synthetic(task))
        out[label] = {"step_ms": round(seconds * 1e3, 2), "examples_per_s": round(rate, 1), "steps": done}
        s.free()
    out["mnrl"] = mnrl_steps(s)
    out["batch_size"] = 8
    out["precision"] = s.precision
    return out


def mnrl_setup(s: Suite):
    from pipeline.config import resolve_pretrain
    from pipeline.settings import MnrlStage
    from pipeline.training.pretrain import mnrl_embedder, positive_pairs

    config = {**s.config, "scale": "paper"}
    settings = MnrlStage.from_dict(resolve_pretrain(config, "mnrladddata3"))
    if s.tiny:
        settings = dataclasses.replace(settings, batch_size=8, max_length=s.sizes.encoder["max_position"])
    data = {"para": s.synthetic("para"), "sts": s.synthetic("sts")}
    pairs = positive_pairs(data, settings.sts_min)
    embedder = mnrl_embedder(settings, s.encoder(), {"local_files_only": True}).to(s.device).train()
    optimizer = torch.optim.AdamW(embedder.parameters(), lr=settings.lr, fused=True)
    return settings, pairs, embedder, optimizer


def mnrl_steps(s: Suite) -> dict:
    from pipeline.training.pretrain import mnrl_step

    settings, pairs, embedder, optimizer = mnrl_setup(s)
    batches = torch.randperm(len(pairs), generator=torch.Generator().manual_seed(0)).split(
        settings.batch_size
    )
    batches = [b for b in batches if len(b) == settings.batch_size]
    for k in range(s.sizes.warmup):
        mnrl_step(embedder, optimizer, pairs, batches[k % len(batches)], settings, s.device, s.precision)
    start, done = s.clock(), 0
    while done < s.sizes.steps and (done < 2 or time.perf_counter() - start < s.section_left() / 2):
        mnrl_step(embedder, optimizer, pairs, batches[done % len(batches)], settings, s.device, s.precision)
        done += 1
    seconds = (s.clock() - start) / done
    return {
        "batch_size": settings.batch_size,
        "step_ms": round(seconds * 1e3, 2),
        "pairs_per_s": round(settings.batch_size / seconds, 1),
        "steps": done,
    }


class HostReads(torch.overrides.TorchFunctionMode):
    """Counts Python-level reads of tensor values (what makes a GPU step wait), as tests/test_host_sync.py."""

    READS = {
        torch.Tensor.item,
        torch.Tensor.__bool__,
        torch.Tensor.__float__,
        torch.Tensor.__int__,
        torch.Tensor.tolist,
        torch.Tensor.cpu,
        torch.Tensor.numpy,
    }

    def __init__(self):
        super().__init__()
        self.count = 0

    def __torch_function__(self, func, types, args=(), kwargs=None):
        self.count += func in self.READS
        return func(*args, **(kwargs or {}))


@contextlib.contextmanager
def count_syncs(s: Suite):
    """Yields a list that ends up holding the synchronisations seen (CUDA: the sync debug mode's warnings;
    CPU: the host reads of :class:`HostReads`)."""
    seen: list[str] = []
    if s.cuda:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            try:
                yield seen
                torch.cuda.set_sync_debug_mode("default")
            finally:
                torch.cuda.set_sync_debug_mode("default")
        seen.extend(str(w.message)[:200] for w in caught if "synchron" in str(w.message).lower())
    else:
        with HostReads() as reads:
            yield seen
        seen.extend(["host read"] * reads.count)


def section_syncs(s: Suite) -> dict:
    """Synchronisations inside 3 training steps (after warm-up), the batch already on the device."""
    from pipeline.evaluation.predict import to_device
    from pipeline.training.finetune import train_step
    from pipeline.training.pretrain import mnrl_step

    out: dict = {"how": "cuda sync debug mode" if s.cuda else "CPU: Python-level host reads (no CUDA)"}
    for label, name, task in (
        ("sst", PAPER["sst"], "sst"),
        ("para_siamese", PAPER["siamese"], "para"),
        ("para_cross", PAPER["cross"], "para"),
    ):
        settings = s.settings(name, batch_size=8)
        model, optimizer, scheduler = s.model(settings)
        data = s.synthetic(task, 64)
        pair = "cross" if settings.pair_mode == "cross" else "siamese"
        batches = [
            to_device(data.batch(torch.arange(k * 8, k * 8 + 8), settings.max_length, pair), s.device)
            for k in range(5)
        ]
        for batch in batches[:2]:
            train_step(model, optimizer, scheduler, task, batch, s.device, s.precision)
        s.sync()
        with count_syncs(s) as seen:
            for batch in batches[2:]:
                train_step(model, optimizer, scheduler, task, batch, s.device, s.precision)
        out[label] = {"syncs_per_step": round(len(seen) / 3, 2), "examples": sorted(set(seen))[:3]}
        s.free()
    settings, pairs, embedder, optimizer = mnrl_setup(s)
    index = torch.arange(settings.batch_size)
    mnrl_step(embedder, optimizer, pairs, index, settings, s.device, s.precision)
    s.sync()
    with count_syncs(s) as seen:  # includes cutting the batch on the host (host reads there are free)
        mnrl_step(embedder, optimizer, pairs, index, settings, s.device, s.precision)
    out["mnrl"] = {"syncs_per_step": len(seen), "examples": sorted(set(seen))[:3]}
    if not s.cuda:
        out["mnrl"]["note"] = "CPU count includes host reads of host tensors when cutting the batch"
    return out


def section_predict(s: Suite) -> dict:
    from pipeline.evaluation.predict import predict_task

    out = {}
    for label, name, task in (("sst", PAPER["sst"], "sst"), ("para_siamese", PAPER["siamese"], "para")):
        settings = s.settings(name)
        model, _, _ = s.model(settings)
        rows = s.sizes.rows
        data = s.synthetic(task, rows, seed=1)
        predict_task(model, s.synthetic(task, min(rows, 256), seed=2), settings.max_length,
                     settings.eval_batch_size, s.device, s.precision)  # fmt: skip
        start = s.clock()
        predict_task(model, data, settings.max_length, settings.eval_batch_size, s.device, s.precision)
        seconds = s.clock() - start
        out[label] = {"examples_per_s": round(rows / seconds, 1), "examples": rows}
        out["eval_batch_size"] = settings.eval_batch_size
        s.free()
    return out


def section_memory(s: Suite) -> dict:
    from pipeline.model.device import peak_memory
    from pipeline.model.tuning import count_parameters

    out: dict = {}
    for name in PAPER["memory"]:
        settings = s.settings(name)
        if s.cuda:
            s.free()
            torch.cuda.reset_peak_memory_stats(s.device)
        model = s.model(settings)
        trainable, total = count_parameters(model[0])
        seconds, rate, done = s.timed_steps(settings, s.synthetic("sst"), s.sizes.memory_steps, 1, model)
        memory, kind = peak_memory(s.device)
        out[settings.tuning] = {
            "experiment": name,
            "peak_memory_mb": round(memory / 2**20, 1) if s.cuda else None,
            "cpu_peak_rss_mb": None if s.cuda else round(memory / 2**20, 1),
            "step_ms": round(seconds * 1e3, 2),
            "trainable_parameters": trainable,
            "total_parameters": total,
        }
        del model
        s.free()
    lora = s.settings(PAPER["memory"][1]).lora
    out["settings"] = {
        "batch_size": s.settings(PAPER["memory"][0]).batch_size,
        "lora": f"rank {lora.rank}, alpha {lora.alpha}, targets {lora.targets}",
        "data": "SST-shaped synthetic batches (CS224N mean lengths), length-grouped",
        "measured": "torch.cuda.max_memory_allocated" if s.cuda else "skipped: no CUDA (CPU peak RSS only)",
    }
    return out


def section_finetune_run(s: Suite) -> dict:
    """The workflow's own train() at paper settings on generated data, as a finetune job runs it."""
    from transformers import BertTokenizer

    from pipeline.data.batching import TaskData
    from pipeline.data.generate import generate_task
    from pipeline.data.tokens import build_cache, save_cache
    from pipeline.model.device import pick_device
    from pipeline.model.encoders import wordpiece_vocab
    from pipeline.settings import RunControl
    from pipeline.training.finetune import train

    device = s.device if s.tiny else pick_device(require_cuda=True, where="gpu_suite finetune_run")
    settings = s.settings(PAPER["run"], epochs=1)
    folder = s.work / "finetune_run"
    shutil.rmtree(folder, ignore_errors=True)  # a previous suite's checkpoint would be resumed
    frames = {
        (t, split): generate_task(t, split, n, seed=0)
        for t in settings.tasks
        for split, n in s.sizes.run_rows.items()
    }
    texts = [x for f in frames.values() for c in f.columns if c.startswith("sentence") for x in f[c]]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text(
        "\n".join(wordpiece_vocab(texts, min(2000, s.sizes.encoder["vocab_size"]))) + "\n"
    )
    tokenizer = BertTokenizer(vocab=str(folder / "vocab.txt"))
    data: dict = {"train": {}, "dev": {}}
    for (task, split), frame in frames.items():
        path = folder / f"{task}-{split}.pt"
        save_cache(build_cache(tokenizer, frame, task), path)
        data[split][task] = TaskData.from_cache(path)
    steps = sum(math.ceil(len(d) / settings.batch_size) for d in data["train"].values())  # upper bound
    control = RunControl(
        checkpoint_every_steps=steps // 2 + 1,  # one mid-epoch checkpoint (and the epoch end's)
        checkpoint_every_minutes=0.0,
        log_every_steps=max(1, steps // 12),
        resume_other_code=False,
        compile=False,
    )
    lines: list[str] = []

    def log(line: str) -> None:
        lines.append(line)
        print(f"  | {line}", flush=True)

    outputs = {k: str(folder / f"{k}.out") for k in ("model", "history", "run")}
    start = time.perf_counter()
    run = train(
        settings,
        data["train"],
        data["dev"],
        s.encoder(),
        outputs,
        str(folder / "checkpoints"),
        device,
        log,
        {"local_files_only": True},
        control=control,
    )
    seconds = time.perf_counter() - start
    progress = [line for line in lines if line.startswith("progress:")]
    checkpoints = [line for line in lines if line.startswith("checkpoint:")]
    if not progress or not checkpoints:
        raise AssertionError(f"no progress or checkpoint line in the log: {lines[:5]}")
    return {
        "experiment": PAPER["run"],
        "tasks": list(settings.tasks),
        "batch_size": settings.batch_size,
        "max_length": settings.max_length,
        "precision": run["precision"],
        "train_rows": s.sizes.run_rows["train"],
        "seconds": round(seconds, 1),
        "train_seconds": round(run["train_seconds"], 1),
        "peak_memory_mb": round(run["peak_memory_bytes"] / 2**20, 1),
        "peak_memory_kind": run["peak_memory_kind"],
        "best_dev_overall": run["best_dev_overall"],
        "progress_line": progress[-1],
        "checkpoint_lines": checkpoints,
        "log_lines": len(lines),
        "device_record": run["device_record"],
    }


def section_trainer(s: Suite) -> dict:
    """Our step vs transformers.Trainer (its defaults, bf16 on CUDA) on the same SST examples and model."""
    from transformers import Trainer, TrainingArguments

    out: dict = {}
    data = s.synthetic("sst")
    for batch_size in s.sizes.batches:
        settings = s.settings(PAPER["sst"], batch_size=batch_size)
        examples = [
            {
                "input_ids": data.batch([i], settings.max_length)["inputs"]["input_ids"][0],
                "labels": int(data.labels[i]),
            }
            for i in range(len(data))
        ]

        def collate(rows):
            ids = torch.nn.utils.rnn.pad_sequence([r["input_ids"] for r in rows], batch_first=True)
            return {
                "input_ids": ids,
                "attention_mask": (ids != 0).long(),
                "labels": torch.tensor([r["labels"] for r in rows]),
            }

        class Adapter(torch.nn.Module):
            def __init__(self, model):
                super().__init__()
                self.model = model

            def forward(self, input_ids, attention_mask, labels):
                batch = {
                    "inputs": {"input_ids": input_ids, "attention_mask": attention_mask},
                    "labels": labels,
                }
                return {"loss": self.model.loss("sst", batch)}

        steps, warmup = s.sizes.steps, s.sizes.warmup
        ns = argparse.Namespace(warmup=warmup, steps=steps)
        rates: dict = {"ours": [], "trainer": []}
        rounds = 1 if s.tiny else 2
        for _ in range(rounds):
            _, rate, _ = s.timed_steps(settings, data, steps, warmup)
            rates["ours"].append(rate)
            s.free()
            model, _, _ = s.model(settings)
            timer = SyncedStepTimer(s, warmup)
            arguments = common.hf_args(TrainingArguments, ns, s.work / "trainer", settings, batch_size)
            trainer = Trainer(
                model=Adapter(model),
                args=arguments,
                train_dataset=examples,
                data_collator=collate,
                callbacks=[timer.callback],
            )
            trainer.train()
            rates["trainer"].append(steps * batch_size / timer.seconds)
            del trainer, model
            s.free()
        ratio = statistics.median(o / t for o, t in zip(rates["ours"], rates["trainer"], strict=True))
        out[f"batch_{batch_size}"] = {
            "ours_examples_per_s": round(statistics.median(rates["ours"]), 1),
            "trainer_examples_per_s": round(statistics.median(rates["trainer"]), 1),
            "ours_over_trainer": round(ratio, 3),
            "rounds": rounds,
            "steps": steps,
        }
    out["note"] = (
        "Trainer: its defaults (adamw_torch_fused, grad clipping 1.0), a padding collator, bf16 on CUDA"
    )
    return out


def section_constants(s: Suite) -> dict:
    """config.yaml's devices entry, as benchmarks/calibrate.py fits it (bert-base shape, length 128)."""
    import calibrate
    from transformers import BertConfig, BertModel

    from pipeline.reporting.plan import EncoderShape, forward_flops_per_token

    spec = s.sizes.encoder
    length = s.sizes.lengths[0]
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(s.precision, torch.float32)
    matmul = s.results["sections"].get("matmul", {}).get("result", {})
    peaks = {
        k.removesuffix("_tflops"): v
        for k, v in matmul.items()
        if k.endswith("_tflops") and k != "tf32_tflops"
    }
    if s.precision not in peaks:
        peaks[s.precision] = matmul_tflops(s, dtype, s.sizes.matmul, 2.0)
    config = BertConfig(
        vocab_size=max(spec["vocab_size"], 2000),  # calibrate draws ids 1000-1999
        hidden_size=spec["hidden"],
        num_hidden_layers=spec["layers"],
        num_attention_heads=spec["heads"],
        intermediate_size=spec["intermediate"],
        max_position_embeddings=spec["max_position"],
        attn_implementation="sdpa",
    )
    torch.manual_seed(0)
    model = BertModel(config, add_pooling_layer=False).to(s.device)
    head = torch.nn.Linear(spec["hidden"], 5).to(s.device)
    optimizer = torch.optim.AdamW([*model.parameters(), *head.parameters()], lr=1e-5, fused=True)
    shape = EncoderShape(spec["layers"], spec["hidden"], spec["intermediate"])
    points = []
    for batch in s.sizes.batches:
        seconds = calibrate.step_seconds(
            model, head, optimizer, batch, length, s.sizes.steps // 3 + 2, s.device, dtype
        )
        flops = 3 * forward_flops_per_token(shape, length) * batch * length
        points.append((flops, seconds))
    (f1, t1), (f2, t2) = points
    per_flop = max((t2 - t1) / (f2 - f1), 1e-18)
    overhead = max(t1 - f1 * per_flop, 0.0)
    peak = peaks[s.precision] * 1e12
    name = s.args.device_name or (
        torch.cuda.get_device_name().lower().replace("nvidia ", "").replace(" ", "-") if s.cuda else "cpu"
    )
    entry = {
        name: {
            "peak_tflops": {k: round(v, 4 if v < 1 else 1) for k, v in sorted(peaks.items())},
            "utilisation": round(min(1.0, 1 / per_flop / peak), 3),
            "step_overhead_s": round(overhead, 4),
            "status": f"measured {datetime.date.today()} ({s.precision}, {spec['layers']} layers x "
            f"{spec['hidden']}, length {length}): "
            f"python benchmarks/gpu_suite.py{' --tiny' if s.tiny else ''}",
        }
    }
    return {
        "devices_entry": entry,
        "points": [
            {"batch": b, "flops": f, "seconds": round(t, 5)}
            for b, (f, t) in zip(s.sizes.batches, points, strict=True)
        ],
        "clock": "wall, synchronised" if s.cuda else "process CPU time (calibrate.clock)",
    }


def section_compile(s: Suite) -> dict:
    """Eager vs compiled steps (SST, batch 8, paper settings) on the same length-grouped batches: the
    first passes over the batches compile (one graph per shape, CUDA graphs with ``reduce-overhead``), then
    both are timed on the same batches."""
    from pipeline.training.compiled import compile_encoder

    setting = "aot_eager" if s.tiny else True
    settings = s.settings(PAPER["sst"], batch_size=8)
    data = s.synthetic("sst")
    shapes = 2 if s.tiny else 8
    plan = s.plan(data, settings)[:shapes]
    out: dict = {"batches": len(plan)}
    for arm in ("eager", "compiled"):
        model = s.model(settings)
        if arm == "compiled":
            out["compile"] = compile_encoder(model[0], setting, s.device)
            if s.tiny:
                out["note"] = "CPU: aot_eager backend (graph capture and AOTAutograd; no inductor code)"
        warmup = len(plan) * (2 if arm == "compiled" else 1)  # compiled: each shape compiles, then records
        start = s.clock()
        seconds, _, done = s.timed_steps(settings, data, len(plan), warmup, model, plan)
        warm = s.clock() - start - seconds * done
        out[arm] = {"step_ms": round(seconds * 1e3, 2), "steps": done, "warmup_s": round(warm, 1)}
        del model
        s.free()
    out["speedup"] = round(out["eager"]["step_ms"] / out["compiled"]["step_ms"], 3)
    out["siamese"] = compiled_check(s, setting, "siamese")  # two encoder calls before one backward
    if s.section_left() > (5 if s.tiny else 60):
        out["predict"] = compiled_check(s, setting, "predict")  # eval mode, no gradients: another graph
    return out


def compiled_check(s: Suite, setting, what: str) -> dict:
    """Whether the compiled encoder also trains a Siamese pair (both sentences encoded before the backward
    pass, which CUDA graphs must not overwrite) or predicts (eval mode, inference): ok or the error."""
    from pipeline.evaluation.predict import predict_task
    from pipeline.training.compiled import compile_encoder

    try:
        start = time.perf_counter()
        if what == "siamese":
            settings = s.settings(PAPER["siamese"], batch_size=8)
            model = s.model(settings)
            compile_encoder(model[0], setting, s.device)
            data = s.synthetic("para")
            plan = s.plan(data, settings)[:2]
            seconds, _, done = s.timed_steps(settings, data, 2, 4, model, plan)
        else:
            settings = s.settings(PAPER["sst"])
            model, _, _ = s.model(settings)
            compile_encoder(model, setting, s.device)
            data = s.synthetic("sst", 256, seed=3)
            for _ in range(2):
                predict_task(
                    model, data, settings.max_length, settings.eval_batch_size, s.device, s.precision
                )
        return {"status": "ok", "seconds": round(time.perf_counter() - start, 1)}
    except Exception as error:
        return {"status": "error", "error": f"{type(error).__name__}: {error}"[:1000]}
    finally:
        s.free()


class SyncedStepTimer:
    """A Trainer callback timing the steps after the first ``warmup`` ones, the device synchronised at both
    ends (the Trainer queues its GPU work as our loop does: without it the last steps would not count)."""

    def __init__(self, suite: Suite, warmup: int):
        from transformers import TrainerCallback

        timer = self

        class Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                if state.global_step == warmup:
                    timer.start = suite.clock()

            def on_train_end(self, args, state, control, **kwargs):
                timer.end = suite.clock()

        self.callback = Callback()
        self.start = self.end = None

    @property
    def seconds(self) -> float:
        return self.end - self.start


SECTIONS = {
    "device": section_device,
    "matmul": section_matmul,
    "mfu": section_mfu,
    "steps": section_steps,
    "syncs": section_syncs,
    "predict": section_predict,
    "memory": section_memory,
    "finetune_run": section_finetune_run,
    "trainer": section_trainer,
    "constants": section_constants,
    "compile": section_compile,
}


# -- the report ------------------------------------------------------------------------------------------
def _flat(prefix: str, value, rows: list) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flat(f"{prefix}.{k}" if prefix else str(k), v, rows)
    elif isinstance(value, list):
        rows.append((prefix, "; ".join(map(str, value))[:300]))
    else:
        rows.append((prefix, str(value)[:300]))


def markdown(results: dict) -> str:
    meta = results["meta"]
    lines = [
        f"# GPU suite: {meta['date']}",
        "",
        f"`{meta['command']}` ({meta.get('seconds', '?')} s of a {meta['minutes']}-minute budget)",
        "",
        "| section | status | s | measurement | value |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name, record in results["sections"].items():
        rows: list = []
        _flat("", record.get("result", {}), rows)
        if "error" in record:
            rows.append(("error", record["error"].replace("\n", " ")[:300]))
        if not rows:
            rows = [("", "")]
        for i, (key, value) in enumerate(rows):
            head = (name, record["status"], str(record.get("seconds", ""))) if i == 0 else ("", "", "")
            cells = [*head, key, value.replace("|", "\\|")]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=8.0, help="time budget of the whole suite")
    p.add_argument("--tiny", action="store_true", help="every section on the CPU with tiny shapes (< 1 min)")
    p.add_argument(
        "--out", default=str(ROOT / "results" / "benchmarks"), help="folder of gpu_suite.{json,md}"
    )
    p.add_argument("--work", default=None, help="scratch folder (default: OUT/gpu_suite_work)")
    p.add_argument("--device-name", default=None, help="the devices entry's name (default: from the GPU)")
    p.add_argument("--only", nargs="*", choices=list(SECTIONS), help="run these sections only")
    p.add_argument("--threads", type=int, default=None, help="torch threads (default: 1 with --tiny)")
    args = p.parse_args()
    if args.tiny and args.minutes == 8.0:
        args.minutes = 1.0
    threads = args.threads or (1 if args.tiny else torch.get_num_threads())
    common.set_threads(threads, "wall")
    suite = Suite(args)
    sections = {k: v for k, v in SECTIONS.items() if not args.only or k in args.only}
    suite.run(sections)
    print(markdown(suite.results))
    entry = suite.results["sections"].get("constants", {}).get("result", {}).get("devices_entry")
    if entry:
        print("config.yaml devices entry (as benchmarks/calibrate.py prints it):")
        print(json.dumps(entry, indent=2))
    print(f"wrote {suite.out / 'gpu_suite.json'} and {suite.out / 'gpu_suite.md'}")


if __name__ == "__main__":
    main()
