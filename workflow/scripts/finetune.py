"""Rule finetune: train one experiment (resuming from its checkpoint when one matches)."""

import os
from pathlib import Path

from pipeline.jobs import requires_cuda, start
from pipeline.settings import Experiment, RunControl

log = start(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
settings = Experiment.from_dict(sm.params.settings)
control = RunControl.from_config(sm.config)

from pipeline.data.batching import TaskData  # noqa: E402  (after start(): the hub is closed before any import)
from pipeline.model.device import pick_device  # noqa: E402
from pipeline.training.finetune import train  # noqa: E402
from pipeline.workflow.models import card_info, encoder_source  # noqa: E402

device = pick_device(requires_cuda(sm.config), f"finetune {sm.wildcards.experiment}")
train_data, dev_data = {}, {}
for task in settings.tasks:
    train_data[task] = TaskData.from_cache(sm.input[f"{task}_train"]).subset(
        settings.train_subset[task], settings.seed
    )
    dev_data[task] = TaskData.from_cache(sm.input[f"{task}_dev"])
run = train(
    settings,
    train_data,
    dev_data,
    sm.params.encoder["location"],
    # the card's folder holds the model; read from the config, not params (a new param reruns finished runs)
    outputs={**dict(sm.output), "model": os.path.dirname(sm.output.card)},
    checkpoint_dir=sm.params.checkpoints,
    device=device,
    log=log,
    load_kwargs=sm.params.encoder["load_kwargs"],
    control=control,
    source=encoder_source(sm.config, sm.wildcards.experiment),
    card=card_info(sm.config, sm.wildcards.experiment, Path(sm.scriptdir).resolve().parents[1]),
)
log(f"done: best dev overall {run['best_dev_overall']:.4f} at epoch {run['best_epoch']}")
