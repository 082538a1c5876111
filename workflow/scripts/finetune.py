"""Rule finetune: train one experiment (resuming from its checkpoint when one matches)."""

from pipeline.batching import TaskData
from pipeline.jobs import start
from pipeline.train import CHECKPOINT_EVERY_STEPS, pick_device, train

log = start(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
settings = sm.params.settings
train_data, dev_data = {}, {}
for task in settings["tasks"]:
    train_data[task] = TaskData.from_cache(sm.input[f"{task}_train"]).subset(
        settings["train_subset"][task], settings["seed"]
    )
    dev_data[task] = TaskData.from_cache(sm.input[f"{task}_dev"])
run = train(
    settings,
    train_data,
    dev_data,
    sm.params.encoder["location"],
    outputs=dict(sm.output),
    checkpoint_dir=sm.params.checkpoints,
    device=pick_device(),
    log=log,
    load_kwargs=sm.params.encoder["load_kwargs"],
    checkpoint_every_steps=sm.config.get("checkpoint_every_steps", CHECKPOINT_EVERY_STEPS),
)
log(f"done: best dev overall {run['best_dev_overall']:.4f} at epoch {run['best_epoch']}")
