"""Which parameters train: full fine-tuning, the last linear layer(s) only, or LoRA / DoRA / rsLoRA via PEFT.

* ``full``: every parameter of encoder and heads.
* ``last-layer``: the encoder is frozen; only the task heads train (Beyond BERT's
  last-linear-layer baseline, and the frozen-BERT baseline of the second study).
* ``lora``, ``dora``, ``rslora``: PEFT's ``LoraConfig`` (``use_dora`` / ``use_rslora``) wraps the encoder
  only, so the heads stay outside the PEFT model and keep training in full. Target modules are named
  explicitly (PEFT's BERT default would silently be query and value only).
"""

from __future__ import annotations

from torch import nn

from pipeline.settings import Lora

METHODS = ("full", "last-layer", "lora", "dora", "rslora")

# Names of BERT's linear layers as PEFT matches them (suffixes of module names).
TARGET_SETS = {
    "all": ["query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"],
    "all-dense": ["attention.output.dense", "intermediate.dense", "output.dense"],
}


def target_modules(targets: str | tuple[str, ...] | list[str]) -> list[str]:
    """Module name suffixes for ``targets``: a named set (``all``, ``all-dense``) or a list of names."""
    if isinstance(targets, str):
        if targets not in TARGET_SETS:
            raise ValueError(f"unknown target set {targets!r}; known: {', '.join(TARGET_SETS)}")
        return list(dict.fromkeys(TARGET_SETS[targets]))
    return list(targets)


def lora_config(method: str, lora: Lora):
    """PEFT's ``LoraConfig`` of ``method`` (lora, dora or rslora) with the experiment's adapters."""
    # imported here: peft is heavy, and only the LoRA family needs it
    from peft import LoraConfig

    return LoraConfig(
        r=lora.rank,
        lora_alpha=lora.alpha,
        lora_dropout=lora.dropout,
        target_modules=target_modules(lora.targets),
        use_dora=method == "dora",
        use_rslora=method == "rslora",
        bias="none",
    )


def apply_tuning(model: nn.Module, method: str, lora: Lora) -> nn.Module:
    """Set what trains in ``model`` (a :class:`pipeline.model.heads.MultitaskModel`) for the tuning
    ``method``; ``lora``: the adapters of the LoRA family (unused by the other methods)."""
    if method not in METHODS:
        raise ValueError(f"unknown tuning method {method!r}; known: {', '.join(METHODS)}")
    if method == "last-layer":
        model.encoder.requires_grad_(False)
    elif method in ("lora", "dora", "rslora"):
        # imported here: peft is heavy, and only the LoRA family needs it
        from peft import get_peft_model

        model.encoder = get_peft_model(model.encoder, lora_config(method, lora))
    return model


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())
