"""The opt-in compiled training path (config.yaml ``compile``; off by default).

``compile`` is a run-control setting (:class:`pipeline.settings.RunControl`), not an experiment setting: it
changes how fast a step runs, not what it computes, and is left out of the fingerprint, so a run may be
resumed with it switched on or off. Values:

* ``false`` (default): eager PyTorch, as always;
* ``true``: ``torch.compile`` with inductor, mode ``reduce-overhead`` on CUDA (CUDA graphs, one per batch
  shape: the length-bucketed batches have few shapes) and ``default`` on the CPU;
* an inductor mode by name (``default``, ``reduce-overhead``, ``max-autotune``,
  ``max-autotune-no-cudagraphs``);
* ``eager`` or ``aot_eager``: the compiler's front ends with no code generated (debugging, and the tests'
  check of the wiring on machines without a working C++ compiler).

What is compiled is the encoder, in place (:meth:`torch.nn.Module.compile`): the model object, its
submodule names and so its state-dict keys stay those of the eager model (no ``_orig_mod.`` prefix), so
checkpoints, saved models and resuming work the same either way. The heads, losses and the optimiser stay
eager (they are a few small kernels). Prediction after each epoch goes through the compiled encoder too.

Compiled kernels may round differently from eager ones (fused operations), and inductor draws dropout masks
from its own generator, so a compiled run is not bitwise the eager run; it is the same computation
(``tests/test_compiled.py`` checks the losses agree with inductor's eager-RNG fallback).
"""

from __future__ import annotations

import torch

INDUCTOR_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
DEBUG_BACKENDS = ("eager", "aot_eager")
#: Graph variants one compiled encoder may keep (train / eval, with and without gradients, pair inputs with
#: and without token types, a static then a dynamic shape of each); torch's default of 8 would fall back to
#: eager partway through a multitask run.
RECOMPILE_LIMIT = 64


def compile_choice(setting, device: torch.device) -> tuple[str, str | None] | None:
    """(backend, mode) of a ``compile`` setting on ``device``; None when it is off."""
    if setting is None or setting is False or setting in ("false", "off", "no"):
        return None
    if setting is True or setting in ("true", "on", "yes"):
        return "inductor", "reduce-overhead" if device.type == "cuda" else "default"
    if setting in INDUCTOR_MODES:
        return "inductor", setting
    if setting in DEBUG_BACKENDS:
        return setting, None
    known = ", ".join(["false", "true", *INDUCTOR_MODES, *DEBUG_BACKENDS])
    raise ValueError(f"compile: {setting!r} is not one of {known}")


def compile_encoder(model: torch.nn.Module, setting, device: torch.device) -> str | None:
    """Compile ``model.encoder`` in place as ``setting`` says; returns what was done (for the log and
    run.json: ``inductor/reduce-overhead``, ``aot_eager``, ...) or None when compiling is off."""
    choice = compile_choice(setting, device)
    if choice is None:
        return None
    backend, mode = choice
    dynamo = torch._dynamo.config
    dynamo.recompile_limit = max(dynamo.recompile_limit, RECOMPILE_LIMIT)
    dynamo.accumulated_recompile_limit = max(dynamo.accumulated_recompile_limit, 4 * RECOMPILE_LIMIT)
    model.encoder.compile(backend=backend, **({"mode": mode} if mode else {}))
    return f"{backend}/{mode}" if mode else backend
