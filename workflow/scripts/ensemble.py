"""Rule ensemble: combine the members' prediction files (majority vote / mean); no retraining."""

import json
from pathlib import Path

from pipeline.evaluation.ensemble import ensemble_files, select_members
from pipeline.io import write_csv_atomic, write_json_atomic
from pipeline.jobs import start

log = start(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
members = list(sm.params.members)
files = dict(zip(members, sm.input.predictions, strict=True))
record = {"candidates": members, "select_top": sm.params.select_top}
if sm.params.select_top:
    dev = {
        m: json.loads(Path(path).read_text())["overall"]
        for m, path in zip(members, sm.input.dev_metrics, strict=True)
    }
    members = select_members(dev, sm.params.select_top)
    record["dev_overall"] = dev
    log(f"best {sm.params.select_top} of {len(dev)} by dev overall: {members}")
record["members"] = members
write_csv_atomic(ensemble_files([files[m] for m in members], sm.params.tasks), sm.output.predictions)
log(f"wrote {sm.output.predictions} from {len(members)} members")
write_json_atomic(record, sm.output.members)
