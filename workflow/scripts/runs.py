"""Rule runs: every fine-tuning run of the scale (or of one target) side by side (runs.csv, runs.md)."""

from pipeline.jobs import start
from pipeline.reporting.runs import read_runs, runs_frame, write_runs

log = start(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
runs = read_runs({name: sm.input[name] for name in sm.input.keys()})
frame = runs_frame(runs)
frame["data"] = sm.params.data  # every run of a scale reads that scale's data files
target = sm.wildcards.get("target", "all")
title = f"Runs, scale {sm.params.scale}" + ("" if target == "all" else f", {target}")
write_runs(frame, sm.output.csv, sm.output.md, title)
log(f"{len(frame)} runs")
