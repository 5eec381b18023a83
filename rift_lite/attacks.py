"""Word-substitution attacks used to measure robustness: Genetic, PWWS, TextFooler-style, and ASCC.

All discrete attacks search the same attack space as training (RIFT, Dong et al. NeurIPS 2021, Sec. 3.1): every
word of the attacked field (the text, or the hypothesis of an NLI pair) may become one of its counter-fitted
neighbours (:meth:`rift_lite.substitutions.SubstitutionSet.word_candidates`). They talk to the model only through a
:class:`Victim`, a black-box oracle ``predict_proba(list of Example) -> [n, C]`` that batches (texts sorted by length
so padding is small) and caches (a text is never scored twice), and counts *requests* (texts asked for) against
*queries* (unique model evaluations).

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
* :class:`ASCCAttack` -- the ASCC adversary (Dong et al., ICLR 2021; :mod:`rift_lite.adversary`) with the
  cross-entropy objective at test time, decoded by arg-max into a real substitution ("accuracy under ASCC").

Randomness: each example gets its own generator seeded from ``(seed, example.id)``, so a result does not depend on
which examples came before it (a resumed evaluation reproduces a single run).
"""
from __future__ import annotations

import math
import random
import time
import zlib
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from .constraints import Constraint, changed_positions, describe, filter_candidates, satisfies

# ------------------------------------------------------------------------------------------------------ victim


def _key(example) -> tuple[str, str | None]:
    return (example.text, example.text_b)


def _length(example) -> int:
    return len(example.text.split()) + (len(example.text_b.split()) if example.text_b is not None else 0)


class Victim:
    """A black-box classifier: :meth:`predict_proba` over examples, batched, cached and counted.

    ``score_fn(examples) -> [n, C]`` probabilities computes one batch (already sorted by length, at most
    ``batch_size`` long). ``requests`` counts texts asked for; ``queries`` counts unique texts actually scored;
    ``model_calls`` counts batches; ``forward_time_s`` is the wall time spent inside :meth:`score_batch` (an
    attack's floor is its queries times one forward: ``forward_time_s`` over the attack's wall time says how close
    it runs to that floor). The cache is keyed by ``(text, text_b)``; :meth:`clear_cache` empties it
    (evaluation does so between examples to bound memory; counters keep running).
    """

    def __init__(self, score_fn: Callable[[Sequence], torch.Tensor] | None = None, *, batch_size: int = 64,
                 cache: bool = True, unk_token: str = "<unk>"):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self._score_fn = score_fn
        self.batch_size = batch_size
        self.use_cache = cache
        self.unk_token = unk_token
        self._cache: dict[tuple[str, str | None], torch.Tensor] = {}
        self.requests = 0
        self.queries = 0
        self.model_calls = 0
        self.forward_time_s = 0.0

    # -- to override -------------------------------------------------------------------------------------------
    def score_batch(self, examples: Sequence) -> torch.Tensor:
        """Probabilities [n, C] for one batch (no caching, no counting)."""
        if self._score_fn is None:
            raise NotImplementedError("give score_fn or override score_batch")
        return torch.as_tensor(self._score_fn(examples), dtype=torch.float32)

    def filter_substitutes(self, word: str, substitutes: Sequence[str]) -> list[str]:
        """Drop substitutes the model cannot tell apart from ``word`` (identity here)."""
        return [s for s in dict.fromkeys(substitutes) if s != word]

    def visible_words(self, example) -> int:
        """How many attacked words the model sees (all, unless a tokenizer truncates)."""
        return len(example.words())

    # -- the oracle --------------------------------------------------------------------------------------------
    def predict_proba(self, examples: Sequence) -> torch.Tensor:
        """Class probabilities [n, C] (float32, CPU) for ``examples``; scores only texts not seen before."""
        examples = list(examples)
        self.requests += len(examples)
        if not examples:
            return torch.zeros(0, 0)
        if not self.use_cache:
            self._cache = {}
        todo: dict[tuple, object] = {}
        for ex in examples:
            k = _key(ex)
            if k not in self._cache and k not in todo:
                todo[k] = ex
        pending = sorted(todo.values(), key=_length)
        for lo in range(0, len(pending), self.batch_size):
            chunk = pending[lo: lo + self.batch_size]
            started = time.perf_counter()
            probs = self.score_batch(chunk).detach().float().cpu()  # .cpu() waits for a GPU to finish
            self.forward_time_s += time.perf_counter() - started
            self.model_calls += 1
            self.queries += len(chunk)
            for ex, row in zip(chunk, probs):
                self._cache[_key(ex)] = row
        out = torch.stack([self._cache[_key(ex)] for ex in examples])
        if not self.use_cache:
            # without a cache every request is a model evaluation (repeats within one call included)
            self.queries += len(examples) - len(todo)
            self._cache = {}
        return out

    def clear_cache(self) -> None:
        self._cache = {}

    def reset_counts(self) -> None:
        self.requests = self.queries = self.model_calls = 0
        self.forward_time_s = 0.0

    @property
    def fraction_saved(self) -> float:
        """Fraction of requested texts that did not need a model evaluation (cache and within-call duplicates)."""
        return 1.0 - self.queries / self.requests if self.requests else 0.0


class ClassifierVictim(Victim):
    """:class:`Victim` around a :class:`rift_lite.models.Classifier` and its :class:`~rift_lite.models.WordTokenizer`.

    Runs in eval mode without gradient; ``precision="bf16"`` uses bfloat16 autocast (CUDA). The unknown token of
    PWWS is the tokenizer's own (``[UNK]`` for WordPiece, ``<unk>`` for RoBERTa).
    """

    def __init__(self, model, tokenizer, *, batch_size: int = 64, device=None, max_tokens: int | None = None,
                 cache: bool = True, precision: str = "fp32"):
        super().__init__(batch_size=batch_size, cache=cache, unk_token=tokenizer.unk_token)
        self.model = model
        self.tokenizer = tokenizer
        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        self.max_tokens = max_tokens or tokenizer.max_tokens
        self.precision = precision
        self.model.to(self.device).eval()

    def score_batch(self, examples: Sequence) -> torch.Tensor:
        batch = self.tokenizer.encode(examples, self.max_tokens).to(self.device)
        autocast = (torch.autocast(self.device.type, dtype=torch.bfloat16) if self.precision == "bf16"
                    else _nullcontext())
        with torch.no_grad(), autocast:
            logits = self.model(batch.input_ids, batch.attention_mask, batch.token_type_ids)
        return torch.softmax(logits.float(), -1)

    def filter_substitutes(self, word: str, substitutes: Sequence[str]) -> list[str]:
        """Drop substitutes whose one-token id equals the word's, an earlier substitute's, or the unknown token's.

        The same rule as :func:`rift_lite.substitutions.build_candidates`, so the discrete attacks and ASCC search
        the same space and no query is spent on a text the model sees as unchanged.
        """
        seen = {self.tokenizer.word_id(word), self.tokenizer.unk_id}
        kept = []
        for sub, token_id in zip(substitutes, self.tokenizer.word_ids(list(substitutes))):
            if token_id not in seen:
                seen.add(token_id)
                kept.append(sub)
        return kept

    def visible_words(self, example) -> int:
        return len(self.tokenizer.encode([example], self.max_tokens).word_positions[0])


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


# ------------------------------------------------------------------------------------------------------ results


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


# ------------------------------------------------------------------------------------------------------ attacks


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


def _with(words: list[str], position: int, word: str) -> list[str]:
    out = list(words)
    out[position] = word
    return out


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
            proposals.append([_with(words, i, w) for w in options] or [list(words)])
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
        texts = [example.with_words(_with(original, i, victim.unk_token)) for i in mutable]
        swaps = [(i, w) for i in mutable for w in subs[i]]
        texts += [example.with_words(_with(original, i, w)) for i, w in swaps]
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
        from .constraints import StopwordConstraint

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
            out = victim.predict_proba([example.with_words(_with(current, i, w)) for w in options])
            p_y = out[:, y].tolist()
            flips = [k for k in range(len(options)) if int(out[k].argmax()) != y]
            k = min(flips or range(len(options)), key=p_y.__getitem__)
            if flips or p_y[k] < p_cur:
                current[i], p_cur = options[k], p_y[k]
            if flips:
                break
        return example.with_words(current), {}


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
        from .adversary import ASCCConfig

        self.substitutions = substitutions
        self.constraints: list = []
        self.seed = seed
        self.steps = steps
        self.batch_size = batch_size
        self.ascc_config = config or ASCCConfig(steps=steps, loss="ce")

    def config(self) -> dict:
        from dataclasses import asdict

        return {"name": self.name, "seed": self.seed, "batch_size": self.batch_size, **asdict(self.ascc_config)}

    def describe_constraints(self) -> list[dict]:
        return []

    def attack(self, victim, example) -> AttackResult:
        return self.attack_many(victim, [example])[0]

    def attack_many(self, victim, examples: Sequence) -> list[AttackResult]:
        from .adversary import ascc_attack, decode_adversarial
        from .models import length_order
        from .substitutions import build_candidates

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


ATTACKS = {"genetic": GeneticAttack, "pwws": PWWSAttack, "textfooler": TextFoolerAttack, "ascc": ASCCAttack}
"""Attack name -> class (all take ``(substitutions, constraints=None, seed=0, **options)``)."""


def build_attack(name: str, substitutions, constraints=None, seed: int = 0, **options):
    """Construct the attack called ``name`` (see :data:`ATTACKS`)."""
    if name not in ATTACKS:
        raise ValueError(f"unknown attack {name!r}; choose one of {', '.join(ATTACKS)}")
    return ATTACKS[name](substitutions, constraints, seed, **options)
