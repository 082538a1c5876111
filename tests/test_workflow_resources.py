"""pipeline.workflow.resources: each GPU stage's job asks for its scale's sizes, whatever the experiment."""

from __future__ import annotations

import copy

import pytest
from workflow_config import ROOT, workflow_config

from pipeline.config import ConfigError
from pipeline.workflow.costs import JobCosts
from pipeline.workflow.resources import STAGES, job_resources, planned_costs
from pipeline.workflow.validation import prepare_config


class Wildcards:
    def __init__(self, **names):
        self.__dict__.update(names)


@pytest.fixture
def paper(config):
    """The papers' own experiments at paper scale (the 10- and 80-epoch runs of Beyond BERT's Table 2)."""
    return {**copy.deepcopy(config), "scale": "paper"}


def test_paper_scale_jobs_ask_for_their_planned_time(paper):
    config = paper
    costs = planned_costs(config, "2024")
    assert isinstance(costs, JobCosts)
    finetune = job_resources(config, "finetune", costs)
    assert {k: finetune[k] for k in ("gpu", "mem_mb")} == {"gpu": 1, "mem_mb": 16000}
    plan = config["plan"]
    short = finetune["runtime"](Wildcards(experiment="last-linear-layer-10-0.001"))
    long = finetune["runtime"](Wildcards(experiment="lora-concatembed-80-4e-04"))
    assert plan["floor_minutes"] <= short < long <= plan["ceiling_minutes"]
    projected = costs.hours("finetune", "lora-concatembed-80-4e-04") * 60 * plan["safety"]
    assert long == max(plan["floor_minutes"], -(-projected // 1))
    # a retry (out of time on a slower GPU) asks for more, never past the ceiling
    assert finetune["runtime"](Wildcards(experiment="lora-concatembed-80-4e-04"), attempt=2) == min(
        2 * long, plan["ceiling_minutes"]
    )
    pretrain = job_resources(config, "pretrain", costs)["runtime"](Wildcards(pretrain="mnrl3"))
    assert pretrain >= plan["floor_minutes"]
    assert job_resources(config, "zero_shot") == {"gpu": 1, "runtime": 60, "mem_mb": 8000}
    with pytest.raises(ValueError, match="pass the scale's JobCosts"):
        job_resources(config, "finetune")


def test_the_plans_runtimes_stay_within_floor_and_ceiling(paper):
    config = paper
    config["plan"]["ceiling_minutes"] = 61
    costs = JobCosts.of(config, "2024")
    assert costs.runtime_minutes("finetune", "lora-concatembed-80-4e-04") == 61
    config["plan"].update(ceiling_minutes=10_000, floor_minutes=9_000)
    assert JobCosts.of(config, "2024").runtime_minutes("finetune", "last-linear-layer-10-0.001") == 9_000


def test_fixed_runtimes_need_no_plan():
    assert planned_costs(workflow_config("smoke"), "generated") is None
    config = copy.deepcopy(workflow_config("smoke"))
    config["scales"]["smoke"]["jobs"]["zero_shot"]["runtime"] = "plan"
    with pytest.raises(ValueError, match="'plan' is for finetune, predict, pretrain jobs"):
        job_resources(config, "zero_shot", planned_costs(config, "generated"))


@pytest.mark.parametrize("scale", ["smoke", "quick", "paper"])
def test_every_scale_sizes_every_stage(scale):
    config = workflow_config(scale)
    costs = planned_costs(config, "generated" if scale == "smoke" else "2024")
    for stage in STAGES:
        resources = job_resources(config, stage, costs)
        assert set(resources) == {"gpu", "runtime", "mem_mb"}
        runtime = resources["runtime"]
        minutes = runtime(Wildcards(experiment="multi", pretrain="mnrl1")) if callable(runtime) else runtime
        assert minutes >= 1 and resources["mem_mb"] >= 1
    if scale != "paper":  # zero_shot is a CPU localrule below paper scale: it does not wait for training
        assert job_resources(config, "zero_shot")["gpu"] == 0
        assert job_resources(config, "finetune")["runtime"] < 960


def test_a_gpu_model_is_passed_on_and_an_unknown_stage_refused():
    config = workflow_config("paper")
    config["scales"]["paper"]["jobs"]["finetune"]["gpu_model"] = "a100"
    costs = planned_costs(config, "2024")
    assert job_resources(config, "finetune", costs)["gpu_model"] == "a100"
    assert "gpu_model" not in job_resources(config, "predict", costs)
    with pytest.raises(ValueError, match="no job sizes for stage 'tokens'"):
        job_resources(config, "tokens")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda jobs: jobs.pop("predict"), "scales.paper.jobs: 'predict' is a required property"),
        (lambda jobs: jobs["finetune"].pop("runtime"), "scales.paper.jobs.finetune: 'runtime' is a required"),
        (
            lambda jobs: jobs["finetune"].update(runtime=0),
            "scales.paper.jobs.finetune.runtime: 0 is less than",
        ),
        (lambda jobs: jobs["finetune"].update(time=5), "scales.paper.jobs.finetune: Additional properties"),
    ],
)
def test_the_schema_checks_the_job_sizes(edit, message):
    config = copy.deepcopy(workflow_config("paper"))
    edit(config["scales"]["paper"]["jobs"])
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        prepare_config(config, ROOT)
