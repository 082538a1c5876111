"""Trained models in the ecosystem's format (pipeline.model.export): what a fine-tuning run writes, that
load_trained rebuilds exactly the model that made the saved predictions, that transformers and peft load
the encoder without this library, and that folders of the earlier format (one model.safetensors) convert."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from inprocess import CPU, LOAD, run_control
from safetensors import safe_open
from safetensors.torch import save_model
from workflow_config import workflow_config

from pipeline.config import resolve_experiment
from pipeline.evaluation.predict import predict_task, prediction_frame
from pipeline.evaluation.predictions import read_predictions
from pipeline.model.export import (
    LABELS,
    TrainedModelError,
    convert_legacy,
    load_trained,
    save_trained,
)
from pipeline.training.finetune import train
from pipeline.workflow.migrate import changed_converted_models, legacy_models, migrate_models

METHODS = ("full", "last-layer", "lora", "dora")
UMASK = 0o002  # group-writable: not what mkstemp (0600) or a default umask (0644) would give
# PEFT calls a transformers method that transformers 5 deprecates; not this project's concern.
pytestmark = pytest.mark.filterwarnings("ignore:.*is_gradient_checkpointing.*:FutureWarning")


@pytest.fixture(scope="module")
def trained(make_settings, encoder_dir, task_data, tmp_path_factory):
    """A 2-epoch run of each method on the tiny encoder (LoRA/DoRA: rank 8 on query and key, the config's
    default), written under the umask :data:`UMASK`: ``{method: (settings, outputs, run)}``."""
    root = tmp_path_factory.mktemp("trained")
    before = os.umask(UMASK)
    out = {}
    try:
        for method in METHODS:
            settings = make_settings(
                tuning=method, epochs=2, batch_size=16, max_length=32, eval_batch_size=64, name=f"t-{method}"
            )
            folder = root / method
            outputs = {
                "model": str(folder),
                "history": str(folder / "history.csv"),
                "run": str(folder / "run.json"),
                "predictions": str(root / "predictions" / method / "dev.csv"),
            }
            run = train(
                settings,
                task_data["train"],
                task_data["dev"],
                encoder_dir,
                outputs,
                str(root / "checkpoints" / method),
                CPU,
                lambda line: None,
                LOAD,
                control=run_control(),
                source={"name": "tiny", "kind": "random", "location": encoder_dir, "pretrain": None},
                card={"paper": "Beyond BERT", "data": "generated (smoke)", "test_metrics": "m/test.json"},
            )
            out[method] = (settings, outputs, run)
    finally:
        os.umask(before)
    return out


def _predictions(model, settings, dev) -> dict:
    return {
        task: prediction_frame(
            data, predict_task(model, data, settings.max_length, settings.eval_batch_size, CPU)
        )
        for task, data in dev.items()
    }


@pytest.mark.parametrize("method", METHODS)
def test_a_reloaded_model_predicts_exactly_the_saved_predictions(trained, task_data, method) -> None:
    settings, outputs, _ = trained[method]
    model = load_trained(outputs["model"], **LOAD)
    assert not model.training
    saved = read_predictions(outputs["predictions"])
    assert list(saved) == list(task_data["dev"])
    for task, frame in _predictions(model, settings, task_data["dev"]).items():
        assert saved[task]["id"].tolist() == frame["id"].tolist()
        assert np.array_equal(
            saved[task]["prediction"].to_numpy(float), frame["prediction"].to_numpy(float)
        ), task


@pytest.mark.parametrize("method", METHODS)
def test_the_folder_holds_the_encoder_or_adapter_heads_settings_and_card(trained, method) -> None:
    settings, outputs, run = trained[method]
    folder = Path(outputs["model"])
    peft = method in ("lora", "dora")
    names = {p.name for p in folder.iterdir()}
    assert {"heads.safetensors", "heads.json", "base.json", "README.md", "history.csv", "run.json"} <= names
    assert "model.safetensors" not in names  # the earlier format's one file
    if peft:
        assert "encoder" not in names
        adapter = folder / "adapter"
        assert {"adapter_config.json", "adapter_model.safetensors"} <= {p.name for p in adapter.iterdir()}
        assert not (adapter / "model.safetensors").exists()
        with safe_open(str(adapter / "adapter_model.safetensors"), "pt") as fh:
            keys = list(fh.keys())
        assert keys and all("lora_" in k for k in keys), keys  # adapter weights only, no base weights
        config = json.loads((adapter / "adapter_config.json").read_text())
        assert config["peft_type"] == "LORA" and config["use_dora"] == (method == "dora")
        assert sorted(config["target_modules"]) == ["key", "query"] and config["r"] == 8
    else:
        assert "adapter" not in names
        assert {"config.json", "model.safetensors", "tokenizer_config.json"} <= {
            p.name for p in (folder / "encoder").iterdir()
        }
    with safe_open(str(folder / "heads.safetensors"), "pt") as fh:
        assert sorted(fh.keys()) and all(k.startswith("heads.") for k in fh.keys())
    record = json.loads((folder / "heads.json").read_text())
    assert record["heads"] == settings.heads.to_dict() and record["tuning"] == method
    assert record["heads"]["pair_mode"] == "sum" and record["pair_input"] == "siamese"
    assert record["labels"]["sst"] == {str(i): LABELS["sst"][str(i)] for i in range(5)}
    assert set(record["labels"]["para"]) == {"0", "1"} and "regression" in record["labels"]["sts"]
    assert LABELS["cfimdb"] == {"0": "negative", "1": "positive"}

    card = (folder / "README.md").read_text()
    best = run["best_epoch"]
    history = {k: v for k, v in _history_row(folder, best).items()}
    for metric in ("sst_acc", "para_acc", "sts_corr", "overall"):
        assert f"| {metric} | {history[metric]:.4f} |" in card, metric
    for words in ("Beyond BERT", "t-" + method, "generated (smoke)", "m/test.json", "pipeline.load_trained"):
        assert words in card, words
    assert run["hardware"] in card and f"precision {run['precision']}" in card
    assert ("PeftModel.from_pretrained" in card) == peft and "AutoModel.from_pretrained" in card


def _history_row(folder: Path, epoch: int) -> dict:
    import pandas as pd

    history = pd.read_csv(folder / "history.csv")
    return history[history["epoch"] == epoch].iloc[0].to_dict()


def test_adapter_weights_are_under_a_tenth_of_the_full_model(trained) -> None:
    full = (Path(trained["full"][1]["model"]) / "encoder" / "model.safetensors").stat().st_size
    for method in ("lora", "dora"):
        adapter = (Path(trained[method][1]["model"]) / "adapter" / "adapter_model.safetensors").stat().st_size
        assert adapter < 0.1 * full, (method, adapter, full)


def test_every_file_gets_the_umask_mode(trained) -> None:
    for method, (_, outputs, _) in trained.items():
        for path in [Path(outputs["model"]), *Path(outputs["model"]).rglob("*")]:
            mode = stat.S_IMODE(path.stat().st_mode)
            expected = (0o777 if path.is_dir() else 0o666) & ~UMASK
            assert mode == expected, (method, str(path), oct(mode))


FRESH = r"""
import json, sys
import torch
from transformers import AutoModel, AutoTokenizer
from peft import PeftModel

full, lora, base, out = sys.argv[1:5]
torch.set_num_threads(1)
ids = torch.tensor([[2, 10, 11, 12, 3, 0]])
mask = torch.tensor([[1, 1, 1, 1, 1, 0]])
states = {}
encoder = AutoModel.from_pretrained(full + "/encoder").eval()
states["full"] = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
encoder = PeftModel.from_pretrained(AutoModel.from_pretrained(base), lora + "/adapter").eval()
states["lora"] = encoder(input_ids=ids, attention_mask=mask).last_hidden_state
tokens = AutoTokenizer.from_pretrained(full + "/encoder")("a plain sentence")["input_ids"]
assert "pipeline" not in sys.modules, "the library was imported"
torch.save({"states": states, "tokens": tokens}, out)
"""


@pytest.mark.e2e  # a subprocess: in the full suite (CI), not the fast loop
def test_a_fresh_interpreter_loads_the_encoders_with_transformers_and_peft(
    trained, encoder_dir, tmp_path
) -> None:
    """transformers alone loads a full run's encoder, peft a LoRA run's adapter onto its base, without this
    library (not importable there: no PYTHONPATH, another working directory); their outputs are those of
    the encoder inside load_trained's model."""
    full, lora = (trained[m][1]["model"] for m in ("full", "lora"))
    out = tmp_path / "states.pt"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["HF_HUB_OFFLINE"] = "1"
    proc = subprocess.run(
        [sys.executable, "-I", "-c", FRESH, full, lora, encoder_dir, str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = torch.load(out, weights_only=True)
    ids = torch.tensor([[2, 10, 11, 12, 3, 0]])
    mask = torch.tensor([[1, 1, 1, 1, 1, 0]])
    for method in ("full", "lora"):
        model = load_trained(trained[method][1]["model"], **LOAD)
        with torch.inference_mode():
            expected = model.encoder(input_ids=ids, attention_mask=mask).last_hidden_state
        torch.testing.assert_close(got["states"][method], expected, rtol=0, atol=1e-6)
    from pipeline.model.encoders import load_tokenizer

    assert got["tokens"] == load_tokenizer(encoder_dir, **LOAD)("a plain sentence")["input_ids"]


@pytest.mark.e2e  # a subprocess: in the full suite (CI), not the fast loop
def test_import_pipeline_is_light_and_offers_load_trained() -> None:
    code = (
        "import sys, pipeline; assert 'torch' not in sys.modules, 'torch at import'; "
        "from pipeline.model.export import load_trained; assert pipeline.load_trained is load_trained"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1] / "src")}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_a_peft_folder_without_its_base_says_so(trained, tmp_path) -> None:
    folder = tmp_path / "moved"
    shutil.copytree(trained["lora"][1]["model"], folder)
    source = json.loads((folder / "base.json").read_text())
    (folder / "base.json").write_text(json.dumps({**source, "location": str(tmp_path / "gone")}))
    with pytest.raises(TrainedModelError, match="base encoder .* is not there"):
        load_trained(folder, **LOAD)


# -- the earlier format: one model.safetensors (the whole state dict) --------------------------------------
def _legacy_folder(trained, method: str, folder: Path, stamp: int = 1_700_000_000) -> dict:
    """A model folder as the code before this format wrote it: ``save_model`` of the whole multitask model
    (what it wrote for every method), history.csv and run.json; returns the predictions of that model."""
    settings, outputs, _ = trained[method]
    model = load_trained(outputs["model"], **LOAD)
    folder.mkdir(parents=True)
    save_model(model, str(folder / "model.safetensors"))
    for name in ("history.csv", "run.json"):
        shutil.copyfile(Path(outputs["model"]) / name, folder / name)
    for path in folder.iterdir():
        os.utime(path, (stamp, stamp))
    return model


@pytest.mark.parametrize("method", ["full", "lora"])
def test_a_folder_of_the_earlier_format_converts_to_the_same_model(
    trained, task_data, encoder_dir, tmp_path, method
):
    folder = tmp_path / "old"
    old = _legacy_folder(trained, method, folder)
    with pytest.raises(TrainedModelError, match="earlier format"):
        load_trained(folder, **LOAD)
    convert_legacy(folder, encoder_dir, {"name": "tiny", "location": encoder_dir}, {"paper": "P"}, **LOAD)
    new = load_trained(folder, **LOAD)
    for key, value in old.state_dict().items():
        assert torch.equal(new.state_dict()[key], value), key
    settings = trained[method][0]
    for task, frame in _predictions(new, settings, task_data["dev"]).items():
        expected = _predictions(old, settings, {task: task_data["dev"][task]})[task]
        assert frame.equals(expected), task
    assert (folder / "model.safetensors").exists()  # the old file stays
    assert "| overall |" in (folder / "README.md").read_text()
    dated = [p for p in folder.rglob("*") if p.is_file() and p.name != "converted.json"]
    assert len(dated) > 8 and all(p.stat().st_mtime == 1_700_000_000 for p in dated)  # none looks newer
    assert (folder / "converted.json").stat().st_mtime > 1_700_000_000  # (see changed_converted_models)


def test_migrate_models_converts_finished_folders_and_a_dry_run_writes_nothing(
    trained, encoder_dir, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    config = workflow_config("smoke")
    shutil.copytree(encoder_dir, tmp_path / "results/smoke/encoders/tiny-random")
    models = tmp_path / "results/smoke/models"
    _legacy_folder(trained, "lora", models / "multi~seed1")
    _legacy_folder(trained, "full", models / "sts-first")
    _legacy_folder(trained, "full", models / "unfinished")
    (models / "unfinished" / "run.json").unlink()  # a run still going (or killed): not a finished one
    _legacy_folder(trained, "full", models / "gone")  # an experiment the config no longer declares
    files = sorted(str(p) for p in models.rglob("*"))
    lines: list[str] = []
    assert migrate_models(config, Path.cwd(), dry_run=True, log=lines.append) == ["multi~seed1", "sts-first"]
    assert sorted(str(p) for p in models.rglob("*")) == files  # a dry run writes nothing
    assert migrate_models(config, Path.cwd(), log=lines.append) == ["multi~seed1", "sts-first"]
    assert (models / "multi~seed1" / "adapter" / "adapter_model.safetensors").exists()
    assert (models / "sts-first" / "encoder" / "model.safetensors").exists()
    assert not (models / "unfinished" / "README.md").exists() and not (models / "gone" / "README.md").exists()
    source = json.loads((models / "multi~seed1" / "base.json").read_text())
    assert source["location"] == "results/smoke/encoders/tiny-random" and source["kind"] == "random"
    assert legacy_models(config) == [] and migrate_models(config, Path.cwd()) == []  # converted once
    load_trained(models / "multi~seed1", **LOAD)  # its base found where base.json says
    assert lines == []

    # Snakemake has no record of a converted folder's fine-tuning job: the workflow compares the settings
    card = models / "sts-first" / "README.md"
    marker = models / "sts-first" / "converted.json"
    assert marker.stat().st_mtime > card.stat().st_mtime  # so, as the job's input, it reruns the job
    assert changed_converted_models(config) == {  # trained with other settings than these experiments'
        "multi~seed1": "results/smoke/models/multi~seed1/converted.json",
        "sts-first": "results/smoke/models/sts-first/converted.json",
    }
    run = json.loads((models / "sts-first" / "run.json").read_text())
    run["settings"] = resolve_experiment(config, "sts-first")
    (models / "sts-first" / "run.json").write_text(json.dumps(run))
    assert list(changed_converted_models(config)) == ["multi~seed1"]  # sts-first's settings are today's


def test_a_model_trained_again_leaves_nothing_of_a_converted_one(trained, encoder_dir, tmp_path):
    folder = tmp_path / "old"
    model = _legacy_folder(trained, "lora", folder)
    convert_legacy(folder, encoder_dir, {"name": "tiny", "location": encoder_dir}, **LOAD)
    assert {"model.safetensors", "converted.json", "adapter"} <= {p.name for p in folder.iterdir()}
    settings = trained["full"][0]
    model = load_trained(trained["full"][1]["model"], **LOAD)
    save_trained(
        model,
        folder,
        heads=settings.heads,
        tuning="full",
        lora=settings.lora,
        max_length=32,
        name="again",
        tokenizer_location=encoder_dir,
        source={"name": "tiny", "location": encoder_dir},
        load_kwargs=LOAD,
    )
    names = {p.name for p in folder.iterdir()}
    assert "encoder" in names and not names & {"model.safetensors", "converted.json", "adapter"}
