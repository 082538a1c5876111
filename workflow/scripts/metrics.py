"""Rule metrics: scores of one model on one split, from its prediction files and the gold labels."""

from pipeline.io import package_versions, write_json_atomic
from pipeline.jobs import start
from pipeline.metrics import compute_metrics

log = start(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
files = dict(sm.input.items())
predictions = {key[5:]: path for key, path in files.items() if key.startswith("pred_")}
gold = {key[5:]: path for key, path in files.items() if key.startswith("data_")}
result = compute_metrics(sm.wildcards.model, sm.wildcards.split, predictions, gold)
result.update(settings=sm.params.settings, versions=package_versions())
write_json_atomic(result, sm.output[0])
log(f"{sm.wildcards.model} {sm.wildcards.split}: {result['scores']} overall {result['overall']}")
