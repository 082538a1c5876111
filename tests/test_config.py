"""The config (config.yaml + papers/*.yaml): every experiment resolves at every scale, paper scale is the
paper's, checks catch mistakes."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from pipeline.config import (
    ConfigError,
    model_tasks,
    resolve_experiment,
    resolve_pretrain,
)
from pipeline.workflow.validation import check_config, check_schema, check_unknown_keys, load_config

ROOT = Path(__file__).resolve().parents[1]
CONFIG = load_config(ROOT)
SCHEMA = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())


def at_scale(scale: str) -> dict:
    config = copy.deepcopy(CONFIG)
    config["scale"] = scale
    return config


@pytest.mark.parametrize("scale", list(CONFIG["scales"]))
def test_every_experiment_and_pretrain_resolves_at_every_scale(scale):
    config = at_scale(scale)
    check_config(config)
    for name in config["experiments"]:
        settings = resolve_experiment(config, name)
        assert settings["encoder"] == config["scales"][scale]["encoder"]
        assert settings["epochs"] >= 1 and settings["lr"] > 0
        assert set(settings["tasks"]) <= {"sst", "para", "sts", "cfimdb"}
    for name in config["pretrains"]:
        assert resolve_pretrain(config, name)["epochs"] >= 1


def test_paper_scale_is_the_papers_settings():
    """At paper scale the name's numbers are the settings: epochs, learning rate, steps, batch size."""
    config = at_scale("paper")
    pattern = re.compile(r"-(\d+)-(\d[\d.e-]*?)(lrlinsched)?(-16)?(-cos)?$")
    for name in config["tables"]["table2"]["rows"]:
        model = name["model"]
        if model not in config["experiments"]:
            continue
        settings = resolve_experiment(config, model)
        assert settings["encoder"] == "bert-base-uncased"
        match = pattern.search(model)
        assert match, model
        assert settings["epochs"] == int(match.group(1)), model
        assert settings["lr"] == pytest.approx(float(match.group(2))), model
        assert settings["schedule"] == ("linear" if match.group(3) else "constant"), model
        assert settings["batch_size"] == (16 if match.group(4) else 8), model
        assert settings["sts_head"] == ("cosine" if match.group(5) else "linear"), model
        anneal = re.search(r"anneal(\d+)", model)
        assert settings["sampling"] == ("annealed" if anneal else "round-robin"), model
        if anneal:
            assert settings["steps_per_epoch"] == int(anneal.group(1))
        assert settings["pair_mode"] == ("concat" if "concatembed" in model else "sum"), model
        assert settings["shared_layer"] == ("sharedlayer" in model), model
        method = re.match(r"(full|last|lora|dora)", model).group(1)
        expected = {"full": "full", "last": "last-layer"}.get(method, method)
        assert settings["tuning"] == expected, model


def test_ensemble_compositions_follow_section_5_4():
    ensembles = CONFIG["ensembles"]
    four = [resolve_experiment(CONFIG, m) for m in ensembles["4-ensemble"]["members"]]
    full = [s for s in four if s["tuning"] == "full"]
    assert len(four) == 4 and len(full) == 3
    assert sum(bool(s["pretrain"]) for s in full) == 2
    assert all(s["sts_head"] == "cosine" for s in full)
    (dora,) = [s for s in four if s["tuning"] == "dora"]
    assert dora["schedule"] == "linear"
    assert all(s["sampling"] == "annealed" for s in four)
    five = ensembles["5-ensemble"]["members"]
    assert five[:4] == ensembles["4-ensemble"]["members"]
    assert resolve_experiment(CONFIG, five[4])["tuning"] == "lora"
    three = ensembles["3-ensemble"]
    assert three["select_top"] == 3
    table2_models = {row["model"] for row in CONFIG["tables"]["table2"]["rows"]} & set(CONFIG["experiments"])
    assert set(three["members"]) == table2_models


def test_model_tasks():
    assert model_tasks(CONFIG, "4-ensemble") == ["sst", "para", "sts"]
    assert model_tasks(CONFIG, "cfimdb-full-model-10-1e-05") == ["cfimdb"]
    assert model_tasks(CONFIG, "random") == ["sst", "para", "sts"]


def broken(edit) -> dict:
    config = copy.deepcopy(CONFIG)
    edit(config)
    return config


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["tables"]["table2"]["rows"][3].update(model="full-modle-10-1e-05"), "did you mean"),
        (lambda c: c["ensembles"]["5-ensemble"]["members"].append("nope"), "unknown experiment 'nope'"),
        (lambda c: c["experiments"]["full-model-10-1e-05"].update(pretrain="mnrl99"), "unknown pretrain"),
        (lambda c: c.update(scale="huge"), "unknown scale 'huge'"),
        (
            lambda c: c["experiments"]["full-model-10-1e-05"].update(sampling="sqrt"),
            "sqrt sampling without steps_per_epoch",
        ),
        (
            lambda c: c["experiments"]["full-model-10-1e-05"].update(pair_mode="cross", sts_head="cosine"),
            "pair_mode 'cross'",
        ),
        (lambda c: c["figures"]["figure2"].update(model="6-ensemble"), "unknown model '6-ensemble'"),
    ],
)
def test_check_config_names_the_problem(edit, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        check_config(broken(edit))


def test_unknown_keys_anywhere_get_a_suggestion():
    for edit, where in [
        (lambda c: c.update(scal="quick"), "config.yaml (did you mean 'scale'?)"),
        (lambda c: c["pretrains"]["mnrl1"].update(scael=10), "pretrain 'mnrl1' (did you mean 'scale'?)"),
        (lambda c: c["scales"]["quick"]["overrides"].update(max_len=64), "did you mean 'max_length'?"),
    ]:
        with pytest.raises(ConfigError, match=re.escape(where)):
            check_unknown_keys(broken(edit), SCHEMA)
    check_unknown_keys(CONFIG, SCHEMA)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda c: c["defaults"].update(lr=-1.0),
            "config: defaults.lr: -1.0 is less than or equal to the minimum of 0",
        ),
        (
            lambda c: c["defaults"]["lora"].update(rank=0),
            "config: defaults.lora.rank: 0 is less than the minimum of 1",
        ),
        (
            lambda c: c["experiments"]["full-model-10-1e-05"].update(sampling="roundrobin"),
            "sampling: 'roundrobin' is not one of",
        ),
    ],
)
def test_schema_violations_are_one_line(edit, message):

    with pytest.raises(ConfigError) as info:
        check_schema(broken(edit), SCHEMA)
    assert message in str(info.value) and "\n" not in str(info.value)
    check_schema(CONFIG, SCHEMA)


def test_an_extra_seed_is_the_experiment_with_only_its_seed_changed() -> None:
    from pipeline.config import model_settings, seed_count, seeded_models, split_seed

    config = at_scale("smoke")
    base = resolve_experiment(config, "full-model-10-1e-05")
    other = resolve_experiment(config, "full-model-10-1e-05~seed2")
    assert {k for k in base if base[k] != other[k]} == {"seed", "name"} and other["seed"] == base["seed"] + 2
    assert split_seed("full-model-10-1e-05~seed2") == ("full-model-10-1e-05", 2)
    assert seed_count(config) == 3 and seed_count(at_scale("paper")) == 3
    # with MNRL: seed K also starts from seed K of the MNRL stage, which has its own seed
    mnrl = "full-model-mnrladddata3-anneal3600-60-1e-05-cos"
    base, other = resolve_experiment(config, mnrl), resolve_experiment(config, f"{mnrl}~seed1")
    assert {k for k in base if base[k] != other[k]} == {"seed", "name", "pretrain"}
    assert other["pretrain"] == base["pretrain"] + "~seed1"
    stage, stage1 = resolve_pretrain(config, base["pretrain"]), resolve_pretrain(config, other["pretrain"])
    assert {k for k in stage if stage[k] != stage1[k]} == {"seed", "name"} and stage1["seed"] == stage[
        "seed"
    ] + 1
    assert seed_count({**config, "seeds": "5"}) == 5
    with pytest.raises(ConfigError, match="'seeds'"):
        seed_count({**config, "seeds": 0})
    assert seeded_models(config, "random") == ["random"]
    assert seeded_models(config, "4-ensemble")[2] == "4-ensemble~seed2"
    members = model_settings(config, "4-ensemble~seed1")["members"]
    assert all(m.endswith("~seed1") and s["seed"] == 1 for m, s in members.items())
    assert model_tasks(config, "zero-shot") == ["para", "sts"]


def test_min_steps_raises_epochs_until_a_run_takes_that_many_steps():
    config = at_scale("quick")
    scale = config["scales"]["quick"]
    scale["min_steps"] = 26
    sst = resolve_experiment(config, "methods-sst-full")  # 400 rows at batch 32: 13 steps an epoch
    assert (sst["batch_size"], sst["train_subset"], sst["epochs"]) == (32, {"sst": 400}, 2)
    multi = resolve_experiment(config, "full-model-10-1e-05")  # round-robin: 3 x 50 steps an epoch
    assert multi["epochs"] == 1
    scale["min_steps"] = 27
    assert resolve_experiment(config, "methods-sst-full")["epochs"] == 3
    scale["min_steps"] = None
    assert resolve_experiment(config, "methods-sst-full")["epochs"] == 1
    scale["min_steps"], scale["train_subset"] = 26, {"para": 400}
    with pytest.raises(ConfigError, match="min_steps but no train_subset for sst"):
        resolve_experiment(config, "methods-sst-full")


def test_head_lr_is_set_only_by_a_scale_that_has_one():
    quick, paper = at_scale("quick"), at_scale("paper")
    assert resolve_experiment(quick, "methods-sst-full")["head_lr"] == quick["scales"]["quick"]["head_lr"]
    assert "head_lr" not in resolve_experiment(paper, "methods-sst-full")  # the papers' settings
    assert "head_lr" not in resolve_experiment(quick, "methods-sst-frozen-lr0.0001")  # lr is the heads'


def test_pair_features_are_set_only_by_a_scale_that_has_them_and_only_for_siamese_runs():
    quick, paper = at_scale("quick"), at_scale("paper")
    assert resolve_experiment(quick, "methods-para-siamese-full")["pair_features"] == "interaction"
    assert resolve_experiment(quick, "full-model-10-1e-05")["pair_features"] == "interaction"  # sum
    assert "pair_features" not in resolve_experiment(
        quick, "methods-para-cross-full"
    )  # no pair of embeddings
    assert "pair_features" not in resolve_experiment(paper, "methods-para-siamese-full")  # the papers' heads


def test_sts_bias_is_set_only_by_a_scale_that_has_it_and_only_for_a_linear_sts_head():
    quick, paper = at_scale("quick"), at_scale("paper")
    assert resolve_experiment(quick, "methods-sts-siamese-full")["sts_bias"] == "label_mean"
    assert "sts_bias" not in resolve_experiment(quick, "methods-sts-siamese-full-cos")  # no STS layer
    assert "sts_bias" not in resolve_experiment(quick, "methods-sst-full")  # no STS task
    assert "sts_bias" not in resolve_experiment(paper, "methods-sts-siamese-full")  # the papers' heads
