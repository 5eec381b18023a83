"""Pluggable constraints on word substitutions, shared by the discrete attacks of :mod:`rift_lite.attacks`.

A constraint answers one question: *at this position of the current text, which of these substitutes may the
attack use?* (:meth:`Constraint.allowed`). Whole-text constraints (a modification budget) also check a complete
candidate text (:meth:`Constraint.check`), which the genetic attack needs after crossover.

* :class:`MaxModificationRate` -- at most a fraction of the attacked words may differ from the original
  (the ASCC code of Dong et al. (ICLR 2021) uses 25%; off unless asked for);
* :class:`StopwordConstraint` -- never replace a stop word (a small built-in English list; TextFooler,
  Jin et al. AAAI 2020, filters stop words the same way);
* :class:`LanguageModelConstraint` -- the language-model filter of the genetic attack (Alzantot et al. EMNLP 2018,
  as used by Jia et al. EMNLP 2019 and RIFT, Dong et al. NeurIPS 2021, Sec. 3.1): a substitute at position ``i``
  is allowed only if ``log p(window with swap) - log p(original window) >= -threshold`` (threshold 5) over a window
  of ``+-6`` words, scored by a causal language model. The papers used the Google one-billion-word LM whose
  precomputed scores are not available here; any ``AutoModelForCausalLM`` name or folder can be plugged in. No
  causal LM is available offline on the machines this project was built on, so the constraint is **off by
  default** and every evaluation record lists the constraints that actually ran.

Reverting a word to the original is always allowed: constraints restrict *changes*, never the original text.
"""
from __future__ import annotations

from typing import Callable, Protocol, Sequence, runtime_checkable

STOPWORDS: frozenset[str] = frozenset(
    """a about above after again against all am an and any are aren't as at be because been before being below
    between both but by can couldn't did didn't do does doesn't doing don't down during each few for from further
    had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers herself him himself his how
    how's i i'd i'll i'm i've if in into is isn't it it's its itself let's me more most mustn't my myself no nor
    not of off on once only or other ought our ours ourselves out over own same shan't she she'd she'll she's
    should shouldn't so some such than that that's the their theirs them themselves then there there's these they
    they'd they'll they're they've this those through to too under until up very was wasn't we we'd we'll we're
    we've were weren't what what's when when's where where's which while who who's whom why why's will with won't
    would wouldn't you you'd you'll you're you've your yours yourself yourselves 's 're 've 'd 'll 'm n't
    also yet however although though whether either neither may might must shall could""".split()
)
"""A small English stop-word list (the common function words; close to NLTK's and TextFooler's lists)."""


@runtime_checkable
class Constraint(Protocol):
    """What an attack asks of a constraint.

    ``original`` / ``current``: the attacked field's words before the attack and now (same length);
    ``position``: the word about to change; ``candidates``: proposed substitutes. Returns one bool per candidate.
    """

    name: str

    def allowed(self, original: Sequence[str], current: Sequence[str], position: int,
                candidates: Sequence[str]) -> list[bool]: ...

    def check(self, original: Sequence[str], current: Sequence[str]) -> bool: ...

    def to_dict(self) -> dict: ...


def changed_positions(original: Sequence[str], current: Sequence[str]) -> list[int]:
    """Positions where ``current`` differs from ``original``."""
    return [i for i, (a, b) in enumerate(zip(original, current)) if a != b]


def filter_candidates(constraints: Sequence[Constraint], original: Sequence[str], current: Sequence[str],
                      position: int, candidates: Sequence[str]) -> list[str]:
    """The candidates every constraint allows (the original word at ``position`` is always kept if proposed)."""
    keep = [True] * len(candidates)
    for constraint in constraints:
        if not any(keep):
            break
        verdicts = constraint.allowed(original, current, position, candidates)
        keep = [k and v for k, v in zip(keep, verdicts)]
    return [c for c, k in zip(candidates, keep) if k or c == original[position]]


def satisfies(constraints: Sequence[Constraint], original: Sequence[str], current: Sequence[str]) -> bool:
    """Whether a complete text passes every whole-text check."""
    return all(c.check(original, current) for c in constraints)


def describe(constraints: Sequence[Constraint]) -> list[dict]:
    """JSON-ready description of the constraints that ran (``[]`` = none)."""
    return [c.to_dict() for c in constraints]


class _Base:
    name = "constraint"

    def check(self, original, current) -> bool:
        return True

    def to_dict(self) -> dict:
        return {"name": self.name}


class MaxModificationRate(_Base):
    """At most ``max(1, floor(rate * n_words))`` attacked words may differ from the original."""

    name = "max_modification_rate"

    def __init__(self, rate: float = 0.25):
        if not 0 < rate <= 1:
            raise ValueError(f"MaxModificationRate.rate must be in (0, 1], got {rate}")
        self.rate = rate

    def budget(self, n_words: int) -> int:
        return max(1, int(self.rate * n_words))

    def allowed(self, original, current, position, candidates) -> list[bool]:
        changed = changed_positions(original, current)
        others = len([i for i in changed if i != position])
        ok = others + 1 <= self.budget(len(original))
        return [ok or c == original[position] for c in candidates]

    def check(self, original, current) -> bool:
        return len(changed_positions(original, current)) <= self.budget(len(original))

    def to_dict(self) -> dict:
        return {"name": self.name, "rate": self.rate}


class StopwordConstraint(_Base):
    """Stop words (case-insensitive) are never replaced; the default list is :data:`STOPWORDS`."""

    name = "stopwords"

    def __init__(self, stopwords: Sequence[str] | None = None):
        self.stopwords = frozenset(w.lower() for w in stopwords) if stopwords is not None else STOPWORDS

    def allowed(self, original, current, position, candidates) -> list[bool]:
        frozen = original[position].lower() in self.stopwords
        return [not frozen or c == original[position] for c in candidates]

    def to_dict(self) -> dict:
        return {"name": self.name, "n_stopwords": len(self.stopwords)}


class CausalLMScorer:
    """``log p(text)`` under a causal language model, batched: the sum of token log-probabilities.

    A beginning-of-text token (BOS, else EOS, else CLS) is prepended when the tokenizer has one, so the first word
    is scored too. ``model`` / ``tokenizer`` may be given directly (tests use a tiny random ``GPT2Config`` model),
    or loaded with :meth:`from_pretrained` from any ``AutoModelForCausalLM`` name or folder.
    """

    def __init__(self, model, tokenizer, batch_size: int = 64, device=None):
        import torch

        self.model = model.eval()
        self.tokenizer = tokenizer
        self.batch_size = batch_size
        self.device = device or next(model.parameters()).device
        self.source = getattr(getattr(model, "config", None), "_name_or_path", "") or type(model).__name__
        self._torch = torch
        start = [tokenizer.bos_token_id, tokenizer.eos_token_id, getattr(tokenizer, "cls_token_id", None)]
        self.start_id = next((t for t in start if t is not None), None)
        pad = tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (self.start_id if self.start_id is not None else 0)

    @classmethod
    def from_pretrained(cls, name_or_path: str, device=None, batch_size: int = 64) -> "CausalLMScorer":
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = AutoModelForCausalLM.from_pretrained(name_or_path)
        if device is not None:
            model = model.to(device)
        scorer = cls(model, AutoTokenizer.from_pretrained(name_or_path), batch_size=batch_size, device=device)
        scorer.source = str(name_or_path)
        return scorer

    def __call__(self, texts: Sequence[str]) -> list[float]:
        torch = self._torch
        out: list[float] = [0.0] * len(texts)
        encoded = []
        for text in texts:
            ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
            encoded.append(([self.start_id] if self.start_id is not None else []) + list(ids))
        order = sorted(range(len(texts)), key=lambda i: len(encoded[i]))
        for lo in range(0, len(order), self.batch_size):
            chunk = order[lo: lo + self.batch_size]
            width = max(len(encoded[i]) for i in chunk)
            ids = torch.full((len(chunk), width), self.pad_id, dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, i in enumerate(chunk):
                ids[row, : len(encoded[i])] = torch.tensor(encoded[i])
                mask[row, : len(encoded[i])] = 1
            ids, mask = ids.to(self.device), mask.to(self.device)
            with torch.no_grad():
                logits = self.model(input_ids=ids, attention_mask=mask).logits.float()
            logp = torch.log_softmax(logits[:, :-1], -1).gather(-1, ids[:, 1:].unsqueeze(-1)).squeeze(-1)
            scores = (logp * mask[:, 1:]).sum(-1).cpu().tolist()
            for row, i in enumerate(chunk):
                out[i] = scores[row]
        return out


class LanguageModelConstraint(_Base):
    """Alzantot et al.'s LM filter: keep a swap only if ``log p(swap) - log p(orig) >= -threshold``.

    Both log-probabilities are of the ``+-window`` words around the position (``window=6``, ``threshold=5`` as in
    Jia et al. 2019 / RIFT). ``context="original"`` (default) scores the swap inside the *original* sentence, as
    the precomputed scores of Jia et al. did (so results are cached per position); ``"current"`` scores it inside
    the current, partly attacked text, as Alzantot et al. did.

    ``scorer``: a callable ``list[str] -> list[float]`` of log-probabilities (e.g. :class:`CausalLMScorer`, or a
    stub in tests); ``model``: an ``AutoModelForCausalLM`` name or folder to build one from.
    """

    name = "language_model"

    def __init__(self, scorer: Callable[[Sequence[str]], Sequence[float]] | None = None, *, model: str | None = None,
                 window: int = 6, threshold: float = 5.0, context: str = "original", device=None):
        if scorer is None and model is None:
            raise ValueError("LanguageModelConstraint needs a scorer or a causal LM name/path (model=...)")
        if context not in ("original", "current"):
            raise ValueError(f"context must be 'original' or 'current', got {context!r}")
        self.scorer = scorer if scorer is not None else CausalLMScorer.from_pretrained(model, device=device)
        self.model_name = model or getattr(self.scorer, "source", type(self.scorer).__name__)
        self.window = window
        self.threshold = threshold
        self.context = context
        self._cache: dict[tuple, bool] = {}

    def window_text(self, words: Sequence[str], position: int, word: str) -> str:
        lo, hi = max(0, position - self.window), min(len(words), position + self.window + 1)
        return " ".join([*words[lo:position], word, *words[position + 1: hi]])

    def scores(self, words: Sequence[str], position: int, candidates: Sequence[str]) -> list[float]:
        """``log p(window with candidate) - log p(window with the original word)`` for each candidate."""
        texts = [self.window_text(words, position, words[position])]
        texts += [self.window_text(words, position, c) for c in candidates]
        logp = list(self.scorer(texts))
        return [s - logp[0] for s in logp[1:]]

    def allowed(self, original, current, position, candidates) -> list[bool]:
        words = tuple(original if self.context == "original" else current)
        # the window's own words (not the whole text) decide the score, so the cache key is the window
        lo, hi = max(0, position - self.window), min(len(words), position + self.window + 1)
        key_base = (words[lo:hi], position - lo, original[position])
        todo = [c for c in dict.fromkeys(candidates) if c != original[position] and (key_base, c) not in self._cache]
        if todo:
            base = list(words)
            base[position] = original[position]
            for cand, score in zip(todo, self.scores(base, position, todo)):
                self._cache[(key_base, cand)] = score >= -self.threshold
        return [c == original[position] or self._cache[(key_base, c)] for c in candidates]

    def to_dict(self) -> dict:
        return {"name": self.name, "model": str(self.model_name), "window": self.window,
                "threshold": self.threshold, "context": self.context}
