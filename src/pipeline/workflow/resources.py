"""What each GPU stage's job asks of the machine or cluster at the active scale: its GPUs, runtime (minutes)
and host memory (MB), read from ``scales.<scale>.jobs`` in the config.

The rules declare them (``resources: **job_resources(config, "finetune")``), so any experiment gets its
scale's resources whatever its tasks, and the SLURM profile names no rule of this workflow (the executor
plugin turns ``gpu``, ``runtime`` and ``mem_mb`` into ``--gpus``, ``--time`` and ``--mem``). Where a scale's
``runtime`` is ``plan`` (paper scale), each job's runtime is a function of its wildcards, which Snakemake
accepts as a resource value: the cost plan's projected time for that experiment or MNRL stage x
``plan.safety`` within a floor and a ceiling (:meth:`pipeline.workflow.costs.JobCosts.runtime_minutes`), so a
10-epoch run does not wait in the queue as long as an 80-epoch one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pipeline.workflow.costs import JobCosts

#: The stages whose jobs the scale sizes (config: ``scales.<scale>.jobs.<stage>``).
STAGES = ("finetune", "predict", "pretrain", "zero_shot")
RESOURCES = ("gpu", "runtime", "mem_mb")
#: Passed on where a scale sets it: a site's GPU type (the SLURM plugin asks for ``--gpus=MODEL:N``).
OPTIONAL = ("gpu_model",)
#: The wildcard naming a stage's job, for runtimes from the plan (zero_shot has one job: no plan row).
PLANNED = {"finetune": "experiment", "predict": "experiment", "pretrain": "pretrain"}


def job_resources(
    config: Mapping, stage: str, costs: JobCosts | None = None
) -> dict[str, int | str | Callable[[Any], int]]:
    """``{"gpu", "runtime", "mem_mb"}`` (and ``gpu_model`` where set) of a ``stage`` job, one of
    :data:`STAGES`, at the active scale. A ``runtime: plan`` becomes a function of the job's wildcards that
    asks ``costs`` (required then), times the attempt: a job retried after running out of time (a slower GPU
    than the plan's) continues from its checkpoint with more time."""
    if stage not in STAGES:
        raise ValueError(f"no job sizes for stage {stage!r}; the scales size {', '.join(STAGES)}")
    spec = config["scales"][config["scale"]]["jobs"][stage]
    out = {key: spec[key] for key in (*RESOURCES, *OPTIONAL) if key in spec or key in RESOURCES}
    if out["runtime"] == "plan":
        if stage not in PLANNED:
            raise ValueError(
                f"scales.{config['scale']}.jobs.{stage}.runtime: 'plan' is for {', '.join(PLANNED)} jobs; "
                "give minutes"
            )
        if costs is None:
            raise ValueError(f"jobs.{stage}.runtime is 'plan': pass the scale's JobCosts")
        wildcard = PLANNED[stage]

        def runtime(wildcards: Any, attempt: int = 1) -> int:
            return costs.runtime_minutes(stage, getattr(wildcards, wildcard), attempt)

        out["runtime"] = runtime
    return out


def planned_costs(config: Mapping, version: str) -> JobCosts | None:
    """The active scale's :class:`JobCosts` when one of its stages takes its runtime from the plan, else
    None (a scale with fixed runtimes needs no device constants or encoder shape)."""
    jobs = config["scales"][config["scale"]]["jobs"]
    if any(spec.get("runtime") == "plan" for spec in jobs.values()):
        return JobCosts.of(config, version)
    return None
