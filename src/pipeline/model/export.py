"""A trained multitask model as the ecosystem's files, and :func:`load_trained`, which rebuilds it.

A trained model's folder (``results/{scale}/models/{experiment}/``, :mod:`pipeline.workflow.paths`) holds:

* ``encoder/`` (full, last-layer runs): the encoder as ``transformers``' ``save_pretrained`` writes it
  (``config.json``, ``model.safetensors``) and its tokenizer: ``AutoModel.from_pretrained(folder/"encoder")``;
* ``adapter/`` (lora, dora, rslora runs): the PEFT adapter as ``PeftModel.save_pretrained`` writes it
  (``adapter_config.json``, ``adapter_model.safetensors``: the adapter weights only, no base weights) and the
  tokenizer: ``PeftModel.from_pretrained(base, folder/"adapter")``;
* ``heads.safetensors``: the task heads (``heads.*``) and the shared layer (``shared.*``), named as in
  :class:`pipeline.model.heads.MultitaskModel`;
* ``heads.json``: what :func:`load_trained` needs to rebuild the model around them (tasks, pooling, pair mode,
  head layers, dropout, para outputs, STS head, shared layer, tuning method, maximum length) and each task's
  label map (what a predicted value means);
* ``base.json``: where the encoder came from: a hub repository at its exact revision (``repo@revision``), a
  local folder, or an installed package, and the MNRL stage it went through;
* ``README.md``: the model card (paper, settings, dev scores, time, hardware, how to load it), written last: a
  folder with its card is complete (it is the fine-tuning rule's declared output);
* ``history.csv`` and ``run.json``: the training record (:mod:`pipeline.training.finetune`).

Every file gets the mode the user's umask gives (:mod:`pipeline.io`). Before this format the folder held one
``model.safetensors`` (the model's whole state dict); :func:`convert_legacy` turns such a folder into this
format (:func:`pipeline.workflow.migrate.migrate_models` calls it when the DAG is built).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from pipeline.io import folder_atomic, write_atomic, write_json_atomic, write_text_atomic
from pipeline.model.encoders import load_encoder, load_tokenizer
from pipeline.model.heads import MultitaskModel
from pipeline.model.tuning import apply_tuning
from pipeline.settings import Heads, Lora
from pipeline.tasks import get_task

ENCODER = "encoder"
ADAPTER = "adapter"
HEADS = "heads.safetensors"
HEADS_JSON = "heads.json"
BASE_JSON = "base.json"
CARD = "README.md"
#: the single file of the format before this one (the whole state dict)
LEGACY = "model.safetensors"
#: written by :func:`convert_legacy` beside a converted model (see there)
CONVERTED = "converted.json"
FORMAT = "pipeline-multitask-bert/1"
PEFT_METHODS = ("lora", "dora", "rslora")

#: What each task's predicted value means.
LABELS = {
    "sst": {"0": "very negative", "1": "negative", "2": "neutral", "3": "positive", "4": "very positive"},
    "para": {"0": "not a paraphrase", "1": "paraphrase"},
    "sts": {"regression": "similarity from 0 (unrelated) to 5 (equivalent)"},
    "cfimdb": {"0": "negative", "1": "positive"},
}


class TrainedModelError(ValueError):
    """A model folder that cannot be loaded (missing or inconsistent files); the message names the file."""


def encoder_folder(tuning: str) -> str:
    """The sub-folder that holds the encoder of a run tuned with ``tuning``."""
    return ADAPTER if tuning in PEFT_METHODS else ENCODER


def heads_record(heads: Heads, tuning: str, lora: Lora | None, max_length: int, name: str) -> dict:
    """heads.json: the settings that rebuild the model around the saved weights, and the label maps."""
    return {
        "format": FORMAT,
        "experiment": name,
        "tuning": tuning,
        "encoder": encoder_folder(tuning),
        "lora": lora.to_dict() if tuning in PEFT_METHODS and lora is not None else None,
        "heads": heads.to_dict(),
        "pair_input": "cross" if heads.pair_mode == "cross" else "siamese",
        "max_length": max_length,
        "labels": {task: LABELS[task] for task in heads.tasks},
        "outputs": {task: _output(task, heads) for task in heads.tasks},
    }


def _output(task: str, heads: Heads) -> str:
    """What the model's output for ``task`` is, and how a prediction is read from it."""
    if task == "sts":
        return (
            "the cosine of the two embeddings rescaled to [0, 5]"
            if heads.sts_head == "cosine"
            else "one value"
        )
    if task == "para" and heads.para_outputs == 1:
        return "one logit (paraphrase when > 0)"
    return f"{get_task(task).num_labels} logits (the prediction is their argmax)"


def save_trained(
    model: MultitaskModel,
    folder: str | Path,
    *,
    heads: Heads,
    tuning: str,
    lora: Lora | None,
    max_length: int,
    name: str,
    tokenizer_location: str,
    source: Mapping,
    load_kwargs: Mapping | None = None,
    keep_legacy: bool = False,
) -> dict[str, int]:
    """Write the model's files (all but the card) into ``folder``: the encoder or adapter sub-folder, the
    heads and their settings, where the encoder came from. Each is written atomically; an encoder or adapter
    folder of an earlier run of another method is removed, and so is a ``model.safetensors`` of the earlier
    format unless ``keep_legacy``. Returns the bytes of each weights file (``encoder`` or ``adapter``,
    ``heads``)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    sub = encoder_folder(tuning)
    tokenizer = load_tokenizer(tokenizer_location, **dict(load_kwargs or {}))
    with folder_atomic(folder / sub) as tmp:
        if sub == ADAPTER:
            _save_adapter(model.encoder, tmp, source)
        else:
            model.encoder.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
    stale = ENCODER if sub == ADAPTER else ADAPTER
    shutil.rmtree(folder / stale, ignore_errors=True)
    if not keep_legacy:  # a run of today's code: nothing of a converted earlier run stays
        (folder / LEGACY).unlink(missing_ok=True)
        (folder / CONVERTED).unlink(missing_ok=True)
    state = {
        k: v.detach().cpu().contiguous()
        for k, v in model.state_dict().items()
        if not k.startswith("encoder.")
    }
    write_atomic(folder / HEADS, lambda tmp: save_file(state, tmp, metadata={"format": "pt"}))
    write_json_atomic(heads_record(heads, tuning, lora, max_length, name), folder / HEADS_JSON)
    write_json_atomic(dict(source), folder / BASE_JSON)
    weights = "adapter_model.safetensors" if sub == ADAPTER else "model.safetensors"
    return {sub: (folder / sub / weights).stat().st_size, "heads": (folder / HEADS).stat().st_size}


def hub_base(source: Mapping) -> tuple[str, str | None] | None:
    """(repository, revision) of the hub encoder an adapter's base is, or None: the encoder came from a
    folder or package, or went through an MNRL stage (then the base is that stage's folder)."""
    if source.get("repo") and not source.get("pretrain"):
        return source["repo"], source.get("revision")
    return None


def _save_adapter(encoder, out: Path, source: Mapping) -> None:
    """The PEFT adapter only (no base weights, no embedding layers), its config naming the base as a hub
    repository at its revision where the encoder came from a hub, else as the folder it was loaded from."""
    config = encoder.peft_config["default"]
    before = (config.base_model_name_or_path, config.revision)
    if hub_base(source):
        config.base_model_name_or_path, config.revision = hub_base(source)
    try:
        encoder.save_pretrained(str(out), save_embedding_layers=False)
    finally:
        config.base_model_name_or_path, config.revision = before


def load_trained(folder: str | Path, base: str | None = None, **load_kwargs) -> MultitaskModel:
    """The whole multitask model of a trained model folder, in eval mode on the CPU.

    ``folder``: a model folder (``results/{scale}/models/{experiment}``). Full and last-layer runs need
    nothing else. LoRA, DoRA and rsLoRA runs need the base encoder the adapter was trained on: ``base``
    (a folder or hub name), else the location ``base.json`` records (a path as the workflow saw it,
    relative to the workflow's folder, or a hub repository at its revision). ``load_kwargs`` go to
    ``from_pretrained`` (e.g. ``local_files_only=True``). Predict with
    :func:`pipeline.evaluation.predict.predict_task`, or call the model: ``model(task, batch)`` (batches as
    :class:`pipeline.data.batching.TaskData` cuts them).
    """
    folder = Path(folder)
    record = _read_json(folder / HEADS_JSON, folder)
    if record.get("format") != FORMAT:
        raise TrainedModelError(
            f"{folder / HEADS_JSON}: format {record.get('format')!r}, expected {FORMAT!r}"
        )
    heads = Heads.from_dict(record["heads"], f"{folder / HEADS_JSON} heads")
    sub = folder / record["encoder"]
    if record["encoder"] == ADAPTER:
        from peft import PeftModel  # here: only the LoRA family needs peft

        location, kwargs = _base_location(folder, base, load_kwargs)
        model = MultitaskModel(load_encoder(location, **kwargs), heads)
        model.encoder = PeftModel.from_pretrained(model.encoder, str(sub), **_peft_kwargs(load_kwargs))
    else:
        model = MultitaskModel(load_encoder(str(sub), **load_kwargs), heads)
    _load_heads(model, folder / HEADS)
    return model.eval()


def _peft_kwargs(load_kwargs: Mapping) -> dict:
    return {k: v for k, v in load_kwargs.items() if k in ("local_files_only", "token", "cache_dir")}


def _base_location(folder: Path, base: str | None, load_kwargs: Mapping) -> tuple[str, dict]:
    """Where the base encoder of an adapter is loaded from, and the keywords for it."""
    if base is not None:
        return base, dict(load_kwargs)
    source = _read_json(folder / BASE_JSON, folder)
    location = source.get("location")
    if location:
        candidates = [Path(location)]
        if not Path(location).is_absolute() and len(folder.resolve().parents) > 3:
            candidates.append(folder.resolve().parents[3] / location)  # results/{scale}/models/{name}
        for path in candidates:
            if path.exists():
                return str(path), dict(load_kwargs)
    if hub_base(source):
        repo, revision = hub_base(source)
        return repo, {"revision": revision, **load_kwargs}
    raise TrainedModelError(
        f"{folder}: the adapter's base encoder {location!r} is not there; "
        "pass it: load_trained(folder, base=...)"
    )


def _load_heads(model: MultitaskModel, path: Path) -> None:
    if not path.is_file():
        raise TrainedModelError(f"{path}: missing (the task heads)")
    state = load_file(str(path))
    expected = {k for k in model.state_dict() if not k.startswith("encoder.")}
    if set(state) != expected:
        raise TrainedModelError(
            f"{path}: holds {sorted(set(state) - expected) or 'no extra tensor'} beyond, and lacks "
            f"{sorted(expected - set(state)) or 'no tensor'} of, the heads heads.json describes"
        )
    model.load_state_dict(state, strict=False)


def _read_json(path: Path, folder: Path) -> dict:
    if not path.is_file():
        hint = (
            f" (a model of the earlier format: {LEGACY}; the workflow converts it)"
            if (folder / LEGACY).is_file()
            else ""
        )
        raise TrainedModelError(f"{path}: missing{hint}")
    return json.loads(path.read_text())


# -- the model card ------------------------------------------------------------------------------------------
def write_card(folder: str | Path, run: Mapping, best: Mapping, info: Mapping | None = None) -> None:
    """The model card ``README.md`` of ``folder`` (written last: it marks the folder complete).

    ``run``: run.json's record; ``best``: the best epoch's row of history.csv (dev scores); ``info``: what
    the workflow knows beside the settings (``paper``, ``data``, ``test_metrics``: where test scores go)."""
    folder = Path(folder)
    write_text_atomic(model_card(folder, run, best, info or {}), folder / CARD)


def model_card(folder: Path, run: Mapping, best: Mapping, info: Mapping) -> str:
    settings = run["settings"]
    record = _read_json(folder / HEADS_JSON, folder)
    source = _read_json(folder / BASE_JSON, folder)
    peft = record["encoder"] == ADAPTER
    hub = hub_base(source)
    base_model = hub[0] if hub else source.get("location") or source.get("name")
    where = _source_words(source)
    lines = [
        "---",
        f"library_name: {'peft' if peft else 'transformers'}",
        *([f"base_model: {hub[0]}"] if hub else []),
        "tags: [multitask, bert, " + ", ".join(settings["tasks"]) + "]",
        "---",
        "",
        f"# {settings['name']}",
        "",
        "A multitask BERT model (one encoder, one head per task) trained by this reproduction workflow.",
        "",
        f"- Paper: {info.get('paper') or 'not recorded'}",
        f"- Experiment: `{settings['name']}` (seed {settings['seed']}, scale `{settings['scale_name']}`)",
        f"- Data: {info.get('data') or 'not recorded'}",
        f"- Encoder: {where}",
        f"- Tuning: {_tuning_words(settings)}",
        f"- Heads: tasks {', '.join(settings['tasks'])}; pooling `{settings['pooling']}`, pair mode "
        f"`{settings['pair_mode']}` ({record['pair_input']}), {settings['head_layers']} hidden layer(s), "
        f"dropout {settings['dropout']}, STS head `{settings['sts_head']}`, para outputs "
        f"{settings['para_outputs']}, shared layer {'yes' if settings['shared_layer'] else 'no'}",
        f"- Training: {settings['epochs']} epochs, `{settings['sampling']}` sampling, batch "
        f"{settings['batch_size']}, lr {settings['lr']} (`{settings['schedule']}`), weight decay "
        f"{settings['weight_decay']}, max length {settings['max_length']}",
        f"- Time: {run['train_seconds']:.1f} s training ({run['wall_seconds']:.1f} s wall, "
        f"{run['attempts']} attempt(s)); peak memory {run['peak_memory_bytes'] / 2**30:.2f} GiB "
        f"({run.get('peak_memory_kind', '')})",
        f"- Hardware: {run['hardware']} (`{run['device']}`), precision {run['precision']}",
        f"- Code: library hash `{run['code_hash']}`; "
        + ", ".join(f"{k} {v}" for k, v in (run.get("versions") or {}).items()),
        "",
        f"## Dev scores (best epoch, {run['best_epoch']} of {settings['epochs']})",
        "",
        "| metric | score |",
        "| --- | --- |",
    ]
    for task in settings["tasks"]:
        metric = get_task(task).metric_name
        lines.append(f"| {metric} | {_score(best.get(metric))} |")
    lines += [f"| overall | {_score(best.get('overall'))} |", ""]
    lines += [
        "Test scores are not known when training ends: the workflow's `predict` and `metrics` rules write "
        f"them to `{info.get('test_metrics') or 'results/{scale}/metrics/{experiment}/test.json'}`.",
        "",
        "## Files",
        "",
        f"- `{record['encoder']}/`: "
        + (
            "the PEFT adapter (`adapter_config.json`, `adapter_model.safetensors`: adapter weights only) "
            "and the tokenizer"
            if peft
            else "the encoder as `save_pretrained` writes it (`config.json`, `model.safetensors`) and the "
            "tokenizer"
        ),
        f"- `{HEADS}`, `{HEADS_JSON}`: the task heads and their settings, with each task's labels: "
        + "; ".join(f"{t} {_labels_words(record['labels'][t])}" for t in settings["tasks"]),
        f"- `{BASE_JSON}`: where the encoder came from; `history.csv`, `run.json`: the training record",
        "",
        "## Use",
        "",
        "The whole multitask model (heads included), with this workflow's library installed:",
        "",
        "```python",
        "import pipeline",
        "",
        f'model = pipeline.load_trained("{folder.as_posix()}")'
        + ("  # base=...: the base encoder, if not where base.json says" if peft else ""),
        "```",
        "",
        "The encoder alone, with transformers" + (" and peft:" if peft else ":"),
        "",
        "```python",
        *(["from peft import PeftModel"] if peft else []),
        "from transformers import AutoModel, AutoTokenizer",
        "",
    ]
    sub = f"{folder.as_posix()}/{record['encoder']}"
    if peft:
        revision = f', revision="{hub[1]}"' if hub and hub[1] else ""
        lines += [
            f'base = AutoModel.from_pretrained("{base_model}"{revision})',
            f'encoder = PeftModel.from_pretrained(base, "{sub}")',
        ]
    else:
        lines.append(f'encoder = AutoModel.from_pretrained("{sub}")')
    lines += [f'tokenizer = AutoTokenizer.from_pretrained("{sub}")', "```", ""]
    return "\n".join(lines)


def _score(value) -> str:
    return "n/a" if value is None or value != value else f"{float(value):.4f}"


def _labels_words(labels: Mapping) -> str:
    if "regression" in labels:
        return labels["regression"]
    return ", ".join(f"{k} {v}" for k, v in labels.items())


def _source_words(source: Mapping) -> str:
    words = f"`{source.get('name')}`"
    if source.get("repo"):
        words += f", hub `{source['repo']}@{source.get('revision')}`"
    elif source.get("package"):
        words += f", package `{source['package']}` {source.get('package_version') or ''}".rstrip()
    elif source.get("location"):
        words += f", folder `{source['location']}`"
    if source.get("pretrain"):
        words += f", then MNRL stage `{source['pretrain']}` (`{source.get('pretrained')}`)"
    return words


def _tuning_words(settings: Mapping) -> str:
    tuning = settings["tuning"]
    if tuning not in PEFT_METHODS:
        return f"`{tuning}`"
    lora = settings["lora"]
    targets = lora["targets"] if isinstance(lora["targets"], str) else ", ".join(lora["targets"])
    return (
        f"`{tuning}`, rank {lora['rank']}, alpha {lora['alpha']}, dropout {lora['dropout']}, "
        f"targets {targets}"
    )


# -- the format before this one ----------------------------------------------------------------------------
def load_legacy(folder: str | Path, base: str, **load_kwargs) -> tuple[MultitaskModel, dict]:
    """A model folder of the earlier format (``model.safetensors``: the whole state dict, and ``run.json``):
    the model built as training built it on the base encoder ``base``, with the saved weights; and run.json's
    record."""
    from safetensors.torch import load_model

    folder = Path(folder)
    run = json.loads((folder / "run.json").read_text())
    settings = run["settings"]
    heads = Heads.among(settings, f"{folder}/run.json heads")
    lora = Lora.from_dict(settings["lora"], f"{folder}/run.json lora")
    model = apply_tuning(MultitaskModel(load_encoder(base, **load_kwargs), heads), settings["tuning"], lora)
    load_model(model, str(folder / LEGACY))
    return model.eval(), run


def convert_legacy(
    folder: str | Path, base: str, source: Mapping, info: Mapping | None = None, **load_kwargs
) -> None:
    """Turn a model folder of the earlier format into this one: the same weights (checked tensor by
    tensor after reloading with :func:`load_trained`), the card from run.json and history.csv, every new file
    dated as the old ``model.safetensors`` (so nothing downstream looks newer). The old file stays (nothing
    reads it; delete it at will).

    Last comes ``converted.json``, dated now: Snakemake never ran the fine-tuning job that "wrote" this card,
    so it has no record of its settings and would not see them change; the workflow compares run.json's
    settings with the experiment's instead and, where they differ, gives the job this file as an input,
    newer than the card, so the job reruns (:func:`pipeline.workflow.migrate.changed_converted_models`)."""
    import pandas as pd

    folder = Path(folder)
    old = folder / LEGACY
    stamp = old.stat().st_mtime_ns
    model, run = load_legacy(folder, base, **load_kwargs)
    settings = run["settings"]
    heads = Heads.among(settings)
    lora = Lora.from_dict(settings["lora"])
    save_trained(
        model,
        folder,
        heads=heads,
        tuning=settings["tuning"],
        lora=lora,
        max_length=settings["max_length"],
        name=settings["name"],
        tokenizer_location=base,
        source=source,
        load_kwargs=load_kwargs,
        keep_legacy=True,
    )
    reloaded = load_trained(folder, base, **load_kwargs).state_dict()
    for key, value in load_file(str(old)).items():
        if key not in reloaded or not torch.equal(reloaded[key], value):
            raise TrainedModelError(f"{folder}: converting {LEGACY} changed the tensor {key}")
    history = pd.read_csv(folder / "history.csv")
    rows = history[history["epoch"] == run["best_epoch"]]
    best = rows.iloc[0].to_dict() if len(rows) else {}
    write_card(folder, run, best, info)
    for path in [
        folder / HEADS,
        folder / HEADS_JSON,
        folder / BASE_JSON,
        *(folder / encoder_folder(settings["tuning"])).rglob("*"),
        folder / CARD,
    ]:
        if path.is_file():
            os.utime(path, ns=(stamp, stamp))
    record = {"from": LEGACY, "settings_fingerprint": run.get("fingerprint"), "format": FORMAT}
    write_json_atomic(record, folder / CONVERTED)
