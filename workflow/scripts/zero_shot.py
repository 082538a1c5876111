"""Rule zero_shot: the encoder before fine-tuning; paraphrase and STS predictions read from the cosine of
the two sentence embeddings, the threshold and line fitted on train (pipeline/evaluation/zero_shot.py)."""

from pipeline.jobs import requires_cuda, start
from pipeline.settings import ZeroShot

log = start(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
settings, enc = ZeroShot.from_dict(sm.params.settings), sm.params.encoder

from pipeline.data.batching import TaskData  # noqa: E402
from pipeline.evaluation import zero_shot  # noqa: E402  (after start(): the hub is closed before any import)
from pipeline.evaluation.predict import prediction_frame  # noqa: E402
from pipeline.evaluation.predictions import write_predictions  # noqa: E402
from pipeline.io import write_json_atomic  # noqa: E402
from pipeline.model.device import autocast, choose_precision, pick_device  # noqa: E402
from pipeline.model.encoders import load_encoder  # noqa: E402

device = pick_device(requires_cuda(sm.config), "zero_shot")
precision = choose_precision(settings.precision, device)
model = zero_shot.embedder(load_encoder(enc["location"], **enc["load_kwargs"]), settings.pooling).to(device)
fitted, frames = {}, {"dev": [], "test": []}
for task in settings.tasks:
    train = TaskData.from_cache(sm.input[f"{task}_train"]).subset(settings.train_subset[task], 0)
    with autocast(device, precision):
        cos = zero_shot.pair_cosines(model, train, settings.max_length, settings.eval_batch_size, device)
    fitted[task] = zero_shot.fit(task, cos, train.labels.numpy())
    for split in ("dev", "test"):
        data = TaskData.from_cache(sm.input[f"{task}_{split}"])
        with autocast(device, precision):
            cos = zero_shot.pair_cosines(model, data, settings.max_length, settings.eval_batch_size, device)
        frames[split].append(prediction_frame(data, zero_shot.apply(task, cos, fitted[task])))
    log(f"{task}: fitted on {len(train)} train rows: {fitted[task]}")
for split, split_frames in frames.items():
    write_predictions(split_frames, sm.output[split])
write_json_atomic({"fitted": fitted, "settings": settings.to_dict()}, sm.output.fitted)
