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

import dataclasses
import json
import math
import random
import sys
import time
from pathlib import Path
from typing import Any

import torch

from . import distributed, embedding_adversarial
from .adversary import ASCCConfig
from .checkpoints import CHECKPOINTS, LATEST, latest_checkpoint, restore_training_state, save_best, save_checkpoint
from .checkpoints import save_training_state
from .devices import autocast as _autocast
from .devices import select_device as _select_device
from .methods import ADVERSARIAL, MethodConfig, Objective, batch_inputs
from .models import TINY_RANDOM, build_model
from .profiles import PAPER_BATCH
from .profiles import TRAIN_PROFILE_NOTES as PROFILE_NOTES
from .profiles import TRAIN_PROFILES as PROFILES
from .provenance import git_describe, write_json_atomic
from .seeds import seed_runs, summarize_seeds
from .selection import evaluate, improved_best
from .sampler import ClassBalancedSampler
from .train_config import SimulatedInterruption, TrainConfig, resolve_config
from .train_data import balanced_subset as _balanced_subset
from .train_data import dev_subset
from .train_data import run_splits as _splits
from .train_data import slice_batch as _slice_batch

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


def run_local(config: TrainConfig, nprocs: int = 2) -> dict:
    """Run ``train(config)`` in ``nprocs`` local CPU processes (gloo) -- a torchrun stand-in for notebooks and tests."""
    return distributed.spawn_local(train, config, nprocs)
