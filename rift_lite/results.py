"""Results files of the reproduction, read and compared: the statistics every rendered table shares.

A results file (``<results-dir>/runs/<run>.json``, written by :mod:`rift_lite.reproduce`) holds one run: its method,
seed, overrides, dataset, training log and, per attack, the metrics and per-example outcomes. This module loads and
selects them (:func:`load_runs`, :func:`on_dataset`, :func:`select`), aggregates over seeds (:func:`mean_std`,
:func:`cell`: mean and sample standard deviation, in %), and compares two methods by a paired bootstrap over seeds
and attacked examples (:func:`paired_difference`, :func:`difference_line`). The tables themselves are rendered by
:mod:`rift_lite.report` (the RIFT tables) and :mod:`rift_lite.report_peaft` (the PEAFT tables). No torch here.
"""
from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Sequence

from .protocols import PROTOCOLS

LABELS = {"standard": "Standard", "adv-base": "Adv-Base", "adv-ptwd": "Adv-PTWD", "adv-mixout": "Adv-Mixout",
          "rift": "RIFT", "rift-ist": "RIFT-I(S;T)", "peaft": "PEAFT", "freelb": "FreeLB", "rose": "ROSE"}
"""Each method's name as the papers' tables print it."""


def load_runs(results_dir, protocol: str, tiny: bool = False) -> list[dict]:
    """Every results file of ``protocol`` (``tiny`` ones only when asked), sorted by run name."""
    folder = Path(results_dir) / "runs"
    runs = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        run = json.loads(path.read_text())
        if run.get("protocol") == protocol and bool(run.get("tiny")) == tiny:
            runs.append(run)
    return runs


def on_dataset(runs: Sequence[dict], dataset: str) -> list[dict]:
    """Runs on ``dataset`` (a run without the field is on its protocol's dataset)."""
    return [r for r in runs if r.get("dataset", PROTOCOLS.get(r.get("protocol"), {}).get("dataset")) == dataset]


def select(runs: Sequence[dict], method: str, **overrides) -> list[dict]:
    """Runs of ``method`` with exactly these hyper-parameter overrides (none = the protocol's defaults)."""
    return sorted((r for r in runs if r["method"] == method and r.get("overrides", {}) == overrides),
                  key=lambda r: r["seed"])


def mean_std(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (None for no values; std None for one value)."""
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    mean = sum(values) / len(values)
    if len(values) < 2:
        return mean, None
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def metric(runs: Sequence[dict], attack: str, key: str = "accuracy_under_attack") -> list[float]:
    return [r["attacks"][attack]["metrics"][key] for r in runs if attack in r.get("attacks", {})]


def cell(values: Sequence[float]) -> str:
    """``mean +- std (n)`` in %; ``--`` when no run has finished."""
    mean, std = mean_std(values)
    if mean is None:
        return "--"
    spread = f" ± {100 * std:.1f}" if std is not None else ""
    return f"{100 * mean:.1f}{spread} ({len(values)})"


def paired_difference(a: Sequence[dict], b: Sequence[dict], attack: str, n_boot: int = 2000, seed: int = 0) -> dict:
    """Accuracy under ``attack`` of runs ``a`` minus runs ``b``, paired by seed and by attacked example.

    Each run carries per-example outcomes on the same examples (``ids_sha1`` checks it). The point estimate is the
    mean over the paired seeds of the difference in robust accuracy; the 95 % interval is the 2.5/97.5 percentile of
    ``n_boot`` bootstrap replicates that resample the seeds and, inside them, the examples (one resample shared by
    both methods, so the pairing is kept). With one seed, only the examples vary: say so where it is reported.
    """
    pairs = [(x, y) for x in a for y in b if x["seed"] == y["seed"] and attack in x["attacks"] and attack in y["attacks"]]
    if not pairs:
        return {"attack": attack, "n_seeds": 0}
    vectors = []
    for x, y in pairs:
        ax, ay = x["attacks"][attack], y["attacks"][attack]
        if ax["ids_sha1"] != ay["ids_sha1"]:
            raise ValueError(f"{x['run']} and {y['run']} were attacked on different examples")
        vectors.append([int(p == "r") - int(q == "r") for p, q in zip(ax["outcomes"], ay["outcomes"])])
    n = len(vectors[0])
    point = sum(sum(v) / n for v in vectors) / len(vectors)
    rng = random.Random(seed)
    reps = []
    for _ in range(n_boot):
        seeds = [rng.randrange(len(vectors)) for _ in vectors]
        total = 0.0
        for s in seeds:
            idx = [rng.randrange(n) for _ in range(n)]
            total += sum(vectors[s][i] for i in idx) / n
        reps.append(total / len(seeds))
    reps.sort()
    lo, hi = reps[int(0.025 * n_boot)], reps[int(0.975 * n_boot) - 1]
    return {"attack": attack, "difference": point, "ci95": [lo, hi], "n_seeds": len(vectors), "n_examples": n,
            "holds": lo > 0, "seeds": [x["seed"] for x, _ in pairs]}


def difference_line(name: str, d: dict, withheld: str | None = None) -> str:
    """One Markdown bullet: a claim's paired difference (:func:`paired_difference`), its interval and its verdict --
    holds, reversed or not resolved at this scale; ``withheld`` (a reason) replaces the verdict where the numbers
    cannot be read as the claim (e.g. a run at chance level, :mod:`rift_lite.report_peaft`)."""
    if not d.get("n_seeds"):
        return f"- {name}, {d['attack']}: no paired runs yet."
    verdict = "holds at this scale" if d["holds"] else ("reversed at this scale" if d["ci95"][1] < 0 else
                                                         "not resolved at this scale (the interval contains 0)")
    if withheld:
        verdict = f"not readable at this scale: {withheld}"
    scope = "seeds and examples" if d["n_seeds"] > 1 else "examples only (one seed)"
    return (f"- {name}, {d['attack']}: {100 * d['difference']:+.1f} points, 95 % interval "
            f"[{100 * d['ci95'][0]:+.1f}, {100 * d['ci95'][1]:+.1f}] over {scope}; {d['n_seeds']} seed(s), "
            f"{d['n_examples']} examples -- {verdict}.")


def paper_cell(table: str, **where) -> str:
    """The paper's value for one table cell (:func:`rift_lite.paper.paper_value`), one decimal; ``--`` where the paper
    has no such row or value."""
    from .paper import paper_value

    try:
        value = paper_value(table, **where)
    except KeyError:  # the paper has no such row (e.g. alpha = 1 on IMDB)
        return "--"
    return "--" if value is None else f"{value:.1f}"
