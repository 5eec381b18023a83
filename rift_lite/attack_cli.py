"""``python -m rift_lite attack``: attack a checkpoint (or an untrained classifier) on a dataset or your own file, with
the settings of a profile (:data:`rift_lite.profiles.ATTACK_PROFILES`: the checkpoint's, unless ``--profile`` says
otherwise), and write ``records.jsonl`` and ``summary.json`` through :func:`rift_lite.evaluate.evaluate_attack`.

    python -m rift_lite attack --checkpoint runs/mr-rift --attack genetic --dataset mr --n 1000 --seed 0 --out DIR

Every input is checked before the output folder is made; bad input is one ``error:`` line (exit status 2).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .evaluate import RECORDS_FILE, evaluate_attack, sample_examples
from .profiles import ATTACK_PROFILE_NOTES, ATTACK_PROFILES, PROFILE_ORDER, resolve_attack_profiles
from .provenance import git_describe


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m rift_lite attack``."""
    from .data import add_file_arguments

    parser.add_argument("--checkpoint", default=None, help="folder written by Classifier.save_pretrained")
    parser.add_argument("--model", default=None,
                        help="attack an UNTRAINED classifier on this encoder instead (smoke tests / benchmarks)")
    parser.add_argument("--num-hidden-layers", type=int, default=None, help="with --model: keep the first layers")
    parser.add_argument("--attack", choices=("genetic", "pwws", "textfooler", "ascc"), default="genetic")
    parser.add_argument("--dataset", default=None, help="a dataset name (default mr); or see --file")
    parser.add_argument("--split", default=None, help="split of --dataset (default test)")
    add_file_arguments(parser, "attack the examples of your own file")
    parser.add_argument("--profile", choices=PROFILE_ORDER, default=None,
                        help="settings: n, genetic population and generations, ASCC steps (default: the checkpoint's "
                             "profile, else paper); the recorded profile is never above the checkpoint's")
    parser.add_argument("--n", type=int, default=None, help="random examples to attack, >= 1, or 0 for all "
                        "(default: the profile's; paper 1000, the official code used 300)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=None, help="output folder (default runs/attack-<dataset>-<attack>-seed<N>)")
    parser.add_argument("--data-dir", default=None, help="data folder (default $RIFT_LITE_DATA, else the internet)")
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
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=True,
                        help="a progress bar on stderr with the time left (default on; --no-progress: none)")


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


def check_arguments(args: argparse.Namespace) -> None:
    """The checks that need neither a model nor data; a ValueError names the option and what it allows."""
    if (args.checkpoint is None) == (args.model is None):
        raise ValueError("give exactly one of --checkpoint DIR or --model NAME (untrained)")
    if args.file is not None and (args.dataset is not None or args.split is not None):
        raise ValueError("give --dataset (and --split) or --file, not both")
    if args.n is not None and args.n < 0:
        raise ValueError(f"--n must be >= 1, or 0 for every example; got {args.n}")
    if args.batch_size < 1:
        raise ValueError(f"--batch-size must be >= 1; got {args.batch_size}")
    if args.max_tokens is not None and args.max_tokens < 3:
        raise ValueError(f"--max-tokens must be >= 3 (two special tokens and a word); got {args.max_tokens}")
    for option, least in (("num_hidden_layers", 0), ("pop_size", 1), ("iterations", 1), ("ascc_steps", 0)):
        value = getattr(args, option)
        if value is not None and value < least:
            raise ValueError(f"--{option.replace('_', '-')} must be >= {least}; got {value}")


def _attack_examples(args, meta: dict | None) -> tuple[str, str, list, int, int]:
    """``(dataset label, split, examples, num_labels, max_tokens)`` from ``--dataset`` or ``--file``."""
    from . import data

    task_name = (meta or {}).get("task")
    if args.file is not None:
        # the checkpoint's class names (a dataset's, or those of the file it was trained on): the same numbering
        names = data.TASKS[task_name].label_names if task_name in data.TASKS else (meta or {}).get("label_names")
        examples = data.load_file(args.file, args.text_column, args.label_column, args.text_b_column,
                                  label_names=names)
        info = data.file_task(examples, data.file_dataset_name(args.file), names)
        num_labels = meta["num_labels"] if meta else info.num_labels
        if info.num_labels > num_labels:
            raise ValueError(f"{args.file}: labels go up to {info.num_labels - 1}, the checkpoint has {num_labels} "
                             "classes")
        return info.name, "file", examples, num_labels, info.max_tokens
    dataset, split = args.dataset or "mr", args.split or "test"
    if dataset not in data.TASKS:
        raise ValueError(f"unknown dataset {dataset!r}; known: {', '.join(data.TASKS)}; for your own data use "
                         "--file PATH")
    task = data.TASKS[dataset]
    if meta is not None and meta.get("num_labels") != task.num_labels:
        raise ValueError(f"checkpoint has {meta.get('num_labels')} labels, {dataset} has {task.num_labels}")
    return dataset, split, data.load(dataset, split, args.data_dir), task.num_labels, task.max_tokens


def _build_victim(args, meta: dict | None, num_labels: int, max_tokens: int, device):
    """The classifier under attack (a checkpoint, or an untrained one on ``--model``) and where it came from."""
    from .attacks import ClassifierVictim
    from .models import build_classifier, load_classifier

    if args.checkpoint is not None:
        model, tokenizer = load_classifier(args.checkpoint, args.max_tokens)
        source = {"checkpoint": str(args.checkpoint), "checkpoint_meta": meta}
    else:
        layers = args.num_hidden_layers or None
        model, tokenizer = build_classifier(args.model, num_labels, layers, args.max_tokens or max_tokens)
        source = {"model": args.model, "num_hidden_layers": layers, "untrained": True}
    victim = ClassifierVictim(model, tokenizer, batch_size=args.batch_size, device=device,
                              max_tokens=args.max_tokens or tokenizer.max_tokens, precision=args.precision)
    return victim, source


def _build_attack(args, profile: dict, substitutions):
    from .attacks import build_attack

    options = {}
    if args.attack == "genetic":
        options = {"pop_size": args.pop_size or profile["pop_size"], "iterations": args.iterations
                   if args.iterations is not None else profile["iterations"], "selection": args.selection}
    elif args.attack == "pwws":
        options = {"skip_unhelpful": args.pwws_skip_unhelpful}
    elif args.attack == "ascc":
        options = {"steps": args.ascc_steps if args.ascc_steps is not None else profile["ascc_steps"]}
    return build_attack(args.attack, substitutions, build_constraints(args) or None, args.seed, **options)


def run_cli(args: argparse.Namespace) -> int:
    """``python -m rift_lite attack``. Every input is checked before the output folder is made; bad input raises
    ``ValueError`` (one ``error:`` line, exit status 2, from ``__main__``) and leaves no empty folder behind."""
    import torch

    from .devices import select_device
    from .models import device_summary, read_checkpoint_metadata
    from .provenance import removed_if_empty_on_failure
    from .substitutions import SubstitutionSet

    check_arguments(args)
    if not args.progress:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # also the weight-loading bars
    meta = read_checkpoint_metadata(args.checkpoint) if args.checkpoint is not None else None
    settings, recorded = resolve_attack_profiles(args.profile, (meta or {}).get("profile"))
    profile = ATTACK_PROFILES[settings]
    dataset, split, pool, num_labels, max_tokens = _attack_examples(args, meta)
    examples = sample_examples(pool, profile["n"] if args.n is None else args.n, args.seed)
    device = select_device(args.device)
    args._device = device
    torch.manual_seed(args.seed)
    substitutions = SubstitutionSet.load(args.data_dir)
    attack = _build_attack(args, profile, substitutions)
    victim, source = _build_victim(args, meta, num_labels, max_tokens, device)
    out = Path(args.out or f"runs/attack-{dataset}-{args.attack}-seed{args.seed}")
    metadata = {
        "dataset": dataset, "split": split, "file": args.file, "n": len(examples), "seed": args.seed,
        "profile": recorded, "profile_note": ATTACK_PROFILE_NOTES[recorded], "settings_profile": settings,
        "code_version": git_describe(), "hardware": device_summary(), "device": str(device),
        "precision": args.precision, "batch_size": args.batch_size, "max_tokens": victim.max_tokens,
        "substitutions": substitutions.source, **source,
        "notes": "n random test examples with a fixed seed (paper: 1000; the official code used 300). "
                 "No LM constraint unless 'constraints' lists one (no causal LM is available offline).",
    }
    with removed_if_empty_on_failure(out):
        summary = evaluate_attack(victim, attack, examples, out, resume=not args.no_resume, metadata=metadata,
                                  progress=args.progress)
    _print_summary(summary, args, f"{dataset}/{split}", out)
    return 0


def _print_summary(summary: dict, args, where: str, out: Path) -> None:
    run = summary["this_run"]
    if summary["complete"] and run["examples"] == 0:
        print(f"already finished: all {summary['n']} examples were attacked before (records in {out / RECORDS_FILE});"
              " the summary is recomputed from them (--no-resume or another --out attacks again)", file=sys.stderr)
    elif run["resumed_from"]:
        print(f"resumed: {run['resumed_from']} examples were already attacked, {run['examples']} now",
              file=sys.stderr)
    m = summary["metrics"]
    fmt = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    print(f"{args.attack} on {where} (n={m['n']}, seed {args.seed}): clean {fmt(m['clean_accuracy'])}, "
          f"under attack {fmt(m['accuracy_under_attack'])}, success rate {fmt(m['success_rate'])}, "
          f"mean queries {fmt(m['mean_queries'])}, changed {fmt(m['mean_changed_fraction'])} -> {out}")
    if summary["profile"] != "paper":
        print(f"note ({summary['profile']} profile): {summary['profile_note']}")
