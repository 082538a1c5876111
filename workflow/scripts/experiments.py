"""Rule experiments: every experiment with its paper, its changes from the defaults and what uses it."""

from pipeline.io import write_csv_atomic, write_text_atomic
from pipeline.jobs import start
from pipeline.workflow.experiments import experiments_frame, experiments_markdown

log = start(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
frame = experiments_frame(sm.config, sm.params.root)
write_csv_atomic(frame, sm.output.csv)
write_text_atomic(experiments_markdown(frame), sm.output.md)
log(f"{len(frame)} experiments")
