"""Rule ensemble_*: combine the members' prediction files (majority vote / mean); no retraining."""

import json
from pathlib import Path

from pipeline.evaluation.ensemble import ensemble_task, select_members
from pipeline.io import write_csv_atomic, write_json_atomic
from pipeline.jobs import start

log = start(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
members = list(sm.params.members)
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
for out in (path for path in sm.output if path.endswith(".csv")):
    name = Path(out).name
    task = name.rsplit("-", 1)[0]
    folder = Path(out).parent.parent  # {results}/{scale}/predictions: the members' folders are siblings
    write_csv_atomic(ensemble_task(task, [str(folder / m / name) for m in members]), out)
    log(f"wrote {out} from {len(members)} members")
write_json_atomic(record, sm.output.members)
