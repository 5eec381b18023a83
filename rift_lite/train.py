"""Fine-tuning loop for every method of :mod:`rift_lite.methods` (RIFT's Algorithm 1 and its baselines).

``train(TrainConfig(...)) -> dict`` from a notebook, or ``python -m rift_lite train --method rift --dataset mr
--profile smoke`` from a shell. What it does, and where it follows / departs from the paper and the official code:

* **Class-balanced batches** (Algorithm 1, line 3): one sampler per class, B / C examples of each class per batch,
  as the conditional bound of Lemma 1 needs; an epoch ends when the smallest class runs out (the official code zips
  one loader per class). Classes are interleaved inside a batch, so every data-parallel rank's contiguous share is
  itself class-balanced. ``length_buckets=W`` (off by default) groups examples of similar length into a batch
  (sorted inside windows of W batches, batch order shuffled): much less padding, same examples per epoch.
* **Optimiser** (supplementary A.1): AdamW, lr 2e-5, no weight decay on the encoder, 2e-4 on the task-specific
  layers (the head and the InfoNCE score MLPs). The official code warms the learning rate up linearly from 0.1x over
  the first 2 of 20 epochs (stepped per epoch); here the same ramp is per step over ``warmup_fraction`` (0.1) of all
  steps. bf16 autocast on CUDA.
* **Model selection on a dev split**, by robust accuracy under the ASCC attack (cross-entropy objective, 10 steps,
  arg-max decoded to a real word-substitution example; ``select_on='clean'`` for clean accuracy). The paper says
  "early stopping according to best robust accuracy"; the official code measured that robust accuracy on the *test*
  set. We never look at the test set here.
* **Checkpoints and resume**: at the end of every epoch (and every ``checkpoint_every_steps`` steps if set) the full
  training state -- model, InfoNCE heads, optimiser, scheduler, RNG states, epoch, position inside the epoch, running
  loss sums, history -- is written to a temporary folder and moved into place with ``os.replace``; a run started
  again with the same ``out`` resumes from the newest one and ends with the same numbers as an uninterrupted run.
  The best model is saved in ``out/best`` with :meth:`Classifier.save_pretrained` (what ``rift_lite attack`` loads).
* **Logs**: ``out/log.jsonl``, one line per epoch: clean and robust dev accuracy, the mean loss terms (ce, kl, info,
  ptwd, total), the InfoNCE estimate of I(S_hat; T | Y) in nats, and the relative L2 distance
  ||theta - theta_0|| / ||theta_0|| of the encoder (the forgetting measure of Fig. 2). ``out/results.json`` records
  profile, config, seed, code version (git describe), hardware, world size and wall time.
* **Data parallel**: run under ``torchrun --nproc_per_node N -m rift_lite train ...`` (or ``accelerate launch``).
  Every rank draws the same global class-balanced batch and trains on its contiguous share; gradients are averaged
  by DDP and the InfoNCE bound is computed over the all-gathered global batch (:mod:`rift_lite.distributed`), so a
  run with N processes matches a 1-process run with the same global batch.

Profiles (one code path, three sizes): ``smoke`` (MiniLM's first 2 layers, 200 MR training sentences of at most 32
tokens, 1 epoch: about a minute on 2 CPU cores), ``lite`` (MiniLM-L6, all of MR, 64 tokens, 3 epochs: minutes on a
GPU), ``paper`` (BERT-base, the paper's 20 epochs, batch 32 / 120, 300 / 80 tokens). Explicit fields override the
profile; beta / alpha / lambda / tau default to the paper's values for the dataset (:func:`methods.default_hparams`).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch

from . import distributed, embedding_adversarial
from .adversary import ASCCConfig
from .checkpoints import CHECKPOINTS, LATEST, latest_checkpoint, restore_training_state, save_best, save_checkpoint
from .checkpoints import save_training_state
from .devices import autocast as _autocast
from .devices import select_device as _select_device
from .methods import ADVERSARIAL, INFO_METHODS, METHODS, MethodConfig, Objective, batch_inputs, default_hparams
from .models import TINY_RANDOM, build_model
from .profiles import PAPER_BATCH
from .profiles import TRAIN_PROFILE_NOTES as PROFILE_NOTES
from .profiles import TRAIN_PROFILES as PROFILES
from .provenance import git_describe, write_json_atomic
from .selection import evaluate, improved_best
from .sampler import ClassBalancedSampler
from .train_data import balanced_subset as _balanced_subset
from .train_data import dev_subset
from .train_data import run_splits as _splits
from .train_data import slice_batch as _slice_batch

class SimulatedInterruption(RuntimeError):
    """Raised by ``TrainConfig.fail_after_steps`` to test resuming (a stand-in for a killed process)."""


@dataclass
class TrainConfig:
    """Everything a run needs. ``None`` fields are filled from the profile, then from the paper (per dataset)."""

    method: str = "rift"
    dataset: str = "mr"
    file: str | None = None  # your own training file (replaces dataset; the run's dataset becomes "file-<stem>")
    dev_file: str | None = None  # its dev set; default: a fixed 10 % of ``file`` (data.split_off_dev)
    text_column: str = "text"
    label_column: str = "label"
    text_b_column: str | None = None
    profile: str = "smoke"
    model: str | None = None
    num_hidden_layers: int | None = None
    epochs: int | None = None
    batch_size: int | None = None
    eval_batch_size: int | None = None
    lr: float = 2e-5
    encoder_weight_decay: float = 0.0
    head_weight_decay: float = 2e-4
    warmup_fraction: float = 0.1
    warmup_factor: float = 0.1
    max_grad_norm: float | None = None
    beta: float | None = None
    alpha: float | None = None
    tau: float | None = None
    ptwd_lambda: float | None = None
    mixout_p: float | None = None
    ascc_steps: int | None = None
    ascc_lr: float = 1.0
    ascc_weight_decay: float = 2e-5
    ascc_entropy_weight: float = 15.0
    shared_reference: bool = False
    pooling: str | None = None
    max_tokens: int | None = None
    train_examples: int | None = None
    dev_examples: int | None = None
    dev_attack_steps: int | None = None
    select_on: str = "robust"
    length_buckets: int = 0
    seed: int = 0
    out: str | None = None
    data_dir: str | None = None
    device: str = "auto"
    precision: str = "auto"
    resume: bool = True
    progress: bool = True
    checkpoint_every_steps: int | None = None
    trace_every_steps: int | None = None
    trace_grad_norms: bool = False
    fail_after_steps: int | None = None
    extra: dict = field(default_factory=dict)


def _err(field_name: str, allowed: str, value) -> ValueError:
    return ValueError(f"TrainConfig.{field_name} must be {allowed}; got {value!r}")


def resolve_config(config: TrainConfig, world_size: int = 1) -> TrainConfig:
    """Fill ``None`` fields (profile, then paper per dataset) and validate; returns a new, complete config."""
    from .data import TASKS

    c = dataclasses.replace(config)
    if c.profile not in PROFILES:
        raise _err("profile", f"one of {', '.join(PROFILES)}", c.profile)
    if c.method not in METHODS:
        raise _err("method", f"one of {', '.join(METHODS)}", c.method)
    if c.file is not None:
        from .data import file_dataset_name

        c.dataset = file_dataset_name(c.file)
        task = _splits(c)[0]
    elif c.dataset not in TASKS:
        raise _err("dataset", f"one of {', '.join(sorted(TASKS))}, or file=PATH (--file) for your own data",
                   c.dataset)
    else:
        task = TASKS[c.dataset]
    if "train" not in task.splits or "dev" not in task.splits:
        raise _err("dataset", "a dataset with local train and dev splits "
                   f"({', '.join(n for n, t in TASKS.items() if 'train' in t.splits and 'dev' in t.splits)}); "
                   f"{c.dataset} has only {', '.join(task.splits)}", c.dataset)
    for key, value in PROFILES[c.profile].items():
        if getattr(c, key) is None:
            setattr(c, key, value)
    if not c.max_tokens:
        c.max_tokens = task.max_tokens
    if not c.batch_size:
        c.batch_size = PAPER_BATCH.get(c.dataset, 120 if task.is_pair else 32)
    for key, value in default_hparams("snli" if c.file and task.is_pair else c.dataset).items():
        if getattr(c, key) is None:
            setattr(c, key, value)
    c.extra = embedding_adversarial.resolve_options(c.method, c.dataset, c.extra)  # peaft / freelb settings
    if c.pooling is None:
        from .models import DEFAULT_POOLING

        c.pooling = "mean" if c.model == TINY_RANDOM else DEFAULT_POOLING.get(c.model, "auto")
    if c.pooling not in ("cls", "pooler", "mean", "auto"):
        raise _err("pooling", "'cls', 'pooler' or 'mean'", c.pooling)
    if c.trace_every_steps is not None and c.trace_every_steps < 1:
        raise _err("trace_every_steps", ">= 1 or None", c.trace_every_steps)
    if c.out is None:
        c.out = str(Path("runs") / f"{c.dataset}-{c.method}-{c.profile}-seed{c.seed}")
    C = task.num_labels
    if not isinstance(c.epochs, int) or not 1 <= c.epochs <= 1000:
        raise _err("epochs", "an integer in [1, 1000]", c.epochs)
    if c.batch_size < C or c.batch_size % C:
        raise _err("batch_size", f"a positive multiple of the number of classes ({C}) for class-balanced batches",
                   c.batch_size)
    if c.method in INFO_METHODS and c.batch_size // C < 2:
        raise _err("batch_size", f">= {2 * C} for {c.method} (InfoNCE needs >= 2 examples per class)", c.batch_size)
    if c.batch_size % world_size:
        raise _err("batch_size", f"divisible by the number of processes ({world_size})", c.batch_size)
    if c.eval_batch_size < 1:
        raise _err("eval_batch_size", ">= 1", c.eval_batch_size)
    if not 0 < c.lr <= 1:
        raise _err("lr", "in (0, 1]", c.lr)
    for key in ("encoder_weight_decay", "head_weight_decay", "beta", "alpha", "ptwd_lambda", "ascc_weight_decay",
                "ascc_entropy_weight"):
        if getattr(c, key) < 0:
            raise _err(key, ">= 0", getattr(c, key))
    if c.tau <= 0:
        raise _err("tau", "> 0", c.tau)
    if not 0 <= c.mixout_p < 1:
        raise _err("mixout_p", "in [0, 1)", c.mixout_p)
    if not 0 <= c.warmup_fraction <= 1:
        raise _err("warmup_fraction", "in [0, 1]", c.warmup_fraction)
    if not 0 < c.warmup_factor <= 1:
        raise _err("warmup_factor", "in (0, 1]", c.warmup_factor)
    if c.ascc_steps < 0 or c.dev_attack_steps < 0:
        raise _err("ascc_steps" if c.ascc_steps < 0 else "dev_attack_steps", ">= 0", min(c.ascc_steps, c.dev_attack_steps))
    if c.ascc_lr <= 0:
        raise _err("ascc_lr", "> 0", c.ascc_lr)
    if c.max_tokens < 3:
        raise _err("max_tokens", ">= 3 (two special tokens and a word)", c.max_tokens)
    if c.train_examples < 0 or c.dev_examples < 0 or c.num_hidden_layers < 0:
        raise _err("train_examples" if c.train_examples < 0 else "dev_examples" if c.dev_examples < 0
                   else "num_hidden_layers", ">= 0 (0 = all)", -1)
    if not isinstance(c.length_buckets, int) or c.length_buckets < 0:
        raise _err("length_buckets", "an integer >= 0 (0 = random batches)", c.length_buckets)
    if c.select_on not in ("robust", "clean"):
        raise _err("select_on", "'robust' or 'clean'", c.select_on)
    if c.select_on == "robust" and c.dev_attack_steps == 0:
        raise _err("dev_attack_steps", ">= 1 when select_on='robust'", c.dev_attack_steps)
    if c.precision not in ("auto", "fp32", "bf16"):
        raise _err("precision", "'auto', 'fp32' or 'bf16'", c.precision)
    if c.device != "auto" and not (c.device == "cpu" or c.device.startswith("cuda")):
        raise _err("device", "'auto', 'cpu' or 'cuda[:N]'", c.device)
    if c.checkpoint_every_steps is not None and c.checkpoint_every_steps < 1:
        raise _err("checkpoint_every_steps", ">= 1 or None", c.checkpoint_every_steps)
    if c.max_grad_norm is not None and c.max_grad_norm <= 0:
        raise _err("max_grad_norm", "> 0 or None", c.max_grad_norm)
    return c


# ---------------------------------------------------------------------------------------------- training


def train(config: TrainConfig | None = None, **overrides) -> dict:
    """Fine-tune with ``config`` (fields may also be given as keyword arguments); returns the results dict.

    The results (also in ``out/results.json``) hold the resolved config, the per-epoch history (the lines of
    ``out/log.jsonl``), the best epoch on the dev split, seeds, code version, hardware and wall time.
    """
    from tqdm.auto import tqdm

    from . import data as data_mod
    from .models import device_summary, word_count
    from .substitutions import SubstitutionSet, build_candidates

    config = dataclasses.replace(config or TrainConfig(), **overrides)
    requested = _select_device(config.device)
    device = distributed.setup(requested.type)
    if requested.type == "cuda" and requested.index is not None and not distributed.is_initialized():
        device = requested
    world, rank = distributed.world_size(), distributed.rank()
    cfg = resolve_config(config, world)
    main = distributed.is_main()
    out = Path(cfg.out)
    if main:
        out.mkdir(parents=True, exist_ok=True)
    started = time.time()

    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    task, train_all, dev_all = _splits(cfg)
    train_set = _balanced_subset(train_all, cfg.train_examples, task.num_labels, cfg.seed)
    dev_set = dev_subset(dev_all, cfg.dev_examples, cfg.seed)
    adversarial = cfg.method in ADVERSARIAL  # needs ASCC candidates (peaft / freelb perturb embeddings instead)
    substitutions = SubstitutionSet.load(cfg.data_dir) if adversarial or cfg.dev_attack_steps else None

    model, tokenizer = build_model(cfg.model, task.num_labels, cfg.num_hidden_layers, cfg.max_tokens, cfg.seed,
                                   cfg.pooling)
    cfg.pooling = model.pooling  # 'auto' resolved: every results file records the pooling actually used
    model.to(device)
    method_cfg = MethodConfig(
        name=cfg.method, beta=cfg.beta, alpha=cfg.alpha, ptwd_lambda=cfg.ptwd_lambda, mixout_p=cfg.mixout_p,
        tau=cfg.tau, shared_reference=cfg.shared_reference,
        ascc=ASCCConfig(steps=cfg.ascc_steps, lr=cfg.ascc_lr, weight_decay=cfg.ascc_weight_decay,
                        entropy_weight=cfg.ascc_entropy_weight),
        embedding=embedding_adversarial.EmbeddingAdvConfig(method=cfg.method, **{
            k: v for k, v in cfg.extra.items() if k in embedding_adversarial.OPTIONS})
        if cfg.method in embedding_adversarial.EMBEDDING_METHODS else None)
    objective = Objective(model, method_cfg).to(device)
    runner = objective
    if distributed.is_initialized():
        from torch.nn.parallel import DistributedDataParallel as DDP

        runner = DDP(objective, device_ids=[device.index] if device.type == "cuda" else None,
                     broadcast_buffers=False)

    # trainable parameters only (a frozen encoder contributes none); PEAFT's groups carry their own lrs
    optimizer = torch.optim.AdamW(objective.param_groups(cfg.encoder_weight_decay, cfg.head_weight_decay), lr=cfg.lr)
    sampler = ClassBalancedSampler([ex.label for ex in train_set], cfg.batch_size, task.num_labels, cfg.seed,
                                   lengths=[word_count(ex) for ex in train_set] if cfg.length_buckets else None,
                                   bucket_batches=cfg.length_buckets)
    steps_per_epoch = len(sampler)
    total_steps = steps_per_epoch * cfg.epochs
    warmup = round(cfg.warmup_fraction * total_steps)

    def lr_factor(step: int) -> float:
        return 1.0 if warmup == 0 else cfg.warmup_factor + (1 - cfg.warmup_factor) * min(1.0, step / warmup)

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)
    state: dict[str, Any] = {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "sums": {}, "count": 0,
                             "history": [], "best": None, "elapsed": 0.0, "resumed_from": [],
                             "trace": [], "trace_sums": {}, "trace_count": 0}
    ckpt = latest_checkpoint(out) if cfg.resume else None
    if ckpt is not None:
        restore_training_state(ckpt, state, objective, optimizer, scheduler, cfg)
        if main and state["epoch"] >= cfg.epochs:
            print(f"already finished: {out} holds the whole run ({cfg.epochs} epoch(s), {state['global_step']} "
                  "steps); nothing is trained, the results are written again from its checkpoint (--no-resume or "
                  "another --out trains again, a larger --epochs trains on)", file=sys.stderr)
        elif main:
            print(f"resuming from {ckpt} (epoch {state['epoch'] + 1} of {cfg.epochs}, step {state['step_in_epoch']} "
                  f"of {steps_per_epoch})", file=sys.stderr)
    segment_start = time.time()

    def checkpoint():
        if main:
            elapsed = state["elapsed"] + time.time() - segment_start
            save_training_state(out, state, elapsed, objective, optimizer, scheduler, cfg)
        distributed.barrier()

    share = cfg.batch_size // world
    keys = ("total", "ce", "kl", "info", "ptwd", "mi", "acc", "adv_acc", "adv_ce")
    for epoch in range(state["epoch"], cfg.epochs):
        batches = sampler.epoch_batches(epoch)
        objective.train()
        bar = tqdm(range(state["step_in_epoch"], steps_per_epoch), total=steps_per_epoch,
                   initial=state["step_in_epoch"], desc=f"{cfg.method} epoch {epoch + 1}/{cfg.epochs}",
                   disable=not (cfg.progress and main), leave=False)
        for i in bar:
            examples = [train_set[j] for j in batches[i]]
            if adversarial:
                full = build_candidates(examples, tokenizer, substitutions, max_tokens=cfg.max_tokens)
            else:
                full = tokenizer.encode(examples, cfg.max_tokens)
            local = _slice_batch(full, rank * share, (rank + 1) * share) if world > 1 else full
            inputs = {k: v.to(device) for k, v in batch_inputs(local).items()}
            tracing = bool(cfg.trace_every_steps) and (state["global_step"] + 1) % cfg.trace_every_steps == 0
            objective.return_parts = tracing and cfg.trace_grad_norms
            with _autocast(device, cfg.precision):
                terms = runner(**inputs)
            grad_norms = _term_grad_norms(terms.pop("parts"), objective) if "parts" in terms else {}
            terms["total"].backward()
            if cfg.max_grad_norm:
                torch.nn.utils.clip_grad_norm_(objective.parameters(), cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            values = {k: float(terms[k].detach()) for k in keys if k in terms}  # adv_ce: peaft / freelb only
            for k, v in values.items():
                if not math.isnan(v):
                    state["sums"][k] = state["sums"].get(k, 0.0) + v
                    state["trace_sums"][k] = state["trace_sums"].get(k, 0.0) + v
            state["count"] += 1
            state["trace_count"] += 1
            state["global_step"] += 1
            if tracing:
                _trace_row(state, objective, epoch + (i + 1) / steps_per_epoch, grad_norms)
            state["step_in_epoch"] = i + 1
            bar.set_postfix(loss=f"{values['total']:.3f}", kl=f"{values['kl']:.3f}")
            if cfg.checkpoint_every_steps and state["global_step"] % cfg.checkpoint_every_steps == 0 \
                    and i + 1 < steps_per_epoch:
                checkpoint()
            if cfg.fail_after_steps and state["global_step"] == cfg.fail_after_steps:
                raise SimulatedInterruption(f"simulated interruption after {state['global_step']} steps")
        bar.close()

        # ---- end of epoch: dev evaluation, log, best model, checkpoint
        means = {k: v / max(state["count"], 1) for k, v in state["sums"].items()}
        means = distributed.all_reduce_mean(means, device if device.type == "cuda" else None)
        dev = evaluate(objective.model, dev_set, tokenizer, substitutions, batch_size=cfg.eval_batch_size,
                       max_tokens=cfg.max_tokens, attack_steps=cfg.dev_attack_steps, device=device,
                       precision=cfg.precision)
        row = {"epoch": epoch + 1, "step": state["global_step"], "lr": scheduler.get_last_lr()[0],
               "dev_clean_acc": dev["clean_acc"], "dev_robust_acc": dev["robust_acc"], "dev_n": dev["n"],
               "rel_l2_distance": objective.relative_distance(),
               **{f"train_{k}": means.get(k) for k in keys},
               "wall_time_s": round(state["elapsed"] + time.time() - segment_start, 2)}
        row["mi_estimate"] = row.pop("train_mi")
        state["history"].append(row)
        best = improved_best(state["best"], epoch + 1, dev, cfg.select_on)
        if best is not None:
            state["best"] = best
            if main:
                save_best(objective, tokenizer, out, cfg, best)
        if main:
            write_json_atomic(out / "log.jsonl", state["history"], lines=True)
            if state["trace"]:
                write_json_atomic(out / "trace.jsonl", state["trace"], lines=True)
            print(json.dumps(row), file=sys.stderr)
        state.update(epoch=epoch + 1, step_in_epoch=0, sums={}, count=0)
        checkpoint()

    wall = state["elapsed"] + time.time() - segment_start
    results = {
        "profile": cfg.profile, "profile_note": PROFILE_NOTES[cfg.profile], "method": cfg.method,
        "dataset": cfg.dataset, "config": dataclasses.asdict(cfg),
        "seeds": {"seed": cfg.seed, "sampler_seed": cfg.seed, "dev_subset_seed": f"dev-{cfg.seed}"},
        "code_version": git_describe(), "hardware": {**device_summary(), "device": str(device), "world_size": world},
        "wall_time_s": round(wall, 2), "run_wall_time_s": round(time.time() - started, 2),
        "n_train": len(train_set), "n_dev": len(dev_set), "steps": state["global_step"],
        "resumed_at_steps": state["resumed_from"], "best": state["best"], "final": state["history"][-1],
        "history": state["history"], "trace": state["trace"], "best_checkpoint": str(out / "best"),
        "paper_hparams_note": ("beta/alpha/lambda default to the paper's IMDB values for MR/SST-2 and single-sentence "
                               "tasks, SNLI values for pair tasks (the paper gives no others)"),
        "model_selection": f"dev split ({cfg.dataset} dev), {cfg.select_on} accuracy; never the test set",
    }
    if main:
        write_json_atomic(out / "results.json", results)
    return results


def _term_grad_norms(parts: dict, objective: Objective) -> dict[str, float]:
    """L2 norm of each weighted loss term's gradient w.r.t. the encoder (ce, beta*kl, alpha*info, lambda*ptwd).

    The graph is kept for the real backward pass that follows; costs one extra backward per term, so it runs only
    at trace steps (``trace_grad_norms=True``).
    """
    params = objective.encoder_parameters()
    norms = {}
    for name, term in parts.items():
        if not isinstance(term, torch.Tensor) or not term.requires_grad:
            continue
        grads = torch.autograd.grad(term, params, retain_graph=True, allow_unused=True)
        norms[f"grad_norm_{name}"] = math.sqrt(sum(float(g.float().pow(2).sum()) for g in grads if g is not None))
    return norms


def _trace_row(state: dict, objective: Objective, epoch: float, grad_norms: dict) -> None:
    """Append a trace row: the forgetting measure and the mean loss terms since the previous row (Fig. 2a)."""
    n = max(state["trace_count"], 1)
    row = {"step": state["global_step"], "epoch": round(epoch, 4), "rel_l2_distance": objective.relative_distance(),
           **{f"train_{k}": v / n for k, v in state["trace_sums"].items()}, **grad_norms}
    state["trace"].append(row)
    state["trace_sums"], state["trace_count"] = {}, 0


# ---------------------------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m rift_lite train`` (unset options come from the profile / the paper)."""
    parser.add_argument("--method", choices=METHODS, default="rift")
    parser.add_argument("--dataset", default=None, help="mr (default), sst2, imdb, ... (needs train and dev splits); "
                        "or see --file")
    from .data import add_file_arguments

    add_file_arguments(parser, "train on your own file; dev = --dev-file, else a fixed 10 %% of it")
    parser.add_argument("--dev-file", default=None, metavar="PATH", help="with --file: the dev set for model "
                        "selection (same format and columns)")
    parser.add_argument("--model", default=None, help=f"minilm, bert-base-uncased, roberta-base, or {TINY_RANDOM}")
    parser.add_argument("--num-hidden-layers", type=int, default=None, help="keep only the first layers (0 = all)")
    parser.add_argument("--profile", choices=tuple(PROFILES), default="smoke")
    parser.add_argument("--alpha", type=float, default=None, help="weight of L_r-info (Eq. 11)")
    parser.add_argument("--beta", type=float, default=None, help="weight of the KL term (Eq. 9)")
    parser.add_argument("--tau", type=float, default=None, help="score-function temperature")
    parser.add_argument("--ptwd-lambda", type=float, default=None, help="Adv-PTWD weight of ||theta - theta_0||_2")
    parser.add_argument("--mixout-p", type=float, default=None, help="Adv-Mixout probability")
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None, help="global batch (a multiple of the classes)")
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--max-tokens", type=int, default=None)
    parser.add_argument("--train-examples", type=int, default=None, help="class-balanced subset (0 = all)")
    parser.add_argument("--dev-examples", type=int, default=None, help="dev subset for model selection (0 = all)")
    parser.add_argument("--ascc-steps", type=int, default=None, help="ASCC inner steps in training (10)")
    parser.add_argument("--dev-attack-steps", type=int, default=None, help="ASCC steps of the dev robust accuracy")
    parser.add_argument("--select-on", choices=("robust", "clean"), default="robust")
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


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        method=args.method, dataset=args.dataset or "mr", profile=args.profile, model=args.model,
        file=args.file, dev_file=args.dev_file, text_column=args.text_column, label_column=args.label_column,
        text_b_column=args.text_b_column,
        num_hidden_layers=args.num_hidden_layers, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
        alpha=args.alpha, beta=args.beta, tau=args.tau, ptwd_lambda=args.ptwd_lambda, mixout_p=args.mixout_p,
        max_tokens=args.max_tokens, train_examples=args.train_examples, dev_examples=args.dev_examples,
        ascc_steps=args.ascc_steps, dev_attack_steps=args.dev_attack_steps, select_on=args.select_on,
        length_buckets=args.length_buckets, seed=args.seeds[0], pooling=args.pooling,
        trace_every_steps=args.trace_every, trace_grad_norms=args.trace_grad_norms,
        out=args.out, data_dir=args.data_dir, device=args.device, precision=args.precision,
        checkpoint_every_steps=args.checkpoint_every, resume=not args.no_resume, progress=not args.no_progress,
        extra=embedding_adversarial.options_from_args(args))


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


def _check_file_arguments(args: argparse.Namespace) -> None:
    if args.file is not None and args.dataset is not None:
        raise ValueError("give --dataset or --file, not both")
    if args.dev_file is not None and args.file is None:
        raise ValueError("--dev-file needs --file (a dataset has its own dev split)")


def run_cli(args: argparse.Namespace) -> int:
    """``python -m rift_lite train``: bad input is one ``error:`` line (exit status 2), and a run that fails leaves
    no empty run folder behind."""
    from .provenance import removed_if_empty_on_failure

    try:
        _check_file_arguments(args)
        config = config_from_args(args)
        if config.file is not None:
            from .data import file_dataset_name

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
    print(f"{results['method']} on {results['dataset']} ({results['profile']}, seed {results['seeds']['seed']}): "
          f"best epoch {best['epoch']}, dev clean {best['dev_clean_acc']:.3f}, dev robust {best['dev_robust_acc']}, "
          f"{results['wall_time_s']:.1f} s -> {results['config']['out']}")
    if results["profile"] != "paper":
        print(f"note ({results['profile']} profile): {results['profile_note']}")


# ---------------------------------------------------------------------------------------------- local multi-process


def _spawn_entry(local_rank: int, world: int, port: int, config: TrainConfig, queue) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(local_rank), LOCAL_RANK=str(local_rank),
                      WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    try:
        results = train(config)
        if local_rank == 0:
            queue.put(results)
    finally:
        distributed.cleanup()


def run_local(config: TrainConfig, nprocs: int = 2) -> dict:
    """Run ``train(config)`` in ``nprocs`` local CPU processes (gloo) -- a torchrun stand-in for notebooks and tests."""
    import socket

    import torch.multiprocessing as mp

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = mp.get_context("spawn")
    queue = ctx.SimpleQueue()
    mp.start_processes(_spawn_entry, args=(nprocs, port, config, queue), nprocs=nprocs, join=True,
                       start_method="spawn")
    return queue.get()
