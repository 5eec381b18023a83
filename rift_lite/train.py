"""The fine-tuning loop for every method of :mod:`rift_lite.methods`: RIFT's Algorithm 1 and its baselines.

``train(TrainConfig(...)) -> dict`` from a notebook, or ``python -m rift_lite train --method rift --dataset mr
--profile smoke`` from a shell (:mod:`rift_lite.train_cli`). What it does, and where it follows / departs from the
paper and the official code:

* **Class-balanced batches** (Algorithm 1, line 3; :class:`~rift_lite.sampler.ClassBalancedSampler`): B / C examples
  of each class per batch, as the conditional bound of Lemma 1 needs; an epoch ends when the smallest class runs out
  (the official code zips one loader per class). ``length_buckets=W`` (off by default) groups examples of similar
  length into a batch: much less padding, same examples per epoch.
* **Optimiser** (supplementary A.1): AdamW, lr 2e-5, no weight decay on the encoder, 2e-4 on the task-specific
  layers (the head and the InfoNCE score MLPs). The official code warms the learning rate up linearly from 0.1x over
  the first 2 of 20 epochs (stepped per epoch); here the same ramp is per step over ``warmup_fraction`` (0.1) of all
  steps. bf16 autocast on CUDA. ROSE masks AdamW per weight tensor (:class:`rift_lite.rose.RoseAdamW`).
* **Model selection on a dev split** (:mod:`rift_lite.selection`), by robust accuracy under the ASCC attack
  (``select_on='clean'`` for clean accuracy); the official code selected on the *test* set, we never look at it.
  ``select_on='last'`` keeps the last of a fixed number of epochs and skips the dev evaluation (no dev example is
  looked at: for GLUE tasks, whose dev split serves as the test set).
* **Checkpoints and resume** (:mod:`rift_lite.checkpoints`): the full training state at the end of every epoch (and
  every ``checkpoint_every_steps`` steps if set), written atomically; a run started again with the same ``out``
  resumes from the newest one and ends with the same numbers as an uninterrupted run. The best model is saved in
  ``out/best`` (what ``rift_lite attack`` loads).
* **Logs**: ``out/log.jsonl``, one line per epoch: clean and robust dev accuracy, the mean loss terms (ce, kl, info,
  ptwd, total), the InfoNCE estimate of I(S_hat; T | Y) in nats, and the relative L2 distance
  ||theta - theta_0|| / ||theta_0|| of the encoder (the forgetting measure of Fig. 2); ``trace_every_steps`` adds
  ``out/trace.jsonl``. ``out/results.json`` records profile, config, seed, code version (git describe), hardware,
  world size and wall time.
* **Data parallel**: run under ``torchrun --nproc_per_node N -m rift_lite train ...`` (or ``accelerate launch``;
  :func:`run_local` from Python). Every rank draws the same global class-balanced batch and trains on its contiguous
  share; gradients are averaged by DDP and the InfoNCE bound is computed over the all-gathered global batch
  (:mod:`rift_lite.distributed`), so a run with N processes matches a 1-process run with the same global batch.

Profiles (one code path, three sizes; :data:`rift_lite.profiles.TRAIN_PROFILES`): ``smoke`` (MiniLM's first 2 layers,
200 MR training sentences of at most 32 tokens, 1 epoch: about a minute on 2 CPU cores), ``lite`` (MiniLM-L6, all of
MR, 64 tokens, 3 epochs: minutes on a GPU), ``paper`` (BERT-base, the paper's 20 epochs, batch 32 / 120, 300 / 80
tokens). Explicit fields override the profile; beta / alpha / lambda / tau default to the paper's values for the
dataset (:func:`rift_lite.train_config.resolve_config`).

This module holds the loop; it re-exports the names of the training API that live beside it (the config, the
sampler, checkpoints, dev evaluation, seeds), so ``from rift_lite.train import ...`` is the one import a notebook needs.
"""
from __future__ import annotations

import dataclasses
import json
import math
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from . import distributed, embedding_adversarial, rose
from .adversary import ASCCConfig
from .checkpoints import CHECKPOINTS, LATEST, latest_checkpoint, restore_training_state, save_best, save_checkpoint
from .checkpoints import save_training_state
from .devices import autocast, select_device
from .methods import ADVERSARIAL, MethodConfig, Objective, batch_inputs
from .models import TINY_RANDOM, build_model, device_summary, word_count
from .profiles import PAPER_BATCH
from .profiles import TRAIN_PROFILE_NOTES as PROFILE_NOTES
from .profiles import TRAIN_PROFILES as PROFILES
from .provenance import git_describe, write_json_atomic
from .sampler import ClassBalancedSampler
from .seeds import seed_runs, summarize_seeds
from .selection import evaluate, improved_best
from .substitutions import SubstitutionSet, build_candidates
from .train_config import SimulatedInterruption, TrainConfig, resolve_config
from .train_data import balanced_subset, dev_subset, run_splits, slice_batch

__all__ = ["train", "run_local", "TrainConfig", "resolve_config", "SimulatedInterruption", "PROFILES", "PROFILE_NOTES",
           "PAPER_BATCH", "TINY_RANDOM", "build_model", "ClassBalancedSampler", "evaluate", "CHECKPOINTS", "LATEST",
           "save_checkpoint", "latest_checkpoint", "seed_runs", "summarize_seeds"]

LOSS_KEYS = ("total", "ce", "kl", "info", "ptwd", "mi", "acc", "adv_acc", "adv_ce")
"""The loss terms and accuracies averaged into the logs (``adv_ce``: peaft / freelb only)."""


def train(config: TrainConfig | None = None, **overrides) -> dict:
    """Fine-tune with ``config`` (fields may also be given as keyword arguments); returns the results dict.

    The results (also in ``out/results.json``) hold the resolved config, the per-epoch history (the lines of
    ``out/log.jsonl``), the best epoch on the dev split, seeds, code version, hardware and wall time.
    """
    run = _start(dataclasses.replace(config or TrainConfig(), **overrides))
    for epoch in range(run.state["epoch"], run.cfg.epochs):
        batches = run.sampler.epoch_batches(epoch)  # class-balanced batches (Algorithm 1, line 3)
        run.objective.train()
        bar = _progress_bar(run, epoch)
        for i in bar:
            tracing = _is_trace_step(run)
            inputs = _inputs(run, [run.train_set[j] for j in batches[i]])  # x, y (and x's substitution candidates)
            terms, grad_norms = _update(run, inputs, tracing)  # adversary, objective, one AdamW step (lines 4-8)
            values = _record(run, terms, grad_norms if tracing else None, epoch + (i + 1) / run.steps_per_epoch)
            run.state["step_in_epoch"] = i + 1
            bar.set_postfix(loss=f"{values['total']:.3f}", kl=f"{values['kl']:.3f}")
            _checkpoint_or_stop(run, i)
        bar.close()
        _end_of_epoch(run, epoch)  # dev evaluation, log, best model, checkpoint
    return _finish(run)


def run_local(config: TrainConfig, nprocs: int = 2) -> dict:
    """Run ``train(config)`` in ``nprocs`` local CPU processes (gloo) -- a torchrun stand-in for notebooks and tests."""
    return distributed.spawn_local(train, config, nprocs)


# ---------------------------------------------------------------------------------------------- set-up


@dataclass
class _Run:
    """What one training run holds while it trains (made by :func:`_start`)."""

    cfg: TrainConfig
    device: torch.device
    world: int
    rank: int
    main: bool
    out: Path
    started: float
    train_set: list
    dev_set: list
    substitutions: Any
    tokenizer: Any
    objective: Objective
    runner: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    sampler: ClassBalancedSampler
    state: dict
    segment_start: float = 0.0
    label_names: tuple[str, ...] | None = None  # the classes' names, saved with the best model (None: numbers)

    @property
    def steps_per_epoch(self) -> int:
        return len(self.sampler)

    def elapsed(self) -> float:
        """Training seconds so far, over every resumed segment."""
        return self.state["elapsed"] + time.time() - self.segment_start


def _start(config: TrainConfig) -> _Run:
    """Device, resolved config, data, model, objective, optimiser, sampler and scheduler; resumes if ``out`` holds a
    checkpoint. The order of these steps is the order the random number generators are drawn from."""
    requested = select_device(config.device)
    device = distributed.setup(requested.type)
    if requested.type == "cuda" and requested.index is not None and not distributed.is_initialized():
        device = requested
    cfg = resolve_config(config, distributed.world_size())
    out, main, started = Path(cfg.out), distributed.is_main(), time.time()
    if main:
        out.mkdir(parents=True, exist_ok=True)
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    task, train_all, dev_all = run_splits(cfg)
    train_set = balanced_subset(train_all, cfg.train_examples, task.num_labels, cfg.seed)
    last = cfg.select_on == "last"  # a fixed number of epochs: the dev split is never looked at
    dev_set = [] if last else dev_subset(dev_all, cfg.dev_examples, cfg.seed)
    adversarial = cfg.method in ADVERSARIAL  # needs ASCC candidates (peaft / freelb perturb embeddings instead)
    substitutions = SubstitutionSet.load(cfg.data_dir) if adversarial or (cfg.dev_attack_steps and not last) else None
    model, tokenizer = build_model(cfg.model, task.num_labels, cfg.num_hidden_layers, cfg.max_tokens, cfg.seed,
                                   cfg.pooling)
    cfg.pooling = model.pooling  # 'auto' resolved: every results file records the pooling actually used
    model.to(device)
    objective = Objective(model, _method_config(cfg)).to(device)
    runner = _data_parallel(objective, device)
    # AdamW over the trainable parameters (PEAFT's groups carry their own lrs; ROSE: its masked AdamW)
    optimizer = objective.optimizer(cfg.lr, cfg.encoder_weight_decay, cfg.head_weight_decay, cfg.critic_lr)
    sampler = ClassBalancedSampler([ex.label for ex in train_set], cfg.batch_size, task.num_labels, cfg.seed,
                                   lengths=[word_count(ex) for ex in train_set] if cfg.length_buckets else None,
                                   bucket_batches=cfg.length_buckets)
    run = _Run(cfg, device, distributed.world_size(), distributed.rank(), main, out, started, train_set, dev_set,
               substitutions, tokenizer, objective, runner, optimizer,
               _warmup_scheduler(optimizer, cfg, len(sampler) * cfg.epochs), sampler, _fresh_state())
    if task.label_names != tuple(str(i) for i in range(task.num_labels)):  # e.g. your file's 'neg' / 'pos'
        run.label_names = task.label_names
    _resume(run)
    run.segment_start = time.time()
    return run


def _method_config(cfg: TrainConfig) -> MethodConfig:
    """The objective's settings: the method, its weights, the ASCC adversary and, for PEAFT / FreeLB / ROSE, theirs."""
    embedding = None
    if cfg.method in embedding_adversarial.EMBEDDING_METHODS:
        options = {k: v for k, v in cfg.extra.items() if k in embedding_adversarial.OPTIONS}
        embedding = embedding_adversarial.EmbeddingAdvConfig(method=cfg.method, **options)
    return MethodConfig(
        name=cfg.method, beta=cfg.beta, alpha=cfg.alpha, ptwd_lambda=cfg.ptwd_lambda, mixout_p=cfg.mixout_p,
        tau=cfg.tau, shared_reference=cfg.shared_reference,
        ascc=ASCCConfig(steps=cfg.ascc_steps, lr=cfg.ascc_lr, weight_decay=cfg.ascc_weight_decay,
                        entropy_weight=cfg.ascc_entropy_weight),
        embedding=embedding, rose=rose.RoseConfig.from_options(cfg.extra) if cfg.method == "rose" else None)


def _data_parallel(objective: Objective, device: torch.device) -> torch.nn.Module:
    """The objective wrapped in DDP when this process is one of several, else the objective itself."""
    if not distributed.is_initialized():
        return objective
    from torch.nn.parallel import DistributedDataParallel as DDP

    return DDP(objective, device_ids=[device.index] if device.type == "cuda" else None, broadcast_buffers=False)


def _warmup_scheduler(optimizer, cfg: TrainConfig, total_steps: int):
    """Linear warm-up from ``warmup_factor`` x lr over ``warmup_fraction`` of all steps, then constant."""
    warmup = round(cfg.warmup_fraction * total_steps)

    def lr_factor(step: int) -> float:
        return 1.0 if warmup == 0 else cfg.warmup_factor + (1 - cfg.warmup_factor) * min(1.0, step / warmup)

    return torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)


def _fresh_state() -> dict[str, Any]:
    """The training state a checkpoint saves (:mod:`rift_lite.checkpoints`), at the start of a run."""
    return {"epoch": 0, "step_in_epoch": 0, "global_step": 0, "sums": {}, "count": 0, "history": [], "best": None,
            "elapsed": 0.0, "resumed_from": [], "trace": [], "trace_sums": {}, "trace_count": 0}


def _resume(run: _Run) -> None:
    """Continue from the newest checkpoint in ``out`` (unless ``resume=False``), and say so."""
    ckpt = latest_checkpoint(run.out) if run.cfg.resume else None
    if ckpt is None:
        return
    cfg, state = run.cfg, run.state
    restore_training_state(ckpt, state, run.objective, run.optimizer, run.scheduler, cfg)
    if run.main and state["epoch"] >= cfg.epochs:
        print(f"already finished: {run.out} holds the whole run ({cfg.epochs} epoch(s), {state['global_step']} "
              "steps); nothing is trained, the results are written again from its checkpoint (--no-resume or "
              "another --out trains again, a larger --epochs trains on)", file=sys.stderr)
    elif run.main:
        print(f"resuming from {ckpt} (epoch {state['epoch'] + 1} of {cfg.epochs}, step {state['step_in_epoch']} "
              f"of {run.steps_per_epoch})", file=sys.stderr)


# ---------------------------------------------------------------------------------------------- one step


def _progress_bar(run: _Run, epoch: int):
    """The steps of epoch ``epoch`` still to train, as a tqdm bar (silent with ``progress=False`` or off rank 0)."""
    from tqdm.auto import tqdm

    return tqdm(range(run.state["step_in_epoch"], run.steps_per_epoch), total=run.steps_per_epoch,
                initial=run.state["step_in_epoch"], desc=f"{run.cfg.method} epoch {epoch + 1}/{run.cfg.epochs}",
                disable=not (run.cfg.progress and run.main), leave=False)


def _is_trace_step(run: _Run) -> bool:
    """Whether the coming step writes a trace row (every ``trace_every_steps`` steps)."""
    every = run.cfg.trace_every_steps
    return bool(every) and (run.state["global_step"] + 1) % every == 0


def _inputs(run: _Run, examples: list) -> dict[str, torch.Tensor]:
    """The objective's inputs for this rank's share of the global batch ``examples``, on the run's device."""
    cfg = run.cfg
    if cfg.method in ADVERSARIAL:
        full = build_candidates(examples, run.tokenizer, run.substitutions, max_tokens=cfg.max_tokens)
    else:
        full = run.tokenizer.encode(examples, cfg.max_tokens)
    share = cfg.batch_size // run.world
    local = slice_batch(full, run.rank * share, (run.rank + 1) * share) if run.world > 1 else full
    return {k: v.to(run.device) for k, v in batch_inputs(local).items()}


def _update(run: _Run, inputs: dict, tracing: bool) -> tuple[dict, dict]:
    """One optimisation step: the objective's loss terms (the inner adversary runs inside it), backward, AdamW and
    the learning-rate schedule. Returns the terms and, at trace steps with ``trace_grad_norms``, each term's
    gradient norm."""
    objective = run.objective
    objective.return_parts = tracing and run.cfg.trace_grad_norms
    with autocast(run.device, run.cfg.precision):
        terms = run.runner(**inputs)
    grad_norms = _term_grad_norms(terms.pop("parts"), objective) if "parts" in terms else {}
    objective.backward(terms, run.optimizer)  # ROSE: its first-order risk first
    if run.cfg.max_grad_norm:
        torch.nn.utils.clip_grad_norm_(objective.parameters(), run.cfg.max_grad_norm)
    run.optimizer.step()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    return terms, grad_norms


def _record(run: _Run, terms: dict, grad_norms: dict | None, epoch: float) -> dict[str, float]:
    """Add the step's loss terms to the running sums, count the step, and write a trace row at trace steps
    (``grad_norms`` not None); returns the step's values."""
    state = run.state
    values = {k: float(terms[k].detach()) for k in LOSS_KEYS if k in terms}
    for k, v in values.items():
        if not math.isnan(v):
            state["sums"][k] = state["sums"].get(k, 0.0) + v
            state["trace_sums"][k] = state["trace_sums"].get(k, 0.0) + v
    state["count"] += 1
    state["trace_count"] += 1
    state["global_step"] += 1
    if grad_norms is not None:
        _trace_row(state, run.objective, epoch, grad_norms)
    return values


def _checkpoint_or_stop(run: _Run, i: int) -> None:
    """After step ``i`` of the epoch: a checkpoint every ``checkpoint_every_steps`` steps (the end of the epoch has
    its own), and the simulated interruption of ``fail_after_steps`` (tests)."""
    cfg, step = run.cfg, run.state["global_step"]
    if cfg.checkpoint_every_steps and step % cfg.checkpoint_every_steps == 0 and i + 1 < run.steps_per_epoch:
        _checkpoint(run)
    if cfg.fail_after_steps and step == cfg.fail_after_steps:
        raise SimulatedInterruption(f"simulated interruption after {step} steps")


def _checkpoint(run: _Run) -> None:
    if run.main:
        save_training_state(run.out, run.state, run.elapsed(), run.objective, run.optimizer, run.scheduler, run.cfg)
    distributed.barrier()


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


# ---------------------------------------------------------------------------------------------- end of an epoch, of a run


def _end_of_epoch(run: _Run, epoch: int) -> None:
    """Dev evaluation, the epoch's log line, the best model so far (:mod:`rift_lite.selection`), a checkpoint."""
    cfg, state = run.cfg, run.state
    means = {k: v / max(state["count"], 1) for k, v in state["sums"].items()}
    means = distributed.all_reduce_mean(means, run.device if run.device.type == "cuda" else None)
    if cfg.select_on == "last":  # no dev evaluation: nothing about the dev split can steer the run
        dev = {"clean_acc": None, "robust_acc": None, "n": 0}
    else:
        dev = evaluate(run.objective.model, run.dev_set, run.tokenizer, run.substitutions,
                       batch_size=cfg.eval_batch_size, max_tokens=cfg.max_tokens, attack_steps=cfg.dev_attack_steps,
                       device=run.device, precision=cfg.precision)
    row = {"epoch": epoch + 1, "step": state["global_step"], "lr": run.scheduler.get_last_lr()[0],
           "dev_clean_acc": dev["clean_acc"], "dev_robust_acc": dev["robust_acc"], "dev_n": dev["n"],
           "rel_l2_distance": run.objective.relative_distance(), **{f"train_{k}": means.get(k) for k in LOSS_KEYS},
           "wall_time_s": round(run.elapsed(), 2)}
    row["mi_estimate"] = row.pop("train_mi")
    state["history"].append(row)
    best = improved_best(state["best"], epoch + 1, dev, cfg.select_on)
    if best is not None:
        state["best"] = best
        if run.main:
            save_best(run.objective, run.tokenizer, run.out, cfg, best, run.label_names)
    if run.main:
        write_json_atomic(run.out / "log.jsonl", state["history"], lines=True)
        if state["trace"]:
            write_json_atomic(run.out / "trace.jsonl", state["trace"], lines=True)
        print(json.dumps(row), file=sys.stderr)
    state.update(epoch=epoch + 1, step_in_epoch=0, sums={}, count=0)
    _checkpoint(run)


def _finish(run: _Run) -> dict:
    """The results dict of the run, also written to ``out/results.json``."""
    cfg, state = run.cfg, run.state
    results = {
        "profile": cfg.profile, "profile_note": PROFILE_NOTES[cfg.profile], "method": cfg.method,
        "dataset": cfg.dataset, "config": dataclasses.asdict(cfg),
        "seeds": {"seed": cfg.seed, "sampler_seed": cfg.seed, "dev_subset_seed": f"dev-{cfg.seed}"},
        "code_version": git_describe(),
        "hardware": {**device_summary(), "device": str(run.device), "world_size": run.world},
        "wall_time_s": round(run.elapsed(), 2), "run_wall_time_s": round(time.time() - run.started, 2),
        "n_train": len(run.train_set), "n_dev": len(run.dev_set), "steps": state["global_step"],
        "resumed_at_steps": state["resumed_from"], "best": state["best"], "final": state["history"][-1],
        "history": state["history"], "trace": state["trace"], "best_checkpoint": str(run.out / "best"),
        "paper_hparams_note": ("beta/alpha/lambda default to the paper's IMDB values for MR/SST-2 and single-sentence "
                               "tasks, SNLI values for pair tasks (the paper gives no others)"),
        "model_selection": (f"the last epoch of {cfg.epochs} (fixed); no dev evaluation during training"
                            if cfg.select_on == "last" else
                            f"dev split ({cfg.dataset} dev), {cfg.select_on} accuracy; never the test set"),
    }
    if run.main:
        write_json_atomic(run.out / "results.json", results)
    return results
