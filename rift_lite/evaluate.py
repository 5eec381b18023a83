"""Robust evaluation: clean accuracy, accuracy under attack, attack success rate, queries, words changed.

The protocol of RIFT (Dong et al., NeurIPS 2021, Sec. 3.1): ``n`` random test examples (the paper says 1,000; the
official code evaluated 300 -- ``--n`` sets it, default 1,000), a fixed seed, Genetic and PWWS over the
counter-fitted substitution set (SNLI: hypothesis only), and the ASCC adversary. An example counts as robust when
it is classified correctly before *and* after the attack.

Every attacked example becomes one line of ``records.jsonl`` (id, original and adversarial text, label, clean and
adversarial prediction, queries, changed words, ...), appended as soon as it is done. Running again with the same
``--out`` **resumes**: ids already in the file are skipped, and the summary is always recomputed from the file, so
an interrupted run ends with the same numbers as an uninterrupted one. ``summary.json`` records the attack and its
settings, the constraints that ran, n, seed, profile, code version (``git describe``), hardware and wall time.

The command line ``python -m rift_lite attack`` is :mod:`rift_lite.attack_cli`; its profiles are in
:mod:`rift_lite.profiles` (re-exported here as ``PROFILES``, ``PROFILE_NOTES``, ``PROFILE_ORDER``, ``resolve_profiles``).
"""
from __future__ import annotations

import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Sequence

from .profiles import ATTACK_PROFILE_NOTES as PROFILE_NOTES  # noqa: F401 (re-exported)
from .profiles import ATTACK_PROFILES as PROFILES  # noqa: F401 (re-exported)
from .profiles import PROFILE_ORDER  # noqa: F401 (re-exported)
from .profiles import resolve_attack_profiles as resolve_profiles  # noqa: F401 (re-exported)
from .provenance import write_json_atomic

RECORDS_FILE = "records.jsonl"
SUMMARY_FILE = "summary.json"


def sample_examples(examples: Sequence, n: int | None, seed: int = 0) -> list:
    """``n`` examples drawn at random without replacement with ``seed`` (all of them, shuffled, if n >= len)."""
    examples = list(examples)
    if n is None or n <= 0 or n >= len(examples):
        n = len(examples)
    return random.Random(seed).sample(examples, n)


def summarize(records: Sequence[dict]) -> dict:
    """Metrics from per-example records (order-independent).

    ``accuracy_under_attack``: correct before and after the attack, over all examples; ``success_rate``: flipped
    over initially-correct examples; ``mean_queries``: unique model evaluations per attacked (initially-correct)
    example; ``mean_changed_fraction``: fraction of attacked words changed, over successful adversarial examples
    (``mean_changed_fraction_attacked``: over all attacked examples).
    """
    n = len(records)
    correct = [r for r in records if r["clean_pred"] == r["label"]]
    robust = [r for r in correct if r["adv_pred"] == r["label"]]
    success = [r for r in correct if r["adv_pred"] != r["label"]]

    def mean(values):
        values = list(values)
        return sum(values) / len(values) if values else None

    return {
        "n": n,
        "clean_accuracy": len(correct) / n if n else None,
        "accuracy_under_attack": len(robust) / n if n else None,
        "success_rate": len(success) / len(correct) if correct else None,
        "n_correct": len(correct), "n_robust": len(robust), "n_success": len(success),
        "mean_queries": mean(r["queries"] for r in correct),
        "mean_requests": mean(r["requests"] for r in correct),
        "mean_changed_words": mean(r["changed_words"] for r in success),
        "mean_changed_fraction": mean(r["changed_fraction"] for r in success),
        "mean_changed_fraction_attacked": mean(r["changed_fraction"] for r in correct),
        "attack_time_s": round(sum(r.get("time_s", 0.0) for r in records), 3),
    }


def aua_acc_avg(records: Sequence[dict] | None = None, *, aua: float | None = None,
                acc: float | None = None) -> dict:
    """PEAFT's metrics (Tables 1-2), in %: ``AUA`` (accuracy under attack), ``ACC`` (clean) and ``AVG = (AUA+ACC)/2``.

    From attack ``records`` (Table 1, TextFooler): ACC = clean accuracy and AUA = accuracy under attack (correct
    before and after, :func:`summarize`) over the same examples. Or from two accuracies in [0, 1] (Table 2: AUA =
    accuracy on the AdvGLUE dev set, ACC = accuracy on the task's clean dev set). AVG is the plain mean, as the
    paper's (e.g. Table 1, PEAFT roberta-base MRPC: (70.00 + 73.20) / 2 = 71.60).
    """
    if (records is None) == (aua is None or acc is None):
        raise ValueError("give either attack records or both aua= and acc=")
    if records is not None:
        m = summarize(records)
        aua, acc = m["accuracy_under_attack"], m["clean_accuracy"]
        if aua is None:
            raise ValueError("no attack records: AUA and ACC are undefined")
    if not (0.0 <= aua <= 1.0 and 0.0 <= acc <= 1.0):
        raise ValueError(f"aua and acc are fractions in [0, 1]; got aua={aua}, acc={acc}")
    return {"AUA": 100.0 * aua, "ACC": 100.0 * acc, "AVG": 50.0 * (aua + acc)}


def wilson_interval(successes: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson's score interval for a proportion (Wilson, JASA 1927): the ``z`` (default 95 %) interval of
    ``successes / n``, e.g. an accuracy under attack measured on ``n`` examples::

        (p + z^2/2n -/+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n),   p = successes / n

    Unlike the normal approximation ``p -/+ z sqrt(p(1-p)/n)`` it stays inside [0, 1] and keeps its coverage for the
    small accuracies that attacks produce. The sentences are the only source of variation it knows: the spread
    between training seeds is not in it (:func:`rift_lite.report.paired_difference` resamples both)."""
    if n <= 0 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n > 0; got successes={successes}, n={n}")
    p, z2 = successes / n, z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * ((p * (1 - p) / n + z2 / (4 * n * n)) ** 0.5) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def read_records(path) -> list[dict]:
    """Rows of a records JSONL file; a truncated last line (an interrupted write) is ignored."""
    path = Path(path)
    if not path.is_file():
        return []
    rows = []
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return rows


def evaluate_attack(victim, attack, examples: Sequence, out_dir=None, *, resume: bool = True, chunk: int | None = None,
                    metadata: dict | None = None, progress: bool = False, max_examples: int | None = None) -> dict:
    """Attack ``examples`` (already sampled) and return the summary.

    With ``out_dir``, records are appended to ``out_dir/records.jsonl`` (ids already there are skipped when
    ``resume``) and the summary is written to ``out_dir/summary.json``; metrics always come from the records of
    ``examples``. ``max_examples`` stops after that many *new* examples (used to test resumption). ``progress``
    shows a bar on stderr (examples done, rate, time left).
    """
    start = time.perf_counter()
    records_path = Path(out_dir) / RECORDS_FILE if out_dir is not None else None
    if records_path is not None:
        records_path.parent.mkdir(parents=True, exist_ok=True)
        if not resume and records_path.exists():
            records_path.unlink()
    wanted = {ex.id for ex in examples}
    done = {r["id"]: r for r in read_records(records_path) if r["id"] in wanted} if records_path else {}
    todo = [ex for ex in examples if ex.id not in done]
    if max_examples is not None:
        todo = todo[:max_examples]
    chunk = chunk or getattr(attack, "batch_size", 1)  # batched attacks (ASCC) get a batch per write
    if chunk > 1:  # batches of similar length (little padding); the records and metrics do not depend on order
        from .models import length_order

        todo = [todo[i] for i in length_order(todo)]
    new_records = []
    q0, r0 = victim.queries, victim.requests
    bar = _progress_bar(attack.name, len(examples), len(done), enabled=progress)
    for lo in range(0, len(todo), chunk):
        results = attack.attack_many(victim, todo[lo: lo + chunk])
        rows = [res.to_record() for res in results]
        new_records.extend(rows)
        if records_path is not None:
            with open(records_path, "a") as fh:
                for row in rows:
                    fh.write(json.dumps(row, sort_keys=True) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
        bar.update(len(rows))
    bar.close()
    for row in new_records:
        done[row["id"]] = row
    records = [done[ex.id] for ex in examples if ex.id in done]
    wall = time.perf_counter() - start
    summary = {
        "attack": attack.name,
        "attack_config": attack.config(),
        "constraints": attack.describe_constraints(),
        "complete": len(records) == len(examples),
        "metrics": summarize(records),
        "this_run": {"examples": len(new_records), "wall_time_s": round(wall, 3),
                     "examples_per_s": round(len(new_records) / wall, 4) if wall > 0 and new_records else None,
                     "queries": victim.queries - q0, "requests": victim.requests - r0,
                     "resumed_from": len(records) - len(new_records)},
        **(metadata or {}),
    }
    if out_dir is not None:
        write_json_atomic(Path(out_dir) / SUMMARY_FILE, summary)
    return summary


def _progress_bar(name: str, total: int, done: int, enabled: bool):
    """A tqdm bar on stderr counting attacked examples, with the elapsed time and an estimate of the time left."""
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=done, desc=f"{name} attack", unit="example", file=sys.stderr,
                disable=not enabled, dynamic_ncols=True)
