"""Tests of pipeline.model.heads, pipeline.model.tuning and pipeline.training.finetune on a tiny random BERT and generated data."""

from __future__ import annotations

import json
import math
import shutil
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
import torch.nn.functional as F
from inprocess import run_control
from torch import nn

from pipeline.evaluation.predict import predict_task, prediction_frame
from pipeline.evaluation.predictions import read_predictions
from pipeline.model.export import load_trained, save_trained
from pipeline.model.losses import cosine_similarity_score
from pipeline.model.tuning import count_parameters, target_modules
from pipeline.provenance import fingerprint
from pipeline.settings import Experiment
from pipeline.training.checkpoints import Checkpoints
from pipeline.training.finetune import (
    build_model,
    linear_schedule,
    train,
    write_dev_predictions,
)
from pipeline.training.sampling import epoch_plan

CPU = torch.device("cpu")
LOAD = {"local_files_only": True}
PEFT_METHODS = ("lora", "dora", "rslora")
METHODS = ("full", "last-layer", *PEFT_METHODS)
# PEFT calls a transformers method that transformers 5 deprecates; not this project's concern.
pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")


@pytest.fixture(scope="module")
def build(make_settings, encoder_dir):
    """``build(**changes)`` -> (model, settings) on the tiny encoder."""

    def make(**changes):
        settings = make_settings(**changes)
        return build_model(settings, encoder_dir, **LOAD), settings

    return make


def _batch(data, index, settings) -> dict:
    pair_input = "cross" if settings.pair_mode == "cross" else "siamese"
    return data.batch(index, settings.max_length, pair_input)


def _head_parameters(model) -> int:
    count = sum(p.numel() for p in model.heads.parameters())
    return count + (sum(p.numel() for p in model.shared.parameters()) if model.shared is not None else 0)


def _lora_linears(model) -> dict[str, nn.Module]:
    from peft.tuners.lora import LoraLayer

    return {name: m for name, m in model.encoder.named_modules() if isinstance(m, LoraLayer)}


def _base_linears(encoder) -> dict[str, nn.Linear]:
    return {name: m for name, m in encoder.named_modules() if type(m) is nn.Linear}


# -- tuning: what trains --------------------------------------------------------------------------------
@pytest.mark.parametrize("method", METHODS)
def test_trainable_parameter_counts(build, encoder_dir, method: str) -> None:
    model, settings = build(tuning=method, lora={"targets": ["query", "value"]})
    trainable, total = count_parameters(model)
    heads = _head_parameters(model)
    assert heads > 0
    if method == "full":
        assert trainable == total == heads + sum(p.numel() for p in model.encoder.parameters())
    elif method == "last-layer":
        assert trainable == heads
        names = [n for n, p in model.named_parameters() if p.requires_grad]
        assert names and all(n.startswith("heads.") for n in names)
    else:
        peft_trainable, peft_total = model.encoder.get_nb_trainable_parameters()
        assert trainable == peft_trainable + heads
        assert total == peft_total + heads
        # by hand: r * (in + out) per adapted linear layer, plus DoRA's magnitude vector (out)
        from pipeline.model.encoders import load_encoder

        rank = settings.lora.rank
        base = _base_linears(load_encoder(encoder_dir, **LOAD))
        adapted = [m for name, m in base.items() if name.endswith(("query", "value"))]
        assert len(adapted) == 2  # one layer: its query and value
        expected = sum(rank * (m.in_features + m.out_features) for m in adapted)
        if method == "dora":
            expected += sum(m.out_features for m in adapted)
        assert peft_trainable == expected
        assert all(p.requires_grad for p in model.heads.parameters())  # heads stay outside PEFT


@pytest.mark.parametrize(("targets", "suffixes"), [(["query", "value"], ("query", "value")), (None, None)])
def test_lora_targets_are_exactly_the_named_modules(build, config, targets, suffixes) -> None:
    if targets is None:  # config.yaml's defaults
        targets = config["defaults"]["lora"]["targets"]
        suffixes = tuple(targets)
    model, _ = build(tuning="lora", lora={"targets": targets})
    adapted = {name.rsplit(".", 1)[-1] for name in _lora_linears(model)}
    assert adapted == set(suffixes)
    linear_names = [n for n, m in model.encoder.named_modules() if hasattr(m, "base_layer")]
    assert all(n.endswith(suffixes) for n in linear_names)
    for name, param in model.encoder.named_parameters():
        assert param.requires_grad == ("lora_" in name), name


def test_target_sets() -> None:
    assert target_modules(["query"]) == ["query"]
    assert "intermediate.dense" in target_modules("all") and "query" not in target_modules("all-dense")
    with pytest.raises(ValueError, match="unknown target set"):
        target_modules("everything")


@pytest.mark.parametrize("method", PEFT_METHODS)
def test_lora_variants(build, method: str) -> None:
    model, settings = build(tuning=method, lora={"rank": 4, "alpha": 16, "targets": ["query", "key"]})
    layers = _lora_linears(model)
    assert len(layers) == 2
    rank, alpha = 4, 16
    for layer in layers.values():
        expected = alpha / math.sqrt(rank) if method == "rslora" else alpha / rank
        assert layer.scaling["default"] == pytest.approx(expected)
        assert layer.r["default"] == rank
        has_magnitude = "default" in getattr(layer, "lora_magnitude_vector", {})
        assert has_magnitude == (method == "dora")


def test_unknown_tuning_method_raises(build) -> None:
    with pytest.raises(ValueError, match="unknown tuning method"):
        build(tuning="prefix")


def _train_steps(model, settings, task_data, rounds: int = 3) -> None:
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-2)
    model.train()
    for r in range(rounds):
        for task in settings.tasks:
            index = list(range(r * 8, r * 8 + 8))
            loss = model.loss(task, _batch(task_data["train"][task], index, settings))
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)


@pytest.mark.parametrize("method", METHODS)
def test_only_trainable_parameters_change(build, task_data, method: str) -> None:
    model, settings = build(tuning=method, shared_layer=True)
    before = {k: v.detach().clone() for k, v in model.state_dict().items()}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    _train_steps(model, settings, task_data)
    after = model.state_dict()
    assert set(after) == set(before)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == trainable
    frozen = [k for k in before if k not in trainable]
    if method != "full":
        assert any("encoder" in k and "weight" in k for k in frozen)
    for k in frozen:  # frozen base weights and buffers: bit-identical
        assert torch.equal(before[k], after[k]), k


# -- heads -----------------------------------------------------------------------------------------------
def test_shared_layer_feeds_para_and_sts(build, task_data) -> None:
    model, settings = build(shared_layer=True)
    hidden = model.encoder.config.hidden_size
    assert isinstance(model.shared, nn.Linear)
    assert (model.shared.in_features, model.shared.out_features) == (2 * hidden, 1)
    model.eval()
    batches = {t: _batch(task_data["dev"][t], list(range(6)), settings) for t in settings.tasks}
    with torch.no_grad():
        before = {t: model(t, b) for t, b in batches.items()}
        # para: own head on the summed embeddings plus the shared layer on the concatenation
        e1, e2 = model.embed(batches["para"]["inputs1"]), model.embed(batches["para"]["inputs2"])
        manual = model.heads["para"](e1 + e2).squeeze(-1) + model.shared(torch.cat([e1, e2], -1)).squeeze(-1)
        assert torch.allclose(before["para"], manual, atol=1e-6)
        model.shared.weight.add_(0.5)
        after = {t: model(t, b) for t, b in batches.items()}
    for task in ("para", "sts"):
        assert not torch.allclose(before[task], after[task]), task
    assert torch.equal(before["sst"], after["sst"])
    plain, _ = build(shared_layer=False)
    assert plain.shared is None


def test_cosine_sts_head(build, task_data) -> None:
    model, settings = build(sts_head="cosine", pair_mode="concat")
    assert "sts" not in model.heads and set(model.heads) == {"sst", "para"}
    data = task_data["dev"]["sts"]
    batch = _batch(data, list(range(len(data))), settings)
    model.eval()
    with torch.no_grad():
        out = model("sts", batch)
        e1, e2 = model.embed(batch["inputs1"]), model.embed(batch["inputs2"])
    assert out.shape == (len(data),)
    assert ((out >= 0) & (out <= 5)).all()
    assert torch.allclose(out, cosine_similarity_score(e1, e2))
    with torch.no_grad():
        assert torch.allclose(model.loss("sts", batch), F.mse_loss(out, batch["labels"]))
    values = predict_task(model, data, settings.max_length, 16, CPU)
    assert values.min() >= 0 and values.max() <= 5


@pytest.mark.parametrize(("pair_mode", "factor"), [("sum", 1), ("concat", 2), ("cross", 1)])
@pytest.mark.parametrize("head_layers", [0, 1])
def test_pair_mode_head_widths(build, task_data, pair_mode: str, factor: int, head_layers: int) -> None:
    model, settings = build(pair_mode=pair_mode, head_layers=head_layers)
    hidden = model.encoder.config.hidden_size
    for task, width_in, width_out in (
        ("sst", hidden, 5),
        ("para", factor * hidden, 1),
        ("sts", factor * hidden, 1),
    ):
        linears = [m for m in model.heads[task] if isinstance(m, nn.Linear)]
        assert len(linears) == head_layers + 1
        assert linears[0].in_features == width_in and linears[-1].out_features == width_out
        assert all(m.in_features == hidden for m in linears[1:])
        assert isinstance(model.heads[task][0], nn.Dropout)
    model.eval()
    for task in settings.tasks:
        batch = _batch(task_data["dev"][task], [0, 1, 2, 3], settings)
        assert ("inputs" in batch) == (task == "sst" or pair_mode == "cross")
        out = model(task, batch)
        assert out.shape == ((4, 5) if task == "sst" else (4,))


@pytest.mark.parametrize(("pair_mode", "factor"), [("sum", 3), ("concat", 4), ("cross", 1)])
def test_interaction_features_widen_siamese_heads(build, task_data, pair_mode: str, factor: int) -> None:
    """``pair_features: interaction``: a Siamese head reads u+v or [u; v], then u*v and |u-v| (a
    cross-encoder has no pair of embeddings: unchanged)."""
    model, settings = build(pair_mode=pair_mode, pair_features="interaction")
    hidden = model.encoder.config.hidden_size
    assert model.heads["para"][-1].in_features == factor * hidden
    model.eval()
    batch = _batch(task_data["dev"]["para"], [0, 1, 2], settings)
    with torch.no_grad():
        out = model("para", batch)
        if pair_mode != "cross":
            u, v = model.embed(batch["inputs1"]), model.embed(batch["inputs2"])
            first = [u + v] if pair_mode == "sum" else [u, v]
            features = torch.cat([*first, u * v, (u - v).abs()], -1)
            assert torch.allclose(model.combine(u, v), features)
            assert torch.allclose(out, model.heads["para"](features).squeeze(-1))
    with pytest.raises(ValueError, match="pair_features"):
        build(pair_features="product")


def test_sts_bias_starts_the_sts_head_at_a_value(build, task_data) -> None:
    model, settings = build(pair_mode="concat", head_layers=1)
    model.set_sts_bias(2.61)
    assert torch.equal(model.heads["sts"][-1].bias, torch.full((1,), 2.61))
    cosine, _ = build(pair_mode="concat", sts_head="cosine")
    cosine.set_sts_bias(2.61)  # no STS layer: nothing to set
    assert "sts" not in cosine.heads


def test_cross_encoder_uses_token_types(build, task_data) -> None:
    model, settings = build(pair_mode="cross", pooling="cls")
    model.eval()
    batch = _batch(task_data["dev"]["para"], [0, 1, 2], settings)
    with torch.no_grad():
        out = model("para", batch)
        inputs = dict(batch["inputs"], token_type_ids=torch.zeros_like(batch["inputs"]["token_type_ids"]))
        assert not torch.allclose(out, model("para", dict(batch, inputs=inputs)))


@pytest.mark.parametrize("pooling", ["cls", "pooler", "mean"])
def test_pooling_ignores_padding(build, task_data, pooling: str) -> None:
    model, settings = build(pooling=pooling)
    model.eval()
    data = task_data["dev"]["sst"]
    lengths = data.lengths()
    index = sorted(range(len(data)), key=lengths.__getitem__)[:: len(data) // 5]
    assert len({lengths[i] for i in index}) > 1  # padding present
    with torch.no_grad():
        batch = _batch(data, index, settings)["inputs"]
        together = model.embed(batch)
        alone = torch.cat([model.embed(_batch(data, [i], settings)["inputs"]) for i in index])
        assert torch.allclose(together, alone, atol=1e-5)
        if pooling == "mean":
            states = model.encoder(**batch).last_hidden_state
            for row, i in enumerate(index):
                n = lengths[i] + 2
                assert torch.allclose(together[row], states[row, :n].mean(0), atol=1e-6)


def test_unknown_pooling_or_pair_mode(build) -> None:
    with pytest.raises(ValueError, match="pooling"):
        build(pooling="max")
    with pytest.raises(ValueError, match="pair_mode"):
        build(pair_mode="product")


def test_losses_and_predictions_per_task(build, task_data) -> None:
    model, settings = build(dropout=0.0)
    model.eval()
    with torch.no_grad():
        for task in settings.tasks:
            batch = _batch(task_data["dev"][task], list(range(8)), settings)
            out, labels = model(task, batch), batch["labels"]
            pred = model.predict(task, batch)
            if task == "sst":
                expected = F.cross_entropy(out, labels.long())
                assert torch.equal(pred, out.argmax(-1))
            elif task == "para":
                expected = F.binary_cross_entropy_with_logits(out, labels)
                assert torch.equal(pred, (out > 0).long())
            else:
                expected = F.mse_loss(out, labels)
                assert torch.equal(pred, out)
            assert torch.allclose(model.loss(task, batch), expected)


def test_predict_task_restores_file_order(build, task_data) -> None:
    model, settings = build(pair_mode="concat")
    for task in settings.tasks:
        data = task_data["dev"][task]
        values = predict_task(model, data, settings.max_length, 7, CPU)
        model.eval()
        alone = [float(model.predict(task, _batch(data, [i], settings))[0]) for i in range(len(data))]
        assert values == pytest.approx(alone, abs=1e-5)
        assert model.training is False


@pytest.mark.parametrize("method", ["full", "dora"])
def test_load_trained_round_trip(build, encoder_dir, task_data, tmp_path, method: str) -> None:
    model, settings = build(tuning=method)
    _train_steps(model, settings, task_data, rounds=1)
    save_trained(
        model,
        tmp_path,
        heads=settings.heads,
        tuning=method,
        lora=settings.lora,
        max_length=settings.max_length,
        name="round-trip",
        tokenizer_location=encoder_dir,
        source={"name": "tiny", "location": encoder_dir},
        load_kwargs=LOAD,
    )
    loaded = load_trained(tmp_path, **LOAD)
    assert loaded.state_dict().keys() == model.state_dict().keys()
    for key, value in model.state_dict().items():
        assert torch.equal(value, loaded.state_dict()[key]), key
    data = task_data["dev"]["sts"]
    assert np.array_equal(predict_task(model, data, 32, 16, CPU), predict_task(loaded, data, 32, 16, CPU))


# -- sampling as train() sets it up ---------------------------------------------------------------------
def test_upweighted_task_sampled_more(make_settings) -> None:
    sizes = {"sst": 100, "para": 2000, "sts": 300}
    shares = {}
    for weights in ({}, {"sst": 8}):
        settings = make_settings(sampling="annealed", steps_per_epoch=3000, upweight=weights)
        plan = epoch_plan(
            method=settings.sampling,
            sizes=sizes,
            batch_size=settings.batch_size,
            epoch=1,
            epochs=settings.epochs,
            seed=settings.seed,
            steps_per_epoch=settings.steps_per_epoch,
            upweight=settings.upweight,
        )
        assert len(plan) == 3000
        shares[json.dumps(weights)] = Counter(t for t, _ in plan)["sst"] / len(plan)
    plain, weighted = shares["{}"], shares['{"sst": 8}']
    assert plain == pytest.approx(100 / 2400, abs=0.015)
    assert weighted == pytest.approx(800 / 3100, abs=0.03)


def test_linear_schedule_and_fingerprint(make_settings) -> None:
    factor = linear_schedule(10)
    assert [factor(s) for s in (0, 5, 10, 12)] == [1.0, 0.5, 0.0, 0.0]
    a, b = make_settings(), make_settings()
    assert fingerprint(a.to_dict()) == fingerprint(b.to_dict())
    assert fingerprint(a.to_dict()) != fingerprint(make_settings(seed=1).to_dict())
    assert fingerprint(a.to_dict()) != fingerprint(make_settings(lora={"rank": 4}).to_dict())


# -- train(): outputs, resume, determinism ----------------------------------------------------------------
class Killed(RuntimeError):
    pass


@pytest.fixture(scope="module")
def runs(make_settings, encoder_dir, task_data, tmp_path_factory):
    """Short training runs on generated data (2 epochs, tiny encoder):

    * ``a``: seed 0, uninterrupted; ``b``: seed 0 again; ``c``: seed 1, started in a copy of an interrupted
      run's checkpoint folder (another fingerprint: must not resume);
    * ``resumed``: seed 0, killed when epoch 2 ends (epoch 1's checkpoint is saved; the log call of epoch 2
      comes before epoch 2's checkpoint), then rerun with the same settings and checkpoint folder.
    """
    root = tmp_path_factory.mktemp("runs")
    train_data, dev_data = task_data["train"], task_data["dev"]
    base = make_settings(epochs=2, batch_size=16, max_length=32, eval_batch_size=64)
    assert base.sampling == "round-robin"

    def run(name: str, settings: Experiment, checkpoint_dir=None, kill_at: int | None = None):
        logs: list[str] = []

        def log(message: str) -> None:
            logs.append(message)
            if kill_at is not None and message.startswith(f"epoch {kill_at}/"):
                raise Killed(message)

        outputs = {k: str(root / name / f) for k, f in (("history", "history.csv"), ("run", "run.json"))}
        outputs["model"] = str(root / name)
        outputs["predictions"] = str(root / name / "dev.csv")
        ckpt = checkpoint_dir or root / name / "checkpoints"
        info = train(
            settings,
            train_data,
            dev_data,
            encoder_dir,
            outputs,
            str(ckpt),
            CPU,
            log,
            LOAD,
            control=run_control(),
        )
        model = load_trained(outputs["model"], **LOAD)
        predictions = {
            t: predict_task(model, d, settings.max_length, settings.eval_batch_size, CPU)
            for t, d in dev_data.items()
        }
        history = pd.read_csv(outputs["history"])
        with open(outputs["run"]) as fh:
            assert json.load(fh) == json.loads(json.dumps(info))
        return {
            "info": info,
            "logs": logs,
            "history": history,
            "predictions": predictions,
            "outputs": outputs,
            "checkpoints": ckpt,
        }

    out = {"a": run("a", base)}
    killed_ckpt = root / "killed" / "checkpoints"
    with pytest.raises(Killed):
        run("killed", base, killed_ckpt, kill_at=2)
    out["killed_files"] = sorted(p.name for p in killed_ckpt.iterdir())
    shutil.copytree(killed_ckpt, root / "c-checkpoints")
    out["c"] = run("c", replace(base, seed=1), root / "c-checkpoints")
    out["resumed"] = run("resumed", base, killed_ckpt)
    out["b"] = run("b", base)
    return out


def test_train_writes_outputs(runs) -> None:
    a = runs["a"]
    for key, path in a["outputs"].items():
        assert open(Path(path) / "README.md" if key == "model" else path, "rb").read(1), key
    history, info = a["history"], a["info"]
    assert list(history.columns) == [
        "epoch",
        "train_loss",
        "sst_acc",
        "para_acc",
        "sts_corr",
        "overall",
        "epoch_seconds",
    ]
    assert history["epoch"].tolist() == [1, 2]
    assert history.notna().all().all() and np.isfinite(history["train_loss"]).all()
    assert (history["epoch_seconds"] > 0).all()
    expected = history["sst_acc"] / 3 + history["para_acc"] / 3 + (history["sts_corr"] + 1) / 6
    assert np.allclose(history["overall"], expected)
    assert info["peak_memory_bytes"] > 0 and info["wall_seconds"] > 0 and info["train_seconds"] > 0
    assert info["wall_seconds"] >= info["train_seconds"]
    assert info["best_dev_overall"] == pytest.approx(history["overall"].max())
    assert info["best_epoch"] == int(history.loc[history["overall"].idxmax(), "epoch"])
    assert info["resumed_after_epoch"] is None
    assert 0 < info["trainable_parameters"] == info["total_parameters"]  # full fine-tuning
    assert not any((a["checkpoints"] / f).exists() for f in ("last.pt", "best.safetensors", "best-dev.pt"))
    assert not any("resuming" in line for line in a["logs"])
    assert sum(line.startswith("epoch ") for line in a["logs"]) == 2


def test_killed_run_leaves_epoch_one_checkpoint(runs) -> None:
    assert {"last.pt", "best.safetensors", "best-dev.pt"} <= set(runs["killed_files"])


@pytest.mark.parametrize("name", ["a", "resumed", "c"])
def test_dev_predictions_written_by_training_are_the_saved_models(runs, task_data, name) -> None:
    """The fine-tuning job's dev prediction file (its best epoch's end-of-epoch evaluation, kept across a
    resume) equals what the saved model predicts when loaded again, row for row, its tasks in the
    experiment's order."""
    run = runs[name]
    written = read_predictions(run["outputs"]["predictions"])
    assert list(written) == list(task_data["dev"])
    for task, data in task_data["dev"].items():
        expected = prediction_frame(data, run["predictions"][task])
        assert len(written[task]) == len(data) > 0
        assert written[task]["id"].tolist() == expected["id"].tolist()
        np.testing.assert_allclose(
            written[task]["prediction"], expected["prediction"].astype(float), atol=1e-6
        )


def test_best_dev_predictions_kept_before_the_one_file_format_still_make_the_dev_file(
    task_data, tmp_path
) -> None:
    """best-dev.pt as checkpoint folders written before predictions became one file per model and split hold
    it (task -> tensor of the best epoch's dev predictions, torch.save): a resumed run still writes its
    experiment's dev prediction file from it, every task in the experiment's order."""
    dev = task_data["dev"]
    rng = np.random.default_rng(0)
    values = {t: rng.integers(0, d.task.num_labels, len(d)).astype(float) for t, d in dev.items()}
    values["sts"] = rng.uniform(0, 5, len(dev["sts"]))
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    torch.save({t: torch.from_numpy(v) for t, v in values.items()}, folder / "best-dev.pt")  # the old writer
    write_dev_predictions(Checkpoints(folder, "f").best_predictions(), dev, str(tmp_path / "dev.csv"))
    written = read_predictions(tmp_path / "dev.csv", list(dev))
    assert list(written) == list(dev)
    for task, data in dev.items():
        assert written[task]["id"].tolist() == list(data.ids)
        expected = np.round(values[task], 6) if task == "sts" else values[task]
        np.testing.assert_array_equal(written[task]["prediction"].to_numpy(), expected)


def test_resume_continues_exactly(runs) -> None:
    a, resumed = runs["a"], runs["resumed"]
    assert any(line.startswith("resuming after epoch 1") for line in resumed["logs"])
    assert [line.split(":")[0] for line in resumed["logs"] if line.startswith("epoch ")] == ["epoch 2/2"]
    assert resumed["info"]["resumed_after_epoch"] == 1
    columns = [c for c in a["history"].columns if c != "epoch_seconds"]
    pd.testing.assert_frame_equal(a["history"][columns], resumed["history"][columns], check_exact=True)
    assert resumed["info"]["best_epoch"] == a["info"]["best_epoch"]
    for task, values in a["predictions"].items():
        assert np.array_equal(values, resumed["predictions"][task]), task


def test_same_seed_same_predictions_other_seed_differs(runs) -> None:
    a, b, c = runs["a"], runs["b"], runs["c"]
    columns = [col for col in a["history"].columns if col != "epoch_seconds"]
    pd.testing.assert_frame_equal(a["history"][columns], b["history"][columns], check_exact=True)
    for task in a["predictions"]:
        assert np.array_equal(a["predictions"][task], b["predictions"][task]), task
    assert not np.array_equal(a["predictions"]["sts"], c["predictions"]["sts"])
    assert a["history"]["train_loss"].tolist() != c["history"]["train_loss"].tolist()
    # c started next to another run's checkpoint: a different fingerprint is not resumed
    assert not any("resuming" in line for line in c["logs"])
    assert c["info"]["resumed_after_epoch"] is None


def test_siamese_prediction_embeds_each_side_apart(make_settings, encoder_dir, task_data) -> None:
    """Prediction of Siamese pair tasks (each side in its own length-sorted batches) equals the per-pair
    batches of training."""
    for pair_mode, sts_head in (("sum", "linear"), ("concat", "cosine")):
        settings = make_settings(pair_mode=pair_mode, sts_head=sts_head, dropout=0.0)
        model = build_model(settings, encoder_dir, **LOAD).eval()
        for task in ("para", "sts"):
            data = task_data["dev"][task]
            fast = predict_task(model, data, settings.max_length, 7, CPU)
            with torch.no_grad():
                slow = model.predict(task, data.batch(list(range(len(data))), settings.max_length)).numpy()
            assert np.allclose(fast, slow, atol=1e-5), (pair_mode, task)


def test_mnrl_step_embeds_as_one_padded_batch(make_settings, encoder_dir, task_data) -> None:
    """MNRL's length-sorted chunks give the embeddings of plain padded batches."""
    from pipeline.data.batching import Ragged
    from pipeline.evaluation.predict import embed_sentences
    from pipeline.training.pretrain import positive_pairs

    pairs = positive_pairs({"para": task_data["train"]["para"], "sts": task_data["train"]["sts"]}, 4.0)
    model = build_model(make_settings(pooling="mean"), encoder_dir, **LOAD).eval()
    rows = torch.arange(min(12, len(pairs)))
    sentences = Ragged.concat(pairs.text1.take(rows), pairs.text2.take(rows))
    with torch.no_grad():
        chunked = embed_sentences(model, pairs, sentences, 32, 3, CPU)
        batch = pairs.batch(rows, 32)
        whole = torch.cat([model.embed(batch["inputs1"]), model.embed(batch["inputs2"])])
    assert torch.allclose(chunked, whole, atol=1e-5)


@pytest.mark.parametrize(
    "changes, groups",
    [
        ({"lr": 1e-4}, [("all", 1e-4)]),
        ({"lr": 1e-4, "head_lr": 1e-4}, [("all", 1e-4)]),  # not above lr: one group
        ({"lr": 1e-3, "head_lr": 1e-4}, [("all", 1e-3)]),  # at least head_lr, never lowered
        (
            {"lr": 1e-5, "head_lr": 3e-3, "shared_layer": True, "pair_mode": "concat"},
            [("encoder", 1e-5), ("top", 3e-3)],
        ),
        ({"lr": 1e-5, "head_lr": 3e-3, "tuning": "lora"}, [("encoder", 1e-5), ("top", 3e-3)]),
        ({"lr": 1e-5, "head_lr": 3e-3, "tuning": "last-layer"}, [("top", 1e-5)]),  # frozen: lr is the heads'
    ],
)
def test_the_heads_train_at_head_lr_and_the_encoder_at_lr(make_settings, encoder_dir, changes, groups):
    from pipeline.training.finetune import build_model, make_optimizer

    settings = make_settings(**changes)
    model = build_model(settings, encoder_dir, local_files_only=True)
    names = {id(p): n for n, p in model.named_parameters()}
    optimizer = make_optimizer(model, settings)
    seen = []
    for group in optimizer.param_groups:
        where = {
            "top" if names[id(p)].startswith(("heads.", "shared.")) else "encoder" for p in group["params"]
        }
        seen.append(("all" if len(where) > 1 else where.pop(), group["lr"]))
    assert seen == groups
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert sum(len(g["params"]) for g in optimizer.param_groups) == len(trainable)  # each once, none left out
