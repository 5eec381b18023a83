"""The configuration of a training run: :class:`TrainConfig` and :func:`resolve_config`, which fills what is left
unset -- first from the run profile (:data:`rift_lite.profiles.TRAIN_PROFILES`), then from the paper's values for the
dataset (:func:`rift_lite.methods.default_hparams`, :data:`rift_lite.profiles.PAPER_BATCH`) -- and checks every field,
so that bad input is one ValueError naming the field and what it allows before anything is loaded.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

from . import embedding_adversarial, rose
from .data import TASKS, file_dataset_name
from .methods import INFO_METHODS, METHODS, default_hparams
from .models import DEFAULT_POOLING, TINY_RANDOM
from .profiles import PAPER_BATCH, TRAIN_PROFILES
from .train_data import run_splits


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
    critic_lr: float | None = None  # the InfoNCE score functions' own lr (None: lr, as the paper)
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
    c = dataclasses.replace(config)
    task = _task_of(c)
    _fill_defaults(c, task)
    _check_fields(c, task.num_labels, world_size)
    return c


def _task_of(c: TrainConfig):
    """The :class:`rift_lite.data.TaskInfo` of the run's dataset or file (checks profile, method and dataset)."""
    if c.profile not in TRAIN_PROFILES:
        raise _err("profile", f"one of {', '.join(TRAIN_PROFILES)}", c.profile)
    if c.method not in METHODS:
        raise _err("method", f"one of {', '.join(METHODS)}", c.method)
    if c.file is not None:
        c.dataset = file_dataset_name(c.file)
        task = run_splits(c)[0]
    elif c.dataset not in TASKS:
        raise _err("dataset", f"one of {', '.join(sorted(TASKS))}, or file=PATH (--file) for your own data",
                   c.dataset)
    else:
        task = TASKS[c.dataset]
    if "train" not in task.splits or "dev" not in task.splits:
        raise _err("dataset", "a dataset with local train and dev splits "
                   f"({', '.join(n for n, t in TASKS.items() if 'train' in t.splits and 'dev' in t.splits)}); "
                   f"{c.dataset} has only {', '.join(task.splits)}", c.dataset)
    return task


def _fill_defaults(c: TrainConfig, task) -> None:
    """Unset fields from the profile, then the dataset and the paper; the encoder's pooling; the run folder."""
    for key, value in TRAIN_PROFILES[c.profile].items():
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
    c.extra = rose.resolve_options(c.method, c.extra)  # rose settings
    if c.pooling is None:
        c.pooling = "mean" if c.model == TINY_RANDOM else DEFAULT_POOLING.get(c.model, "auto")
    if c.out is None:
        c.out = str(Path("runs") / f"{c.dataset}-{c.method}-{c.profile}-seed{c.seed}")


def _check_fields(c: TrainConfig, C: int, world_size: int) -> None:
    """Every field in its allowed range (``C``: the number of classes); the first one that is not raises."""
    if c.pooling not in ("cls", "pooler", "mean", "auto"):
        raise _err("pooling", "'cls', 'pooler' or 'mean'", c.pooling)
    if c.trace_every_steps is not None and c.trace_every_steps < 1:
        raise _err("trace_every_steps", ">= 1 or None", c.trace_every_steps)
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
    if c.critic_lr is not None and not 0 < c.critic_lr <= 1:
        raise _err("critic_lr", "in (0, 1] (or unset: the shared lr)", c.critic_lr)
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
    if c.select_on not in ("robust", "clean", "last"):
        raise _err("select_on", "'robust', 'clean' or 'last' (the last epoch; no dev evaluation)", c.select_on)
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
