"""Rule data: one verified, normalised CSV per task and split."""

from pipeline.data.sources import materialise
from pipeline.jobs import start

log = start(snakemake)  # noqa: F821
wc = snakemake.wildcards  # noqa: F821
path = materialise(wc.task, wc.split, snakemake.params.source, snakemake.output[0])  # noqa: F821
log(f"wrote {path} from source {snakemake.params.source['kind']}")  # noqa: F821
