"""pipeline.workflow.experiments: every experiment with its paper, its changes from the defaults, and what
uses it."""

from pathlib import Path

from pipeline.workflow.experiments import changes, experiments_frame, experiments_markdown, users

ROOT = Path(__file__).resolve().parents[1]


def test_every_experiment_is_listed_with_its_paper_and_users(config):
    frame = experiments_frame(config, ROOT).set_index("experiment")
    assert list(frame.index) == list(config["experiments"])
    assert frame.loc["full-model-10-1e-05", "paper"].startswith("Beyond BERT")
    assert frame.loc["methods-sst-lora", "paper"].startswith("Comparing")
    assert "table2" in frame.loc["full-model-10-1e-05", "used_by"]
    # an ensemble's table counts for its members
    member = config["ensembles"]["5-ensemble"]["members"][0]
    assert "table1" in users(config)[member] and "ensemble 5-ensemble" in users(config)[member]
    assert "| experiment | paper |" in experiments_markdown(frame.reset_index())


def test_changes_are_the_settings_that_differ_from_the_defaults(config):
    assert changes(config, "full-model-10-1e-05") == ""
    assert changes(config, "last-linear-layer-10-0.001") == "tuning=last-layer; lr=0.001"
    text = changes(config, "lora16a32qv-anneal3600-concatembed-35-0.0002lrlinsched-16")
    assert "lora.rank=16" in text and "lora.alpha=32" in text and "lora.targets=query+value" in text


def test_a_target_naming_an_unknown_model_gets_the_closest_names(config):
    import re

    import pytest

    from pipeline.workflow.wildcards import unknown_model, unknown_regex

    pattern = re.compile(rf"results/quick/metrics/(?P<m>{unknown_regex(['full-model-10-1e-05', 'random'])})/dev")
    assert pattern.match("results/quick/metrics/full-model-10-1e-5/dev")
    for known in ("full-model-10-1e-05", "full-model-10-1e-05~seed2", "random"):
        assert not pattern.match(f"results/quick/metrics/{known}/dev"), known
    with pytest.raises(ValueError, match="closest: full-model-10-1e-05"):
        unknown_model(config, "full-model-10-1e-5")
