"""Rule plan: every GPU job's projected cost at the active scale (plan.csv, plan.md), from the config."""

from pipeline.io import write_csv_atomic, write_text_atomic
from pipeline.jobs import start
from pipeline.workflow.costs import encoder_shape, plan_device, plan_frame, plan_markdown, totals

log = start(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
device = plan_device(sm.config)
frame = plan_frame(sm.config, device, encoder_shape(sm.config), sm.params.data_version)
if frame.empty:
    raise SystemExit(f"plan: no GPU job at scale {sm.params.scale}: nothing to plan")
total = totals(frame)
title = f"Cost plan, scale {sm.params.scale} (CS224N data {sm.params.data_version})"
write_csv_atomic(frame, sm.output.csv)
write_text_atomic(plan_markdown(frame, total, title), sm.output.md)
everything = total.iloc[-1]
log(f"{everything.jobs} GPU jobs, {everything.hours:.2f} projected GPU-hours on {device.name}")
