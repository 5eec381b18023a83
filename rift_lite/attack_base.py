"""What every discrete word-substitution attack shares: the attack space (each attacked word's counter-fitted
neighbours that the model can see and every constraint allows), the clean prediction first (misclassified examples are
skipped), per-example randomness, and the :class:`AttackResult` each example becomes (one line of ``records.jsonl``).

Randomness: each example gets its own generator seeded from ``(seed, example.id)`` (:func:`example_seed`), so a result
does not depend on which examples came before it (a resumed evaluation reproduces a single run).
"""
from __future__ import annotations

import random
import time
import zlib
from dataclasses import dataclass, field
from typing import Sequence

import torch

from .constraints import Constraint, changed_positions, describe, filter_candidates
from .victim import Victim


@dataclass
class AttackResult:
    """The outcome of attacking one example.

    ``status``: ``"skipped"`` (misclassified before the attack), ``"success"`` (prediction flipped) or
    ``"failed"``. ``queries`` / ``requests``: unique model evaluations / texts asked for while attacking it
    (the clean prediction included).
    """

    example: object
    adversarial: object
    clean_pred: int
    adv_pred: int
    queries: int
    requests: int
    status: str
    time_s: float = 0.0
    extra: dict = field(default_factory=dict)

    @property
    def changed(self) -> list[int]:
        return changed_positions(self.example.words(), self.adversarial.words())

    def to_record(self) -> dict:
        """A JSON-ready row of the evaluation's JSONL file."""
        ex, adv = self.example, self.adversarial
        n_words = len(ex.words())
        changed = self.changed
        record = {
            "id": ex.id, "label": int(ex.label), "clean_pred": int(self.clean_pred), "adv_pred": int(self.adv_pred),
            "status": self.status, "original": getattr(ex, ex.attack_field),
            "adversarial": getattr(adv, adv.attack_field), "field": ex.attack_field,
            "queries": int(self.queries), "requests": int(self.requests), "n_words": n_words,
            "changed_positions": changed, "changed_words": len(changed),
            "changed_fraction": len(changed) / n_words if n_words else 0.0, "time_s": round(self.time_s, 4),
        }
        if ex.is_pair:
            record["context"] = ex.text
        record.update(self.extra)
        return record


def example_seed(seed: int, example_id: str) -> int:
    """A per-example seed, independent of the order examples are attacked in."""
    return zlib.crc32(f"{seed}:{example_id}".encode())


class WordSubstitutionAttack:
    """Base class: candidate sets, constraints, bookkeeping. Subclasses implement :meth:`search`.

    ``substitutions``: a :class:`rift_lite.substitutions.SubstitutionSet` (or anything with ``word_candidates``);
    ``constraints``: :mod:`rift_lite.constraints` objects applied to every substitution the attack tries.
    """

    name = "attack"
    default_constraints: tuple = ()

    def __init__(self, substitutions, constraints: Sequence[Constraint] | None = None, seed: int = 0):
        self.substitutions = substitutions
        self.constraints = list(self.default_constraints if constraints is None else constraints)
        self.seed = seed

    def config(self) -> dict:
        return {"name": self.name, "seed": self.seed}

    def describe_constraints(self) -> list[dict]:
        return describe(self.constraints)

    def candidate_sets(self, victim: Victim, example) -> list[list[str]]:
        """Per attacked word: substitutes the model can see and every constraint allows (words the model does
        not see because of truncation get none)."""
        words = example.words()
        visible = victim.visible_words(example)
        table = self.substitutions.word_candidates(example)
        out = []
        for i, (word, subs) in enumerate(zip(words, table)):
            if i >= visible or not subs:
                out.append([])
                continue
            subs = victim.filter_substitutes(word, subs)
            out.append([s for s in filter_candidates(self.constraints, words, words, i, subs) if s != word])
        return out

    def attack_space(self, victim: Victim, example) -> tuple[list[str], list[list[str]], list[int]]:
        """``(words, candidate_sets, mutable)``: the attacked words, their substitutes, and the positions that
        have at least one substitute (the only ones a search may change)."""
        subs = self.candidate_sets(victim, example)
        return example.words(), subs, [i for i, s in enumerate(subs) if s]

    def allowed_now(self, original: list[str], current: list[str], position: int, options: Sequence[str]) -> list[str]:
        """Dynamic check of ``options`` at ``position`` of the current text (e.g. the modification budget)."""
        return filter_candidates(self.constraints, original, current, position, list(options))

    def attack(self, victim: Victim, example) -> AttackResult:
        """Attack one example; the clean prediction comes first (misclassified examples are skipped)."""
        start, q0, r0 = time.perf_counter(), victim.queries, victim.requests
        probs = victim.predict_proba([example])[0]
        clean_pred = int(probs.argmax())
        if clean_pred != example.label:
            adversarial, adv_pred, status, extra = example, clean_pred, "skipped", {}
        else:
            rng = random.Random(example_seed(self.seed, example.id))
            adversarial, extra = self.search(victim, example, probs, rng)
            adv_pred = int(victim.predict_proba([adversarial])[0].argmax())
            status = "success" if adv_pred != example.label else "failed"
        return AttackResult(example, adversarial, clean_pred, adv_pred, victim.queries - q0, victim.requests - r0,
                            status, time.perf_counter() - start, extra)

    def attack_many(self, victim: Victim, examples: Sequence) -> list[AttackResult]:
        results = []
        for ex in examples:
            victim.clear_cache()
            results.append(self.attack(victim, ex))
        victim.clear_cache()
        return results

    def search(self, victim: Victim, example, probs: torch.Tensor, rng: random.Random) -> tuple[object, dict]:
        raise NotImplementedError


def with_word(words: list[str], position: int, word: str) -> list[str]:
    """A copy of ``words`` with ``word`` at ``position``."""
    out = list(words)
    out[position] = word
    return out
