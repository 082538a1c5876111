"""Rule table: reproduced values beside the paper's, one row per paper row."""

import html
import json

from pipeline.io import write_text_atomic
from pipeline.jobs import start
from pipeline.tables import DEFAULT_COLUMNS, build_table, write_table

TABLE_CSS = (
    "body{font-family:sans-serif;font-size:14px} table{border-collapse:collapse}"
    " th,td{padding:4px 8px;border-bottom:1px solid #ccc;text-align:right} td:first-child{text-align:left}"
)

log = start(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
table = sm.params.table
metrics = {model: json.loads(open(path).read()) for model, path in sm.input.items()}
frame = build_table(
    table["rows"], metrics, columns=tuple(table.get("columns", DEFAULT_COLUMNS)), scale=sm.params.scale
)
caption = (
    f"{table.get('paper', '')} {table.get('number', '')}: {table['caption']} "
    f"Reproduced on the {table['split']} split "
    f"at {sm.params.scale} scale (encoder {sm.params.encoder}, data: {sm.params.data})."
)
write_table(frame, caption, sm.output.csv, sm.output.md)
# The same table as a web page, for `snakemake --report` (which shows HTML inline, not CSV).
page = (
    f"<!DOCTYPE html><html><head><meta charset='utf-8'><style>{TABLE_CSS}</style></head><body>"
    f"<p>{html.escape(caption)}</p>"
    f"{frame.to_html(index=False, na_rep='', float_format='{:.3f}'.format, border=0)}</body></html>\n"
)
write_text_atomic(page, sm.output.html)
log(f"wrote {sm.output.csv}")
