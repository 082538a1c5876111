"""Rule tokens: tokenize one (task, split) once with the encoder's fast tokenizer."""

from pipeline.data.readers import read_normalised
from pipeline.data.tokens import build_cache, save_cache
from pipeline.jobs import start
from pipeline.model.encoders import load_tokenizer

log = start(snakemake)  # noqa: F821
enc = snakemake.params.encoder  # noqa: F821
tokenizer = load_tokenizer(enc["location"], **enc["load_kwargs"])
task = snakemake.wildcards.task  # noqa: F821
cache = build_cache(tokenizer, read_normalised(snakemake.input.data, task), task)  # noqa: F821
save_cache(cache, snakemake.output[0])  # noqa: F821
log(f"tokenized {len(cache['ids'])} rows of {snakemake.input.data} with {enc['name']}")  # noqa: F821
