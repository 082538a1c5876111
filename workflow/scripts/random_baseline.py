"""Rule random_baseline: random labels (fixed seed) in the prediction format."""

from pipeline.data.readers import read_normalised
from pipeline.evaluation.baselines import random_predictions
from pipeline.io import write_csv_atomic
from pipeline.jobs import start

log = start(snakemake)  # noqa: F821
task = snakemake.wildcards.task  # noqa: F821
frame = random_predictions(task, read_normalised(snakemake.input[0], task), snakemake.params.seed)  # noqa: F821
write_csv_atomic(frame, snakemake.output[0])  # noqa: F821
log(f"wrote {snakemake.output[0]}")  # noqa: F821
