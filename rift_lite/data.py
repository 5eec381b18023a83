"""Datasets for robust fine-tuning: one loader per dataset, one text normaliser, one error type.

Use :func:`load` (``load(name, split, data_dir=None) -> list[Example]``) for the datasets below and
:func:`load_file` for your own CSV/TSV/JSONL file. Every text goes through :func:`normalize_text` exactly once.

Where the data comes from (first match wins)
--------------------------------------------
1. the ``data_dir`` argument, 2. the environment variable ``$RIFT_LITE_DATA``: a folder laid out like the
   project's data snapshot (``imdb/``, ``mr_rotten_tomatoes/``, ``glue_sst2/``, ``snli/``, ``glue_rte/``,
   ``glue_mrpc/``, ``glue_qnli/``, ``advglue/``, ``attack_test_sets/``; see its ``PROVENANCE.md``);
3. otherwise the public copies on the Hugging Face Hub through the optional ``datasets`` package
   (``pip install datasets``; needs internet). Without a folder and without ``datasets``, :class:`DataError`.

Datasets, splits and counts of the local folder (``TASKS[name].splits``)
----------------------------------------------------------------------
==================  =====================  =============================  ==========================================
name                splits                 counts                         source / rule
==================  =====================  =============================  ==========================================
``imdb``            train / dev / test     20,000 / 5,000 / 25,000        aclImdb v1.0; train/dev = the file lists of
                                                                          Jia et al. (certified-word-sub), matched to
                                                                          the JSONL ``file`` field; 12,500/12,500 test
``mr``              train / dev / test     8,694 / 966 / 1,000            rt-polarity v1.0 (5,331 pos + 5,331 neg);
                                                                          test = TextFooler's 1,000 MR sentences
``sst2``            train / dev / test     67,349 / 872 / 1,821           GLUE SST-2; test = labelled AutoPrompt copy
``snli``            dev / test             9,842 / 9,824                  SNLI 1.0 pairs with a gold label (e-SNLI)
``rte``             train / dev            2,490 / 277                    GLUE RTE
``mrpc``            train / dev / test     3,668 / 408 / 1,725            GLUE MRPC; test labels from
                                                                          ``msr_paraphrase_test.txt``
``qnli``            dev                    5,463                          GLUE QNLI
``advglue-<task>``  dev                    sst2 148, qnli 148, rte 81,    AdvGLUE dev.json (tasks sst2, qnli, rte,
                                           mnli 121, mnli-mm 162, qqp 78  mnli, mnli-mm, qqp)
``textfooler-<d>``  test                   1,000 each                     TextFooler's attack sets for imdb, mr, snli,
                                                                          mnli (= mismatched), mnli-matched
==================  =====================  =============================  ==========================================

Ids are stable: ``imdb/<aclImdb folder>/<pos|neg>/<file>`` (dev reviews come from aclImdb's train folder, so
their ids say ``train``), ``mr/<pos|neg>/<0-based line>``, ``<name>/<split>/<0-based row>`` for SST-2, SNLI,
RTE, MRPC and QNLI, ``advglue-<task>/dev/<idx>`` and ``textfooler-<d>/<0-based row>``.
``"validation"`` and ``"val"`` are accepted for ``"dev"``. Labels: negative=0 / positive=1; SNLI and MNLI
entailment=0, neutral=1, contradiction=2 (the Hugging Face convention; RIFT's official code orders them
entailment, contradiction, neutral); RTE / QNLI entailment=0, not_entailment=1; MRPC equivalent=1; QQP
duplicate=1. AdvGLUE label ids are undocumented upstream; we follow the HF GLUE ids its evaluator uses.

MR split rule. TextFooler's 1,000 MR sentences are the held-out test split. Their text lost punctuation
and non-ASCII letters on the way, so they are matched to rt-polarity lines on a key of lowercase ASCII letters
and digits; all 1,000 match, with the same labels, and the test split holds the matching rt-polarity lines
(their ids and original text; the TextFooler wording stays available as ``textfooler-mr``). Duplicates: lines
with the same key are kept once (first occurrence); the snapshot has 2 such pairs (e.g. ``a pretentious mess .``
and ``. . . a pretentious mess . . .``), so 10,662 lines give 10,660 sentences. Lines matching a test
sentence are removed from the pool, leaving 9,660; dev is 10% of those (966), chosen by sorting on
``sha1("mr-dev-0:" + id)`` -- fixed, independent of Python's ``random`` -- and the other 8,694 are train.
No test sentence (nor a near-duplicate of one) is in train or dev.

Nothing is dropped silently: a missing file, a line with the wrong number of fields, an unknown label or an
empty text raises :class:`DataError` naming the file, the 1-based line and the field. The only documented
omissions are upstream ones: SNLI pairs without a gold label ('-') are absent from the files (and filtered
from the Hub copy), and unlabelled test sets (GLUE RTE/QNLI/SST-2 test) are not offered.

Text normalisation (:func:`normalize_text`)
------------------------------------------
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

Loaded splits are cached in-process per (name, split, folder); :func:`load` returns a fresh list of frozen
:class:`Example` objects each time, so callers cannot corrupt the cache.
"""
from __future__ import annotations

import contextlib
import csv
import dataclasses
import functools
import gzip
import hashlib
import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

__all__ = [
    "DataError",
    "Example",
    "TaskInfo",
    "TASKS",
    "ENV_VAR",
    "resolve_data_dir",
    "load",
    "load_file",
    "normalize_text",
]

ENV_VAR = "RIFT_LITE_DATA"
"""Environment variable naming the local data folder."""

NO_DATA_FOLDER = f"no data folder given (--data-dir DIR on the command line, data_dir= in Python, or ${ENV_VAR})"
"""The start of every error raised when neither a data folder nor the public source works."""

MR_DEV_FRACTION = 0.1
MR_DEV_SEED = "mr-dev-0"


# --------------------------------------------------------------------------------------------- errors, types


class DataError(ValueError):
    """A data problem; the message names the file, the 1-based line and the field where known."""

    def __init__(self, message: str, path: Any = None, line: int | None = None, field: str | None = None):
        self.path = None if path is None else str(path)
        self.line = line
        self.field = field
        where = []
        if self.path is not None:
            where.append(self.path if line is None else f"{self.path}, line {line}")
        if field is not None:
            where.append(f"field {field!r}")
        super().__init__(f"{': '.join(where)}: {message}" if where else message)


@dataclass(frozen=True)
class Example:
    """One labelled example. ``text`` is the sentence (or premise / sentence1), ``text_b`` the hypothesis
    (or sentence2) of a pair task. Texts are normalised: space-separated word tokens."""

    id: str
    text: str
    label: int
    text_b: str | None = None

    @property
    def is_pair(self) -> bool:
        return self.text_b is not None

    @property
    def attack_field(self) -> str:
        """The field a word-substitution attack may change: the hypothesis of a pair, else the text."""
        return "text_b" if self.is_pair else "text"

    def words(self) -> list[str]:
        """The attacked field split into its words."""
        return getattr(self, self.attack_field).split()

    def with_words(self, words: Sequence[str]) -> "Example":
        """The same example with the attacked field replaced by ``words`` (joined by single spaces)."""
        return dataclasses.replace(self, **{self.attack_field: " ".join(words)})


@dataclass(frozen=True)
class TaskInfo:
    """What a model needs to know about a dataset: label space, input shape and the local splits."""

    name: str
    num_labels: int
    label_names: tuple[str, ...]
    is_pair: bool
    max_tokens: int
    splits: tuple[str, ...] = ()
    base_task: str | None = None  # the task whose label space this evaluation set shares (e.g. advglue-sst2 -> sst2)


_SENTIMENT = ("negative", "positive")
_NLI3 = ("entailment", "neutral", "contradiction")
_NLI2 = ("entailment", "not_entailment")


def _task(name, labels, pair, max_tokens, splits, base=None) -> TaskInfo:
    return TaskInfo(name, len(labels), labels, pair, max_tokens, splits, base or name)


TASKS: dict[str, TaskInfo] = {
    t.name: t
    for t in [
        _task("imdb", _SENTIMENT, False, 300, ("train", "dev", "test")),
        _task("mr", _SENTIMENT, False, 80, ("train", "dev", "test")),
        _task("sst2", _SENTIMENT, False, 80, ("train", "dev", "test")),
        _task("snli", _NLI3, True, 80, ("dev", "test")),
        _task("rte", _NLI2, True, 128, ("train", "dev")),
        _task("mrpc", ("not_equivalent", "equivalent"), True, 128, ("train", "dev", "test")),
        _task("qnli", _NLI2, True, 128, ("dev",)),
        _task("advglue-sst2", _SENTIMENT, False, 80, ("dev",), "sst2"),
        _task("advglue-qnli", _NLI2, True, 128, ("dev",), "qnli"),
        _task("advglue-rte", _NLI2, True, 128, ("dev",), "rte"),
        _task("advglue-mnli", _NLI3, True, 128, ("dev",), "mnli"),
        _task("advglue-mnli-mm", _NLI3, True, 128, ("dev",), "mnli"),
        _task("advglue-qqp", ("not_duplicate", "duplicate"), True, 128, ("dev",), "qqp"),
        _task("textfooler-imdb", _SENTIMENT, False, 300, ("test",), "imdb"),
        _task("textfooler-mr", _SENTIMENT, False, 80, ("test",), "mr"),
        _task("textfooler-snli", _NLI3, True, 80, ("test",), "snli"),
        _task("textfooler-mnli", _NLI3, True, 128, ("test",), "mnli"),
        _task("textfooler-mnli-matched", _NLI3, True, 128, ("test",), "mnli"),
    ]
}
"""Every name :func:`load` accepts, with its label space and the splits of the local data folder."""

_SPLIT_ALIASES = {"validation": "dev", "val": "dev", "valid": "dev"}


# ------------------------------------------------------------------------------------------- normalisation

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


# ------------------------------------------------------------------------------------------ data location


def resolve_data_dir(data_dir=None) -> Path | None:
    """The local data folder: ``data_dir`` if given, else ``$RIFT_LITE_DATA``, else ``None`` (use the Hub).

    A folder that is named but does not exist is an error, not a silent fall-back to the internet.
    """
    if data_dir is not None and str(data_dir) != "":
        origin, path = "data_dir", Path(data_dir).expanduser()
    elif os.environ.get(ENV_VAR):
        origin, path = f"${ENV_VAR}", Path(os.environ[ENV_VAR]).expanduser()
    else:
        return None
    if not path.is_dir():
        raise DataError(f"data folder not found (given by {origin}); point it at the folder holding the datasets",
                        path=path)
    return path.resolve()


def load(name: str, split: str, data_dir=None) -> list[Example]:
    """Examples of one split of a dataset: ``load("imdb", "train")``, ``load("advglue-sst2", "dev")``.

    ``name`` is a key of :data:`TASKS`; ``split`` one of ``TASKS[name].splits`` ("validation" means "dev").
    Reads the local folder (:func:`resolve_data_dir`), else the Hugging Face Hub. Results are cached in-process.
    """
    key = name.strip().lower().replace("_", "-")
    if key not in TASKS:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(TASKS)}")
    split = _SPLIT_ALIASES.get(split.strip().lower(), split.strip().lower())
    root = resolve_data_dir(data_dir)
    return list(_load_cached(key, split, None if root is None else str(root)))


@functools.lru_cache(maxsize=64)
def _load_cached(name: str, split: str, root: str | None) -> tuple[Example, ...]:
    if root is None:
        return tuple(_load_from_hub(name, split))
    if split not in TASKS[name].splits:
        raise DataError(f"{name} has no split {split!r} in the local data folder; available: "
                        f"{', '.join(TASKS[name].splits)}", path=root)
    return tuple(_LOCAL_LOADERS[name](Path(root), split))


# ------------------------------------------------------------------------------------------- file helpers


def _open_text(path: Path):
    if not path.is_file():
        raise DataError("file not found", path=path)
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its line break); a final empty line is not a line."""
    with _open_text(path) as handle:
        number = 0
        try:
            for number, line in enumerate(handle, start=1):
                yield number, line.rstrip("\r\n")
        except UnicodeDecodeError as error:
            raise DataError(f"not valid UTF-8 ({error.reason}) at or shortly after this line", path=path,
                            line=number + 1) from None


def _read_header(fields: Sequence[str], columns: Sequence[str], path: Path, number: int) -> list[str]:
    """The column names of a header line; every name in ``columns`` must be among them."""
    names = [f.strip() for f in fields]
    for column in columns:
        if column not in names:
            raise DataError(f"column missing from the header (header: {', '.join(names)})",
                            path=path, line=number, field=column)
    return names


def _check_width(fields: Sequence[str], names: Sequence[str], kind: str, path: Path, number: int) -> None:
    """A row must have one field per column: name the first missing column, or count the extra fields."""
    if len(fields) == len(names):
        return
    missing = names[len(fields)] if len(fields) < len(names) else None
    problem = "missing" if missing else f"{len(fields) - len(names)} extra field(s)"
    raise DataError(f"{problem}: expected {len(names)} {kind} fields ({', '.join(names)}), found {len(fields)}",
                    path=path, line=number, field=missing or names[-1])


def _tsv_rows(path: Path, columns: Sequence[str] | None, header: bool,
              skip_blank: bool = False) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of an unquoted tab-separated file as {column: value}.

    With ``header`` the first line names the columns (``columns`` must be among them); without it
    ``columns`` names the fields in order. A row with a different number of fields is an error (a blank line too,
    unless ``skip_blank``: users' files).
    """
    names: list[str] | None = None if header else list(columns or [])
    for number, line in _lines(path):
        if skip_blank and not line.strip():
            continue
        fields = line.split("\t")
        if names is None:
            names = _read_header(fields, columns or [], path, number)
            continue
        _check_width(fields, names, "tab-separated", path, number)
        yield number, dict(zip(names, fields))


def _text(raw: Any, path, line, field) -> str:
    if not isinstance(raw, str):
        raise DataError(f"expected a string, found {type(raw).__name__}", path=path, line=line, field=field)
    text = normalize_text(raw)
    if not text:
        raise DataError("empty text", path=path, line=line, field=field)
    return text


def _label(raw: Any, mapping: Mapping[Any, int], path, line, field) -> int:
    key = raw.strip() if isinstance(raw, str) else raw
    if key in mapping:
        return mapping[key]
    if str(key) in mapping:
        return mapping[str(key)]
    known = ", ".join(repr(k) for k in mapping)
    raise DataError(f"unknown label {raw!r}; expected one of {known}", path=path, line=line, field=field)


def _ids(names: Sequence[str]) -> dict[str, int]:
    """Label map accepting both the names and their indices as strings: {"negative": 0, "0": 0, ...}."""
    mapping = {label: index for index, label in enumerate(names)}
    mapping.update({str(index): index for index in range(len(names))})
    return mapping


# ---------------------------------------------------------------------------------------- local loaders


def _load_imdb(root: Path, split: str) -> list[Example]:
    """IMDB: the JSONL keeps aclImdb file names; train/dev/test follow the certified-word-sub file lists."""
    source = "imdb_test.jsonl.gz" if split == "test" else "imdb_train.jsonl.gz"
    folder = "test" if split == "test" else "train"
    records = _imdb_records(str(root / "imdb" / source))
    list_path = root / "imdb" / "splits_certified_word_sub" / f"imdb_{split}_files.txt"
    examples = []
    for number, name in _lines(list_path):
        name = name.strip()
        if not name:
            raise DataError("empty file name", path=list_path, line=number, field="file")
        if name not in records:
            raise DataError(f"{name!r} is not in {source}", path=list_path, line=number, field="file")
        line, label, raw = records[name]
        where = (root / "imdb" / source, line)
        if label != (1 if name.startswith("pos/") else 0):
            raise DataError(f"label {label} disagrees with the file name {name!r}", *where, field="label")
        examples.append(Example(f"imdb/{folder}/{name}", _text(raw, *where, field="text"), label))
    return examples


@functools.lru_cache(maxsize=2)
def _imdb_records(path: str) -> dict[str, tuple[int, int, str]]:
    """{aclImdb file name: (line, label, raw text)} of one IMDB JSONL file (parsed once per process)."""
    records = {}
    for number, line in _lines(Path(path)):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"invalid JSON ({error.msg})", path=path, line=number) from None
        for field in ("file", "label", "text"):
            if field not in row:
                raise DataError("missing", path=path, line=number, field=field)
        label = _label(row["label"], _ids(_SENTIMENT), path, number, "label")
        records[row["file"]] = (number, label, row["text"])
    return records


def _mr_key(text: str) -> str:
    """Match key for MR sentences: lowercase ASCII letters/digits only.

    TextFooler's copy of MR dropped most punctuation (final periods, ``. . .``), turned hyphens and slashes
    into spaces and non-ASCII letters into spaces (``clich s``); this key sees through all of that.
    """
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _load_mr(root: Path, split: str) -> list[Example]:
    """MR: test = TextFooler's 1,000 sentences; the rest, de-duplicated, split 90/10 into train/dev."""
    pool: dict[str, Example] = {}  # match key -> first rt-polarity line with that key
    for polarity, label in (("pos", 1), ("neg", 0)):
        path = root / "mr_rotten_tomatoes" / f"rt-polarity.{polarity}"
        for number, line in _lines(path):
            example = Example(f"mr/{polarity}/{number - 1}", _text(line, path, number, "text"), label)
            pool.setdefault(_mr_key(example.text), example)
    test_path = root / _TEXTFOOLER_FILES["mr"][0]
    test = []
    for line, example in enumerate(_load_textfooler(root, "mr"), start=1):
        match = pool.pop(_mr_key(example.text), None)
        if match is not None and match.label != example.label:
            raise DataError(f"label {example.label} disagrees with {match.id} (label {match.label})",
                            path=test_path, line=line, field="label")
        test.append(match or example)  # an unmatched test sentence is kept as TextFooler wrote it
    if split == "test":
        return test
    remaining = list(pool.values())
    order = sorted(remaining, key=lambda e: hashlib.sha1(f"{MR_DEV_SEED}:{e.id}".encode()).hexdigest())
    dev_ids = {example.id for example in order[: round(MR_DEV_FRACTION * len(remaining))]}
    return [example for example in remaining if (example.id in dev_ids) == (split == "dev")]


def _glue_loader(folder: str, files: Mapping[str, str], text_col: str, text_b_col: str | None, label_col: str,
                 labels: Sequence[str], tag: str) -> Callable[[Path, str], list[Example]]:
    """A loader for a GLUE-style TSV with a header naming ``text_col``, ``text_b_col`` and ``label_col``."""

    def load_split(root: Path, split: str) -> list[Example]:
        path = root / folder / files[split]
        columns = [c for c in (text_col, text_b_col, label_col) if c]
        mapping = _ids(labels)
        examples = []
        for index, (number, row) in enumerate(_tsv_rows(path, columns, header=True)):
            text = _text(row[text_col], path, number, text_col)
            text_b = _text(row[text_b_col], path, number, text_b_col) if text_b_col else None
            label = _label(row[label_col], mapping, path, number, label_col)
            examples.append(Example(f"{tag}/{split}/{index}", text, label, text_b))
        return examples

    return load_split


_ADVGLUE_FIELDS = {
    "sst2": ("sentence", None),
    "qnli": ("question", "sentence"),
    "rte": ("sentence1", "sentence2"),
    "mnli": ("premise", "hypothesis"),
    "mnli-mm": ("premise", "hypothesis"),
    "qqp": ("question1", "question2"),
}


def _load_advglue(root: Path, task: str) -> list[Example]:
    """AdvGLUE dev.json: {task: [{idx, label, <text fields>}]}; errors name the record as task[i].field."""
    path = root / "advglue" / "dev.json"
    with _open_text(path) as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as error:
            raise DataError(f"invalid JSON ({error.msg})", path=path, line=error.lineno) from None
    if task not in data:
        raise DataError(f"task {task!r} missing (tasks: {', '.join(data)})", path=path, field=task)
    text_col, text_b_col = _ADVGLUE_FIELDS[task]
    info = TASKS[f"advglue-{task}"]
    examples = []
    for index, row in enumerate(data[task]):
        where = f"{task}[{index}]"
        for field in [c for c in (text_col, text_b_col, "label", "idx") if c]:
            if field not in row:
                raise DataError("missing", path=path, field=f"{where}.{field}")
        text = _text(row[text_col], path, None, f"{where}.{text_col}")
        text_b = _text(row[text_b_col], path, None, f"{where}.{text_b_col}") if text_b_col else None
        label = _label(row["label"], _ids(info.label_names), path, None, f"{where}.label")
        examples.append(Example(f"advglue-{task}/dev/{row['idx']}", text, label, text_b))
    return examples


_TEXTFOOLER_FILES = {  # name -> (file, pair?)
    "imdb": ("attack_test_sets/textfooler_imdb.txt", False),
    "mr": ("attack_test_sets/textfooler_mr.txt", False),
    "snli": ("attack_test_sets/textfooler_snli.txt", True),
    "mnli": ("attack_test_sets/textfooler_mnli.txt", True),
    "mnli-matched": ("attack_test_sets/textfooler_mnli_matched.txt", True),
}


def _load_textfooler(root: Path, which: str) -> list[Example]:
    """TextFooler's 1,000-example sets: ``label text`` (imdb, mr) or ``label<TAB>premise<TAB>hypothesis``."""
    relative, pair = _TEXTFOOLER_FILES[which]
    path = root / relative
    labels = _SENTIMENT if not pair else _NLI3
    if pair:
        rows = ((n, r["label"], r["premise"], r["hypothesis"])
                for n, r in _tsv_rows(path, ("label", "premise", "hypothesis"), header=False))
    else:
        rows = ((n, *_split_first_space(line, path, n), None) for n, line in _lines(path))
    examples = []
    for index, (number, raw_label, raw_text, raw_b) in enumerate(rows):
        label = _label(raw_label, _ids(labels), path, number, "label")
        text = _text(raw_text, path, number, "premise" if pair else "text")
        text_b = _text(raw_b, path, number, "hypothesis") if pair else None
        examples.append(Example(f"textfooler-{which}/{index}", text, label, text_b))
    return examples


def _split_first_space(line: str, path, number) -> tuple[str, str]:
    label, sep, text = line.partition(" ")
    if not sep:
        raise DataError("missing: expected 'label text' separated by a space", path=path, line=number, field="text")
    return label, text


_LOCAL_LOADERS: dict[str, Callable[[Path, str], list[Example]]] = {
    "imdb": _load_imdb,
    "mr": _load_mr,
    "sst2": _glue_loader("glue_sst2", {"train": "train.tsv", "dev": "dev.tsv", "test": "test_labeled_autoprompt.tsv"},
                         "sentence", None, "label", _SENTIMENT, "sst2"),
    "snli": _glue_loader("snli", {"dev": "snli_dev_esnli.tsv", "test": "snli_test_esnli.tsv"},
                         "premise", "hypothesis", "label", _NLI3, "snli"),
    "rte": _glue_loader("glue_rte", {"train": "train.tsv", "dev": "dev.tsv"},
                        "sentence1", "sentence2", "label", _NLI2, "rte"),
    "mrpc": _glue_loader("glue_mrpc", {"train": "train.tsv", "dev": "dev.tsv", "test": "msr_paraphrase_test.txt"},
                         "#1 String", "#2 String", "Quality", ("not_equivalent", "equivalent"), "mrpc"),
    "qnli": _glue_loader("glue_qnli", {"dev": "dev.tsv"}, "question", "sentence", "label", _NLI2, "qnli"),
    **{f"advglue-{task}": (lambda root, split, task=task: _load_advglue(root, task)) for task in _ADVGLUE_FIELDS},
    **{f"textfooler-{which}": (lambda root, split, which=which: _load_textfooler(root, which))
       for which in _TEXTFOOLER_FILES},
}


# ----------------------------------------------------------------------------------- Hugging Face Hub

# name -> (hub path, config, {our split: hub split}, text column, text_b column)
_HUB: dict[str, tuple[str, str | None, dict[str, str], str, str | None]] = {
    "imdb": ("stanfordnlp/imdb", None, {"train": "train", "dev": "train", "test": "test"}, "text", None),
    "mr": ("cornell-movie-review-data/rotten_tomatoes", None,
           {"train": "train", "dev": "validation", "test": "test"}, "text", None),
    "sst2": ("nyu-mll/glue", "sst2", {"train": "train", "dev": "validation"}, "sentence", None),
    "snli": ("stanfordnlp/snli", None, {"train": "train", "dev": "validation", "test": "test"},
             "premise", "hypothesis"),
    "rte": ("nyu-mll/glue", "rte", {"train": "train", "dev": "validation"}, "sentence1", "sentence2"),
    "mrpc": ("nyu-mll/glue", "mrpc", {"train": "train", "dev": "validation", "test": "test"},
             "sentence1", "sentence2"),
    "qnli": ("nyu-mll/glue", "qnli", {"train": "train", "dev": "validation"}, "question", "sentence"),
    **{f"advglue-{task}": ("AI-Secure/adv_glue", "adv_" + task.replace("-mm", "_mismatched"),
                           {"dev": "validation"}, *_ADVGLUE_FIELDS[task]) for task in _ADVGLUE_FIELDS},
}
_HUB_IMDB_DEV = 5000  # Hub IMDB has no file names: dev = a fixed 5,000 of its train split (not Jia et al.'s list)


def _load_from_hub(name: str, split: str) -> list[Example]:
    """The public copy on the Hugging Face Hub (needs ``datasets`` and internet; not exercised offline).

    Differences from the local folder, by necessity: IMDB dev is a fixed hash-chosen 5,000 of the Hub train
    split (the Hub copy has no aclImdb file names); MR uses the Hub's own 8,530/1,066/1,066 split; SNLI also
    offers "train"; pairs with label -1 (no gold label) are left out, as in the local SNLI files.
    """
    if name not in _HUB:
        raise DataError(f"{name} exists only in the project's data folder (it is not on the Hugging Face Hub); "
                        f"pass --data-dir / data_dir= or set ${ENV_VAR}")
    path, config, splits, text_col, text_b_col = _HUB[name]
    if split not in splits:
        raise DataError(f"{name} has no split {split!r} on the Hub; available: {', '.join(splits)}")
    try:
        import datasets
    except ImportError:
        raise DataError(f"{NO_DATA_FOLDER} and the Hugging Face `datasets` package is not installed "
                        f"(pip install datasets) to fetch {name} from the Hub") from None
    source = f"hf://{path}" + (f"/{config}" if config else "") + f"[{splits[split]}]"
    try:
        with _hub_warnings_silenced():  # their retry warnings would come before our one-line error
            table = datasets.load_dataset(path, config, split=splits[split])
    except Exception as error:  # offline, network, missing dataset, ...: say which source failed and the ways out
        reason = " ".join(str(error).split())[:200] or type(error).__name__
        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
        raise DataError(f"{NO_DATA_FOLDER} and {source} could not be loaded from the Hugging Face Hub ({reason}). "
                        "Either point at a data folder, or connect to the internet"
                        + (" and unset HF_HUB_OFFLINE" if offline else "")) from error
    examples = []
    for index, row in enumerate(table):
        if row["label"] is None or int(row["label"]) < 0:
            continue  # documented: unlabelled rows (SNLI '-', GLUE test) are not examples
        text = _text(row[text_col], source, index + 1, text_col)
        text_b = _text(row[text_b_col], source, index + 1, text_b_col) if text_b_col else None
        examples.append(Example(f"{name}/hf-{splits[split]}/{index}", text, int(row["label"]), text_b))
    if name == "imdb" and split != "test":
        dev = sorted(examples, key=lambda e: hashlib.sha1(f"imdb-dev-0:{e.id}".encode()).hexdigest())
        dev_ids = {e.id for e in dev[:_HUB_IMDB_DEV]}
        examples = [e for e in examples if (e.id in dev_ids) == (split == "dev")]
    if not examples:
        raise DataError(f"no labelled examples in {name} {split} on the Hub", path=source)
    return examples


@contextlib.contextmanager
def _hub_warnings_silenced():
    """Only errors from the Hub's loggers while loading (a failed load ends in one DataError line instead)."""
    loggers = [logging.getLogger(name) for name in ("huggingface_hub", "datasets", "fsspec")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


# -------------------------------------------------------------------------------------- user files


FILE_FORMATS = ".csv (header), .tsv (header), .jsonl, or .txt (TextFooler 'label text' lines); optionally .gz"
"""The file types :func:`load_file` reads (and the command line's ``--file``)."""


def load_file(path, text_column: str = "text", label_column: str = "label", text_b_column: str | None = None,
              label_map: Mapping[Any, int] | None = None, name: str | None = None,
              label_names: Sequence[str] | None = None) -> list[Example]:
    """Examples from your own file; any of the formats below may be gzipped (``.gz``):

    * ``.csv``: quoted CSV with a header line; ``.tsv``: unquoted, tab-separated, with a header line;
      ``.jsonl``: one JSON object per line. ``text_column``, ``label_column`` (and ``text_b_column`` for a pair
      task) name the fields.
    * ``.txt``: the TextFooler attack-set format the project reads for MR and IMDB, one example per line: the label,
      a space, the text (``1 a gorgeous , witty film``); or tab-separated ``label<TAB>text<TAB>text_b`` for pairs.
      No header; the column options do not apply.

    Labels: ``label_map`` maps raw labels (or their string form) to class ids; a label outside it is an error.
    ``label_names`` (the names of classes 0, 1, ..., e.g. a task's ``TASKS[name].label_names``) accepts each name
    or its index. Without either, numeric labels keep their value ("0" -> 0, "2" -> 2, "1.0" -> 1, whichever of them appear), and
    labels that are all non-numeric are numbered in sorted order ("neg" -> 0, "pos" -> 1); a negative, fractional
    or mixed (numbers and names) set of labels is an error. Blank lines are skipped; a file with no example, an
    empty text, a missing column or a malformed line raises :class:`DataError` naming the file, line and field.
    Ids are ``<name>/<row index>`` (name defaults to the file's stem). Not cached.
    """
    path = Path(path).expanduser()
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    kind = suffixes[-1] if suffixes else ""
    columns = [c for c in (text_column, text_b_column, label_column) if c]
    if kind == ".csv":
        rows = _csv_rows(path, columns)
    elif kind in (".tsv", ".tab"):
        rows = _tsv_rows(path, columns, header=True, skip_blank=True)
    elif kind in (".jsonl", ".ndjson", ".json"):
        rows = _jsonl_rows(path, columns)
    elif kind == ".txt":
        rows = _label_text_rows(path)
        text_column, label_column, text_b_column = "text", "label", "text_b"
    else:
        raise DataError(f"unknown file type {kind or '(no suffix)'!r}: use {FILE_FORMATS}", path=path)
    tag = name or path.name.split(".")[0]
    parsed = []
    for number, row in rows:
        text = _text(row[text_column], path, number, text_column)
        pair = text_b_column is not None and text_b_column in row  # .txt: only lines with a third field
        text_b = _text(row[text_b_column], path, number, text_b_column) if pair else None
        parsed.append((number, text, text_b, row[label_column]))
    if not parsed:
        raise DataError("no examples: the file is empty" + (" or has only its header line" if kind in
                        (".csv", ".tsv", ".tab") else ""), path=path)
    if label_map is None and label_names is not None:
        label_map = _ids(label_names)
    if label_map is None:
        label_map = _default_label_map(path, label_column, [(n, raw) for n, _, _, raw in parsed])
    return [Example(f"{tag}/{index}", text, _label(raw, label_map, path, number, label_column), text_b)
            for index, (number, text, text_b, raw) in enumerate(parsed)]


FILE_MAX_TOKENS = 128
"""Default token budget for your own file (the command line's ``--max-tokens`` overrides it)."""
FILE_DEV_FRACTION = 0.1


def file_dataset_name(path) -> str:
    """The name a run on your own file goes by: ``file-<stem>`` (``reviews.csv.gz`` -> ``file-reviews``)."""
    return "file-" + Path(path).name.split(".")[0]


def file_task(examples: Sequence[Example], name: str) -> TaskInfo:
    """The label space and shape of examples read by :func:`load_file`: classes ``0 .. max label`` (at least 2),
    a pair task when the examples have a second text, ``FILE_MAX_TOKENS`` tokens."""
    if not examples:
        raise DataError(f"{name}: no examples")
    num_labels = max(2, max(example.label for example in examples) + 1)
    return TaskInfo(name, num_labels, tuple(str(i) for i in range(num_labels)), examples[0].is_pair,
                    FILE_MAX_TOKENS, ("train", "dev", "test"), name)


def split_off_dev(examples: Sequence[Example], fraction: float = FILE_DEV_FRACTION, seed: str = "file-dev-0",
                  source=None) -> tuple[list[Example], list[Example]]:
    """``(train, dev)`` of one file: dev = the ``fraction`` of examples whose ``sha1(seed + ":" + id)`` is smallest.

    The same rule as MR's dev split: fixed by the seed string and the ids, independent of Python's ``random``.
    ``source`` (the file) is named in the error raised when the examples are too few for both parts.
    """
    n_dev = round(fraction * len(examples))
    if n_dev < 1 or n_dev >= len(examples):
        raise DataError(f"{len(examples)} examples cannot give a {fraction:.0%} dev split and a training set; "
                        "give a larger file or a separate dev file", path=source)
    order = sorted(examples, key=lambda e: hashlib.sha1(f"{seed}:{e.id}".encode()).hexdigest())
    dev_ids = {example.id for example in order[:n_dev]}
    return [e for e in examples if e.id not in dev_ids], [e for e in examples if e.id in dev_ids]


def add_file_arguments(parser, what: str) -> None:
    """The command line's ``--file`` and its column options (shared by ``train`` and ``attack``)."""
    group = parser.add_argument_group("your own data (instead of --dataset)")
    group.add_argument("--file", default=None, metavar="PATH", help=f"{what}: {FILE_FORMATS}")
    group.add_argument("--text-column", default="text", help="CSV/TSV/JSONL: the text field (default: text)")
    group.add_argument("--label-column", default="label", help="CSV/TSV/JSONL: the label field (default: label)")
    group.add_argument("--text-b-column", default=None,
                       help="CSV/TSV/JSONL: the second text of a pair task (the attacked one, e.g. the hypothesis)")


def _label_number(raw: Any) -> int | float | None:
    """The numeric value of a label (``1``, ``"1"``, ``"1.0"``, ``" 2 "``), or None for a name such as ``"pos"``."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, (int, float)):
        return raw
    if isinstance(raw, str) and re.fullmatch(r"\s*[+-]?\d+(\.\d*)?\s*", raw):
        return float(raw) if "." in raw else int(raw)
    return None


def _default_label_map(path, field, labels: list[tuple[int, Any]]) -> dict[Any, int]:
    """Numeric labels keep their value (>= 0, whole); all-name labels are numbered in sorted order; no mixing."""
    numbers = [(number, raw, _label_number(raw)) for number, raw in labels]
    named = [(number, raw) for number, raw, value in numbers if value is None]
    if not named:
        mapping = {}
        for number, raw, value in numbers:
            if value < 0 or not float(value).is_integer():
                raise DataError(f"label {raw!r} is not a class id (a whole number >= 0)", path=path, line=number,
                                field=field)
            mapping[raw.strip() if isinstance(raw, str) else raw] = int(value)
        return mapping
    if len(named) < len(numbers):
        number, raw = named[0]
        example = next((n, r) for n, r, v in numbers if v is not None)
        raise DataError(f"label {raw!r} is a name but {example[1]!r} (line {example[0]}) is a number: use one kind "
                        "of label, or give a label map", path=path, line=number, field=field)
    distinct = sorted({str(raw).strip() for _, raw in labels})
    return {label: index for index, label in enumerate(distinct)}


def _label_text_rows(path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """TextFooler lines: ``label text`` (first space), or ``label<TAB>text[<TAB>text_b]``; one layout per file."""
    width = None
    for number, line in _lines(path):
        if not line.strip():
            continue
        if width is None:
            width = len(line.split("\t")) if "\t" in line else 1
            if width > 3:
                raise DataError(f"{width} tab-separated fields: expected 'label text', 'label<TAB>text' or "
                                "'label<TAB>text<TAB>text_b'", path=path, line=number)
        if width == 1:
            label, text = _split_first_space(line, path, number)
            yield number, {"label": label, "text": text}
            continue
        fields = line.split("\t")
        names = ["label", "text", "text_b"][:width]
        _check_width(fields, names, "tab-separated", path, number)
        yield number, dict(zip(names, fields))


def _csv_rows(path: Path, columns: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    with _open_text(path) as handle:
        reader = csv.reader(handle)
        header = None
        start = 1
        try:
            for fields in reader:
                number, start = start, reader.line_num + 1
                if not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue
                if header is None:
                    header = _read_header(fields, columns, path, number)
                    continue
                _check_width(fields, header, "comma-separated", path, number)
                yield number, dict(zip(header, fields))
        except csv.Error as error:
            raise DataError(f"malformed CSV ({error})", path=path, line=start) from None


def _jsonl_rows(path: Path, columns: Sequence[str]) -> Iterator[tuple[int, dict[str, Any]]]:
    for number, line in _lines(path):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"malformed line: invalid JSON ({error.msg})", path=path, line=number) from None
        if not isinstance(row, dict):
            raise DataError("malformed line: expected a JSON object", path=path, line=number)
        for column in columns:
            if column not in row:
                raise DataError("missing", path=path, line=number, field=column)
        yield number, row
