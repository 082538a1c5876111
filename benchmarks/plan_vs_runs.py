"""The cost plan against the runs it projected: the projected training time (the plan's rule,
:class:`pipeline.workflow.costs.JobCosts`) beside each finished run's measured time (run.json: the optimiser
steps and end-of-epoch evaluations, the part the plan projects; ``train_cpu_seconds`` for a CPU run, whose
wall time on a shared machine counts other users' work, else ``train_seconds``), and the share of runs
within +-30%.

    python benchmarks/plan_vs_runs.py --target table2 --config scale=quick data_mirror=../shared/data/cs224n

Reads the runs under ``results/{scale}/models/``; runs not yet trained are listed as missing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from pipeline.workflow.costs import JobCosts  # noqa: E402
from pipeline.workflow.inputs import run_files  # noqa: E402
from pipeline.workflow.sources import data_version  # noqa: E402
from pipeline.workflow.validation import load_config  # noqa: E402

TOLERANCE = 0.30


def compare(root: Path, target: str, overrides: dict) -> tuple[list[dict], list[str]]:
    config = load_config(root, **overrides)
    costs = JobCosts.of(config, data_version(config))
    rows, missing = [], []
    for name, (run_json, _) in run_files(config, target).items():
        path = root / run_json
        if not path.exists():
            missing.append(name)
            continue
        run = json.loads(path.read_text())
        # on a CPU the process's CPU seconds (other users of a shared machine do not count, as in
        # calibrate.py's constants); on a GPU the wall seconds
        on_cpu = str(run.get("device", "cpu")).startswith("cpu") and "train_cpu_seconds" in run
        measured = float(run["train_cpu_seconds"] if on_cpu else run["train_seconds"])
        projected = costs.hours("finetune", name) * 3600
        rows.append(
            {
                "run": name,
                "steps": costs.cost("finetune", name)["steps"],
                "projected_s": projected,
                "measured_s": measured,
                "ratio": projected / measured,
            }
        )
    return rows, missing


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--root", default=".", type=Path)
    parser.add_argument("--target", default="table2")
    parser.add_argument("--config", nargs="*", default=[], help="KEY=VALUE as snakemake --config")
    args = parser.parse_args()
    overrides = dict(item.split("=", 1) for item in args.config)
    rows, missing = compare(args.root, args.target, overrides)
    print("| run | steps | projected s | measured s | projected / measured |")
    print("|---|---|---|---|---|")
    for r in rows:
        cells = (r["run"], r["steps"], f"{r['projected_s']:.1f}", f"{r['measured_s']:.1f}")
        print("| " + " | ".join(map(str, cells)) + f" | {r['ratio']:.2f} |")
    within = sum(abs(r["ratio"] - 1) <= TOLERANCE for r in rows)
    print(f"\n{within} of {len(rows)} runs within +-{TOLERANCE:.0%} of the projection", end="")
    print(f"; {len(missing)} not trained yet: {', '.join(missing)}" if missing else "")


if __name__ == "__main__":
    main()
