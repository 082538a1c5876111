"""Rule predict_*: dev and test predictions of one trained experiment, one CSV per task and split."""

from pathlib import Path

from pipeline.batching import TaskData
from pipeline.io import write_csv_atomic
from pipeline.jobs import start
from pipeline.predict import predict_task, prediction_frame
from pipeline.train import load_trained, pick_device

log = start(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
settings, enc = sm.params.settings, sm.params.encoder
device = pick_device()
model = load_trained(settings, enc["location"], sm.input.model, **enc["load_kwargs"]).to(device)
for tokens, out in zip(sm.input.tokens, sm.output, strict=True):
    assert Path(tokens).stem == Path(out).stem, (tokens, out)
    data = TaskData.from_cache(tokens)
    values = predict_task(model, data, settings["max_length"], settings["eval_batch_size"], device)
    write_csv_atomic(prediction_frame(data, values), out)
    log(f"wrote {out} ({len(data)} rows)")
