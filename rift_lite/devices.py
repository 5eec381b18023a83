"""Devices: which one a run uses, bf16 autocast on it, and what hardware a results file records."""
from __future__ import annotations

import contextlib
import os

import torch


def select_device(name: str) -> torch.device:
    """``'auto'``: CUDA when available, else the CPU; otherwise the named device (``'cpu'``, ``'cuda:1'``)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise ValueError(f"--device must be 'auto', 'cpu' or 'cuda[:N]'; got {name!r}") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name}: no CUDA device is available here (torch.cuda.is_available() is False); "
                         "use --device cpu, or auto")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"--device {name}: only {torch.cuda.device_count()} CUDA device(s) here")
    return device


def autocast(device: torch.device, precision: str):
    """bfloat16 autocast for ``precision='bf16'``, and for ``'auto'`` on CUDA; else no autocast (fp32)."""
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def device_summary() -> dict:
    """What hardware this process runs on (for results files)."""
    info = {"torch": torch.__version__, "cuda": torch.cuda.is_available(), "cpu_threads": torch.get_num_threads(),
            "cpu_count": os.cpu_count()}
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info
