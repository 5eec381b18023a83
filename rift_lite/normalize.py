"""The one text normaliser of the library: :func:`normalize_text` (every loader calls it exactly once per text).

The attack space is word-level: the counter-fitted neighbour table maps lowercase words ("good", "movie")
to substitutes, and the model sees one token per whitespace-separated word. So every text is turned into
space-separated tokens, following the Penn-Treebank style of NLTK's ``word_tokenize`` that RIFT's official
code applies to raw IMDB/SNLI text (``replace('<br />', ' ')`` then ``word_tokenize``), re-implemented here
with a few regular expressions (no NLTK, no model download):

* HTML line breaks ``<br />`` and a few inline tags (``<i>``, ``<b>``, ``<em>``, ``<p>``, ``<hr>``) become spaces;
* typographic and Windows-1252 quotes/dashes/ellipses in IMDB (``’ “ ” … \\x85 \\x91-\\x97 –  —``) become ASCII
  ``' " ... --``; double quotes stay ``"`` (not PTB's ``\\`\\``/``''``, so already-tokenised text is unchanged);
* punctuation (``. , : ; ? ! " ( ) [ ] { } < > * & # @ $ %``, ``...``, ``--``) is split from words
  (``good.`` -> ``good .``, ``(great)`` -> ``( great )``, ``*spoiler*`` -> ``* spoiler *``), except commas
  and colons between digits (``1,000``, ``10:30``), hyphens and slashes inside words (``co-writer``), and
  the period of abbreviations and initials (``Mr.``, ``U.S.``, ``B. F. Skinner``);
* clitics are split the PTB way: ``don't`` -> ``do n't``, ``can't`` -> ``ca n't``, ``it's`` -> ``it 's``,
  ``they're`` -> ``they 're``, ``actors'`` -> ``actors '``, ``'quoted'`` -> ``' quoted '`` (but ``'em``, ``'60s``);
* all whitespace runs (including Unicode ones) collapse to one space; leading/trailing space is removed.

The function is idempotent, so MR, SNLI and the TextFooler sets, which are already PTB-tokenised
(``do n't``, ``it 's``), come out as they went in, up to whitespace; MR's partly untokenised lines
(``doesn't``, ``century's``) get the same tokens as the rest. Case is kept: RoBERTa is cased, RIFT's
official code keeps case, uncased tokenizers (MiniLM, BERT) lowercase on their own, and the substitution
lookup is case-insensitive (:mod:`rift_lite.substitutions`). MR and the TextFooler imdb/mr sets are
lowercase at the source.
"""
from __future__ import annotations

import re

_CHAR_MAP = {
    "\u2019": "'", "\u2018": "'", "\x91": "'", "\x92": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\x93": '"', "\x94": '"',
    "\u2026": " ... ", "\x85": " ... ",
    "\u2013": " -- ", "\u2014": " -- ", "\x96": " -- ", "\x97": " -- ",
}
_SPECIAL_CHARS = re.compile("[" + "".join(_CHAR_MAP) + "]")
_HTML = re.compile(r"</?(?:br|p|hr|i|b|em)\s*/?>", re.IGNORECASE)
_RARE_WHITESPACE = ("\t", "\n", "\r", "\x0b", "\x0c")
# Each pass below starts with a literal, so that Python's regex engine can skip ahead quickly: normalising
# the 25,000 IMDB training reviews (33 MB) takes a few seconds instead of tens.
_DOTS = re.compile(r"\.\.+")
_DASHES = re.compile(r"--+")
_BACKTICKS = re.compile(r"`+")
_ALWAYS_SPLIT = '"?!;@#$%&()[]{}<>*'
_DIGIT_COMMA = re.compile(r" , (?<=\d , )(?=\d)")  # undo the split inside 1,000
_DIGIT_COLON = re.compile(r" : (?<=\d : )(?=\d)")  # ... and inside 10:30
_NT = re.compile(r"n't(?<=\wn't)(?!\w)")
_NT_UPPER = re.compile(r"N'T(?<=\wN'T)(?!\w)")
_PERIOD = re.compile(r"\.(?=[ ']|$)")
_APOSTROPHE = re.compile("'")
_CLITIC = re.compile(r"(?i)(?:s|m|d|ll|re|ve)(?!\w)")  # 's 'm 'd 'll 're 've
_NOT_A_QUOTE = re.compile(r"(?i)(?:s|m|d|ll|re|ve|t|n|em|\d+s?)(?!\w)")  # 's, 'em, rock 'n roll, '60s
_OPENERS = frozenset(' ([{"')
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr jr sr st vs etc prof inc ltd co corp bros mt no vol ft gen sgt col lt capt rev hon".split()
)


def _is_word_char(char: str) -> bool:
    return char.isalnum() or char == "_"


def _split_period(match: re.Match) -> str:
    """``end.`` -> ``end .``, but keep abbreviations (``Mr.``, ``U.S.``) and bare periods/ellipses whole."""
    text = match.string
    i = match.start()
    stem = text[text.rfind(" ", 0, i) + 1 : i]
    if not stem or stem[-1] == ".":
        return "."
    if "'" in stem:
        stem = stem.rsplit("'", 1)[1]  # "U.F.O.'s." ends a sentence: judge "s", not "U.F.O.'s"
    if "." in stem or stem.lower() in _ABBREVIATIONS or (len(stem) == 1 and stem.isalpha()):
        return "."  # U.S., Mr., initials (B. F. Skinner)
    return " ."


def _split_apostrophe(match: re.Match) -> str:
    """PTB clitics and quotes: it|'s, actors|', '|quoted; a lone 's, n't or '' stays as it is."""
    text = match.string
    i = match.start()
    j = i + 1
    before = text[i - 1] if i else " "
    if before in _OPENERS:  # word-initial: an opening quote unless a clitic ('s) or 'em / 'n
        if j < len(text) and _is_word_char(text[j]) and not _NOT_A_QUOTE.match(text, j):
            return "' "
        return "'"
    if before != "'" and (j == len(text) or text[j] == " " or _CLITIC.match(text, j)):
        return " '"  # clitic or closing quote
    return "'"


def normalize_text(text: str) -> str:
    """The one place text is normalised: HTML breaks removed, PTB-style word tokens, single spaces.

    Idempotent (``normalize_text(normalize_text(t)) == normalize_text(t)``) and a no-op on text that is
    already PTB-tokenised, apart from whitespace. Case is kept. See the module docstring for the rules.

    >>> normalize_text("I didn't like it.<br /><br />The plot (sadly) wasn't \\"good\\"...")
    'I did n\\'t like it . The plot ( sadly ) was n\\'t " good " ...'
    """
    if "<" in text:
        text = _HTML.sub(" ", text)
    if not text.isascii():
        text = " ".join(_SPECIAL_CHARS.sub(lambda m: _CHAR_MAP[m.group()], text).split())
    elif any(space in text for space in _RARE_WHITESPACE):
        text = " ".join(text.split())  # from here on, the only whitespace is " "
    if ".." in text:
        text = _DOTS.sub(r" \g<0> ", text)
    if "--" in text:
        text = _DASHES.sub(r" \g<0> ", text)
    if "`" in text:
        text = _BACKTICKS.sub(r" \g<0> ", text)
    if "''" in text:
        text = text.replace("''", " '' ")
    for mark in _ALWAYS_SPLIT:
        if mark in text:
            text = text.replace(mark, f" {mark} ")
    if "," in text:
        text = _DIGIT_COMMA.sub(",", text.replace(",", " , "))
    if ":" in text:
        text = _DIGIT_COLON.sub(":", text.replace(":", " : "))
    if "." in text:
        text = _PERIOD.sub(_split_period, text)
    if "'" in text:
        if "n't" in text:
            text = _NT.sub(" n't", text)
        if "N'T" in text:
            text = _NT_UPPER.sub(" N'T", text)
        text = _APOSTROPHE.sub(_split_apostrophe, text)
    return " ".join(text.split())
