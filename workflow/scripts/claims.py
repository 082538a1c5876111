"""Rule claims: every declared finding with its verdict over seeds (claims.md, .csv, .html, figure)."""

import json

from pipeline.config import BUILTIN_MODELS
from pipeline.io import write_text_atomic
from pipeline.jobs import start
from pipeline.reporting.claims import (
    HELPERS,
    claims_figure,
    claims_frame,
    gather_scores,
    not_learned_runs,
    run_facts,
    run_values,
    summary,
    write_claims,
)
from pipeline.reporting.methods_tables import load_run
from pipeline.reporting.tables import table_html

log = start(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
per_seed, settings = {}, {}  # settings: each model's seed-0 run, as its metrics file records it
facts = {}  # each trained model's seed 0: did it learn, where were its costs measured
hardware, threads = set(), set()  # where the cost findings' runs ran
for model, entries in sm.params.files.items():
    values = []
    for entry in entries:
        metrics = {}
        for split in ("dev", "test"):
            if split in entry:
                with open(entry[split]) as handle:
                    metrics[split] = json.load(handle)
        run = load_run(entry["run"], entry["history"]) if "run" in entry else None
        if run:
            hardware.add(str(run["run"].get("hardware", "not recorded")))
            threads.add(str(run["run"].get("threads", "?")))
        values.append(run_values(metrics, run))
        settings.setdefault(model, next((m.get("settings") for m in metrics.values()), None))
        if model not in BUILTIN_MODELS:  # the baselines do not train: nothing to learn
            facts.setdefault(model, run_facts(metrics, run))
    per_seed[model] = values
frame = claims_frame(sm.params.claims, gather_scores(per_seed), settings, facts)
caption = (
    f"Scale {sm.params.scale}, encoder {sm.params.encoder}; data: {sm.params.data}. "
    "Settings the papers leave open: docs/fidelity.md."
)
if hardware:
    caption += (
        " Costs and training scores come from the runs' run.json and history.csv (time: wall seconds summed"
        " over a run's attempts, run.json's wall_seconds; memory: CUDA peak on GPU, peak resident set on"
        " CPU); hardware: "
        f"{'; '.join(sorted(hardware))}, {'/'.join(sorted(threads))} thread(s) per job. Jobs that ran side by"
        " side shared the machine, so their times include that."
    )
lame = not_learned_runs(facts)
write_claims(
    frame,
    sm.output.csv,
    sm.output.md,
    scale=sm.params.scale,
    seeds=sm.params.seeds,
    caption=caption,
    not_learned=lame,
)
shown = frame.drop(columns=list(HELPERS))
html_caption = f"{caption} {summary(frame)} The verdict rule: the top of claims.md."
if lame:
    html_caption += " Runs that did not learn: " + "; ".join(entry.replace("`", "") for entry in lame) + "."
write_text_atomic(table_html(shown, html_caption), sm.output.html)
claims_figure(frame, sm.output.figure)
log(f"wrote {sm.output.md}: {summary(frame)}")
