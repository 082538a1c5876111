"""Rule figure: one figure of a paper from histories or predictions."""

from pipeline.jobs import start
from pipeline.reporting.figures import plot_confusion, plot_learning_curves, plot_sts_scatter
from pipeline.reporting.tables import scale_of_paths

log = start(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
fig, out = sm.params.figure, sm.output[0]
title = f"{fig['caption']} [{scale_of_paths(sm.input)} scale]"  # the scale of the files drawn
if fig["kind"] == "curves":
    plot_learning_curves({label: sm.input[label] for label in fig["models"]}, out, title=title)
elif fig["kind"] == "confusion":
    plot_confusion(fig["task"], sm.input.predictions, sm.input.gold, sm.input.train, out, title=title)
else:
    plot_sts_scatter(sm.input.predictions, sm.input.gold, sm.input.train, out, title=title)
log(f"wrote {out}")
