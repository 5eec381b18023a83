"""A probe: the pre-trained encoder frozen, only the classifier head trained -- a real victim in seconds on a CPU.

Fine-tuning the whole encoder (:mod:`rift_lite.train`) takes minutes to hours; the book's first chapters need a
classifier that is clearly better than chance *now*, to attack it (chapter 01) and to run the ASCC adversary
against it (chapter 02). A probe gets there by computing the encoder's features ``F_s(x)`` once
(:func:`encode_features`, no gradient) and training only the head ``q(y | F_s(x))`` of
:class:`rift_lite.models.Classifier` on them (:func:`fit_head`). The result is an ordinary ``Classifier``: wrap it
in :class:`rift_lite.attacks.ClassifierVictim`, give it to :func:`rift_lite.adversary.ascc_attack`, save it.

The features are the classifier's own (``Classifier.features``: its pooling, its tokenizer, its ``max_tokens``), so
the head is trained on exactly what it sees when the victim is queried.
"""
from __future__ import annotations

import time
from typing import Sequence

import torch
import torch.nn.functional as F

from .models import length_order


@torch.no_grad()
def encode_features(model, tokenizer, examples: Sequence, *, batch_size: int = 64, max_tokens: int | None = None,
                    device=None) -> torch.Tensor:
    """``F_s(x)`` for every example, [n, H] float32 on the CPU, in the order of ``examples``.

    Eval mode and no gradient (the model's mode is restored); batches are cut in length order so they carry little
    padding (:func:`rift_lite.models.length_order`).
    """
    if len(examples) == 0:
        raise ValueError("encode_features needs at least one example")
    device = torch.device(device) if device is not None else next(model.parameters()).device
    was_training = model.training
    model.eval()
    order = length_order(examples)
    out = torch.empty(len(examples), model.hidden_size)
    try:
        for lo in range(0, len(order), batch_size):
            idx = order[lo: lo + batch_size]
            batch = tokenizer.encode([examples[i] for i in idx], max_tokens).to(device)
            feats = model.features(batch.input_ids, batch.attention_mask, batch.token_type_ids)
            out[idx] = feats.float().cpu()
    finally:
        model.train(was_training)
    return out


def fit_head(model, features: torch.Tensor, labels, *, epochs: int = 10, batch_size: int = 64, lr: float = 1e-3,
             weight_decay: float = 1e-2, seed: int = 0) -> dict:
    """Train ``model.head`` (only) on fixed ``features`` [n, H] with cross-entropy; AdamW, shuffled mini-batches.

    The encoder is untouched. Returns ``{"epochs", "n", "train_loss" (per epoch), "train_acc", "seconds"}``; the
    whole model is left in eval mode (a probe is used, not trained further: no dropout when it is queried).
    """
    if epochs < 1 or batch_size < 1:
        raise ValueError(f"epochs and batch_size must be >= 1, got {epochs} and {batch_size}")
    labels = torch.as_tensor(labels, dtype=torch.long)
    if features.ndim != 2 or len(features) != len(labels) or len(labels) == 0:
        raise ValueError(f"features [n, H] and labels [n] must match and be non-empty; got {tuple(features.shape)} "
                         f"and {tuple(labels.shape)}")
    head = model.head
    device = next(head.parameters()).device
    x, y = features.to(device), labels.to(device)
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    start = time.perf_counter()
    head.train()
    losses = []
    for _ in range(epochs):
        perm = torch.randperm(len(y), generator=generator).to(device)
        total = 0.0
        for lo in range(0, len(y), batch_size):
            idx = perm[lo: lo + batch_size]
            loss = F.cross_entropy(head(x[idx]), y[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        losses.append(total / len(y))
    model.eval()
    with torch.no_grad():
        train_acc = (head(x).argmax(-1) == y).float().mean().item()
    return {"epochs": epochs, "n": len(y), "train_loss": losses, "train_acc": train_acc,
            "seconds": time.perf_counter() - start}


@torch.no_grad()
def head_accuracy(model, features: torch.Tensor, labels) -> float:
    """Accuracy of ``model.head`` on precomputed ``features`` (the same as the full model's on those texts)."""
    head = model.head
    device = next(head.parameters()).device
    labels = torch.as_tensor(labels, dtype=torch.long, device=device)
    was_training = head.training
    head.eval()
    try:
        return (head(features.to(device)).argmax(-1) == labels).float().mean().item()
    finally:
        head.train(was_training)
