"""Rule fetch_encoder: a hub encoder at its pinned revision, only the files it needs, each checked."""

from pipeline.jobs import start
from pipeline.model.encoders import fetch_hub_encoder

log = start(snakemake, offline=False)  # noqa: F821  (the one job that may reach the hub)
manifest = fetch_hub_encoder(snakemake.output[0], snakemake.params.spec, log=log)  # noqa: F821
log(f"fetched {manifest['repo']}@{manifest['revision']}: {', '.join(manifest['files'])}")
