"""The second study's pieces: two-logit paraphrase heads, Siamese and cross-encoder training with train
scores, PEFT target sets and ranks, and the tables that put scores beside measured time and memory."""

from __future__ import annotations

import copy
import json
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch
from inprocess import run_control

from pipeline.config import ConfigError, resolve_experiment
from pipeline.evaluation.predict import predict_task
from pipeline.model.export import load_trained
from pipeline.model.tuning import count_parameters
from pipeline.reporting.methods_tables import (
    build_methods_table,
    caption,
    cell,
    confusion_table,
    load_run,
    parse_duration,
)
from pipeline.training.finetune import build_model, train
from pipeline.workflow.validation import check_config

CPU = torch.device("cpu")
LOAD = {"local_files_only": True}
pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")


@pytest.fixture(scope="module")
def methods_settings(config, make_settings):
    """``methods_settings(**changes)``: smoke settings of an experiment built on the ``methods`` preset."""

    def make(**changes):
        preset = copy.deepcopy(config["presets"]["methods"])
        preset["lora"] = {**make_settings().lora.to_dict(), **preset["lora"]}
        return make_settings(**{**preset, **changes})

    return make


# -- heads -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("pair_mode", ["concat", "cross"])
def test_paraphrase_two_logits_cross_entropy(methods_settings, encoder_dir, task_data, pair_mode) -> None:
    settings = methods_settings(tasks=["para"], pair_mode=pair_mode, max_length=32)
    assert settings.para_outputs == 2
    model = build_model(settings, encoder_dir, **LOAD).eval()
    data = task_data["train"]["para"]
    batch = data.batch(torch.arange(8), 32, "cross" if pair_mode == "cross" else "siamese")
    logits = model("para", batch)
    assert logits.shape == (8, 2)
    expected = torch.nn.functional.cross_entropy(logits, batch["labels"].long())
    assert model.loss("para", batch).item() == pytest.approx(expected.item(), rel=1e-5)
    assert torch.equal(model.predict("para", batch), logits.argmax(-1))
    one = build_model(replace(settings, para_outputs=1), encoder_dir, **LOAD).eval()
    assert one("para", batch).shape == (8,)


def test_bad_para_outputs(methods_settings, encoder_dir) -> None:
    with pytest.raises(ValueError, match="para_outputs"):
        build_model(methods_settings(tasks=["para"], para_outputs=3), encoder_dir, **LOAD)


# -- PEFT: every method trains only what it should, for the paper's target sets and ranks ---------------
TARGETS = {
    "all": ("query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"),
    "all-dense": ("attention.output.dense", "intermediate.dense", "output.dense"),
    "qv": ("query", "value"),
    "qkv": ("query", "key", "value"),
}


@pytest.mark.parametrize("method", ["lora", "dora", "rslora"])
@pytest.mark.parametrize(("target_name", "rank"), [("all", 8), ("all-dense", 8), ("qv", 1), ("qkv", 32)])
def test_peft_trains_only_its_adapters(methods_settings, encoder_dir, method, target_name, rank) -> None:
    targets = {"qv": ["query", "value"], "qkv": ["query", "key", "value"]}.get(target_name, target_name)
    settings = methods_settings(tasks=["sst"], tuning=method, lora={"rank": rank, "targets": targets})
    model = build_model(settings, encoder_dir, **LOAD)
    trainable, total = count_parameters(model)
    heads = sum(p.numel() for p in model.heads.parameters())
    peft_trainable, peft_total = model.encoder.get_nb_trainable_parameters()
    assert (trainable, total) == (peft_trainable + heads, peft_total + heads)
    # by hand, from the base encoder's linear layers matched by suffix
    from pipeline.model.encoders import load_encoder

    base = load_encoder(encoder_dir, **LOAD)
    suffixes = TARGETS[target_name]
    adapted = [m for n, m in base.named_modules() if type(m) is torch.nn.Linear and n.endswith(suffixes)]
    assert adapted
    expected = sum(rank * (m.in_features + m.out_features) for m in adapted)
    if method == "dora":
        expected += sum(m.out_features for m in adapted)
    assert peft_trainable == expected
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert all(n.startswith("heads.") or "lora_" in n for n in names)


def test_frozen_baseline_trains_only_the_adaptor(methods_settings, encoder_dir) -> None:
    model = build_model(
        methods_settings(tasks=["sts"], tuning="last-layer", head_layers=1), encoder_dir, **LOAD
    )
    trainable, _ = count_parameters(model)
    assert trainable == sum(p.numel() for p in model.heads.parameters())


# -- training: a Siamese and a cross-encoder model train, score their training set, and predict ----------
@pytest.fixture(scope="module")
def pair_runs(methods_settings, encoder_dir, task_data, tmp_path_factory):
    out = {}
    for pair_mode in ("concat", "cross"):
        root = tmp_path_factory.mktemp(pair_mode)
        settings = methods_settings(
            tasks=["para", "sts"], pair_mode=pair_mode, epochs=2, batch_size=16, max_length=32, lr=1e-3
        )
        outputs = {k: str(root / f) for k, f in [("model", "model"), ("history", "h.csv"), ("run", "r.json")]}
        train_data = {t: task_data["train"][t] for t in settings.tasks}
        dev_data = {t: task_data["dev"][t] for t in settings.tasks}
        run = train(
            settings,
            train_data,
            dev_data,
            encoder_dir,
            outputs,
            str(root / "ckpt"),
            CPU,
            lambda m: None,
            LOAD,
            control=run_control(),
        )
        model = load_trained(outputs["model"], **LOAD)
        preds = {t: predict_task(model, d, 32, 64, CPU) for t, d in dev_data.items()}
        train_preds = {t: predict_task(model, d, 32, 64, CPU) for t, d in train_data.items()}
        out[pair_mode] = {
            "run": run,
            "outputs": outputs,
            "preds": preds,
            "dev": dev_data,
            "train_preds": train_preds,
            "train": train_data,
        }
    return out


@pytest.mark.parametrize("pair_mode", ["concat", "cross"])
def test_pair_models_train_and_predict(pair_runs, pair_mode) -> None:
    result = pair_runs[pair_mode]
    history = pd.read_csv(result["outputs"]["history"])
    for column in ("para_acc", "sts_corr", "train_para_acc", "train_sts_corr", "train_overall"):
        assert history[column].notna().all(), column
    assert history["train_para_acc"].between(0, 1).all()
    para = result["preds"]["para"]
    assert len(para) == len(result["dev"]["para"]) and set(np.unique(para)) <= {0.0, 1.0}
    sts = result["preds"]["sts"]
    assert np.isfinite(sts).all() and sts.std() > 0
    run = result["run"]
    assert run["settings"]["pair_mode"] == pair_mode and run["peak_memory_bytes"] > 0
    assert run["hardware"].startswith("CPU")
    # the recorded training-set score is the best model's score on the training data
    best = history[history["epoch"] == run["best_epoch"]].iloc[0]
    gold = result["train"]["para"].labels.numpy()
    assert best["train_para_acc"] == pytest.approx((result["train_preds"]["para"] == gold).mean())
    dev_gold = result["dev"]["para"].labels.numpy()
    assert best["para_acc"] == pytest.approx((para == dev_gold).mean())


# -- tables -------------------------------------------------------------------------------------------------
def test_parse_duration() -> None:
    assert parse_duration("2h 41m") == 2 * 3600 + 41 * 60
    assert parse_duration("17m 32s") == 17 * 60 + 32
    assert parse_duration("15m") == 900 and parse_duration(12.5) == 12.5
    for bad in ("", "soon", "5 minutes"):
        with pytest.raises(ValueError, match="cannot read duration"):
            parse_duration(bad)


def _write_run(folder, *, best_epoch, peak_bytes, seconds, history_rows):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "run.json").write_text(
        json.dumps(
            {
                "best_epoch": best_epoch,
                "peak_memory_bytes": peak_bytes,
                "wall_seconds": seconds,
                "hardware": "CPU test",
                "device": "cpu",
            }
        )
    )
    pd.DataFrame(history_rows).to_csv(folder / "history.csv", index=False)
    return load_run(folder / "run.json", folder / "history.csv")


def _metrics(model, split, score, unlabelled=False):
    return {
        "model": model,
        "split": split,
        "scores": {"sst_acc": None if unlabelled else score},
        "overall": None if unlabelled else score,
        "unlabelled": ["sst"] if unlabelled else [],
    }


HISTORY = [
    {"epoch": 1, "train_loss": 1.5, "sst_acc": 0.30, "train_sst_acc": 0.35},
    {"epoch": 2, "train_loss": 1.2, "sst_acc": 0.45, "train_sst_acc": 0.60},
    {"epoch": 3, "train_loss": 1.0, "sst_acc": 0.40, "train_sst_acc": 0.80},
]


def test_methods_table_cells_come_from_the_files(tmp_path) -> None:
    columns = ["dev", "train", "final_dev", "final_train", "loss", "time_s", "memory_gib", "epoch", "test"]
    rows = [
        {
            "label": "Sentiment LoRA",
            "model": "m",
            "task": "sst",
            "info": {"fine_tuning": "LoRA"},
            "paper": {"dev": 0.45, "time_s": "17m 32s", "memory_gib": 2.59},
        }
    ]
    metrics = {"m": {"dev": _metrics("m", "dev", 0.4512), "test": _metrics("m", "test", 0, unlabelled=True)}}
    for seconds, peak in ((12.34, 3 * 2**30), (99.0, 2**29)):
        runs = {
            "m": _write_run(
                tmp_path / str(seconds), best_epoch=2, peak_bytes=peak, seconds=seconds, history_rows=HISTORY
            )
        }
        table = build_methods_table(rows, columns, metrics, runs, scale="smoke")
        rec = table.iloc[0]
        assert list(table.columns[:4]) == ["row", "fine_tuning", "model", "task"]
        assert rec["dev"] == 0.4512 and rec["dev_paper"] == 0.45
        assert rec["train"] == 0.60  # the training-set score after the best epoch (2)
        assert (rec["final_dev"], rec["final_train"], rec["loss"]) == (0.40, 0.80, 1.0)
        assert rec["time_s"] == round(seconds, 1) and rec["time_s_paper"] == 17 * 60 + 32
        assert rec["memory_gib"] == round(peak / 2**30, 3) and rec["memory_gib_paper"] == 2.59
        assert rec["epoch"] == 2 and rec["epoch_paper"] == ""
        assert rec["test"] == "unlabelled"


def test_methods_table_errors(tmp_path) -> None:
    history = [{k: v for k, v in row.items() if not k.startswith("train_s")} for row in HISTORY]
    runs = {"m": _write_run(tmp_path, best_epoch=1, peak_bytes=1, seconds=1.0, history_rows=history)}
    metrics = {"m": {"dev": _metrics("m", "dev", 0.5)}}
    row = {"label": "r", "model": "m", "task": "sst"}
    with pytest.raises(ValueError, match="train_score: true"):
        build_methods_table([row], ["train"], metrics, runs, scale="smoke")
    with pytest.raises(ValueError, match="unknown columns"):
        build_methods_table([row], ["speed"], metrics, runs, scale="smoke")
    with pytest.raises(ValueError, match="clash"):
        build_methods_table([dict(row, info={"task": "Sentiment"})], ["dev"], metrics, runs, scale="smoke")
    with pytest.raises(KeyError, match="no metrics for model 'other'"):
        build_methods_table([dict(row, model="other")], ["dev"], metrics, runs, scale="smoke")
    with pytest.raises(ValueError, match="needs the model's training run"):
        cell("loss", "sst", metrics["m"], None)


def test_overall_row_uses_the_paper_formula() -> None:
    def metrics(task, value, unlabelled=False):
        name = {"sst": "sst_acc", "para": "para_acc", "sts": "sts_corr"}[task]
        return {
            "test": {
                "scores": {name: None if unlabelled else value},
                "unlabelled": [task] if unlabelled else [],
            }
        }

    rows = [
        {"label": "s", "model": "a", "task": "sst", "paper": {"test": 0.535}},
        {"label": "p", "model": "b", "task": "para", "paper": {"test": 0.902}},
        {"label": "t", "model": "c", "task": "sts", "paper": {"test": 0.870}},
    ]
    values = {"a": metrics("sst", 0.5), "b": metrics("para", 0.8), "c": metrics("sts", 0.6)}
    table = build_methods_table(rows, ["test"], values, {}, scale="quick", overall_row="Overall")
    overall = table.iloc[-1]
    assert overall["test"] == round(0.5 / 3 + 0.8 / 3 + 1.6 / 6, 4)
    assert overall["test_paper"] == pytest.approx(0.791, abs=5e-4)  # the paper's reported overall
    values["b"] = metrics("para", 0, unlabelled=True)
    table = build_methods_table(rows, ["test"], values, {}, scale="quick", overall_row="Overall")
    assert table.iloc[1]["test"] == "unlabelled" and table.iloc[-1]["test"] == "unlabelled"


def test_confusion_table() -> None:
    counts = pd.DataFrame([[50, 5], [10, 35]], index=[0, 1], columns=[0, 1])
    table = confusion_table(counts, {"tp": 13494, "tn": 22610, "fp": 2927, "fn": 1398}).set_index("row")
    assert table.loc["true positives", "count"] == 35 and table.loc["false positives", "count"] == 5
    assert table.loc["false negatives", "count"] == 10 and table.loc["true negatives", "percent"] == 50.0
    assert table.loc["true positives", "percent_paper"] == 33.38
    with pytest.raises(ValueError, match="binary"):
        confusion_table(pd.DataFrame([[1]], index=[0], columns=[0]))


def test_caption_names_scale_encoder_and_hardware() -> None:
    table = {
        "paper": "P",
        "number": "Table 1",
        "caption": "C.",
        "split": "dev",
        "columns": ["time_s", "memory_gib"],
    }
    text = caption(
        table, scale="quick", encoder="minilm-l6", data="mirror", hardware=["CPU x, 2 threads"] * 2
    )
    assert "quick scale" in text and "minilm-l6" in text and text.endswith("Hardware: CPU x, 2 threads.")
    assert "summed over its attempts" in text and "peak resident set" in text


# -- config -------------------------------------------------------------------------------------------------
def test_config_presets_and_methods_tables(config) -> None:
    cfg = copy.deepcopy(config)
    cfg["scale"] = "paper"
    settings = resolve_experiment(cfg, "methods-para-cross-lora")
    assert settings["pooling"] == "cls" and settings["para_outputs"] == 2 and settings["train_score"]
    assert settings["lora"] == {"rank": 8, "alpha": 16, "dropout": 0.1, "targets": "all"}
    assert settings["epochs"] == 2 and settings["pair_mode"] == "cross" and settings["weight_decay"] == 0.01
    check_config(cfg)
    for edit, message in [
        (
            lambda c: c["methods_tables"]["methods_table1"]["rows"][0].update(model="methods-sst-lorra"),
            "did you mean",
        ),
        (
            lambda c: c["methods_tables"]["methods_table1"]["rows"][0].update(task="para"),
            "does not predict 'para'",
        ),
        (
            lambda c: c["methods_tables"]["methods_table1"]["rows"][0].update(model="4-ensemble"),
            "unknown model",
        ),
        (lambda c: c["experiments"]["methods-sst-lora"].update(preset="method"), "unknown preset 'method'"),
        (lambda c: c["experiments"]["methods-multi-para-sts"].update(shared_layer=True), "para_outputs 1"),
        (
            lambda c: c["methods_tables"].update(table1={"kind": "confusion", "caption": "", "split": "dev"}),
            "name",
        ),
    ]:
        broken = copy.deepcopy(cfg)
        edit(broken)
        with pytest.raises(ConfigError, match=message):
            check_config(broken)


def test_a_row_whose_run_did_not_learn_its_task_is_marked():
    from pipeline.reporting.methods_tables import build_methods_table

    rows = [{"label": "a", "model": "a", "task": "sst"}, {"label": "b", "model": "b", "task": "sst"}]
    metrics = {
        "a": {"dev": {"scores": {"sst_acc": 0.5}, "learned": {"sst": True}}},
        "b": {"dev": {"scores": {"sst_acc": 0.26}, "learned": {"sst": False}}},
    }
    frame = build_methods_table(rows, ["dev"], metrics, {}, scale="quick")
    assert frame["not_learned"].tolist() == ["", "sst"]
    assert "not_learned" not in build_methods_table(rows[:1], ["dev"], metrics, {}, scale="quick").columns
