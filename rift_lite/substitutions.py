"""The attack space B(x): counter-fitted word substitutions and their candidate tensors.

The paper (Sec. 3.1) follows Jia et al. (2019) and Dong et al. (2021): any word may be replaced by one of its
neighbours in the counter-fitted embedding space (Mrksic et al., 2016; at most 8 per word, 49,975 keys, 25,591 of
them with at least one neighbour). :class:`SubstitutionSet` reads that table -- the local data folder first
(``substitution_sets/counterfitted_neighbors.json``), the public file second.

:func:`build_candidates` turns a batch into the tensors the ASCC adversary (Eq. 8) needs: for every token position
``t`` a list of ``K`` candidate token ids (slot 0 is the original token; K = 10 as in the official code, i.e. the
word plus up to 8 neighbours plus padding) and a mask of the real slots. Rules (documented, not errors):

* a word with no neighbours keeps only slot 0 -- it cannot be changed;
* special tokens, padding and (for NLI) every premise token keep only slot 0: only the attacked field is perturbed;
* a neighbour whose one-token id (see :class:`rift_lite.models.WordTokenizer`) equals the original's, another
  neighbour's, or the unknown token is dropped, because it would not change the model's input;
* lookup is case-insensitive (the table is lowercase); a capitalised word gets capitalised substitutes.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch

from .data import NO_DATA_FOLDER, DataError, resolve_data_dir
from .models import EncodedBatch, WordTokenizer

NEIGHBOURS_FILE = Path("substitution_sets") / "counterfitted_neighbors.json"
PUBLIC_SOURCE = (
    "https://raw.githubusercontent.com/robinjia/certified-word-sub/"
    "42006fe9ea68663443be794a96d9daccfc664dc4/data/counterfitted_neighbors.json"
)
"""The same file in Jia et al.'s repository (MIT); byte-identical to the one RIFT's official code ships."""

DEFAULT_SLOTS = 10


class SubstitutionSet:
    """Word -> allowed substitutes (the counter-fitted neighbour table)."""

    def __init__(self, table: dict[str, list[str]], source: str = "<memory>"):
        self.table = table
        self.source = source

    @classmethod
    def load(cls, data_dir=None, path=None) -> "SubstitutionSet":
        """Read the table from ``path``, else ``<data dir>/substitution_sets/...``, else download the public file."""
        if path is None:
            root = resolve_data_dir(data_dir)
            if root is not None:
                path = Path(root) / NEIGHBOURS_FILE
            else:
                path = _download_public_copy()
        return cls.from_file(path)

    @classmethod
    def from_file(cls, path) -> "SubstitutionSet":
        path = Path(path)
        if not path.is_file():
            raise DataError(f"{path}: substitution set file not found")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}, line {exc.lineno}: malformed JSON ({exc.msg})") from exc
        if not isinstance(raw, dict):
            raise DataError(f"{path}: expected a JSON object word -> list of neighbours, got {type(raw).__name__}")
        table: dict[str, list[str]] = {}
        for word, neighbours in raw.items():
            if not isinstance(neighbours, list) or not all(isinstance(n, str) for n in neighbours):
                raise DataError(f"{path}: field {word!r} must be a list of strings, got {neighbours!r:.60}")
            table[word.lower()] = [n for n in neighbours if n and n != word]
        return cls(table, str(path))

    def __len__(self) -> int:
        return len(self.table)

    def __contains__(self, word: str) -> bool:
        return word.lower() in self.table

    def neighbours(self, word: str) -> list[str]:
        """Allowed substitutes of ``word`` (never the word itself); ``[]`` when it has none."""
        found = self.table.get(word.lower(), [])
        if word[:1].isupper() and not word.isupper():
            return [n[:1].upper() + n[1:] for n in found]
        return list(found)

    def word_candidates(self, example) -> list[list[str]]:
        """For each word of ``example``'s attacked field, its allowed substitutes."""
        return [self.neighbours(w) for w in example.words()]


def _download_public_copy() -> Path:
    """Fetch the public neighbour file once into ``~/.cache/rift_lite`` (where the internet exists)."""
    import urllib.request

    cache = Path(os.environ.get("RIFT_LITE_CACHE", Path.home() / ".cache" / "rift_lite")) / NEIGHBOURS_FILE.name
    if not cache.is_file():
        cache.parent.mkdir(parents=True, exist_ok=True)
        try:
            with urllib.request.urlopen(PUBLIC_SOURCE, timeout=30) as response:
                data = response.read()
        except OSError as exc:
            raise DataError(
                f"{NO_DATA_FOLDER} and the public substitution set could not be downloaded from {PUBLIC_SOURCE} "
                f"({exc}). Either point at a data folder, or connect to the internet"
            ) from exc
        tmp = cache.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(cache)
    return cache


@dataclass
class CandidateBatch:
    """An encoded batch plus its ASCC candidates: ``candidates[b, t, k]`` token ids, ``candidate_mask`` real slots."""

    batch: EncodedBatch
    candidates: torch.Tensor
    candidate_mask: torch.Tensor
    slot_words: list[dict[int, list[str]]] | None = None
    """Per example: token position -> the words in its real slots (slot 0 = the original word); for decoding."""

    def to(self, device) -> "CandidateBatch":
        return CandidateBatch(self.batch.to(device), self.candidates.to(device), self.candidate_mask.to(device),
                              self.slot_words)

    def decode(self, examples: Sequence, chosen_slots: torch.Tensor) -> list:
        """Examples with each attacked word replaced by the word in its chosen slot (``chosen_slots`` [B, T])."""
        out = []
        for b, ex in enumerate(examples):
            words = ex.words()
            for i, position in enumerate(self.batch.word_positions[b]):
                slot = int(chosen_slots[b, position])
                options = (self.slot_words or [{}] * len(examples))[b].get(position)
                if options and slot < len(options):
                    words[i] = options[slot]
            out.append(ex.with_words(words))
        return out

    def __len__(self) -> int:
        return len(self.batch)

    @property
    def n_substitutable(self) -> torch.Tensor:
        """Number of positions per example that have at least one substitute."""
        return (self.candidate_mask[:, :, 1:].any(-1)).sum(-1)


def build_candidates(examples: Sequence, tokenizer: WordTokenizer, substitutions: SubstitutionSet,
                     num_slots: int = DEFAULT_SLOTS, max_tokens: int | None = None) -> CandidateBatch:
    """Encode ``examples`` and align each attacked word's substitutes with its token position.

    Returns ``candidates`` [B, T, K] (slot 0 = the original token, unused slots repeat it) and ``candidate_mask``
    [B, T, K] (True for real candidates; slot 0 is True on every real token, False on padding).
    """
    if num_slots < 1:
        raise ValueError(f"num_slots must be >= 1, got {num_slots}")
    batch = tokenizer.encode(examples, max_tokens)
    B, T = batch.input_ids.shape
    candidates = batch.input_ids.unsqueeze(-1).repeat(1, 1, num_slots)
    mask = torch.zeros(B, T, num_slots, dtype=torch.bool)
    mask[:, :, 0] = batch.attention_mask.bool()
    slot_words: list[dict[int, list[str]]] = []
    for b, ex in enumerate(examples):
        words = ex.words()
        slot_words.append({})
        for i, position in enumerate(batch.word_positions[b]):
            subs = substitutions.neighbours(words[i])
            if not subs:
                continue
            original = int(batch.input_ids[b, position])
            seen = {original, tokenizer.unk_id}
            slot = 1
            kept = slot_words[b][position] = [words[i]]
            for word, token_id in zip(subs, tokenizer.word_ids(subs)):
                if slot >= num_slots:
                    break
                if token_id in seen:
                    continue
                seen.add(token_id)
                candidates[b, position, slot] = token_id
                mask[b, position, slot] = True
                kept.append(word)
                slot += 1
    return CandidateBatch(batch, candidates, mask, slot_words)
