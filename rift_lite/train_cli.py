"""``python -m rift_lite train``: the options (:func:`add_arguments`), the :class:`rift_lite.train.TrainConfig` they
make (:func:`config_from_args`), and the command (:func:`run_cli`): one run per ``--seed``, the result printed with its
profile's note, and ``OUT/seeds.json`` over several seeds. Bad input is one ``error:`` line (exit status 2).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from . import distributed, embedding_adversarial, rose
from .data import add_file_arguments, file_dataset_name
from .methods import METHODS
from .models import TINY_RANDOM
from .profiles import TRAIN_PROFILES
from .provenance import removed_if_empty_on_failure, write_json_atomic
from .seeds import seed_runs, summarize_seeds
from .train import train
from .train_config import TrainConfig, resolve_config


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m rift_lite train`` (unset options come from the profile / the paper)."""
    parser.add_argument("--method", choices=METHODS, default="rift")
    parser.add_argument("--dataset", default=None, help="mr (default), sst2, imdb, ... (needs train and dev splits); "
                        "or see --file")
    add_file_arguments(parser, "train on your own file; dev = --dev-file, else a fixed 10 %% of it")
    parser.add_argument("--dev-file", default=None, metavar="PATH", help="with --file: the dev set for model "
                        "selection (same format and columns)")
    parser.add_argument("--model", default=None, help=f"minilm, bert-base-uncased, roberta-base, or {TINY_RANDOM}")
    parser.add_argument("--num-hidden-layers", type=int, default=None, help="keep only the first layers (0 = all)")
    parser.add_argument("--profile", choices=tuple(TRAIN_PROFILES), default="smoke")
    parser.add_argument("--alpha", type=float, default=None, help="weight of L_r-info (Eq. 11)")
    parser.add_argument("--beta", type=float, default=None, help="weight of the KL term (Eq. 9)")
    parser.add_argument("--tau", type=float, default=None, help="score-function temperature")
    parser.add_argument("--ptwd-lambda", type=float, default=None, help="Adv-PTWD weight of ||theta - theta_0||_2")
    parser.add_argument("--mixout-p", type=float, default=None, help="Adv-Mixout probability")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None, help="global batch (a multiple of the classes)")
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--critic-lr", type=float, default=None,
                        help="own lr of the InfoNCE score functions (RIFT, RIFT-I(S;T)); default: --lr, as the paper")
    parser.add_argument("--max-tokens", type=int, default=None)
    parser.add_argument("--train-examples", type=int, default=None, help="class-balanced subset (0 = all)")
    parser.add_argument("--dev-examples", type=int, default=None, help="dev subset for model selection (0 = all)")
    parser.add_argument("--ascc-steps", type=int, default=None, help="ASCC inner steps in training (10)")
    parser.add_argument("--dev-attack-steps", type=int, default=None, help="ASCC steps of the dev robust accuracy")
    parser.add_argument("--select-on", choices=("robust", "clean", "last"), default="robust",
                        help="checkpoint kept: best dev robust / clean accuracy, or the last epoch (no dev split)")
    parser.add_argument("--pooling", choices=("cls", "pooler", "mean"), default=None,
                        help="which encoder vector is F_s(x) (default: what the encoder was pre-trained with -- "
                             "mean for minilm, pooler for bert/roberta)")
    parser.add_argument("--trace-every", type=int, default=None, metavar="N",
                        help="every N steps also log the relative L2 distance and the mean loss terms (trace.jsonl)")
    parser.add_argument("--trace-grad-norms", action="store_true",
                        help="with --trace-every: also the gradient norm of each loss term (one extra backward each)")
    parser.add_argument("--length-buckets", type=int, default=0, metavar="W",
                        help="batches of similar length: sort each class inside windows of W batches, then shuffle "
                             "the batches (less padding; 0 = the paper's random batches)")
    parser.add_argument("--seed", "--seeds", dest="seeds", type=int, nargs="+", default=[0], metavar="SEED",
                        help="one or more seeds; several run one after another into OUT/seed<N>, and "
                             "OUT/seeds.json gives the mean and standard deviation over them")
    parser.add_argument("--out", default=None, help="run folder (default runs/<dataset>-<method>-<profile>-seed<N>, "
                        "or runs/<dataset>-<method>-<profile> holding one folder per seed)")
    parser.add_argument("--data-dir", default=None, help="data folder (default $RIFT_LITE_DATA)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto")
    parser.add_argument("--checkpoint-every", type=int, default=None, help="also checkpoint every N steps")
    parser.add_argument("--no-resume", action="store_true", help="start afresh even if OUT has a checkpoint")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    embedding_adversarial.add_arguments(parser)
    rose.add_arguments(parser)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        method=args.method, dataset=args.dataset or "mr", profile=args.profile, model=args.model,
        file=args.file, dev_file=args.dev_file, text_column=args.text_column, label_column=args.label_column,
        text_b_column=args.text_b_column,
        num_hidden_layers=args.num_hidden_layers, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        critic_lr=args.critic_lr,
        alpha=args.alpha, beta=args.beta, tau=args.tau, ptwd_lambda=args.ptwd_lambda, mixout_p=args.mixout_p,
        max_tokens=args.max_tokens, train_examples=args.train_examples, dev_examples=args.dev_examples,
        ascc_steps=args.ascc_steps, dev_attack_steps=args.dev_attack_steps, select_on=args.select_on,
        length_buckets=args.length_buckets, seed=args.seeds[0], pooling=args.pooling,
        trace_every_steps=args.trace_every, trace_grad_norms=args.trace_grad_norms,
        out=args.out, data_dir=args.data_dir, device=args.device, precision=args.precision,
        checkpoint_every_steps=args.checkpoint_every, resume=not args.no_resume, progress=not args.no_progress,
        extra={**embedding_adversarial.options_from_args(args), **rose.options_from_args(args)})

def _check_file_arguments(args: argparse.Namespace) -> None:
    if args.file is not None and args.dataset is not None:
        raise ValueError("give --dataset or --file, not both")
    if args.dev_file is not None and args.file is None:
        raise ValueError("--dev-file needs --file (a dataset has its own dev split)")


def run_cli(args: argparse.Namespace) -> int:
    """``python -m rift_lite train``: bad input is one ``error:`` line (exit status 2), and a run that fails leaves
    no empty run folder behind."""
    try:
        _check_file_arguments(args)
        if args.no_progress:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # also the weight-loading bars (as ``attack --no-progress``)
        config = config_from_args(args)
        if config.file is not None:
            config = dataclasses.replace(config, dataset=file_dataset_name(config.file))
        all_results = []
        for config in seed_runs(config, args.seeds):
            with removed_if_empty_on_failure(resolve_config(config).out):  # checks every input first
                all_results.append(train(config))
            if distributed.is_main():
                _print_result(all_results[-1])
        if len(all_results) > 1 and distributed.is_main():  # before cleanup: afterwards every rank looks like rank 0
            _write_seed_summary(all_results)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    finally:
        distributed.cleanup()
    return 0


def _write_seed_summary(all_results: list[dict]) -> None:
    summary = summarize_seeds(all_results)
    path = Path(all_results[0]["config"]["out"]).parent / "seeds.json"
    write_json_atomic(path, summary)
    clean, robust = summary["best_dev_clean_acc"], summary["best_dev_robust_acc"]
    spread = f"dev robust {robust['mean']:.3f} +- {robust['std']:.3f}" if "mean" in robust else "no dev robust accuracy"
    print(f"{len(all_results)} seeds: dev clean {clean['mean']:.3f} +- {clean['std']:.3f}, {spread} -> {path}")


def _print_result(results: dict) -> None:
    best = results["best"]
    acc = {k: "--" if best.get(k) is None else f"{best[k]:.3f}" for k in ("dev_clean_acc", "dev_robust_acc")}
    kept = f"best epoch {best['epoch']}" if best.get("select_on") != "last" else f"last epoch {best['epoch']}"
    print(f"{results['method']} on {results['dataset']} ({results['profile']}, seed {results['seeds']['seed']}): "
          f"{kept}, dev clean {acc['dev_clean_acc']}, dev robust {acc['dev_robust_acc']}, "
          f"{results['wall_time_s']:.1f} s -> {results['config']['out']}")
    if results["profile"] != "paper":
        print(f"note ({results['profile']} profile): {results['profile_note']}")
