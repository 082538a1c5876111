"""Tokenization for a full table: our cache (each file tokenized once) vs tokenizing inside every job.

The jobs and the token files each reads come from Snakemake's own plan of the table (``snakemake -n``,
Beyond BERT's Table 2 by default). Ours: one ``tokens`` job per distinct file (load the tokenizer, read the
normalised CSV, tokenize every row, save the cache), then every job loads its cache files (and takes its
training subset). The reference: every job loads the tokenizer, reads each CSV it needs, takes its subset
and tokenizes those rows itself (truncated to the maximum length). Examples are rows delivered to jobs.

    python benchmarks/tokenize_cache_vs_per_job.py --table table2
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter

import common


def planned_jobs(ws: common.Workspace, table: str) -> list[tuple[str, list[tuple[str, str]]]]:
    """(rule, [(task, split), ...]) of every planned job that reads token files."""
    config = [f"scale={ws.scale}"]
    if ws.scale != "smoke":
        config.append(f"data_mirror={ws.args.mirror}")
    command = [sys.executable, "-m", "snakemake", f"results/tables/{table}.csv", "-n", "--config", *config]
    text = subprocess.run(command, cwd=common.ROOT, capture_output=True, text=True, check=True).stdout
    jobs = []
    for block in re.split(r"\n(?=\s*(?:local)?rule \w+:)", text):  # group jobs list their rules indented
        rule = re.match(r"\s*(?:local)?rule (\w+):", block)
        inputs = re.search(r"^\s+input: (.*)$", block, re.M)
        if rule and inputs:
            files = re.findall(r"results/[^/]+/tokens/[^/]+/(\w+)-(\w+)\.pt", inputs.group(1))
            if files:
                jobs.append((rule.group(1), files))
    return jobs


def main() -> None:
    p = common.parser(__doc__.splitlines()[0], steps=1, warmup=0, rounds=2)
    p.add_argument("--table", default="table2")
    args = p.parse_args()
    common.set_threads(args.threads, args.clock)
    ws = common.workspace(args)

    from pipeline.data.batching import TaskData
    from pipeline.data.readers import read_normalised
    from pipeline.data.tokens import build_cache, save_cache
    from pipeline.tasks import get_task

    jobs = planned_jobs(ws, args.table)
    files = sorted({f for _, fs in jobs for f in fs})
    reads = Counter(f for _, fs in jobs for f in fs)
    print(
        f"{args.table}: {len(jobs)} jobs read token files ({dict(Counter(r for r, _ in jobs))}); "
        f"{len(files)} distinct files, {sum(reads.values())} file reads by jobs"
    )
    csvs = {f: ws.csv(*f) for f in files}
    subsets = ws.config["scales"][ws.scale].get("train_subset", {})
    seed = ws.config["defaults"]["seed"]
    max_length = ws.settings().max_length
    out = ws.work / "cache-arm"

    def ours() -> tuple[int, float]:
        shutil.rmtree(out, ignore_errors=True)
        start, rows = common.now(), 0
        for task, split in files:  # the tokens jobs
            tokenizer = ws.tokenizer()
            save_cache(
                build_cache(tokenizer, read_normalised(csvs[task, split], task), task),
                out / f"{task}-{split}.pt",
            )
        for _, needs in jobs:  # every job reads its caches
            for task, split in needs:
                data = TaskData.from_cache(out / f"{task}-{split}.pt")
                rows += len(data.subset(subsets.get(task), seed) if split == "train" else data)
        return rows, common.now() - start

    def reference() -> tuple[int, float]:
        start, rows = common.now(), 0
        for _, needs in jobs:
            tokenizer = ws.tokenizer()
            for task, split in needs:
                frame = read_normalised(csvs[task, split], task)
                n = subsets.get(task) if split == "train" else None
                if n and n < len(frame):  # the job's training subset, drawn before tokenizing
                    frame = frame.sample(n=n, random_state=seed)
                columns = [frame[c].astype(str).tolist() for c in get_task(task).text_columns]
                if len(frame):
                    tokenizer(*columns, truncation=True, max_length=max_length)
                rows += len(frame)
        return rows, common.now() - start

    rates = common.interleave({"cache": ours, "per-job": reference}, args.rounds)
    label = f"tokenization for {args.table}: cache once vs per job ({len(files)} files, {len(jobs)} jobs)"
    print(common.ratio_line(label, rates["cache"], rates["per-job"]))


if __name__ == "__main__":
    main()
