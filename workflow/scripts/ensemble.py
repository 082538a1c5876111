"""Rule ensemble_*: combine the members' prediction files (majority vote / mean); no retraining."""

from pathlib import Path

from pipeline.ensemble import ensemble_task
from pipeline.io import write_csv_atomic
from pipeline.jobs import start

log = start(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
for out in sm.output:
    name = Path(out).name
    task = name.rsplit("-", 1)[0]
    members = [f"results/predictions/{m}/{name}" for m in sm.params.members]
    write_csv_atomic(ensemble_task(task, members), out)
    log(f"wrote {out} from {len(members)} members")
