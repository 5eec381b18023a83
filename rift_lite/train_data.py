"""What a training run trains and selects on: its splits (a dataset's train / dev, or your own file with a fixed
held-out dev part), the class-balanced training subset and the dev subset a profile asks for, and each
data-parallel rank's share of a batch.
"""
from __future__ import annotations

import functools
import os
import random
from typing import Any

from . import data
from .substitutions import CandidateBatch
from .tokenizer import EncodedBatch


def run_splits(cfg) -> tuple[Any, list, list]:
    """``(task, train examples, dev examples)``: the dataset's splits, or ``cfg.file`` with ``cfg.dev_file`` (default:
    a fixed 10 % of the file, chosen by hashing the example ids, the same for every seed)."""
    if cfg.file is None:
        return (data.TASKS[cfg.dataset], data.load(cfg.dataset, "train", cfg.data_dir),
                data.load(cfg.dataset, "dev", cfg.data_dir))
    columns = (cfg.text_column, cfg.label_column, cfg.text_b_column)
    train_set, dev_set, names = _file_splits(cfg.file, cfg.dev_file, columns, _stamp(cfg.file), _stamp(cfg.dev_file))
    return data.file_task(train_set + dev_set, cfg.dataset, names), list(train_set), list(dev_set)


def _stamp(path: str | None):
    """What changes when a file changes (the cache key of :func:`_file_splits`)."""
    if path is None or not os.path.isfile(path):
        return None
    stat = os.stat(path)
    return stat.st_mtime_ns, stat.st_size


@functools.lru_cache(maxsize=4)
def _file_splits(path: str, dev_path: str | None, columns: tuple, *stamps) -> tuple[tuple, tuple, tuple | None]:
    # named labels: the dev file numbers them as the training file does, even when it holds only some of them
    names = data.file_label_names(path, *columns)
    examples = data.load_file(path, *columns, label_names=names)
    if dev_path is None:
        train_set, dev_set = data.split_off_dev(examples, source=path)
    else:
        train_set, dev_set = examples, data.load_file(dev_path, *columns, label_names=names)
    return tuple(train_set), tuple(dev_set), names


def balanced_subset(examples, n: int, num_classes: int, seed: int):
    """``n // num_classes`` examples of each class, the first ones of a shuffle with ``seed`` (all when ``n`` is 0)."""
    if not n or n >= len(examples):
        return list(examples)
    rng = random.Random(seed)
    order = list(examples)
    rng.shuffle(order)
    per = [0] * num_classes
    out = []
    for ex in order:
        if per[ex.label] < n // num_classes:
            per[ex.label] += 1
            out.append(ex)
    return out


def dev_subset(examples, n: int, seed: int) -> list:
    """``n`` dev examples drawn with the seed ``"dev-<seed>"`` (all of them when ``n`` is 0 or too large)."""
    return examples if not n or n >= len(examples) else random.Random(f"dev-{seed}").sample(examples, n)


def slice_batch(cbatch, lo: int, hi: int):
    """Rows ``lo:hi`` of an encoded batch (with its ASCC candidates, if any): one data-parallel rank's share."""
    b = cbatch.batch if hasattr(cbatch, "batch") else cbatch
    enc = EncodedBatch(b.input_ids[lo:hi], b.attention_mask[lo:hi], b.token_type_ids[lo:hi], b.labels[lo:hi],
                       b.word_positions[lo:hi], b.n_truncated)
    if not hasattr(cbatch, "candidates"):
        return enc
    words = cbatch.slot_words[lo:hi] if cbatch.slot_words is not None else None
    return CandidateBatch(enc, cbatch.candidates[lo:hi], cbatch.candidate_mask[lo:hi], words)
