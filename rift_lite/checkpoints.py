"""Checkpoints and resume: the whole training state written atomically, read back, and the best model.

At the end of every epoch (and every ``checkpoint_every_steps`` steps if set) :func:`save_training_state` writes the
full state -- model and InfoNCE heads (not the frozen teacher, rebuilt from the pre-trained weights), optimiser,
scheduler, the RNG states of torch / CUDA / Python / NumPy, epoch, position inside the epoch, running loss sums,
history -- into a temporary folder and moves it into place with ``os.replace`` (:func:`save_checkpoint`); ``LATEST``
names the newest. :func:`restore_training_state` loads it back, so a run started again with the same ``out`` ends
with the same numbers as an uninterrupted run. :func:`save_best` writes the selected model to ``out/best`` with
:meth:`rift_lite.models.Classifier.save_pretrained` (what ``rift_lite attack`` loads), also atomically.
"""
from __future__ import annotations

import dataclasses
import os
import random
import shutil
from pathlib import Path

import torch

CHECKPOINTS = "checkpoints"
LATEST = "LATEST"

RESUMED_KEYS = ("epoch", "step_in_epoch", "global_step", "sums", "count", "history", "best", "elapsed", "resumed_from")
"""The training-state entries every checkpoint holds; ``trace``, ``trace_sums`` and ``trace_count`` may be absent
(checkpoints written before tracing existed)."""


def rng_state() -> dict:
    """The state of every random number generator a run draws from: torch, CUDA, Python, NumPy."""
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    try:
        import numpy as np

        state["numpy"] = np.random.get_state()
    except ImportError:  # pragma: no cover
        pass
    return state


def set_rng_state(state: dict) -> None:
    """Restore what :func:`rng_state` returned."""
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if "numpy" in state:
        import numpy as np

        np.random.set_state(state["numpy"])


def trainable_state(objective) -> dict:
    """The objective's state without the frozen teacher (rebuilt from the pre-trained weights on resume)."""
    return {k: v for k, v in objective.state_dict().items() if not k.startswith("teacher.")}


def save_checkpoint(out: Path, state: dict) -> Path:
    """Write ``state`` into ``out/checkpoints/step-N`` through a temporary folder and ``os.replace``; point LATEST."""
    root = out / CHECKPOINTS
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{state['global_step']:09d}"
    tmp = root / f".tmp-{name}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    torch.save(state, tmp / "state.pt")
    final = root / name
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    latest_tmp = root / f".{LATEST}.tmp"
    latest_tmp.write_text(name)
    os.replace(latest_tmp, root / LATEST)
    for old in root.glob("step-*"):
        if old.name != name:
            shutil.rmtree(old, ignore_errors=True)
    return final


def latest_checkpoint(out: Path) -> Path | None:
    """The newest complete checkpoint in ``out/checkpoints`` (the one LATEST names, else the highest step), or None."""
    root = out / CHECKPOINTS
    pointer = root / LATEST
    if pointer.is_file():
        path = root / pointer.read_text().strip()
        if (path / "state.pt").is_file():
            return path
    found = sorted(p for p in root.glob("step-*") if (p / "state.pt").is_file()) if root.is_dir() else []
    return found[-1] if found else None


def save_training_state(out: Path, state: dict, elapsed: float, objective, optimizer, scheduler, config) -> Path:
    """Checkpoint ``state`` (with ``elapsed`` seconds so far) and everything needed to resume: the objective's
    trainable state, optimiser, scheduler, RNG states and the resolved ``config``."""
    payload = {k: state[k] for k in state}
    payload["elapsed"] = elapsed
    payload.update(objective=trainable_state(objective), optimizer=optimizer.state_dict(),
                   scheduler=scheduler.state_dict(), rng=rng_state(), config=dataclasses.asdict(config))
    return save_checkpoint(out, payload)


def restore_training_state(ckpt: Path, state: dict, objective, optimizer, scheduler, config) -> None:
    """Load checkpoint ``ckpt`` into the objective, optimiser, scheduler, the RNGs and ``state`` (in place); a
    checkpoint of another method or encoder is a ValueError."""
    saved = torch.load(ckpt / "state.pt", map_location="cpu", weights_only=False)
    if saved["config"]["method"] != config.method or saved["config"]["model"] != config.model:
        raise ValueError(f"{ckpt} was written by a different run (method {saved['config']['method']}, model "
                         f"{saved['config']['model']}); use another --out or resume=False")
    missing, unexpected = objective.load_state_dict(saved["objective"], strict=False)
    if unexpected or any(not k.startswith("teacher.") for k in missing):
        raise RuntimeError(f"{ckpt}: state does not match the model (missing {missing[:3]}, unexpected {unexpected[:3]})")
    optimizer.load_state_dict(saved["optimizer"])
    scheduler.load_state_dict(saved["scheduler"])
    set_rng_state(saved["rng"])
    for key in RESUMED_KEYS:
        state[key] = saved[key]
    for key in ("trace", "trace_sums", "trace_count"):
        state[key] = saved.get(key, state[key])
    state["resumed_from"] = state["resumed_from"] + [state["global_step"]]


def save_best(objective, tokenizer, out: Path, cfg, best: dict, label_names=None) -> None:
    """Save the selected model (and its tokenizer) with its run's metadata into ``out/best``, atomically.

    ``label_names``: the names of classes 0, 1, ... when the labels are names (your file's ``neg`` / ``pos``), so that
    ``attack --file`` numbers them as training did."""
    tmp = out / f".best-tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    meta = {"task": cfg.dataset, "encoder": cfg.model, "method": cfg.method, "profile": cfg.profile,
            "num_hidden_layers": cfg.num_hidden_layers, **best}
    if label_names:
        meta["label_names"] = list(label_names)
    from transformers.utils import logging as hf_logging

    bars = hf_logging.is_progress_bar_enabled()
    if not cfg.progress:
        hf_logging.disable_progress_bar()
    try:
        objective.model.save_pretrained(tmp, tokenizer, metadata=meta)
    finally:
        if bars:
            hf_logging.enable_progress_bar()
    final = out / "best"
    old = out / f".best-old-{os.getpid()}"
    if final.exists():
        os.replace(final, old)
    os.replace(tmp, final)
    shutil.rmtree(old, ignore_errors=True)
