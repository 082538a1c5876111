"""Rule test_labels: a task's labelled test split rebuilt from public releases, after train/dev agreement."""

from pipeline.data.labels import agreement_text, write_test_split
from pipeline.jobs import start

log = start(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
sources = {name: path for name, path in sm.input.items()}
record = write_test_split(sm.wildcards.task, sm.params.source, sources, sm.output.csv, sm.output.provenance)
log(agreement_text(record))
