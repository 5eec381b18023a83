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

Command line (dispatched by ``python -m rift_lite attack``)::

    python -m rift_lite attack --checkpoint runs/mr-rift --attack genetic --dataset mr --n 1000 --seed 0 --out DIR
"""
from __future__ import annotations

import argparse
import json
import os
import random
import sys
import time
from pathlib import Path
from typing import Sequence

from .provenance import git_describe, write_json_atomic

PROFILES = {
    # n examples; genetic population / generations; ASCC steps. "paper" = the paper's settings.
    "smoke": {"n": 20, "pop_size": 8, "iterations": 4, "ascc_steps": 3},
    "lite": {"n": 300, "pop_size": 60, "iterations": 40, "ascc_steps": 10},
    "paper": {"n": 1000, "pop_size": 60, "iterations": 40, "ascc_steps": 10},
}
"""Run profiles. ``lite`` uses the official code's 300 examples; ``paper`` the paper's 1,000."""

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
    ``examples``. ``max_examples`` stops after that many *new* examples (used to test resumption).
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
        if progress:
            print(f"[{attack.name}] {len(done) + len(new_records)}/{len(examples)} examples", file=sys.stderr,
                  flush=True)
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


# ------------------------------------------------------------------------------------------------ bookkeeping


def build_constraints(args) -> list:
    """The constraints asked for on the command line (none by default: no causal LM is available offline)."""
    from .constraints import LanguageModelConstraint, MaxModificationRate, StopwordConstraint

    out = []
    if getattr(args, "max_modification_rate", None):
        out.append(MaxModificationRate(args.max_modification_rate))
    if getattr(args, "stopwords", False):
        out.append(StopwordConstraint())
    if getattr(args, "lm", None):
        out.append(LanguageModelConstraint(model=args.lm, window=args.lm_window, threshold=args.lm_threshold,
                                           device=getattr(args, "_device", None)))
    return out


# ------------------------------------------------------------------------------------------------ command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m rift_lite attack``."""
    parser.add_argument("--checkpoint", default=None, help="folder written by Classifier.save_pretrained")
    parser.add_argument("--model", default=None,
                        help="attack an UNTRAINED classifier on this encoder instead (smoke tests / benchmarks)")
    parser.add_argument("--num-hidden-layers", type=int, default=None, help="with --model: keep the first layers")
    parser.add_argument("--attack", choices=("genetic", "pwws", "textfooler", "ascc"), default="genetic")
    parser.add_argument("--dataset", default="mr")
    parser.add_argument("--split", default="test")
    parser.add_argument("--profile", choices=tuple(PROFILES), default="paper")
    parser.add_argument("--n", type=int, default=None, help="random test examples (default: profile; paper 1000, "
                        "the official code used 300; 0 = all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="output folder (default runs/attack-<dataset>-<attack>-seed<N>)")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--batch-size", type=int, default=64, help="texts per model call")
    parser.add_argument("--max-tokens", type=int, default=None, help="default: checkpoint / dataset")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--pop-size", type=int, default=None, help="genetic population (60)")
    parser.add_argument("--iterations", type=int, default=None, help="genetic generations (40)")
    parser.add_argument("--selection", choices=("proportional", "softmax"), default="proportional",
                        help="genetic parent selection: in proportion to 1 - p(y|x) (the official RIFT evaluation, "
                             "default) or Alzantot's softmax(fitness / 0.3)")
    parser.add_argument("--pwws-skip-unhelpful", action="store_true",
                        help="PWWS: leave words whose best swap does not lower p(y|x) (default: apply every swap "
                             "in saliency order, as the official code)")
    parser.add_argument("--ascc-steps", type=int, default=None, help="ASCC steps at test time (10)")
    parser.add_argument("--lm", default=None, help="causal LM (AutoModelForCausalLM name/path) for the genetic "
                        "attack's LM constraint; off by default (no LM is available offline)")
    parser.add_argument("--lm-window", type=int, default=6)
    parser.add_argument("--lm-threshold", type=float, default=5.0)
    parser.add_argument("--max-modification-rate", type=float, default=None)
    parser.add_argument("--stopwords", action="store_true", help="never replace stop words")
    parser.add_argument("--no-resume", action="store_true", help="start afresh even if OUT has records")
    parser.add_argument("--progress", action="store_true")


def _device(name: str):
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def run_cli(args: argparse.Namespace) -> int:
    import torch

    from . import data
    from .attacks import ClassifierVictim, build_attack
    from .models import build_classifier, device_summary, load_classifier, read_checkpoint_metadata
    from .substitutions import SubstitutionSet

    if (args.checkpoint is None) == (args.model is None):
        print("error: give exactly one of --checkpoint DIR or --model NAME (untrained)", file=sys.stderr)
        return 2
    if args.dataset not in data.TASKS:
        print(f"error: unknown dataset {args.dataset!r}", file=sys.stderr)
        return 2
    profile = PROFILES[args.profile]
    task = data.TASKS[args.dataset]
    n = profile["n"] if args.n is None else args.n
    device = _device(args.device)
    args._device = device
    torch.manual_seed(args.seed)
    if args.checkpoint is not None:
        meta = read_checkpoint_metadata(args.checkpoint)
        if meta.get("num_labels") != task.num_labels:
            print(f"error: checkpoint has {meta.get('num_labels')} labels, {args.dataset} has {task.num_labels}",
                  file=sys.stderr)
            return 2
        model, tokenizer = load_classifier(args.checkpoint, args.max_tokens)
        source = {"checkpoint": str(args.checkpoint), "checkpoint_meta": meta}
    else:
        layers = args.num_hidden_layers or None
        model, tokenizer = build_classifier(args.model, task.num_labels, layers, args.max_tokens or task.max_tokens)
        source = {"model": args.model, "num_hidden_layers": layers, "untrained": True}
    victim = ClassifierVictim(model, tokenizer, batch_size=args.batch_size, device=device,
                              max_tokens=args.max_tokens or tokenizer.max_tokens, precision=args.precision)
    substitutions = SubstitutionSet.load(args.data_dir)
    options = {}
    if args.attack == "genetic":
        options = {"pop_size": args.pop_size or profile["pop_size"], "iterations": args.iterations
                   if args.iterations is not None else profile["iterations"], "selection": args.selection}
    elif args.attack == "pwws":
        options = {"skip_unhelpful": args.pwws_skip_unhelpful}
    elif args.attack == "ascc":
        options = {"steps": args.ascc_steps if args.ascc_steps is not None else profile["ascc_steps"]}
    try:
        constraints = build_constraints(args)
        attack = build_attack(args.attack, substitutions, constraints or None, args.seed, **options)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    examples = sample_examples(data.load(args.dataset, args.split, args.data_dir), n, args.seed)
    out = Path(args.out or f"runs/attack-{args.dataset}-{args.attack}-seed{args.seed}")
    metadata = {
        "dataset": args.dataset, "split": args.split, "n": len(examples), "seed": args.seed, "profile": args.profile,
        "code_version": git_describe(), "hardware": device_summary(), "device": str(device),
        "precision": args.precision, "batch_size": args.batch_size, "max_tokens": victim.max_tokens,
        "substitutions": substitutions.source, **source,
        "notes": "n random test examples with a fixed seed (paper: 1000; the official code used 300). "
                 "No LM constraint unless 'constraints' lists one (no causal LM is available offline).",
    }
    summary = evaluate_attack(victim, attack, examples, out, resume=not args.no_resume, metadata=metadata,
                              progress=args.progress)
    m = summary["metrics"]
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    print(f"{args.attack} on {args.dataset}/{args.split} (n={m['n']}, seed {args.seed}): clean {fmt(m['clean_accuracy'])}, "
          f"under attack {fmt(m['accuracy_under_attack'])}, success rate {fmt(m['success_rate'])}, "
          f"mean queries {fmt(m['mean_queries'])}, changed {fmt(m['mean_changed_fraction'])} -> {out}")
    return 0
