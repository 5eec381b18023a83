"""Showing adversarial examples: word-level diffs (original -> substitute) as HTML in a notebook, as text elsewhere.

A word-substitution attack changes words in place, so a diff is a position-by-position comparison of two word
lists of equal length (:func:`word_diff`). :class:`WordDiff` and :class:`DiffTable` render as highlighted HTML in
Jupyter and in the built book (``_repr_html_``; inline styles, no stylesheet needed) and as plain text when printed
(``[film -> picture]``), so a reader of a terminal or a log sees the same change. No dependencies.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Sequence

ORIGINAL_STYLE = "background:#fde2e1;color:#9b1c1c;text-decoration:line-through;padding:0 2px;border-radius:3px"
SUBSTITUTE_STYLE = "background:#dcfce7;color:#166534;font-weight:600;padding:0 2px;border-radius:3px"


def _words(text_or_words) -> list[str]:
    if isinstance(text_or_words, str):
        return text_or_words.split()
    if hasattr(text_or_words, "words"):  # a rift_lite.data.Example: its attacked field
        return list(text_or_words.words())
    return list(text_or_words)


@dataclass(frozen=True)
class WordDiff:
    """Two word lists of equal length (an original and its word-substituted version)."""

    original: tuple[str, ...]
    adversarial: tuple[str, ...]

    @property
    def changes(self) -> list[tuple[int, str, str]]:
        """``(position, original word, substitute)`` for every changed position."""
        return [(i, a, b) for i, (a, b) in enumerate(zip(self.original, self.adversarial)) if a != b]

    @property
    def n_changed(self) -> int:
        return len(self.changes)

    def to_text(self) -> str:
        """The text with every change written ``[original -> substitute]``."""
        return " ".join(a if a == b else f"[{a} -> {b}]" for a, b in zip(self.original, self.adversarial))

    def to_html(self) -> str:
        """The text with every change as a struck-out original followed by the highlighted substitute."""
        parts = []
        for a, b in zip(self.original, self.adversarial):
            if a == b:
                parts.append(html.escape(a))
            else:
                parts.append(f'<span style="{ORIGINAL_STYLE}">{html.escape(a)}</span>&#8239;&rarr;&#8239;'
                             f'<span style="{SUBSTITUTE_STYLE}">{html.escape(b)}</span>')
        return " ".join(parts)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return self.to_text()

    def _repr_html_(self) -> str:
        return f"<div>{self.to_html()}</div>"


def word_diff(original, adversarial) -> WordDiff:
    """Compare two texts word by word (strings are split on whitespace; Examples give their attacked field).

    Raises ``ValueError`` when the lengths differ: a word substitution never inserts or deletes a word.
    """
    a, b = _words(original), _words(adversarial)
    if len(a) != len(b):
        raise ValueError(f"a word-substitution diff needs texts of equal length; got {len(a)} and {len(b)} words")
    return WordDiff(tuple(a), tuple(b))


class DiffTable:
    """A small table whose cells may be :class:`WordDiff` objects: HTML in a notebook, aligned text when printed."""

    def __init__(self, rows: Sequence[Sequence], headers: Sequence[str]):
        self.headers = [str(h) for h in headers]
        self.rows = [list(r) for r in rows]
        for r in self.rows:
            if len(r) != len(self.headers):
                raise ValueError(f"every row needs {len(self.headers)} cells ({', '.join(self.headers)}); got {r!r:.80}")

    @staticmethod
    def _cell_html(value) -> str:
        return value.to_html() if isinstance(value, WordDiff) else html.escape(str(value))

    def _repr_html_(self) -> str:
        head = "".join(f'<th style="text-align:left">{html.escape(h)}</th>' for h in self.headers)
        body = "".join("<tr>" + "".join(f'<td style="text-align:left;vertical-align:top">{self._cell_html(v)}</td>'
                                        for v in r) + "</tr>" for r in self.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"

    def to_text(self) -> str:
        cells = [self.headers] + [[str(v) for v in r] for r in self.rows]
        widths = [max(len(row[k]) for row in cells) for k in range(len(self.headers))]
        lines = ["  ".join(v.ljust(w) for v, w in zip(row, widths)).rstrip() for row in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.to_text()

    def __repr__(self) -> str:
        return self.to_text()
