"""The PEAFT tables (``peaft1``: TextFooler on GLUE SST-2 and RTE dev; ``peaft2``: AdvGLUE), rendered from results files.

Ours (MiniLM-L6: AUA, ACC and AVG = (AUA + ACC) / 2, mean and sample std over seeds) stand beside the PEAFT paper's
roberta-base rows (:mod:`rift_lite.paper`), never mixed. The paper's claim, PEAFT above FreeLB and ROSE under attack,
is a paired bootstrap difference (:func:`rift_lite.results.paired_difference`) -- read only where clean accuracy is
above chance: a run within :data:`CHANCE_MARGIN` of the dev split's majority class is a near-constant classifier,
which no substitution flips, so its AUA says nothing about robustness. No torch here.
"""
from __future__ import annotations

import functools
from typing import Any, Sequence

from . import data
from .protocols import TABLES
from .results import LABELS, cell, difference_line, mean_std, on_dataset, paired_difference, paper_cell, select

DATASET_LABELS = {"sst2": "SST-2", "rte": "RTE"}
PEAFT_BASELINES = ("freelb", "rose")
"""The PEAFT paper's defences that PEAFT is claimed to beat (its Tables 1-2)."""
PEAFT_PAPER_TARGET = "roberta-base"
"""The PEAFT paper's row set beside ours: its smallest target (ours is MiniLM-L6, 22M parameters)."""
CHANCE_MARGIN = 0.05
"""Clean accuracy must exceed the majority-class share by this much before an AUA is read as robustness: a classifier
that (nearly) always answers one class is never flipped by a substitution, so its AUA equals its ACC."""


@functools.lru_cache(maxsize=None)
def majority_share(dataset: str) -> float | None:
    """Accuracy of always answering the most frequent label of ``dataset``'s dev split (the PEAFT tables' test set):
    the floor any classifier must beat. ``None`` when no local data folder is set (the tables then say so)."""
    if data.resolve_data_dir() is None:
        return None
    labels = [e.label for e in data.load(dataset, "dev")]
    return max(labels.count(y) for y in set(labels)) / len(labels)


def _peaft_values(runs: Sequence[dict], evaluation: str) -> dict[str, list[float]]:
    """Per-run AUA, ACC and AVG (fractions) of ``evaluation`` (``textfooler`` or ``advglue``), in seed order."""
    done = [r["attacks"][evaluation]["metrics"] for r in runs if evaluation in r.get("attacks", {})]
    aua = [m["accuracy_under_attack"] for m in done]
    acc = [m["clean_accuracy"] for m in done]
    return {"AUA": aua, "ACC": acc, "AVG": [(a + c) / 2 for a, c in zip(aua, acc)]}


def _render_peaft(name: str, runs: Sequence[dict], protocol: str, evaluation: str, paper_dataset) -> tuple:
    spec = TABLES[name]
    notes = []
    for dataset in spec.datasets:
        rs = on_dataset(runs, dataset)
        note = rs[0]["protocol_config"]["note"] if rs else "no run yet"
        notes.append(f"{DATASET_LABELS.get(dataset, dataset)}: {note}")
    versions = sorted({r["code_version"] for d in spec.datasets for r in on_dataset(runs, d)})
    target = PEAFT_PAPER_TARGET
    lines = [f"### {spec.caption}", "",
             f"Ours: protocol `{protocol}` -- {'; '.join(notes)}. Mean ± sample std over seeds (number of seeds in "
             f"brackets), accuracy in %. Code version(s): {', '.join(versions) or 'none yet'}. Made by "
             f"`python -m rift_lite reproduce {name} --protocol {protocol}`.", "",
             f"| dataset | method | ours: AUA | ours: ACC | ours: AVG | paper ({target}): AUA | paper ({target}): ACC "
             f"| paper ({target}): AVG |", "|---|---|---|---|---|---|---|---|"]
    data: dict[str, Any] = {"rows": {}, "paper_target": target, "majority_share": {}, "at_chance": {}}
    claims, chance_notes = [], []
    for dataset in spec.datasets:
        rs_all = on_dataset(runs, dataset)
        per_method = {m: select(rs_all, m) for m in spec.methods}
        values = {m: _peaft_values(rs, evaluation) for m, rs in per_method.items()}
        floor = data["majority_share"][dataset] = majority_share(dataset)
        at_chance = data["at_chance"][dataset] = _at_chance(values, floor)
        chance_notes.append(_chance_note(dataset, floor, at_chance))
        for method, rs in per_method.items():
            label = LABELS[method]
            paper = [paper_cell(spec.paper, method=label, model=target, dataset=paper_dataset(dataset), metric=m)
                     for m in ("AUA", "ACC", "AVG")]
            lines.append(f"| {DATASET_LABELS.get(dataset, dataset)} | {label} | "
                         + " | ".join([cell(values[method][m]) for m in ("AUA", "ACC", "AVG")] + paper) + " |")
            data["rows"][f"{dataset}/{method}"] = {**values[method], "seeds": [r["seed"] for r in rs
                                                                               if evaluation in r.get("attacks", {})]}
        for baseline in PEAFT_BASELINES:
            claims.append((dataset, baseline,
                           paired_difference(per_method["peaft"], per_method[baseline], evaluation),
                           [LABELS[m] for m in ("peaft", baseline) if m in at_chance]))
    for baseline in PEAFT_BASELINES:
        data[f"peaft_minus_{baseline}_aua"] = {d: c for d, b, c, _ in claims if b == baseline}
    lines += ["", "Chance level: " + "; ".join(chance_notes) + "."]
    return lines, data, claims


def _claim_lines(claims) -> list[str]:
    """The PEAFT − baseline bullets; a claim whose runs are at chance level is not read (:data:`CHANCE_MARGIN`)."""
    return [difference_line(f"PEAFT − {LABELS[b]}, {DATASET_LABELS.get(d, d)}", c,
                            f"{' and '.join(chance)} at chance level (clean accuracy within "
                            f"{100 * CHANCE_MARGIN:.0f} points of the majority class)" if chance else None)
            for d, b, c, chance in claims]


def _at_chance(values: dict[str, dict[str, list[float]]], floor: float | None) -> list[str]:
    """The methods (keys of ``values``, each :func:`_peaft_values`) whose mean clean accuracy is within
    :data:`CHANCE_MARGIN` of the majority-class share ``floor``."""
    if floor is None:
        return []
    means = {m: mean_std(v["ACC"])[0] for m, v in values.items()}
    return [m for m, acc in means.items() if acc is not None and acc - floor < CHANCE_MARGIN]


def _chance_note(dataset: str, floor: float | None, at_chance: Sequence[str]) -> str:
    label = DATASET_LABELS.get(dataset, dataset)
    if floor is None:
        return f"{label}: majority-class share unknown (no local data folder)"
    note = f"{label}: the majority class is {100 * floor:.1f} % of dev"
    if not at_chance:
        return note + f", every run at least {100 * CHANCE_MARGIN:.0f} points above it"
    return (note + f"; {', '.join(LABELS[m] for m in at_chance)} within {100 * CHANCE_MARGIN:.0f} points of it: at "
            "chance, so their AUA measures a near-constant classifier, not robustness")


def render_peaft1(runs: Sequence[dict], protocol: str) -> tuple[str, dict]:
    lines, data, claims = _render_peaft("peaft1", runs, protocol, "textfooler", lambda d: d)
    lines += ["", f"AUA: accuracy under our TextFooler-style attack (greedy deletion importance over the counter-fitted "
              "neighbours, stop words kept; no sentence encoder or POS check offline; RTE: the hypothesis only); ACC: "
              "clean accuracy on the same dev examples; AVG = (AUA + ACC) / 2. The dev split is the test set (GLUE's "
              "test labels are not public, as in PEAFT), so no run is selected on it: a fixed number of epochs, the "
              "last kept. Paper columns: PEAFT Table 1, roberta-base rows (the paper also reports larger targets); "
              "the paper has no Standard or RIFT row. Our hyper-parameters for PEAFT are ours (the paper gives none); "
              "FreeLB's are its official GLUE scripts'; ROSE's (the ensemble, upper percentile 60) its official "
              "scripts', with this protocol's optimiser and epochs.", "",
              "The paper's claim, PEAFT above FreeLB and ROSE under attack (AUA):"]
    lines += _claim_lines(claims)
    return "\n".join(lines) + "\n", data


def render_peaft2(runs: Sequence[dict], protocol: str) -> tuple[str, dict]:
    lines, data, claims = _render_peaft("peaft2", runs, protocol, "advglue", lambda d: f"advglue-{d}")
    sizes = []
    for dataset in TABLES["peaft2"].datasets:
        done = [r["attacks"]["advglue"]["metrics"] for r in on_dataset(runs, dataset)
                if "advglue" in r.get("attacks", {})]
        if done and "n" in done[0] and "n_clean" in done[0]:
            sizes.append(f"{DATASET_LABELS.get(dataset, dataset)} {done[0]['n']} AdvGLUE / {done[0]['n_clean']} "
                         "GLUE dev")
    lines += ["", "AUA: accuracy on AdvGLUE's dev examples of the task (fixed adversarial texts, no search; label ids "
              "inferred from AdvGLUE's evaluator, and a misspelt word maps to its first WordPiece under our "
              "one-token-per-word tokenisation); ACC: clean accuracy on the GLUE dev split; AVG = (AUA + ACC) / 2"
              + (f"; examples: {', '.join(sizes)}" if sizes else "") + ". The same checkpoints as the Table 1 "
              "analogue. Paper columns: PEAFT Table 2, roberta-base rows; no Standard or RIFT row there.", "",
              "The paper's claim, PEAFT above FreeLB and ROSE on AdvGLUE (AUA):"]
    lines += _claim_lines(claims)
    return "\n".join(lines) + "\n", data
