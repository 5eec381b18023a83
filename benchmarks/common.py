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


def write_json(path: str | None, benchmark: str, device, rows: list[dict], **extra) -> None:
    """With ``--json PATH``: the measurements, the command, device, hardware and code version, as one JSON file
    (the README's measured section is rendered from such files under ``book/results/benchmarks/``)."""
    if not path:
        return
    import sys

    from rift_lite.models import device_summary
    from rift_lite.provenance import git_describe, write_json_atomic

    write_json_atomic(path, {"benchmark": benchmark, "device": str(device), "hardware": device_summary(),
                             "code_version": git_describe(), "rows": rows, **extra,
                             "command": f"python benchmarks/{benchmark}.py " + " ".join(sys.argv[1:])})


def run_on_devices(spec: str, bench: Callable[[torch.device], None]) -> None:
    """Call ``bench(device)`` for each device of ``spec``; a CUDA device that is not there is skipped, said so."""
    for name in devices(spec):
        if name.startswith("cuda") and not torch.cuda.is_available():
            print(f"{name}: not available, skipped")
            continue
        bench(torch.device(name))
