"""Rule label_source: one declared public label-source file, verified (sha256 where known) and cached."""

from pipeline.jobs import start
from pipeline.labels import fetch_label_source

log = start(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
path = fetch_label_source(sm.wildcards.name, sm.params.spec, sm.output[0])
log(f"fetched {path} from {sm.params.spec['url']}")
