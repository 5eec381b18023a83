"""Word-substitution attacks used to measure robustness: Genetic, PWWS, TextFooler-style, and ASCC -- the registry
(:data:`ATTACKS`, :func:`build_attack`) and the one import for all of them.

All discrete attacks search the same attack space as training (RIFT, Dong et al. NeurIPS 2021, Sec. 3.1): every
word of the attacked field (the text, or the hypothesis of an NLI pair) may become one of its counter-fitted
neighbours (:meth:`rift_lite.substitutions.SubstitutionSet.word_candidates`). Where each part lives:

* :mod:`rift_lite.victim` -- :class:`Victim`, the black-box oracle the attacks query (batched, cached, counted), and
  :class:`ClassifierVictim` around a fine-tuned classifier;
* :mod:`rift_lite.attack_base` -- what every discrete attack shares (:class:`WordSubstitutionAttack`, the attack
  space, per-example seeds) and :class:`AttackResult`;
* :mod:`rift_lite.attack_search` -- :class:`GeneticAttack` (Jia et al.'s simplified genetic attack, population 60,
  40 generations), :class:`PWWSAttack` (probability weighted word saliency) and :class:`TextFoolerAttack` (greedy,
  without TextFooler's sentence encoder and POS check);
* :mod:`rift_lite.attack_ascc` -- :class:`ASCCAttack`, accuracy under the ASCC adversary (white box).

A new attack subclasses :class:`WordSubstitutionAttack` (implementing ``search``) and gets a name in :data:`ATTACKS`.
"""
from __future__ import annotations

from .attack_ascc import ASCCAttack
from .attack_base import AttackResult, WordSubstitutionAttack, example_seed  # noqa: F401 (re-exported)
from .attack_search import GeneticAttack, PWWSAttack, TextFoolerAttack
from .victim import ClassifierVictim, Victim  # noqa: F401 (re-exported)

__all__ = ["ATTACKS", "build_attack", "Victim", "ClassifierVictim", "AttackResult", "WordSubstitutionAttack",
           "example_seed", "GeneticAttack", "PWWSAttack", "TextFoolerAttack", "ASCCAttack"]

ATTACKS = {"genetic": GeneticAttack, "pwws": PWWSAttack, "textfooler": TextFoolerAttack, "ascc": ASCCAttack}
"""Attack name -> class (all take ``(substitutions, constraints=None, seed=0, **options)``)."""


def build_attack(name: str, substitutions, constraints=None, seed: int = 0, **options):
    """Construct the attack called ``name`` (see :data:`ATTACKS`)."""
    if name not in ATTACKS:
        raise ValueError(f"unknown attack {name!r}; choose one of {', '.join(ATTACKS)}")
    return ATTACKS[name](substitutions, constraints, seed, **options)
