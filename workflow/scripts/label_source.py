"""Rule label_source: one declared public label-source file, verified (sha256 where known) and cached."""

from pipeline.data.labels import fetch_label_source
from pipeline.jobs import start

log = start(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
path = fetch_label_source(sm.wildcards.name, sm.params.spec, sm.output[0])
log(f"fetched {path} from {sm.params.spec['url']}")
