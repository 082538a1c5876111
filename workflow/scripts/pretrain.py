"""Rule pretrain: MNRL training of the encoder's sentence embeddings."""

from pipeline.batching import TaskData
from pipeline.jobs import start
from pipeline.pretrain import pretrain
from pipeline.train import CHECKPOINT_EVERY_STEPS, pick_device

log = start(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
data = {task: TaskData.from_cache(sm.input[task]) for task in sm.params.settings["sources"]}
pretrain(
    sm.params.settings,
    data,
    sm.params.encoder["location"],
    sm.output[0],
    sm.params.checkpoints,
    pick_device(),
    log=log,
    load_kwargs=sm.params.encoder["load_kwargs"],
    checkpoint_every_steps=sm.config.get("checkpoint_every_steps", CHECKPOINT_EVERY_STEPS),
)
