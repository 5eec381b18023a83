"""The README's "Measured so far" section, rendered from the committed results files only (never typed by hand).

:func:`readme_section` renders the reproduction's Table 1 (:func:`rift_lite.report.render_table1` over the ``cpu``
runs in ``book/results/runs/``), the PEAFT tables once a run on their datasets exists, the diagnosis runs (``book/results/diagnosis/``, written by
``benchmarks/diagnose_rift.py``) and the benchmark files (``book/results/benchmarks/``, written by the benchmarks'
``--json``); :func:`update_readme` puts it between the README's markers (``python -m rift_lite reproduce all
--render-readme``), and a test keeps the committed README equal to the rendering. No torch here.
"""
from __future__ import annotations

import json
from pathlib import Path

from .protocols import PROTOCOLS, TABLES
from .report import render_table1
from .report_peaft import render_peaft1, render_peaft2
from .results import load_runs, on_dataset

README_BEGIN = "<!-- measured:begin -->"
README_END = "<!-- measured:end -->"


def diagnosis_section(folder) -> list[str]:
    """Markdown lines: one row per diagnosis run in ``folder`` (``benchmarks/diagnose_rift.py`` prints this too)."""
    runs = [json.loads(p.read_text()) for p in sorted(Path(folder).glob("*.json"))]
    if not runs:
        return []
    lines = ["#### Diagnosis: short RIFT runs that differ in one thing each", "",
             f"MR, MiniLM-L6, a class-balanced {runs[0]['n_train']}-sentence training subset, dev "
             f"{runs[0]['n_dev']} sentences (accuracy under ASCC, 10 steps), length-bucketed batches, the seeds and "
             f"epochs in the table; code {', '.join(sorted({r['code_version'] for r in runs}))}; made by "
             "`.venv/bin/python benchmarks/diagnose_rift.py` (all runs; `--runs`, `--seed` and `--epochs` pick some). "
             "Chapter 04 reads these runs and says what they show.",
             "", "| run | seed | epochs | pooling | ASCC target | alpha | critic lr | dev clean | dev under ASCC | "
             "I(S;T\\|Y) estimate at the end (nats) | mean gradient norm: CE / beta KL / alpha info |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(runs, key=lambda r: (r["diagnosis_run"], r["config"]["epochs"], r["config"]["seed"])):
        c, final, trace = r["config"], r["history"][-1], r["trace"]

        def mean(key):
            values = [row[key] for row in trace if row.get(key) is not None]
            return f"{sum(values) / len(values):.3f}" if values else "--"

        mi = trace[-1].get("train_mi") if trace else None
        lines.append(f"| {r['diagnosis_run']} | {c['seed']} | {c['epochs']} | {c['pooling']} | "
                     f"{'train-mode' if c['shared_reference'] else 'eval-mode'}"
                     f" | {c['alpha'] if c['method'] == 'rift' else 0:g} | {(c.get('critic_lr') or c['lr']) if c['method'] in ('rift', 'rift-ist') else '--'} | "
                     f"{100 * final['dev_clean_acc']:.1f} | "
                     f"{100 * final['dev_robust_acc']:.1f} | {'--' if mi is None else f'{mi:.3f}'} | "
                     f"{mean('grad_norm_ce')} / {mean('grad_norm_kl')} / {mean('grad_norm_info')} |")
    return lines + [""]


def _benchmark_section(results_dir) -> list[str]:
    files = sorted((Path(results_dir) / "benchmarks").glob("*.json"))
    if not files:
        return []
    lines = ["#### Benchmarks", ""]
    for path in files:
        b = json.loads(path.read_text())
        command = b["command"].replace("python benchmarks/", ".venv/bin/python benchmarks/", 1)
        lines += [f"`{command}` ({b.get('what', '')}; {b['device']}, code {b['code_version']}):", ""]
        rows = b.get("rows", [])
        if rows:
            keys = [k for k in rows[0] if k != "attack" and k != "name"]
            lines += ["| " + " | ".join(["what"] + keys) + " |", "|" + "---|" * (len(keys) + 1)]
            for row in rows:
                cells = [f"{v:.3g}" if isinstance(v, float) else str(v) for v in (row[k] for k in keys)]
                lines.append(f"| {row.get('attack', row.get('name', ''))} | " + " | ".join(cells) + " |")
            lines.append("")
    return lines


def readme_section(results_dir, protocol: str = "cpu") -> str:
    """The README's "Measured so far" body, rendered from the committed results files only (the RIFT runs)."""
    runs = on_dataset(load_runs(results_dir, protocol), PROTOCOLS[protocol]["dataset"])
    lines = [README_BEGIN, ""]
    if runs:
        markdown, _ = render_table1(runs, protocol)
        lines += [markdown.replace("### ", "#### "), run_list("Reproduction runs", runs), ""]
    else:
        lines += ["No reproduction run has finished yet.", ""]
    lines += _peaft_section(results_dir, protocol)
    lines += diagnosis_section(Path(results_dir) / "diagnosis") + _benchmark_section(results_dir)
    return "\n".join(lines + [README_END])


def _peaft_section(results_dir, protocol: str) -> list[str]:
    """The PEAFT tables (TextFooler on GLUE dev, AdvGLUE dev) once a run on one of their datasets exists."""
    every_run = load_runs(results_dir, protocol)
    runs = [r for d in TABLES["peaft1"].datasets for r in on_dataset(every_run, d)]
    if not runs:
        return []
    lines = []
    for render in (render_peaft1, render_peaft2):
        markdown, _ = render(every_run, protocol)
        lines += [markdown.replace("### ", "#### "), ""]
    return lines + [run_list("PEAFT-table runs", runs), ""]


def run_list(what: str, runs: list[dict]) -> str:
    """One line naming the runs whose results file is complete and those still waiting for attacks."""
    complete = sorted(r["run"] for r in runs if r.get("complete", True))
    partial = sorted(r["run"] for r in runs if not r.get("complete", True))
    line = f"{what} complete ({len(complete)}): {', '.join(complete) or 'none'}."
    if partial:
        line += f" Trained, attacks not all in yet ({len(partial)}): {', '.join(partial)}."
    return line


def update_readme(readme, results_dir, protocol: str = "cpu") -> bool:
    """Replace the README's measured section (between the markers) with :func:`readme_section`; True if changed."""
    path = Path(readme)
    text = path.read_text()
    start, end = text.find(README_BEGIN), text.find(README_END)
    if start < 0 or end < start:
        raise ValueError(f"{path}: the markers of the measured section are missing ({README_BEGIN!r} ... "
                         f"{README_END!r})")
    new = text[:start] + readme_section(results_dir, protocol) + text[end + len(README_END):]
    if new != text:
        path.write_text(new)
    return new != text
