"""Rule methods_table: a table of the second study, scores and measured costs beside the paper's."""

import json

from pipeline.jobs import start
from pipeline.provenance import code_versions_note
from pipeline.reporting.figures import confusion_counts
from pipeline.reporting.methods_tables import build_methods_table, caption, confusion_table, load_run
from pipeline.reporting.tables import (
    NOT_LEARNED_NOTE,
    code_hashes,
    scale_of,
    scale_of_paths,
    write_table,
)

log = start(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
table, files = sm.params.table, sm.params.files


def read_json(path):
    with open(path) as handle:
        return json.load(handle)


if table["kind"] == "confusion":
    counts = confusion_counts(table["task"], files["predictions"], files["gold"])
    frame = confusion_table(counts, table.get("paper_counts"))
    hardware = [read_json(files["run"])["hardware"]] if "run" in files else []
    scale = scale_of_paths([files["predictions"], files["gold"]])
    code = [read_json(files["run"]).get("code_hash")] if "run" in files else []
else:
    metrics, runs, hardware = {}, {}, []
    for model, entry in files.items():
        metrics[model] = {s: read_json(entry[s]) for s in ("dev", "test") if s in entry}
        if "history" in entry:
            runs[model] = load_run(entry["run"], entry["history"])
            hardware.append(runs[model]["run"]["hardware"])
        elif "run" in entry:
            hardware.append(read_json(entry["run"])["hardware"])
    records = {f"{m}/{s}": rec for m, by_split in metrics.items() for s, rec in by_split.items()}
    if records:
        scale, code = scale_of(records), code_hashes(records)
    else:  # run columns only (e.g. a learning-rate sweep's loss and time): the runs' scale and code
        scale = scale_of_paths([path for entry in files.values() for path in entry.values()])
        trained = [r["run"] for r in runs.values()]
        code = sorted({h for run in trained for h in run.get("code_hashes") or [run.get("code_hash")] if h})
    frame = build_methods_table(
        table["rows"], table["columns"], metrics, runs, scale=scale, overall_row=table.get("overall_row")
    )
text = caption(
    table,
    scale=scale,
    encoder=sm.params.encoder,
    data=sm.params.data,
    hardware=hardware,
    code_note=code_versions_note(code),
)
if "not_learned" in frame.columns:
    text += " " + NOT_LEARNED_NOTE
write_table(frame, text, sm.output.csv, sm.output.md, sm.output.html)
log(f"wrote {sm.output.csv}")
