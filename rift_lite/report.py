"""The reproduced tables, rendered from results files beside the paper's numbers (never mixed).

:func:`render_tables` reads ``<results-dir>/runs/*.json`` (written by :mod:`rift_lite.reproduce`) and writes, per
table, ``<results-dir>/<table>/table.md`` and ``table.json``. Ours: mean and sample standard deviation over seeds,
in %, with the number of seeds; the paper's columns come from :mod:`rift_lite.paper` (BERT-base on IMDB) and are
labelled so. A claimed ordering (RIFT above Adv-Base under attack; I(S;T|Y) above I(S;T)) is reported as a paired
difference with a 95 % bootstrap interval that resamples both the seeds and the attacked examples
(:func:`paired_difference`); it "holds at this scale" only when the whole interval is above zero. No torch here.

The PEAFT tables (``peaft1``, ``peaft2``) put ours (MiniLM-L6 on GLUE SST-2 and RTE: AUA, ACC, AVG) beside the PEAFT
paper's roberta-base rows; the RIFT tables only ever read runs on the protocol's own dataset (MR for ``cpu``).
"""
from __future__ import annotations

import functools
import json
import math
import random
from pathlib import Path
from typing import Any, Sequence

from . import data
from .protocols import PEAFT_TABLE_ORDER, PROTOCOLS, TABLES

ATTACKS = ("genetic", "pwws")
LABELS = {"standard": "Standard", "adv-base": "Adv-Base", "adv-ptwd": "Adv-PTWD", "adv-mixout": "Adv-Mixout",
          "rift": "RIFT", "rift-ist": "RIFT-I(S;T)", "peaft": "PEAFT", "freelb": "FreeLB", "rose": "ROSE"}
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


def _difference_line(name: str, d: dict, at_chance: Sequence[str] = ()) -> str:
    if not d.get("n_seeds"):
        return f"- {name}, {d['attack']}: no paired runs yet."
    verdict = "holds at this scale" if d["holds"] else ("reversed at this scale" if d["ci95"][1] < 0 else
                                                         "not resolved at this scale (the interval contains 0)")
    if at_chance:
        verdict = (f"not readable at this scale: {' and '.join(at_chance)} at chance level (clean accuracy within "
                   f"{100 * CHANCE_MARGIN:.0f} points of the majority class)")
    scope = "seeds and examples" if d["n_seeds"] > 1 else "examples only (one seed)"
    return (f"- {name}, {d['attack']}: {100 * d['difference']:+.1f} points, 95 % interval "
            f"[{100 * d['ci95'][0]:+.1f}, {100 * d['ci95'][1]:+.1f}] over {scope}; {d['n_seeds']} seed(s), "
            f"{d['n_examples']} examples -- {verdict}.")


def _paper(table: str, **where) -> str:
    from .paper import paper_value

    try:
        value = paper_value(table, **where)
    except KeyError:  # the paper has no such row (e.g. alpha = 1 on IMDB)
        return "--"
    return "--" if value is None else f"{value:.1f}"


def _header(runs: Sequence[dict], protocol: str, spec) -> list[str]:
    planned = [PROTOCOLS[protocol].get("datasets", {}).get(d, {}).get("note") for d in spec.datasets]
    note = runs[0]["protocol_config"]["note"] if runs else (planned[0] if planned and planned[0] else
                                                             PROTOCOLS[protocol]["note"])
    versions = sorted({r["code_version"] for r in runs})
    return [f"### {spec.caption}", "",
            f"Ours: protocol `{protocol}` -- {note}. Mean ± sample std over seeds (number of seeds in brackets), "
            f"accuracy in %. Code version(s): {', '.join(versions) or 'none yet'}. "
            f"Made by `python -m rift_lite reproduce {spec.name} --protocol {protocol}`.", ""]


def _render_robust_table(name: str, runs: Sequence[dict], protocol: str, paper_dataset: str, paper_note: str) -> tuple:
    """Table 1 (MR runs, the paper's IMDB rows) and Table 2 (SNLI runs, the paper's SNLI rows): five methods under
    Genetic and PWWS, clean accuracy, and RIFT − Adv-Base paired."""
    spec = TABLES[name]
    robust_table = PAPER_ROBUST_TABLES[paper_dataset]
    lines = _header(runs, protocol, spec) + [
        "| method | ours: clean | ours: Genetic | ours: PWWS | paper: clean | paper: Genetic | paper: PWWS |",
        "|---|---|---|---|---|---|---|"]
    data: dict[str, Any] = {"rows": {}}
    for method in spec.methods:
        rs = select(runs, method)
        label = LABELS[method]
        clean = metric(rs, "pwws", "clean_accuracy")
        row = [cell(clean), cell(metric(rs, "genetic")), cell(metric(rs, "pwws"))]
        paper = [_paper("rift-a4", method=label, model="bert-base-uncased", dataset=paper_dataset),
                 _paper(robust_table, method=label, model="bert-base-uncased", attack="Genetic"),
                 _paper(robust_table, method=label, model="bert-base-uncased", attack="PWWS")]
        lines.append(f"| {label} | " + " | ".join(row + paper) + " |")
        data["rows"][method] = {"clean": clean, "genetic": metric(rs, "genetic"), "pwws": metric(rs, "pwws"),
                                "seeds": [r["seed"] for r in rs]}
    diffs = [paired_difference(select(runs, "rift"), select(runs, "adv-base"), a) for a in ATTACKS]
    data["rift_minus_adv_base"] = diffs
    lines += ["", paper_note, "", "The paper's claim, RIFT above Adv-Base under attack:"]
    lines += [_difference_line("RIFT − Adv-Base", d) for d in diffs]
    return "\n".join(lines) + "\n", data


PAPER_ROBUST_TABLES = {"imdb": "rift-1", "snli": "rift-2"}
"""The paper's table of accuracies under attack per dataset (Table 1: IMDB, Table 2: SNLI)."""
SNLI_DATASETS = ("snli", "snli-offline")
"""The run datasets of Table 2 (the hub's SNLI; the offline splits of the ``cpu`` protocol)."""


def render_table1(runs: Sequence[dict], protocol: str) -> tuple[str, dict]:
    return _render_robust_table("table1", runs, protocol, "imdb",
                                "Paper columns: BERT-base-uncased on IMDB (Table 1; clean accuracy from supplementary "
                                "Table 5). Clean accuracy (ours) is on the 1,000 attacked test sentences.")


def render_table2(runs: Sequence[dict], protocol: str) -> tuple[str, dict]:
    return _render_robust_table("table2", runs, protocol, "snli",
                                "Paper columns: BERT-base-uncased on SNLI (Table 2; clean accuracy from supplementary "
                                "Table 5), trained on SNLI's 550k training pairs. Ours attack the hypothesis only, as "
                                "the paper; clean accuracy (ours) is on the attacked test pairs.")


def render_table3(runs: Sequence[dict], protocol: str) -> tuple[str, dict]:
    spec = TABLES["table3"]
    lines = _header(runs, protocol, spec) + [
        "| objective | ours: Genetic | ours: PWWS | paper: Genetic | paper: PWWS |", "|---|---|---|---|---|"]
    for method in spec.methods:
        rs, label = select(runs, method), LABELS[method]
        lines.append(f"| {label} | {cell(metric(rs, 'genetic'))} | {cell(metric(rs, 'pwws'))} | "
                     f"{_paper('rift-3', method=label, dataset='imdb', model='bert-base-uncased', attack='Genetic')} | "
                     f"{_paper('rift-3', method=label, dataset='imdb', model='bert-base-uncased', attack='PWWS')} |")
    diffs = [paired_difference(select(runs, "rift"), select(runs, "rift-ist"), a) for a in ATTACKS]
    lines += ["", "Paper columns: BERT-base on IMDB. The paper's claim, I(S;T|Y) above I(S;T):"]
    lines += [_difference_line("RIFT − RIFT-I(S;T)", d) for d in diffs]
    return "\n".join(lines) + "\n", {"conditional_minus_unconditional": diffs}


def _alpha_runs(runs) -> list[tuple[float, list[dict]]]:
    return [(0.0, select(runs, "adv-base")), (0.05, select(runs, "rift", alpha=0.05)), (0.1, select(runs, "rift")),
            (0.3, select(runs, "rift", alpha=0.3)), (1.0, select(runs, "rift", alpha=1.0))]


def _beta_runs(runs) -> list[tuple[float, list[dict]]]:
    return [(0.0, select(runs, "standard")), (1.0, select(runs, "adv-base", beta=1.0)),
            (5.0, select(runs, "adv-base", beta=5.0)), (10.0, select(runs, "adv-base"))]


def render_table4(runs: Sequence[dict], protocol: str) -> tuple[str, dict]:
    spec = TABLES["table4"]
    lines = _header(runs, protocol, spec) + [
        "| alpha | ours: clean | ours: PWWS | paper: clean | paper: PWWS |", "|---|---|---|---|---|"]
    data = {}
    for alpha, rs in _alpha_runs(runs):
        clean, pwws = metric(rs, "pwws", "clean_accuracy"), metric(rs, "pwws")
        data[str(alpha)] = {"clean": clean, "pwws": pwws, "seeds": [r["seed"] for r in rs]}
        lines.append(f"| {alpha:g} | {cell(clean)} | {cell(pwws)} | "
                     f"{_paper('rift-4', dataset='imdb', alpha=alpha, metric='accuracy')} | "
                     f"{_paper('rift-4', dataset='imdb', alpha=alpha, attack='PWWS')} |")
    lines += ["", "alpha 0 is the Adv-Base run and 0.1 the RIFT run of Table 1 (all their seeds); the other alphas "
              "have one seed. Paper columns: BERT-base on IMDB (Table 4a; the paper has no alpha = 1 row for IMDB)."]
    return "\n".join(lines) + "\n", data


def render_fig2(runs: Sequence[dict], protocol: str) -> tuple[str, dict]:
    spec = TABLES["fig2"]
    curves = {m: [{"seed": r["seed"], "trace": [(row["epoch"], row["rel_l2_distance"]) for row in r["train"]["trace"]]}
                  for r in select(runs, m)] for m in ("standard", "adv-base")}
    lines = _header(runs, protocol, spec) + ["| beta | ours: relative L2 distance at the end (x 1e-3) | runs |",
                                            "|---|---|---|"]
    finals = {}
    for beta, rs in _beta_runs(runs):
        values = [r["train"]["history"][-1]["rel_l2_distance"] for r in rs]
        finals[str(beta)] = values
        mean, std = mean_std(values)
        text = "--" if mean is None else f"{1e3 * mean:.2f}" + (f" ± {1e3 * std:.2f}" if std is not None else "")
        lines.append(f"| {beta:g} | {text} | {len(rs)} |")
    lines += ["", "beta 0 is the Standard run, beta 10 the Adv-Base run. (a), the curves over training, are in "
              "`table.json` (`curves`) and plotted in chapter 02."]
    return "\n".join(lines) + "\n", {"curves": curves, "final_by_beta": finals}


def render_fig4(runs: Sequence[dict], protocol: str) -> tuple[str, dict]:
    spec = TABLES["fig4"]
    points = []
    for kind, groups in (("alpha", _alpha_runs(runs)), ("beta", _beta_runs(runs))):
        for value, rs in groups:
            for r in rs:
                m = r["attacks"].get("pwws", {}).get("metrics")
                if m:
                    points.append({"sweep": kind, "value": value, "seed": r["seed"], "run": r["run"],
                                   "clean": m["clean_accuracy"], "pwws": m["accuracy_under_attack"]})
    lines = _header(runs, protocol, spec) + ["| sweep | value | seed | clean | under PWWS |", "|---|---|---|---|---|"]
    lines += [f"| {p['sweep']} | {p['value']:g} | {p['seed']} | {100 * p['clean']:.1f} | {100 * p['pwws']:.1f} |"
              for p in points]
    return "\n".join(lines) + "\n", {"points": points}


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
        floor = data["majority_share"][dataset] = majority_share(dataset)
        at_chance = data["at_chance"][dataset] = _at_chance(rs_all, spec.methods, evaluation, floor)
        chance_notes.append(_chance_note(dataset, floor, at_chance))
        for method in spec.methods:
            rs = select(rs_all, method)
            values = _peaft_values(rs, evaluation)
            label = LABELS[method]
            paper = [_paper(spec.paper, method=label, model=target, dataset=paper_dataset(dataset), metric=m)
                     for m in ("AUA", "ACC", "AVG")]
            lines.append(f"| {DATASET_LABELS.get(dataset, dataset)} | {label} | "
                         + " | ".join([cell(values[m]) for m in ("AUA", "ACC", "AVG")] + paper) + " |")
            data["rows"][f"{dataset}/{method}"] = {**values, "seeds": [r["seed"] for r in rs
                                                                       if evaluation in r.get("attacks", {})]}
        for baseline in PEAFT_BASELINES:
            claims.append((dataset, baseline,
                           paired_difference(select(rs_all, "peaft"), select(rs_all, baseline), evaluation),
                           [LABELS[m] for m in ("peaft", baseline) if m in at_chance]))
    for baseline in PEAFT_BASELINES:
        data[f"peaft_minus_{baseline}_aua"] = {d: c for d, b, c, _ in claims if b == baseline}
    lines += ["", "Chance level: " + "; ".join(chance_notes) + "."]
    return lines, data, claims


def _claim_lines(claims) -> list[str]:
    return [_difference_line(f"PEAFT − {LABELS[b]}, {DATASET_LABELS.get(d, d)}", c, chance)
            for d, b, c, chance in claims]


def _at_chance(runs: Sequence[dict], methods: Sequence[str], evaluation: str, floor: float | None) -> list[str]:
    """The methods whose mean clean accuracy is within :data:`CHANCE_MARGIN` of the majority-class share ``floor``."""
    if floor is None:
        return []
    means = {m: mean_std(_peaft_values(select(runs, m), evaluation)["ACC"])[0] for m in methods}
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


RENDERERS = {"table1": render_table1, "table2": render_table2, "table3": render_table3, "table4": render_table4, "fig2": render_fig2,
             "fig4": render_fig4, "peaft1": render_peaft1, "peaft2": render_peaft2}


def render_tables(tables: Sequence[str], protocol: str, results_dir, tiny: bool = False) -> list[Path]:
    """Write ``<results-dir>/<table>/table.md`` and ``table.json`` for each table; returns the Markdown paths.

    The RIFT tables read the runs on the protocol's own dataset only, the PEAFT tables the runs on theirs."""
    every_run = load_runs(results_dir, protocol, tiny)
    written = []
    for name in tables:
        if name in PEAFT_TABLE_ORDER:
            runs = every_run
        elif name == "table2":
            runs = [r for d in SNLI_DATASETS for r in on_dataset(every_run, d)]
        else:
            runs = on_dataset(every_run, PROTOCOLS[protocol]["dataset"])
        markdown, data = RENDERERS[name](runs, protocol)
        folder = Path(results_dir) / (name if not tiny else f"{name}-tiny")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"table-{protocol}.md").write_text(markdown)
        (folder / f"table-{protocol}.json").write_text(json.dumps({"protocol": protocol, "runs": [r["run"] for r in runs],
                                                                   **data}, indent=1, sort_keys=True) + "\n")
        written.append(folder / f"table-{protocol}.md")
    return written
