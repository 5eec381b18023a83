"""The class-balanced sampler of Algorithm 1 (line 3): B / C examples of each class per batch.

The conditional InfoNCE bound of Lemma 1 is computed inside each class, so every batch needs the same number of
examples of every class; the official code zips one loader per class, and an epoch ends when the smallest class runs
out. Here one shuffled stream per class, interleaved inside a batch, so that every data-parallel rank's contiguous
share is itself class-balanced.
"""
from __future__ import annotations

from typing import Sequence

import torch


class ClassBalancedSampler:
    """One shuffled stream per class; batch i takes B / C examples of each class, interleaved (c0, c1, ..., c0, ...).

    Stateless given ``(seed, epoch)``, so resuming at batch i of an epoch reproduces the same batches.

    ``bucket_batches=W`` (with ``lengths``) cuts padding: inside each window of ``W`` batches, every class stream is
    sorted by length, so batch i of the window takes the i-th shortest slice of each class (similar lengths, still
    class-balanced); then the order of all batches of the epoch is shuffled. Every example is still used once per
    epoch. ``W = 0`` (default) gives the plain random batches of the paper, unchanged.
    """

    def __init__(self, labels: Sequence[int], batch_size: int, num_classes: int, seed: int = 0,
                 lengths: Sequence[int] | None = None, bucket_batches: int = 0):
        if batch_size % num_classes:
            raise ValueError(f"batch_size {batch_size} is not a multiple of num_classes {num_classes}")
        if bucket_batches < 0 or (bucket_batches and (lengths is None or len(lengths) != len(labels))):
            raise ValueError("bucket_batches must be >= 0, and needs one length per example")
        self.per_class = batch_size // num_classes
        self.by_class = [[i for i, y in enumerate(labels) if y == c] for c in range(num_classes)]
        empty = [c for c, idx in enumerate(self.by_class) if len(idx) < self.per_class]
        if empty:
            raise ValueError(f"classes {empty} have fewer than {self.per_class} training examples (batch_size / C)")
        self.seed = seed
        self.lengths = lengths
        self.bucket_batches = bucket_batches

    def __len__(self) -> int:
        return min(len(idx) for idx in self.by_class) // self.per_class

    def epoch_batches(self, epoch: int) -> list[list[int]]:
        gen = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
        streams = [[idx[j] for j in torch.randperm(len(idx), generator=gen).tolist()] for idx in self.by_class]
        k, n = self.per_class, len(self)
        if self.bucket_batches:
            span = self.bucket_batches * k
            streams = [[j for lo in range(0, n * k, span)
                        for j in sorted(s[lo: min(lo + span, n * k)], key=self.lengths.__getitem__)] for s in streams]
        batches = [[s[i * k + j] for j in range(k) for s in streams] for i in range(n)]
        if self.bucket_batches:
            batches = [batches[i] for i in torch.randperm(n, generator=gen).tolist()]
        return batches
