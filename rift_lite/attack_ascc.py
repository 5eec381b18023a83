"""Accuracy under ASCC as an attack: the ASCC adversary (Dong et al., ICLR 2021; :mod:`rift_lite.adversary`) with the
cross-entropy objective at test time, decoded by arg-max into a real substitution, batched over examples. A white-box
attack: it needs a :class:`~rift_lite.victim.ClassifierVictim` (gradients).
"""
from __future__ import annotations

import time
from dataclasses import asdict
from typing import Sequence

from .adversary import ASCCConfig, ascc_attack, decode_adversarial
from .attack_base import AttackResult
from .substitutions import build_candidates
from .tokenizer import length_order
from .victim import ClassifierVictim


class ASCCAttack:
    """Accuracy under ASCC: the ASCC adversary (:func:`rift_lite.adversary.ascc_attack`, Dong et al. ICLR 2021)
    with the cross-entropy objective at test time, decoded by arg-max into real word substitutions.

    Batched over examples (``batch_size``); needs a :class:`ClassifierVictim` (white box: gradients). The decoded
    texts are scored through the victim, so ``adv_pred`` is the model's prediction on the real adversarial text.
    ``queries`` counts the forward passes per example: clean, ``steps + 1`` inside ASCC, and the decoded text.
    Pluggable constraints do not apply (ASCC optimises over the whole candidate set at once).
    """

    name = "ascc"

    def __init__(self, substitutions, constraints=None, seed: int = 0, *, steps: int = 10, batch_size: int = 32,
                 config=None):
        if constraints:
            raise ValueError("the ASCC attack takes no discrete constraints")
        self.substitutions = substitutions
        self.constraints: list = []
        self.seed = seed
        self.steps = steps
        self.batch_size = batch_size
        self.ascc_config = config or ASCCConfig(steps=steps, loss="ce")

    def config(self) -> dict:
        return {"name": self.name, "seed": self.seed, "batch_size": self.batch_size, **asdict(self.ascc_config)}

    def describe_constraints(self) -> list[dict]:
        return []

    def attack(self, victim, example) -> AttackResult:
        return self.attack_many(victim, [example])[0]

    def attack_many(self, victim, examples: Sequence) -> list[AttackResult]:
        if not isinstance(victim, ClassifierVictim):
            raise TypeError("the ASCC attack needs a ClassifierVictim (it uses the model's gradients)")
        order = length_order(examples)  # batches of similar length; results are returned in the input order
        ordered = [examples[i] for i in order]
        results = []
        for lo in range(0, len(ordered), self.batch_size):
            chunk = ordered[lo: lo + self.batch_size]
            start = time.perf_counter()
            victim.clear_cache()
            clean = victim.predict_proba(chunk).argmax(-1).tolist()
            cb = build_candidates(chunk, victim.tokenizer, self.substitutions, max_tokens=victim.max_tokens)
            cbd = cb.to(victim.device)
            b = cbd.batch
            res = ascc_attack(victim.model, b.input_ids, b.attention_mask, b.token_type_ids, cbd.candidates,
                              cbd.candidate_mask, config=self.ascc_config, labels=b.labels)
            adversarial = decode_adversarial(cb, res.weights, chunk)
            adv = victim.predict_proba(adversarial).argmax(-1).tolist()
            victim.clear_cache()
            per_example = (time.perf_counter() - start) / len(chunk)
            for ex, a, c, p in zip(chunk, adversarial, clean, adv):
                if c != ex.label:
                    status, a, p = "skipped", ex, c
                else:
                    status = "success" if p != ex.label else "failed"
                passes = 1 + self.ascc_config.steps + 1 + (status != "skipped")
                results.append(AttackResult(ex, a, c, p, passes, passes, status, per_example))
        in_input_order: list = [None] * len(results)
        for position, result in zip(order, results):
            in_input_order[position] = result
        return in_input_order
