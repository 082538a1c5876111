"""Rule pretrain: MNRL training of the encoder's sentence embeddings."""

from pipeline.jobs import requires_cuda, start
from pipeline.settings import MnrlStage, RunControl

log = start(snakemake)  # noqa: F821
sm = snakemake  # noqa: F821
settings = MnrlStage.from_dict(sm.params.settings)
control = RunControl.from_config(sm.config)

from pipeline.data.batching import TaskData  # noqa: E402  (after start(): the hub is closed before any import)
from pipeline.model.device import pick_device  # noqa: E402
from pipeline.training.pretrain import pretrain  # noqa: E402

device = pick_device(requires_cuda(sm.config), f"pretrain {sm.wildcards.pretrain}")
data = {task: TaskData.from_cache(sm.input[task]) for task in settings.sources}
pretrain(
    settings,
    data,
    sm.params.encoder["location"],
    sm.output[0],
    sm.params.checkpoints,
    device,
    log=log,
    load_kwargs=sm.params.encoder["load_kwargs"],
    control=control,
)
