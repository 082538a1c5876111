"""Rule predict_*: one split's predictions of one trained experiment, one CSV per task."""

from pathlib import Path

from pipeline.jobs import requires_cuda, start
from pipeline.settings import Experiment

log = start(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
settings, enc = Experiment.from_dict(sm.params.settings), sm.params.encoder

from pipeline.data.batching import TaskData  # noqa: E402  (after start(): the hub is closed before any import)
from pipeline.evaluation.predict import predict_task, prediction_frame  # noqa: E402
from pipeline.io import write_csv_atomic  # noqa: E402
from pipeline.model.device import choose_precision, pick_device  # noqa: E402
from pipeline.training.finetune import load_trained  # noqa: E402

device = pick_device(requires_cuda(sm.config), f"predict {sm.wildcards.experiment} {sm.wildcards.split}")
precision = choose_precision(settings.precision, device)
model = load_trained(settings, enc["location"], sm.input.model, **enc["load_kwargs"]).to(device)
for tokens, out in zip(sm.input.tokens, sm.output, strict=True):
    assert Path(tokens).stem == Path(out).stem, (tokens, out)
    data = TaskData.from_cache(tokens)
    values = predict_task(model, data, settings.max_length, settings.eval_batch_size, device, precision)
    write_csv_atomic(prediction_frame(data, values), out)
    log(f"wrote {out} ({len(data)} rows, {precision} on {device})")
