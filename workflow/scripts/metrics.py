"""Rule metrics: scores of one model on one split, from its prediction file and the gold labels."""

import json
from pathlib import Path

from pipeline.evaluation.metrics import compute_metrics
from pipeline.io import package_versions, write_json_atomic
from pipeline.jobs import start
from pipeline.provenance import code_hash

log = start(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
gold = {task: sm.input[f"data_{task}"] for task in sm.params.tasks}
result = compute_metrics(sm.wildcards.model, sm.wildcards.split, sm.input.predictions, gold)
runs = [json.loads(Path(path).read_text()) for path in sm.input.runs]
result.update(
    settings=sm.params.settings,
    versions=package_versions(),
    scale=sm.config["scale"],
    code_hash=code_hash(),  # the code that scored the predictions
    trained_with_code=sorted(
        {h for run in runs for h in run.get("code_hashes") or [run.get("code_hash")] if h}
    ),
)
write_json_atomic(result, sm.output[0])
log(f"{sm.wildcards.model} {sm.wildcards.split}: {result['scores']} overall {result['overall']}")
