"""Rule table: reproduced values beside the paper's, one row per paper row."""

import json

from pipeline.jobs import start
from pipeline.labels import agreement_text
from pipeline.tables import DEFAULT_COLUMNS, build_table, table_caption, write_table

log = start(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
table = sm.params.table
metrics = {model: json.loads(open(path).read()) for model, path in sm.input.items()}
frame = build_table(
    table["rows"], metrics, columns=tuple(table.get("columns", DEFAULT_COLUMNS)), scale=sm.params.scale
)
data = sm.params.data
for path in sm.params.test_labels:  # rebuilt test labels: where from, and their train/dev agreement
    data += "; " + agreement_text(json.loads(open(path).read()))
caption = table_caption(table, scale=sm.params.scale, encoder=sm.params.encoder, data=data)
write_table(frame, caption, sm.output.csv, sm.output.md, sm.output.html)
log(f"wrote {sm.output.csv}")
