"""Where a job computes, and in which precision: chosen once per job, recorded in its run.json.

* :func:`pick_device`: CUDA when present; at a scale that sets ``require_cuda`` (paper) a job without CUDA
  stops with :class:`CudaRequired` instead of silently training for weeks on the CPU.
* :func:`choose_precision`: an experiment's ``precision`` setting (``auto`` | ``bf16`` | ``fp16`` | ``fp32``)
  made concrete for the device. ``auto`` is bf16 only where the GPU computes it natively (compute capability
  8.0 and newer: A100, H100, L4, RTX 30xx+), fp16 with a gradient scaler on older GPUs (V100, T4), and fp32 on
  the CPU. ``bf16`` on the CPU (asked for explicitly, as the quick scale does: torch's CPU autocast, about
  1.3x faster training steps and 1.7x faster evaluation on an AVX512-BF16 core) is allowed; asking for bf16
  on a GPU without native bf16, or for fp16 on the CPU, is an error.
* :func:`autocast` and :func:`grad_scaler`: the autocast context and the gradient scaler (enabled for fp16
  only) that training, MNRL and prediction all use.
* :func:`device_record`: what run.json records of the device: GPU, driver, CUDA, torch, precision.
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
from pathlib import Path

import torch

PRECISIONS = ("auto", "bf16", "fp16", "fp32")
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


class CudaRequired(RuntimeError):
    """A GPU job found no CUDA device at a scale that requires one."""


def pick_device(require_cuda: bool = False, where: str = "this job") -> torch.device:
    """``cuda`` when available; otherwise ``cpu``, or :class:`CudaRequired` when ``require_cuda``."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if require_cuda:
        built = torch.version.cuda or "none (a CPU-only build)"
        raise CudaRequired(
            f"{where} needs a CUDA GPU at this scale (scales.<scale>.require_cuda) but torch "
            f"{torch.__version__} sees none (torch's CUDA build: {built}). Run it on a GPU node with "
            "the CUDA build of torch 2.13.0 (docs/cluster.md), or use scale smoke/quick on "
            "the CPU."
        )
    return torch.device("cpu")


def native_bf16(device: torch.device) -> bool:
    """Whether the GPU computes bf16 in hardware (not emulated): compute capability 8.0 or newer."""
    if device.type != "cuda":
        return False
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # older torch without the keyword
        return torch.cuda.get_device_capability(device)[0] >= 8


def choose_precision(setting: str, device: torch.device) -> str:
    """The concrete precision (``bf16`` | ``fp16`` | ``fp32``) of ``setting`` on ``device``."""
    if setting not in PRECISIONS:
        raise ValueError(f"precision {setting!r}: expected one of {', '.join(PRECISIONS)}")
    if device.type != "cuda":
        if setting == "fp16":
            raise ValueError("precision fp16 needs a CUDA GPU; on the CPU use auto, fp32 or bf16")
        return "bf16" if setting == "bf16" else "fp32"  # bf16 only when asked: CPU autocast (quick scale)
    if setting == "auto":
        return "bf16" if native_bf16(device) else "fp16"
    if setting == "bf16" and not native_bf16(device):
        name = torch.cuda.get_device_name(device)
        raise ValueError(f"precision bf16: {name} has no native bf16; use auto (fp16 + gradient scaler)")
    return setting


def autocast(device: torch.device, precision: str = "fp32"):
    """Autocast to the precision's dtype: bf16/fp16 on CUDA, bf16 on the CPU (asked for explicitly: matrix
    products in bf16, weights, optimiser state and gradients' accumulation in fp32); a no-op for fp32."""
    enabled = precision in DTYPES and (device.type == "cuda" or precision == "bf16")
    return torch.autocast(
        device_type=device.type, dtype=DTYPES.get(precision, torch.bfloat16), enabled=enabled
    )


def grad_scaler(device: torch.device, precision: str) -> torch.amp.GradScaler:
    """The loss scaler fp16 needs (gradients underflow without it); disabled (a pass-through) otherwise."""
    return torch.amp.GradScaler(device.type, enabled=device.type == "cuda" and precision == "fp16")


def backward_step(loss: torch.Tensor, optimizer, scaler=None) -> None:
    """``loss.backward()`` and an optimiser step; under fp16 the loss is scaled first and the step skipped
    when the gradients overflowed (``scaler``: :func:`grad_scaler`)."""
    if scaler is not None and scaler.is_enabled():
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        loss.backward()
        optimizer.step()


def _nvidia_driver() -> str | None:
    try:
        out = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else None


def cpu_name() -> str:
    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return name


def hardware(device: torch.device) -> str:
    """What the run was measured on, for table captions: the GPU's name, or the CPU model and thread count."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU {cpu_name()}, {torch.get_num_threads()} threads"


def device_record(device: torch.device, precision: str) -> dict:
    """GPU (or CPU), driver, CUDA runtime, cuDNN and torch versions and the precision a job ran in."""
    record = {
        "device": str(device),
        "hardware": hardware(device),
        "precision": precision,
        "torch": torch.__version__,
        "cuda_runtime": torch.version.cuda,
        "slurm_job_id": os.environ.get("SLURM_JOB_ID"),
    }
    if device.type == "cuda":
        major, minor = torch.cuda.get_device_capability(device)
        record.update(
            gpu=torch.cuda.get_device_name(device),
            compute_capability=f"{major}.{minor}",
            gpu_memory_bytes=int(torch.cuda.get_device_properties(device).total_memory),
            driver=_nvidia_driver(),
            cudnn=torch.backends.cudnn.version(),
        )
    return record


def peak_memory(device: torch.device) -> tuple[int, str]:
    """(bytes, what was measured): CUDA's peak allocation, or the process's peak resident set on CPU."""
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device)), "cuda_max_memory_allocated"
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024, "cpu_peak_rss"
