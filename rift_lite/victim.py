"""The model under attack, seen as a black box: :class:`Victim` and, around a fine-tuned classifier,
:class:`ClassifierVictim`.

The attacks talk to the model only through :meth:`Victim.predict_proba` (``list of Example -> [n, C]``), which
batches (texts sorted by length so padding is small) and caches (a text is never scored twice), and counts *requests*
(texts asked for) against *queries* (unique model evaluations).
"""
from __future__ import annotations

import contextlib
import time
from typing import Callable, Sequence

import torch


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
                    else contextlib.nullcontext())
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
