"""What each GPU stage's job asks of the machine or cluster at the active scale: its GPUs, runtime (minutes)
and host memory (MB), read from ``scales.<scale>.jobs`` in the config.

The rules declare them (``resources: **job_resources(config, "finetune")``), so any experiment gets its
scale's resources whatever its tasks, and the SLURM profile names no rule of this workflow (the executor
plugin turns ``gpu``, ``runtime`` and ``mem_mb`` into ``--gpus``, ``--time`` and ``--mem``). Snakemake also
takes a function of the job (``lambda wildcards: ...``) as a resource value, so a later cost plan can size
each experiment's runtime here without touching the rules.
"""

from __future__ import annotations

from collections.abc import Mapping

#: The stages whose jobs the scale sizes (config: ``scales.<scale>.jobs.<stage>``).
STAGES = ("finetune", "predict", "pretrain", "zero_shot")
RESOURCES = ("gpu", "runtime", "mem_mb")
#: Passed on where a scale sets it: a site's GPU type (the SLURM plugin asks for ``--gpus=MODEL:N``).
OPTIONAL = ("gpu_model",)


def job_resources(config: Mapping, stage: str) -> dict[str, int | str]:
    """``{"gpu", "runtime", "mem_mb"}`` (and ``gpu_model`` where set) of a ``stage`` job, one of
    :data:`STAGES`, at the active scale."""
    if stage not in STAGES:
        raise ValueError(f"no job sizes for stage {stage!r}; the scales size {', '.join(STAGES)}")
    spec = config["scales"][config["scale"]]["jobs"][stage]
    return {key: spec[key] for key in (*RESOURCES, *OPTIONAL) if key in spec or key in RESOURCES}
