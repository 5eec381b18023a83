"""Several seeds of one run: one config per seed (each in its own folder ``<out>/seed<N>``), and the mean and sample
standard deviation of the selected dev accuracies over them (``OUT/seeds.json`` of ``--seed 0 1 2``)."""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any, Sequence

from .train_config import TrainConfig


def seed_runs(config: TrainConfig, seeds: Sequence[int]) -> list[TrainConfig]:
    """One config per seed; with several seeds each run gets its own folder ``<out>/seed<N>``."""
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seed: each seed once, got {list(seeds)}")
    if len(seeds) == 1:
        return [dataclasses.replace(config, seed=seeds[0])]
    base = Path(config.out or Path("runs") / f"{config.dataset}-{config.method}-{config.profile}")
    return [dataclasses.replace(config, seed=s, out=str(base / f"seed{s}")) for s in seeds]


def summarize_seeds(runs: Sequence[dict]) -> dict:
    """Mean and sample standard deviation over seeds of the selected (best) dev accuracies and the wall time."""
    summary: dict[str, Any] = {"seeds": [r["seeds"]["seed"] for r in runs], "n_seeds": len(runs),
                               "profile": runs[0]["profile"], "method": runs[0]["method"],
                               "dataset": runs[0]["dataset"], "runs": [r["config"]["out"] for r in runs]}
    columns = {"best_dev_clean_acc": [r["best"]["dev_clean_acc"] for r in runs],
               "best_dev_robust_acc": [r["best"]["dev_robust_acc"] for r in runs],
               "best_epoch": [r["best"]["epoch"] for r in runs], "wall_time_s": [r["wall_time_s"] for r in runs]}
    for key, values in columns.items():
        if any(v is None for v in values):
            summary[key] = {"values": values}
            continue
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0
        summary[key] = {"mean": mean, "std": std, "values": values}
    return summary
