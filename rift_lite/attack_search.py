"""The discrete search attacks of the paper's evaluation, over the counter-fitted substitution set (RIFT, Dong et al.
NeurIPS 2021, Sec. 3.1): every word of the attacked field (the text, or the hypothesis of an NLI pair) may become one
of its neighbours.

* :class:`GeneticAttack` -- Jia et al. (EMNLP 2019)'s simplified version of the genetic attack of Alzantot et al.
  (EMNLP 2018), as in RIFT's evaluation: population 60, 40 generations; mutation = a random position that has
  substitutes, set to the candidate (original word included) that lowers ``p(y)`` most; fitness ``1 - p(y)``;
  parents drawn **in proportion to the fitness** (the official RIFT evaluation, Jia et al.'s variant; the default,
  ``selection="proportional"``) or with ``softmax(fitness / 0.3)`` (Alzantot et al., TextAttack:
  ``selection="softmax"``); uniform crossover (each word from one of the two parents); elitism (the best member
  survives unchanged); 40 populations are checked, as in the official loop ``for g in range(40)``; success as
  soon as the prediction flips. Mutations of a whole generation are scored in one batch.
* :class:`PWWSAttack` -- probability weighted word saliency (Ren et al., ACL 2019): the saliency
  ``S_i = p(y|x) - p(y|x with w_i -> unknown token)``, softmaxed, times the best swap's drop of ``p(y)``;
  each word's best substitute is applied in that order until the prediction flips -- also a swap that does not
  lower ``p(y)`` on its own, as the official code does (``skip_unhelpful=True`` skips those). No LM constraint.
* :class:`TextFoolerAttack` -- the greedy search of TextFooler (Jin et al., AAAI 2020): word importance by deletion,
  then each word in importance order is replaced by the candidate that flips the prediction or, failing that,
  lowers ``p(y)`` most. Differences from TextFooler, documented: the candidates are the same counter-fitted set
  (<= 8 neighbours, not the 50 nearest with cosine >= 0.5), and there is **no Universal Sentence Encoder
  similarity check and no POS check** (neither is available offline); other constraints are pluggable.
"""
from __future__ import annotations

import math
import random
from typing import Sequence

from .attack_base import WordSubstitutionAttack, with_word
from .constraints import StopwordConstraint, satisfies


class GeneticAttack(WordSubstitutionAttack):
    """Jia et al. (2019)'s simplified genetic attack (after Alzantot et al. 2018); see the module docstring.

    ``pop_size=60``, ``iterations=40`` (RIFT, Sec. 3.1): the number of populations whose members are checked for a
    flip -- the initial one (each member one mutation away from the text) and 39 bred ones, as in the official
    loop, which breeds no 41st population it would never check.
    ``selection``: ``"proportional"`` (default; the official RIFT / Jia et al. code: parent ``k`` is drawn with
    probability ``fitness_k / sum(fitness)``, ``fitness = 1 - p(y|x)``) or ``"softmax"`` (Alzantot et al. and
    TextAttack: ``softmax(fitness / temperature)``, ``temperature=0.3``).
    Only the attacked field changes (the hypothesis for NLI).
    """

    name = "genetic"

    def __init__(self, substitutions, constraints=None, seed: int = 0, *, pop_size: int = 60, iterations: int = 40,
                 temperature: float = 0.3, selection: str = "proportional"):
        super().__init__(substitutions, constraints, seed)
        if pop_size < 1 or iterations < 1 or temperature <= 0:
            raise ValueError(f"pop_size must be >= 1, iterations >= 1 and temperature > 0; got pop_size={pop_size}, "
                             f"iterations={iterations}, temperature={temperature}")
        if selection not in ("softmax", "proportional"):
            raise ValueError(f"selection must be 'softmax' or 'proportional', got {selection!r}")
        self.pop_size, self.iterations, self.temperature, self.selection = pop_size, iterations, temperature, selection

    def config(self) -> dict:
        return {**super().config(), "pop_size": self.pop_size, "iterations": self.iterations,
                "temperature": self.temperature, "selection": self.selection}

    def _mutate(self, victim, example, original, members, choices, mutable, rng):
        """Mutate every member at a random mutable position, greedily and in one batch.

        Returns ``(words, p_y, flipped)`` per member: the best candidate there (the current word is one of the
        choices, so a mutation never raises ``p(y)``), its ``p(y)``, and whether its prediction differs from ``y``.
        """
        y = example.label
        proposals = []
        for words in members:
            i = rng.choice(mutable)
            options = self.allowed_now(original, words, i, choices[i])
            proposals.append([with_word(words, i, w) for w in options] or [list(words)])
        flat = [example.with_words(w) for group in proposals for w in group]
        probs = victim.predict_proba(flat)
        p_y, preds = probs[:, y].tolist(), probs.argmax(-1).tolist()
        out, at = [], 0
        for group in proposals:
            best = min(range(len(group)), key=lambda k: p_y[at + k])
            out.append((group[best], p_y[at + best], preds[at + best] != y))
            at += len(group)
        return out

    def search(self, victim, example, probs, rng):
        original, subs, mutable = self.attack_space(victim, example)
        if not mutable:
            return example, {"generations": 0}
        choices = [[w] + s for w, s in zip(original, subs)]  # the original word stays a choice (mutations can revert)
        population = self._mutate(victim, example, original, [original] * self.pop_size, choices, mutable, rng)
        for generation in range(self.iterations):
            flipped = [k for k, member in enumerate(population) if member[2]]
            best = min(flipped or range(len(population)), key=lambda k: population[k][1])
            if flipped or generation == self.iterations - 1:
                return example.with_words(population[best][0]), {"generations": generation}
            children = [self.crossover(p1[0], p2[0], original, rng) for p1, p2 in
                        self.select_parents(population, rng, self.pop_size - 1)]
            population = [population[best]] + self._mutate(victim, example, original, children, choices, mutable, rng)
        raise AssertionError("unreachable: the last generation returns")  # pragma: no cover

    def selection_weights(self, fitness: Sequence[float]) -> list[float]:
        """Unnormalised probability of drawing each member as a parent (see the class docstring)."""
        if self.selection == "softmax":
            top = max(fitness)
            return [math.exp((f - top) / self.temperature) for f in fitness]
        return [f + 1e-8 for f in fitness]  # proportional; + 1e-8: a population that all has p(y) = 1 stays drawable

    def select_parents(self, population, rng: random.Random, n: int) -> list[tuple]:
        """``n`` parent pairs, each parent drawn (with replacement) by :meth:`selection_weights` of ``1 - p(y)``."""
        weights = self.selection_weights([1.0 - p for _, p, _ in population])
        return [tuple(rng.choices(population, weights=weights, k=2)) for _ in range(n)]

    def crossover(self, parent1: list[str], parent2: list[str], original: list[str], rng: random.Random) -> list[str]:
        """Uniform crossover: each word from one of the two parents, chosen by a fair coin.

        A child that breaks a whole-text constraint (e.g. the modification budget) keeps parent 1's words.
        """
        child = [rng.choice((a, b)) for a, b in zip(parent1, parent2)]
        return child if satisfies(self.constraints, original, child) else list(parent1)


class PWWSAttack(WordSubstitutionAttack):
    """Probability weighted word saliency (Ren et al., ACL 2019); no LM constraint (as in RIFT's evaluation).

    ``H_i = softmax(S)_i * dp*_i`` with ``S_i = p(y|x) - p(y|x_i=unk)`` and ``dp*_i`` the largest drop of ``p(y)``
    over word ``i``'s substitutes. Only words with substitutes are scored: the softmax's normaliser is shared by
    all words, so leaving the others out changes no ranking and saves their queries.

    ``skip_unhelpful=False`` (default, the official code): every word's best swap is applied in order of ``H``
    until the prediction flips, even one that does not lower ``p(y)`` on its own (with other words already
    changed it may still help). ``skip_unhelpful=True`` leaves such words unchanged (fewer changed words; on
    long reviews it leaves more examples standing -- see the README's PWWS measurement).
    """

    name = "pwws"

    def __init__(self, substitutions, constraints=None, seed: int = 0, *, skip_unhelpful: bool = False):
        super().__init__(substitutions, constraints, seed)
        self.skip_unhelpful = bool(skip_unhelpful)

    def config(self) -> dict:
        return {**super().config(), "skip_unhelpful": self.skip_unhelpful}

    def search(self, victim, example, probs, rng):
        y = example.label
        original, subs, mutable = self.attack_space(victim, example)
        if not mutable:
            return example, {}
        p0 = float(probs[y])
        texts = [example.with_words(with_word(original, i, victim.unk_token)) for i in mutable]
        swaps = [(i, w) for i in mutable for w in subs[i]]
        texts += [example.with_words(with_word(original, i, w)) for i, w in swaps]
        p_y = victim.predict_proba(texts)[:, y].tolist()
        saliency = {i: p0 - p for i, p in zip(mutable, p_y[: len(mutable)])}
        best: dict[int, tuple[float, str]] = {}
        for (i, w), p in zip(swaps, p_y[len(mutable):]):
            if i not in best or p0 - p > best[i][0]:
                best[i] = (p0 - p, w)
        top = max(saliency.values())
        z = sum(math.exp(s - top) for s in saliency.values())
        score = {i: math.exp(saliency[i] - top) / z * best[i][0] for i in mutable}
        current = list(original)
        for i in sorted(mutable, key=lambda i: -score[i]):
            gain, word = best[i]
            if (self.skip_unhelpful and gain <= 0) or not self.allowed_now(original, current, i, [word]):
                continue
            current[i] = word
            if int(victim.predict_proba([example.with_words(current)])[0].argmax()) != y:
                break
        return example.with_words(current), {}


class TextFoolerAttack(WordSubstitutionAttack):
    """TextFooler's greedy search (Jin et al., AAAI 2020) over the counter-fitted set; see the module docstring.

    Importance of word ``i`` (deletion): ``p_y(x) - p_y(x without w_i)``, plus ``p_z(x\\i) - p_z(x)`` when the
    deletion changes the prediction to ``z``; only words that have substitutes are ranked (the others cannot be
    replaced, so their importance is never needed). Stop words are not replaced by default (as in TextFooler); pass
    ``constraints=[]`` to allow them. Without a sentence encoder (none offline), a flipping candidate is chosen by
    the lowest ``p(y)`` instead of the highest USE similarity.
    """

    name = "textfooler"

    @property
    def default_constraints(self):  # a fresh list per attack
        return (StopwordConstraint(),)

    def search(self, victim, example, probs, rng):
        y = example.label
        original, subs, mutable = self.attack_space(victim, example)
        if not mutable:
            return example, {}
        clean_pred = int(probs.argmax())
        deleted = []
        for i in mutable:
            rest = original[:i] + original[i + 1:]
            deleted.append(example.with_words(rest or [victim.unk_token]))  # a one-word text becomes the unk token
        p_del = victim.predict_proba(deleted)
        importance = {}
        for i, row in zip(mutable, p_del):
            value = float(probs[y] - row[y])
            z = int(row.argmax())
            if z != clean_pred:
                value += float(row[z] - probs[z])
            importance[i] = value
        current, p_cur = list(original), float(probs[y])
        for i in sorted(mutable, key=lambda i: -importance[i]):
            options = [w for w in self.allowed_now(original, current, i, subs[i]) if w != current[i]]
            if not options:
                continue
            out = victim.predict_proba([example.with_words(with_word(current, i, w)) for w in options])
            p_y = out[:, y].tolist()
            flips = [k for k in range(len(options)) if int(out[k].argmax()) != y]
            k = min(flips or range(len(options)), key=p_y.__getitem__)
            if flips or p_y[k] < p_cur:
                current[i], p_cur = options[k], p_y[k]
            if flips:
                break
        return example.with_words(current), {}
