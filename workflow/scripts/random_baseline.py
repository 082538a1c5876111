"""Rule random_baseline: random labels (fixed seed) for every task of one split, in the prediction format."""

from pipeline.data.readers import read_normalised
from pipeline.evaluation.baselines import random_predictions
from pipeline.evaluation.predictions import write_predictions
from pipeline.jobs import start

log = start(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
seed = sm.params.seed
frames = [random_predictions(task, read_normalised(sm.input[task], task), seed) for task in sm.params.tasks]
write_predictions(frames, sm.output[0])
log(f"wrote {sm.output[0]}")
