"""Model selection on a dev split: a run keeps the epoch with the best dev accuracy under the ASCC attack (or the
best clean accuracy, ``select_on='clean'``), never looking at the test set. ``select_on='last'`` keeps the last epoch
of a fixed number of epochs and never evaluates on the dev split (for tasks whose dev split *is* the test set, as
GLUE's in PEAFT's tables; the trainer then skips the dev evaluation altogether).

The paper says "early stopping according to best robust accuracy"; the official code measured that robust accuracy on
the *test* set. :func:`evaluate` measures it on held-out dev examples: the ASCC adversary with the cross-entropy
objective (10 Adam steps), decoded by arg-max into a real word-substitution example.
"""
from __future__ import annotations

import dataclasses

import torch

from .adversary import ASCCConfig, adversarial_token_ids, ascc_attack
from .devices import autocast
from .substitutions import build_candidates
from .tokenizer import length_order


def evaluate(model, examples, tokenizer, substitutions=None, *, batch_size: int = 32, max_tokens: int | None = None,
             attack_steps: int = 10, device=None, precision: str = "fp32", ascc: ASCCConfig | None = None) -> dict:
    """Clean accuracy and ASCC robust accuracy of ``model`` on ``examples``.

    Robust accuracy: the ASCC adversary with the cross-entropy objective (labels known, ``attack_steps`` Adam steps),
    decoded by arg-max into a real word-substitution example; an example counts when both the clean and the
    substituted text are classified correctly. ``attack_steps=0`` (or no substitution set) skips the attack.
    """
    device = device or next(model.parameters()).device
    examples = [examples[i] for i in length_order(examples)]  # little padding; the counts do not depend on order
    was_training = model.training
    model.eval()
    ascc = ascc or ASCCConfig(steps=attack_steps, loss="ce")
    clean = robust = n = 0
    try:
        for lo in range(0, len(examples), batch_size):
            chunk = examples[lo: lo + batch_size]
            attack = attack_steps > 0 and substitutions is not None
            cb = build_candidates(chunk, tokenizer, substitutions, max_tokens=max_tokens) if attack else None
            b = (cb.batch if cb is not None else tokenizer.encode(chunk, max_tokens)).to(device)
            with autocast(torch.device(device), precision):
                with torch.no_grad():
                    ok = model(b.input_ids, b.attention_mask, b.token_type_ids).argmax(-1) == b.labels
                if attack:
                    cands, cmask = cb.candidates.to(device), cb.candidate_mask.to(device)
                    res = ascc_attack(model, b.input_ids, b.attention_mask, b.token_type_ids, cands, cmask,
                                      config=dataclasses.replace(ascc, steps=attack_steps, loss="ce"), labels=b.labels)
                    with torch.no_grad():
                        adv_ids = adversarial_token_ids(cands, res.weights)
                        adv_ok = model(adv_ids, b.attention_mask, b.token_type_ids).argmax(-1) == b.labels
                    robust += int((ok & adv_ok).sum())
            clean += int(ok.sum())
            n += len(chunk)
    finally:
        model.train(was_training)
    return {"clean_acc": clean / max(n, 1), "robust_acc": robust / max(n, 1) if attack_steps > 0 and substitutions
            is not None else None, "n": n}


def improved_best(best: dict | None, epoch: int, dev: dict, select_on: str) -> dict | None:
    """The new best-epoch record when epoch ``epoch`` (1-based) with dev accuracies ``dev`` beats ``best`` (strictly;
    the first epoch always does), else None. ``select_on='last'``: every epoch replaces the previous one (no score)."""
    if select_on == "last":
        return {"epoch": epoch, "score": None, "select_on": "last", "dev_clean_acc": dev.get("clean_acc"),
                "dev_robust_acc": dev.get("robust_acc")}
    score = dev["robust_acc"] if select_on == "robust" else dev["clean_acc"]
    if best is not None and not score > best["score"]:
        return None
    return {"epoch": epoch, "score": score, "select_on": select_on, "dev_clean_acc": dev["clean_acc"],
            "dev_robust_acc": dev["robust_acc"]}
