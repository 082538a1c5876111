"""Rule methods_table: a table of the second study, scores and measured costs beside the paper's."""

import json

from pipeline.figures import confusion_counts
from pipeline.jobs import start
from pipeline.methods_tables import build_methods_table, caption, confusion_table, load_run
from pipeline.tables import write_table

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
else:
    metrics, runs, hardware = {}, {}, []
    for model, entry in files.items():
        metrics[model] = {s: read_json(entry[s]) for s in ("dev", "test") if s in entry}
        if "history" in entry:
            runs[model] = load_run(entry["run"], entry["history"], entry.get("benchmark"))
            hardware.append(runs[model]["run"]["hardware"])
        elif "run" in entry:
            hardware.append(read_json(entry["run"])["hardware"])
    frame = build_methods_table(
        table["rows"],
        table["columns"],
        metrics,
        runs,
        scale=sm.params.scale,
        overall_row=table.get("overall_row"),
    )
text = caption(
    table, scale=sm.params.scale, encoder=sm.params.encoder, data=sm.params.data, hardware=hardware
)
write_table(frame, text, sm.output.csv, sm.output.md, sm.output.html)
log(f"wrote {sm.output.csv}")
