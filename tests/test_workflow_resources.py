"""pipeline.workflow.resources: each GPU stage's job asks for its scale's sizes, whatever the experiment."""

from __future__ import annotations

import copy

import pytest
from workflow_config import ROOT, workflow_config

from pipeline.config import ConfigError
from pipeline.workflow.resources import STAGES, job_resources
from pipeline.workflow.validation import prepare_config


def test_paper_scale_jobs_keep_the_papers_sizes():
    config = workflow_config("paper")
    assert job_resources(config, "finetune") == {"gpu": 1, "runtime": 960, "mem_mb": 16000}
    assert job_resources(config, "pretrain") == {"gpu": 1, "runtime": 480, "mem_mb": 16000}
    assert job_resources(config, "predict") == {"gpu": 1, "runtime": 60, "mem_mb": 8000}
    assert job_resources(config, "zero_shot") == {"gpu": 1, "runtime": 60, "mem_mb": 8000}


@pytest.mark.parametrize("scale", ["smoke", "quick", "paper"])
def test_every_scale_sizes_every_stage(scale):
    config = workflow_config(scale)
    for stage in STAGES:
        resources = job_resources(config, stage)
        assert set(resources) == {"gpu", "runtime", "mem_mb"}
        assert resources["runtime"] >= 1 and resources["mem_mb"] >= 1
    if scale != "paper":  # zero_shot is a CPU localrule below paper scale: it does not wait for training
        assert job_resources(config, "zero_shot")["gpu"] == 0
        assert job_resources(config, "finetune")["runtime"] < 960


def test_a_gpu_model_is_passed_on_and_an_unknown_stage_refused():
    config = workflow_config("paper")
    config["scales"]["paper"]["jobs"]["finetune"]["gpu_model"] = "a100"
    assert job_resources(config, "finetune")["gpu_model"] == "a100"
    assert "gpu_model" not in job_resources(config, "predict")
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
