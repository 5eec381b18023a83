"""The paper's one-token-per-word tokenisation: :class:`WordTokenizer`, the padded :class:`EncodedBatch` it
returns, and the word counts that order examples by length (:func:`length_order`).

**One token per word**, as in the official RIFT/ASCC code, so that word ``i`` of a
sentence sits at token position ``i + 1`` and a word substitution is a change of exactly one token id.
A word maps to the *first* sub-token the model's own tokenizer gives it (RoBERTa's official code keeps the first
BPE piece; for WordPiece we do the same rather than mapping every out-of-vocabulary word to ``[UNK]``).
PTB-tokenised text such as ``do n't`` therefore maps ``n't`` to the piece ``n`` -- an approximation we accept
because it is the same for the clean and the attacked text.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch


@dataclass
class EncodedBatch:
    """A padded batch in the one-token-per-word layout.

    ``word_positions[b][i]`` is the token position of word ``i`` of example ``b``'s *attacked* field (the whole
    text, or the hypothesis for NLI); words cut off by ``max_tokens`` have no entry. ``n_truncated`` counts the
    examples that lost words, so truncation is reported rather than silent.
    """

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    token_type_ids: torch.Tensor
    labels: torch.Tensor
    word_positions: list[list[int]] = field(default_factory=list)
    n_truncated: int = 0

    def to(self, device) -> "EncodedBatch":
        return EncodedBatch(
            self.input_ids.to(device),
            self.attention_mask.to(device),
            self.token_type_ids.to(device),
            self.labels.to(device),
            self.word_positions,
            self.n_truncated,
        )

    def __len__(self) -> int:
        return self.input_ids.shape[0]

    def model_inputs(self) -> dict[str, torch.Tensor]:
        """The keyword arguments :class:`Classifier` takes."""
        return {"input_ids": self.input_ids, "attention_mask": self.attention_mask, "token_type_ids": self.token_type_ids}


def length_order(examples: Sequence) -> list[int]:
    """Indices of ``examples`` from the fewest words to the most (both fields of a pair count); stable.

    A batch is padded to its longest example, so batches cut from this order carry little padding. Use it where the
    result of an example does not depend on its batch-mates: evaluation, and the ASCC attack (its loss is a sum over
    examples and Adam's update is element-wise, so each example's weights follow their own trajectory).
    ``benchmarks/bench_padding.py`` measures what it saves (README, "Measured so far").
    """
    return sorted(range(len(examples)), key=lambda i: word_count(examples[i]))


def word_count(example) -> int:
    """Whitespace words of an example, both fields of a pair: its token count less the special tokens."""
    return len(example.text.split()) + (len(example.text_b.split()) if getattr(example, "text_b", None) else 0)


class WordTokenizer:
    """The paper's tokenisation: whitespace words, each mapped to a single token id.

    ``[CLS] w_1 ... w_n [SEP]`` (single texts) or ``[CLS] a_1 .. a_m [SEP] b_1 .. b_n [SEP]`` (pairs; RoBERTa-style
    models get ``</s></s>`` between the two and no token types). Truncation cuts the first text of a pair first, so
    the attacked hypothesis survives.
    """

    def __init__(self, hf_tokenizer, max_tokens: int = 300):
        if max_tokens < 3:
            raise ValueError(f"max_tokens must be >= 3 (two special tokens and a word), got {max_tokens}")
        self.hf = hf_tokenizer
        self.max_tokens = max_tokens
        self.cls_id = hf_tokenizer.cls_token_id if hf_tokenizer.cls_token_id is not None else hf_tokenizer.bos_token_id
        self.sep_id = hf_tokenizer.sep_token_id if hf_tokenizer.sep_token_id is not None else hf_tokenizer.eos_token_id
        self.pad_id = hf_tokenizer.pad_token_id if hf_tokenizer.pad_token_id is not None else 0
        self.unk_id = hf_tokenizer.unk_token_id
        if self.cls_id is None or self.sep_id is None:
            raise ValueError(f"tokenizer {type(hf_tokenizer).__name__} has no CLS/BOS or SEP/EOS token")
        self.uses_token_types = "token_type_ids" in getattr(hf_tokenizer, "model_input_names", ["token_type_ids"])
        self.pair_separator = [self.sep_id] if self.uses_token_types else [self.sep_id, self.sep_id]
        self._ids: dict[str, int] = {}

    @property
    def unk_token(self) -> str:
        return self.hf.unk_token or "[UNK]"

    def _lookup(self, words: Sequence[str]) -> None:
        missing = sorted({w for w in words if w not in self._ids})
        if not missing:
            return
        # A leading space makes byte-level BPE (RoBERTa) give the in-sentence form "Ġword"; WordPiece ignores it.
        pieces = self.hf([" " + w for w in missing], add_special_tokens=False)["input_ids"]
        for word, ids in zip(missing, pieces):
            self._ids[word] = ids[0] if ids else self.unk_id

    def word_id(self, word: str) -> int:
        """The single token id standing for ``word`` (its first sub-token)."""
        self._lookup([word])
        return self._ids[word]

    def word_ids(self, words: Sequence[str]) -> list[int]:
        self._lookup(words)
        return [self._ids[w] for w in words]

    def encode(self, examples: Sequence, max_tokens: int | None = None) -> EncodedBatch:
        """Encode ``examples`` (objects with ``text``, ``text_b``, ``label``), padded to the longest one."""
        if len(examples) == 0:
            raise ValueError("cannot encode an empty list of examples")
        limit = max_tokens or self.max_tokens
        rows, types, positions, n_truncated = [], [], [], 0
        for ex in examples:
            a_words = ex.text.split()
            b_words = ex.text_b.split() if getattr(ex, "text_b", None) is not None else None
            if not a_words or (b_words is not None and not b_words):
                raise ValueError(f"example {getattr(ex, 'id', '?')}: empty text cannot be encoded")
            if b_words is None:
                keep = limit - 2
                n_truncated += len(a_words) > keep
                a_words = a_words[:keep]
                ids = [self.cls_id, *self.word_ids(a_words), self.sep_id]
                tt = [0] * len(ids)
                pos = list(range(1, 1 + len(a_words)))
            else:
                budget = limit - 2 - len(self.pair_separator)
                over = len(a_words) + len(b_words) - budget
                if over > 0:
                    n_truncated += 1
                    cut_a = min(over, len(a_words) - 1)
                    a_words = a_words[: len(a_words) - cut_a]
                    b_words = b_words[: max(1, len(b_words) - (over - cut_a))]
                head = [self.cls_id, *self.word_ids(a_words), *self.pair_separator]
                ids = head + self.word_ids(b_words) + [self.sep_id]
                second = 1 if self.uses_token_types else 0
                tt = [0] * len(head) + [second] * (len(b_words) + 1)
                pos = list(range(len(head), len(head) + len(b_words)))
            rows.append(ids)
            types.append(tt)
            positions.append(pos)
        width = max(len(r) for r in rows)
        input_ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        attention = torch.zeros((len(rows), width), dtype=torch.long)
        token_types = torch.zeros((len(rows), width), dtype=torch.long)
        for b, (ids, tt) in enumerate(zip(rows, types)):
            input_ids[b, : len(ids)] = torch.tensor(ids)
            attention[b, : len(ids)] = 1
            token_types[b, : len(tt)] = torch.tensor(tt)
        labels = torch.tensor([int(ex.label) for ex in examples], dtype=torch.long)
        return EncodedBatch(input_ids, attention, token_types, labels, positions, n_truncated)

