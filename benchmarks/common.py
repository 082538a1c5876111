"""Shared set-up of the side-by-side benchmarks: threads, data, encoder, settings, interleaved timing.

Every benchmark runs our code and the reference in one process, alternating them round by round (ours,
reference, ours, ...) so that a noisy machine slows both alike, and prints ``ours / reference`` in examples
per second on its last line: the median over rounds of each round's ratio.

``--tiny`` swaps the quick-scale inputs (the real CS224N files of the mirror, the MiniLM-L6 encoder) for
generated data and a tiny random BERT: seconds, for the test suite's check that each script runs.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")

import torch  # noqa: E402

TINY_ENCODER = {
    "vocab_size": 300,
    "hidden": 32,
    "layers": 1,
    "heads": 2,
    "intermediate": 64,
    "max_position": 64,
    "seed": 0,
}
TINY_ROWS = {"train": 64, "dev": 40, "test": 40}


def parser(description: str, steps: int = 40, warmup: int = 5, rounds: int = 3) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--tiny", action="store_true", help="generated data and a tiny random BERT (seconds)")
    p.add_argument("--threads", type=int, default=1, help="torch threads, the same in both arms")
    p.add_argument("--rounds", type=int, default=rounds, help="interleaved rounds of each arm")
    p.add_argument("--steps", type=int, default=steps, help="timed steps per round (default: %(default)s)")
    p.add_argument("--warmup", type=int, default=warmup, help="untimed steps before each round's timing")
    p.add_argument(
        "--clock",
        choices=["auto", "cpu", "wall"],
        default="auto",
        help="cpu: the process's CPU time (auto on CPU: other users of a shared machine do not count); "
        "wall: elapsed time (auto on CUDA)",
    )
    p.add_argument("--mirror", default=str(ROOT.parent / "shared" / "data" / "cs224n"))
    p.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    return p


_CLOCK = {"now": time.perf_counter, "name": "wall"}


def set_threads(threads: int, clock: str = "auto") -> None:
    """The same torch threads in both arms, and the clock both arms are timed with."""
    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(threads)
    if clock == "auto":
        clock = "wall" if torch.cuda.is_available() else "cpu"
    _CLOCK.update(now=time.process_time if clock == "cpu" else time.perf_counter, name=clock)


def clock_name() -> str:
    return _CLOCK["name"]


def now() -> float:
    """Seconds on the chosen clock (process CPU time or wall time)."""
    return _CLOCK["now"]()


def load_config() -> dict:
    """config.yaml with the papers merged in and the schema's defaults filled, as the workflow reads it."""
    from pipeline.workflow.validation import load_config as prepared

    return prepared(ROOT)


@dataclass
class Workspace:
    """Normalised data files, the encoder and its tokenizer, and settings of the active scale."""

    args: argparse.Namespace
    work: Path
    scale: str
    config: dict
    encoder: str  # folder for from_pretrained
    load_kwargs: dict = field(default_factory=lambda: {"local_files_only": True})

    def settings(self, **experiment):
        """Resolved settings of an experiment with the given keys, at the workspace's scale
        (a :class:`pipeline.settings.Experiment`)."""
        from pipeline.config import resolve_experiment
        from pipeline.settings import Experiment

        cfg = copy.deepcopy(self.config)
        cfg["scale"] = self.scale
        cfg["experiments"] = {"benchmark": experiment}
        return Experiment.from_dict(resolve_experiment(cfg, "benchmark"))

    def data_source(self) -> dict:
        data = self.config["scales"][self.scale]["data"]
        if data["source"] == "generated":
            return {"kind": "generated", "seed": data["seed"], "sizes": TINY_ROWS}
        return {"kind": "mirror", "path": self.args.mirror, "seed": data.get("seed", 0), **data}

    def csv(self, task: str, split: str) -> Path:
        """The normalised file of (task, split), as the ``data`` rule writes it (made once)."""
        from pipeline.data.sources import materialise

        path = self.work / "data" / f"{task}-{split}.csv"
        if not path.exists():
            source = {k: v for k, v in self.data_source().items() if k != "source"}
            materialise(task, split, source, path)
        return path

    def frame(self, task: str, split: str):
        from pipeline.data.readers import read_normalised

        return read_normalised(self.csv(task, split), task)

    def tokenizer(self):
        from pipeline.model.encoders import load_tokenizer

        return load_tokenizer(self.encoder, **self.load_kwargs)

    def cache(self, task: str, split: str) -> Path:
        """The token cache of (task, split), as the ``tokens`` rule writes it (made once)."""
        from pipeline.data.tokens import build_cache, save_cache

        path = self.work / "tokens" / f"{task}-{split}.pt"
        if not path.exists():
            save_cache(build_cache(self.tokenizer(), self.frame(task, split), task), path)
        return path

    def task_data(self, task: str, split: str, subset: bool = True):
        """:class:`pipeline.data.batching.TaskData` of (task, split), the training subset of the scale
        applied."""
        from pipeline.data.batching import TaskData

        data = TaskData.from_cache(self.cache(task, split))
        if subset and split == "train":
            n = self.config["scales"][self.scale].get("train_subset", {}).get(task)
            data = data.subset(n, self.config["defaults"]["seed"])
        return data


def workspace(args: argparse.Namespace) -> Workspace:
    """The quick scale (mirror files, MiniLM-L6) or, with ``--tiny``, generated data and a tiny BERT."""
    work = Path(args.work or tempfile.mkdtemp(prefix="bench-"))
    work.mkdir(parents=True, exist_ok=True)
    config = load_config()
    if not args.tiny:
        from pipeline.model.encoders import encoder_location

        name = config["scales"]["quick"]["encoder"]
        return Workspace(args, work, "quick", config, encoder_location(config["encoders"][name], name))
    from pipeline.data.generate import generate_task
    from pipeline.model.encoders import build_random_encoder

    encoder = work / "encoder"
    if not encoder.exists():
        texts = []
        for task in ("sst", "para", "sts"):
            frame = generate_task(task, "train", 300, seed=0)
            texts += [t for c in frame.columns if c.startswith("sentence") for t in frame[c]]
        build_random_encoder(encoder, texts, TINY_ENCODER)
    return Workspace(args, work, "smoke", config, str(encoder))


def interleave(arms: dict, rounds: int, unit: str = "examples") -> dict[str, list[float]]:
    """Run each arm once per round, in turn; an arm returns (amount of work, seconds), work counted in
    ``unit``. Returns the rate of every round, per arm."""
    rates: dict[str, list[float]] = {name: [] for name in arms}
    for r in range(1, rounds + 1):
        for name, arm in arms.items():
            examples, seconds = arm()
            rates[name].append(examples / seconds)
            print(
                f"round {r} {name}: {examples:.4g} {unit} in {seconds:.3f} s = "
                f"{rates[name][-1]:.4g} {unit}/s ({_CLOCK['name']} clock, {torch.get_num_threads()} threads)",
                flush=True,
            )
    return rates


def ratio_line(label: str, ours: list[float], reference: list[float]) -> str:
    """The last line of every benchmark: median over rounds of ours / reference (examples per second)."""
    ratio = statistics.median(o / r for o, r in zip(ours, reference, strict=True))
    return (
        f"RATIO {label}: ours/reference = {ratio:.3f} "
        f"(median ex/s: ours {statistics.median(ours):.2f}, reference {statistics.median(reference):.2f}; "
        f"{len(ours)} interleaved rounds, {torch.get_num_threads()} threads, {_CLOCK['name']} clock)"
    )


class StepTimer:
    """A ``transformers`` TrainerCallback that times the steps after the first ``warmup`` ones."""

    def __init__(self, warmup: int):
        from transformers import TrainerCallback

        timer = self

        class Callback(TrainerCallback):
            def on_step_begin(self, args, state, control, **kwargs):
                if state.global_step == warmup:
                    timer.start = now()

            def on_step_end(self, args, state, control, **kwargs):
                timer.end = now()

        self.callback = Callback()
        self.start = self.end = None

    @property
    def seconds(self) -> float:
        return self.end - self.start


def hf_args(cls, args: argparse.Namespace, out: Path, settings, batch_size: int, **extra):
    """Training arguments of the references: their defaults, but the same batch size, steps, learning rate,
    constant schedule and precision as ours, and no logging, saving or evaluation."""
    cuda = torch.cuda.is_available()
    return cls(
        output_dir=str(out),
        per_device_train_batch_size=batch_size,
        max_steps=args.warmup + args.steps,
        learning_rate=settings.lr,
        weight_decay=getattr(settings, "weight_decay", 0.0),  # an MNRL stage sets none
        lr_scheduler_type="constant",
        logging_strategy="no",
        save_strategy="no",
        eval_strategy="no",
        report_to="none",
        disable_tqdm=True,
        use_cpu=not cuda,
        bf16=cuda and torch.cuda.is_bf16_supported(),
        seed=settings.seed,
        **extra,
    )


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA runs asynchronously), so timings cover it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
