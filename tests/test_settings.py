"""pipeline.settings: typed settings built from the plain dicts of pipeline.config, which stay the record.

The fingerprints below were computed by the code of commit 1a7c908 (before the settings were typed) from the
resolved settings of config.yaml at smoke scale: a checkpoint keeps resuming only while the plain dict the
typed settings give back hashes to the same value.
"""

from __future__ import annotations

import copy
import dataclasses
import json

import pytest
import torch

from pipeline.config import resolve_experiment, resolve_pretrain, zero_shot_settings
from pipeline.model.embedding import SentenceEmbedder
from pipeline.model.encoders import load_encoder
from pipeline.model.heads import MultitaskModel
from pipeline.provenance import fingerprint
from pipeline.settings import (
    Experiment,
    Heads,
    Lora,
    MnrlStage,
    RunControl,
    SettingsError,
    ZeroShot,
)

LOAD = {"local_files_only": True}

# fingerprint(settings) at commit 1a7c908, config.yaml at smoke scale
FINGERPRINTS_1A7C908 = {
    "full-model-10-1e-05": "450a53e703d8eb23",
    "full-model-10-1e-05~seed2": "2667aba6c44424ee",
    "last-linear-layer-10-0.001": "4ec6d6e2c89cf907",
    "dora16a32qv-anneal3600-concatembed-35-0.0002lrlinsched-16": "4ea88b65dba1ac34",
    "full-model-mnrladddata3-anneal3600-60-1e-05-16-cos": "42088ae5e57a1476",
    "full-model-anneal1800-upsst2-10-1e-05": "b36b7e463b5b5f1c",
    "lora-concatembed-sharedlayer-80-4e-04": "7208c0e3a12061a0",
    "methods-para-cross-lora": "2c40a4cb415a6b96",
    "methods-sst-full": "7702ff2b6acdfd43",
}
PRETRAIN_FINGERPRINTS_1A7C908 = {
    "mnrladddata3": "a589b7ad787327a5",
    "mnrl1": "236dab65122be5bd",
    "mnrl10": "36a4b46ce64f9110",
    "mnrl3scale40": "1d9aebae6a02dcb2",
}
ZERO_SHOT_FINGERPRINT_1A7C908 = "d683347baf7555e0"


@pytest.fixture(scope="module")
def smoke(config) -> dict:
    return {**config, "scale": "smoke"}


# -- the record stays plain: fingerprints and run.json as before --------------------------------------------
@pytest.mark.parametrize("name", list(FINGERPRINTS_1A7C908))
def test_experiment_fingerprints_are_those_of_the_plain_settings(smoke, name) -> None:
    settings = Experiment.from_dict(resolve_experiment(smoke, name))
    assert fingerprint(settings.to_dict()) == FINGERPRINTS_1A7C908[name]


@pytest.mark.parametrize("name", list(PRETRAIN_FINGERPRINTS_1A7C908))
def test_mnrl_stage_fingerprints_are_those_of_the_plain_settings(smoke, name) -> None:
    settings = MnrlStage.from_dict(resolve_pretrain(smoke, name))
    assert fingerprint(settings.to_dict()) == PRETRAIN_FINGERPRINTS_1A7C908[name]


def test_zero_shot_fingerprint_is_that_of_the_plain_settings(smoke) -> None:
    settings = ZeroShot.from_dict(zero_shot_settings(smoke))
    assert fingerprint(settings.to_dict()) == ZERO_SHOT_FINGERPRINT_1A7C908


@pytest.mark.parametrize("scale", ["smoke", "quick", "paper"])
def test_every_resolved_setting_round_trips_to_the_same_json(config, scale) -> None:
    """What run.json and the fingerprint are written from (to_dict) is the resolved dict: the same keys in
    the same order, the same values and types (json.dumps unsorted, as run.json is written)."""
    cfg = {**config, "scale": scale}
    plain = [(Experiment, resolve_experiment(cfg, name)) for name in cfg["experiments"]]
    plain += [(MnrlStage, resolve_pretrain(cfg, name)) for name in cfg["pretrains"]]
    plain.append((ZeroShot, zero_shot_settings(cfg)))
    for kind, d in plain:
        back = kind.from_dict(d).to_dict()
        assert json.dumps(back) == json.dumps(d), d.get("name")
        assert fingerprint(back) == fingerprint(d)


# -- from_dict: every key, no other -----------------------------------------------------------------------
def test_unknown_and_missing_keys_are_named(smoke) -> None:
    plain = resolve_experiment(smoke, "full-model-10-1e-05")
    with pytest.raises(
        SettingsError, match=r"experiment 'full-model-10-1e-05': unknown key 'lrr' \(did you mean 'lr'\?\)"
    ):
        Experiment.from_dict({**plain, "lrr": 1.0})
    missing = {k: v for k, v in plain.items() if k not in ("precision", "bucket_batches")}
    with pytest.raises(SettingsError, match="missing keys 'bucket_batches', 'precision'"):
        Experiment.from_dict(missing)
    with pytest.raises(SettingsError, match=r"experiment 'full-model-10-1e-05' 'lora': unknown key 'rnak'"):
        Experiment.from_dict({**plain, "lora": {**plain["lora"], "rnak": 4}})
    with pytest.raises(SettingsError, match="MNRL stage 'mnrl1': missing key 'seed'"):
        MnrlStage.from_dict({k: v for k, v in resolve_pretrain(smoke, "mnrl1").items() if k != "seed"})


def test_run_control_comes_from_config_yaml(config) -> None:
    control = RunControl.from_config(config)
    assert control.to_dict() == {k: config[k] for k in RunControl.keys()}
    without = {k: v for k, v in config.items() if k != "log_every_steps"}
    with pytest.raises(SettingsError, match="run control: missing key 'log_every_steps'"):
        RunControl.from_config(without)


# -- frozen ------------------------------------------------------------------------------------------------
def test_settings_are_frozen_all_the_way_down(smoke) -> None:
    plain = resolve_experiment(smoke, "dora16a32qv-anneal3600-concatembed-35-0.0002lrlinsched-16")
    before = copy.deepcopy(plain)
    settings = Experiment.from_dict(plain)
    assert settings.tasks == ("sst", "para", "sts") and settings.lora == Lora(16, 32, 0.0, ("query", "value"))
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.lr = 1.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        settings.train_subset["sst"] = 3  # type: ignore[index]
    plain["tasks"].append("cfimdb")  # the dict it came from is not shared
    assert settings.tasks == ("sst", "para", "sts")
    changed = dataclasses.replace(settings, seed=5)
    assert changed.seed == 5 and changed.to_dict() == {**before, "seed": 5}
    assert list(changed.to_dict()) == list(before)


def test_heads_are_the_experiments_head_settings(smoke) -> None:
    settings = Experiment.from_dict(resolve_experiment(smoke, "lora-concatembed-sharedlayer-80-4e-04"))
    heads = settings.heads
    assert isinstance(heads, Heads)
    assert heads.to_dict() == {k: v for k, v in settings.to_dict().items() if k in Heads.keys()}
    assert heads.pair_mode == "concat" and heads.shared_layer


# -- the models built from them ------------------------------------------------------------------------------
def test_sentence_embedder_and_multitask_model_keep_the_saved_key_names(make_settings, encoder_dir) -> None:
    """MNRL's embedder is the encoder under ``encoder.``, as the multitask model without heads was (so MNRL
    checkpoints resume); the multitask model adds ``heads.`` and ``shared.``, initialised in task order."""
    encoder = load_encoder(encoder_dir, **LOAD)
    names = [f"encoder.{k}" for k in encoder.state_dict()]
    assert list(SentenceEmbedder(encoder, "pooler").state_dict()) == names
    settings = make_settings(shared_layer=True, head_layers=1)
    torch.manual_seed(0)
    model = MultitaskModel(load_encoder(encoder_dir, **LOAD), settings.heads)
    heads = [k for k in model.state_dict() if not k.startswith("encoder.")]
    assert list(model.state_dict())[: len(names)] == names
    assert [k.split(".")[1] for k in heads] == ["sst"] * 4 + ["para"] * 4 + ["sts"] * 4 + ["weight", "bias"]
    with pytest.raises(ValueError, match="unknown pooling 'max'"):
        SentenceEmbedder(encoder, "max")


# -- keys added after runs existed (Settings.OPTIONAL) ---------------------------------------------------------


def test_an_optional_key_left_out_keeps_the_plain_dict_and_its_fingerprint(smoke) -> None:
    plain = resolve_experiment(smoke, "full-model-10-1e-05")
    assert "head_lr" not in plain  # smoke (like paper) sets no head_lr: its runs keep their params
    settings = Experiment.from_dict(plain)
    assert settings.head_lr is None and settings.to_dict() == plain
    assert fingerprint(settings.to_dict()) == FINGERPRINTS_1A7C908["full-model-10-1e-05"]
    given = Experiment.from_dict({**plain, "head_lr": 0.003})
    assert given.head_lr == 0.003 and given.to_dict()["head_lr"] == 0.003
    assert fingerprint(given.to_dict()) != fingerprint(plain)
    with pytest.raises(SettingsError, match="missing key 'lr'"):  # only the optional keys may be left out
        Experiment.from_dict({k: v for k, v in plain.items() if k != "lr"})
