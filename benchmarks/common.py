"""What the benchmarks share: which devices to run on. Run a benchmark as ``python benchmarks/<name>.py``."""
from __future__ import annotations

from typing import Callable

import torch


def devices(spec: str) -> list[str]:
    """``cpu``, ``cuda``, ``all`` (both) or ``auto`` (cuda when available, else cpu)."""
    if spec == "all":
        return ["cpu", "cuda"]
    if spec == "auto":
        return ["cuda" if torch.cuda.is_available() else "cpu"]
    return [spec]


def run_on_devices(spec: str, bench: Callable[[torch.device], None]) -> None:
    """Call ``bench(device)`` for each device of ``spec``; a CUDA device that is not there is skipped, said so."""
    for name in devices(spec):
        if name.startswith("cuda") and not torch.cuda.is_available():
            print(f"{name}: not available, skipped")
            continue
        bench(torch.device(name))
