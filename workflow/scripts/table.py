"""Rule table: reproduced values beside the paper's, one row per paper row."""

import json

from pipeline.config import split_seed
from pipeline.data.labels import agreement_text
from pipeline.jobs import start
from pipeline.provenance import code_versions_note
from pipeline.reporting.tables import (
    DEFAULT_COLUMNS,
    NOT_LEARNED_NOTE,
    build_table,
    code_hashes,
    scale_of,
    table_caption,
    write_table,
)

log = start(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
table = sm.params.table
every = {model: json.loads(open(path).read()) for model, path in sm.input.items()}
metrics = {model: rec for model, rec in every.items() if split_seed(model)[1] == 0}
seeds = {}  # model -> metrics of seed 0, 1, ... (inputs hold other seeds only with --config table_seeds=true)
for name in sorted(every, key=lambda n: split_seed(n)[1]):
    seeds.setdefault(split_seed(name)[0], []).append(every[name])
scale = scale_of(every)  # read from the files shown, not from the command line
frame = build_table(
    table["rows"],
    metrics,
    columns=tuple(table.get("columns", DEFAULT_COLUMNS)),
    scale=scale,
    seed_metrics={m: runs for m, runs in seeds.items() if len(runs) > 1},
)
data = sm.params.data
for path in sm.params.test_labels:  # rebuilt test labels: where from, and their train/dev agreement
    data += "; " + agreement_text(json.loads(open(path).read()))
caption = table_caption(
    table,
    scale=scale,
    encoder=sm.params.encoder,
    data=data,
    code_note=code_versions_note(code_hashes(every)),
)
if "not_learned" in frame.columns:
    caption += " " + NOT_LEARNED_NOTE
write_table(frame, caption, sm.output.csv, sm.output.md, sm.output.html)
log(f"wrote {sm.output.csv}")
