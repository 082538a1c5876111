"""Rule build_encoder: a randomly initialised BERT with a WordPiece vocabulary of the training text."""

from pipeline.data.readers import read_normalised
from pipeline.jobs import start
from pipeline.model.encoders import build_random_encoder
from pipeline.tasks import get_task

log = start(snakemake)  # noqa: F821
texts = []
for path in snakemake.input:  # noqa: F821
    task = get_task(path.rsplit("/", 1)[-1].rsplit("-", 1)[0])
    frame = read_normalised(path, task.name)
    for column in task.text_columns:
        texts += frame[column].tolist()
build_random_encoder(snakemake.output[0], texts, snakemake.params.spec)  # noqa: F821
log(f"built {snakemake.output[0]} from {len(texts)} sentences")  # noqa: F821
