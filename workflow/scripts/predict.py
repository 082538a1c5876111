"""Rule predict: one split's prediction file of one trained experiment (every task of it, in its order)."""

import os

from pipeline.jobs import requires_cuda, start
from pipeline.settings import Experiment

log = start(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
settings, enc = Experiment.from_dict(sm.params.settings), sm.params.encoder

from pipeline.data.batching import TaskData  # noqa: E402  (after start(): the hub is closed before any import)
from pipeline.evaluation.predict import predict_task, prediction_frame  # noqa: E402
from pipeline.evaluation.predictions import write_predictions  # noqa: E402
from pipeline.model.device import choose_precision, pick_device  # noqa: E402
from pipeline.model.export import load_trained  # noqa: E402

device = pick_device(requires_cuda(sm.config), f"predict {sm.wildcards.experiment} {sm.wildcards.split}")
precision = choose_precision(settings.precision, device)
# the model card's folder; a PEFT adapter goes onto the encoder the run started from
folder = os.path.dirname(sm.input.model)
model = load_trained(folder, base=enc["location"], **enc["load_kwargs"]).to(device)
frames = []
for task in settings.tasks:
    data = TaskData.from_cache(sm.input[f"tokens_{task}"])
    values = predict_task(model, data, settings.max_length, settings.eval_batch_size, device, precision)
    frames.append(prediction_frame(data, values))
    log(f"{task}: {len(data)} rows ({precision} on {device})")
write_predictions(frames, sm.output[0])
log(f"wrote {sm.output[0]}")
