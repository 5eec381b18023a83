"""The reproduced tables, rendered from results files beside the paper's numbers (never mixed).

:func:`render_tables` reads ``<results-dir>/runs/*.json`` (written by :mod:`rift_lite.reproduce`) and writes, per
table, ``<results-dir>/<table>/table.md`` and ``table.json``. Ours: mean and sample standard deviation over seeds,
in %, with the number of seeds; the paper's columns come from :mod:`rift_lite.paper` (BERT-base on IMDB) and are
labelled so. A claimed ordering (RIFT above Adv-Base under attack; I(S;T|Y) above I(S;T)) is reported as a paired
difference with a 95 % bootstrap interval that resamples both the seeds and the attacked examples
(:func:`paired_difference`); it "holds at this scale" only when the whole interval is above zero. No torch here.

The statistics are :mod:`rift_lite.results`'s; the PEAFT tables (``peaft1``, ``peaft2``: MiniLM-L6 on GLUE SST-2 and
RTE beside the PEAFT paper's roberta-base rows) are :mod:`rift_lite.report_peaft`'s, dispatched here by
:func:`render_tables`. The RIFT tables only ever read runs on the protocol's own dataset (MR for ``cpu``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from .protocols import PEAFT_TABLE_ORDER, PROTOCOLS, TABLES
from .report_peaft import render_peaft1, render_peaft2
from .results import (LABELS, cell, difference_line, load_runs, mean_std, metric, on_dataset, paired_difference,
                      paper_cell, select)

ATTACKS = ("genetic", "pwws")


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
        paper = [paper_cell("rift-a4", method=label, model="bert-base-uncased", dataset=paper_dataset),
                 paper_cell(robust_table, method=label, model="bert-base-uncased", attack="Genetic"),
                 paper_cell(robust_table, method=label, model="bert-base-uncased", attack="PWWS")]
        lines.append(f"| {label} | " + " | ".join(row + paper) + " |")
        data["rows"][method] = {"clean": clean, "genetic": metric(rs, "genetic"), "pwws": metric(rs, "pwws"),
                                "seeds": [r["seed"] for r in rs]}
    diffs = [paired_difference(select(runs, "rift"), select(runs, "adv-base"), a) for a in ATTACKS]
    data["rift_minus_adv_base"] = diffs
    lines += ["", paper_note, "", "The paper's claim, RIFT above Adv-Base under attack:"]
    lines += [difference_line("RIFT − Adv-Base", d) for d in diffs]
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
                     f"{paper_cell('rift-3', method=label, dataset='imdb', model='bert-base-uncased', attack='Genetic')} | "
                     f"{paper_cell('rift-3', method=label, dataset='imdb', model='bert-base-uncased', attack='PWWS')} |")
    diffs = [paired_difference(select(runs, "rift"), select(runs, "rift-ist"), a) for a in ATTACKS]
    lines += ["", "Paper columns: BERT-base on IMDB. The paper's claim, I(S;T|Y) above I(S;T):"]
    lines += [difference_line("RIFT − RIFT-I(S;T)", d) for d in diffs]
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
                     f"{paper_cell('rift-4', dataset='imdb', alpha=alpha, metric='accuracy')} | "
                     f"{paper_cell('rift-4', dataset='imdb', alpha=alpha, attack='PWWS')} |")
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
