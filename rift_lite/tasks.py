"""What every loader returns and every model needs to know: :class:`Example`, :class:`TaskInfo`, the registry
:data:`TASKS` of dataset names, and :class:`DataError` (a data problem that names the file, line and field).

Ids are stable: ``imdb/<aclImdb folder>/<pos|neg>/<file>`` (dev reviews come from aclImdb's train folder, so
their ids say ``train``), ``mr/<pos|neg>/<0-based line>``, ``<name>/<split>/<0-based row>`` for SST-2, SNLI,
RTE, MRPC and QNLI, ``advglue-<task>/dev/<idx>`` and ``textfooler-<d>/<0-based row>``.
``"validation"`` and ``"val"`` are accepted for ``"dev"``. Labels: negative=0 / positive=1; SNLI and MNLI
entailment=0, neutral=1, contradiction=2 (the Hugging Face convention; RIFT's official code orders them
entailment, contradiction, neutral); RTE / QNLI entailment=0, not_entailment=1; MRPC equivalent=1; QQP
duplicate=1. AdvGLUE label ids are undocumented upstream; we follow the HF GLUE ids its evaluator uses.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Sequence

ENV_VAR = "RIFT_LITE_DATA"
"""Environment variable naming the local data folder."""

NO_DATA_FOLDER = f"no data folder given (--data-dir DIR on the command line, data_dir= in Python, or ${ENV_VAR})"
"""The start of every error raised when neither a data folder nor the public source works."""


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


SENTIMENT = ("negative", "positive")
NLI3 = ("entailment", "neutral", "contradiction")
NLI2 = ("entailment", "not_entailment")


def _task(name, labels, pair, max_tokens, splits, base=None) -> TaskInfo:
    return TaskInfo(name, len(labels), labels, pair, max_tokens, splits, base or name)


TASKS: dict[str, TaskInfo] = {
    t.name: t
    for t in [
        _task("imdb", SENTIMENT, False, 300, ("train", "dev", "test")),
        _task("mr", SENTIMENT, False, 80, ("train", "dev", "test")),
        _task("sst2", SENTIMENT, False, 80, ("train", "dev", "test")),
        _task("snli", NLI3, True, 80, ("dev", "test")),
        _task("snli-offline", NLI3, True, 80, ("train", "dev", "test"), "snli"),
        _task("rte", NLI2, True, 128, ("train", "dev")),
        _task("mrpc", ("not_equivalent", "equivalent"), True, 128, ("train", "dev", "test")),
        _task("qnli", NLI2, True, 128, ("dev",)),
        _task("advglue-sst2", SENTIMENT, False, 80, ("dev",), "sst2"),
        _task("advglue-qnli", NLI2, True, 128, ("dev",), "qnli"),
        _task("advglue-rte", NLI2, True, 128, ("dev",), "rte"),
        _task("advglue-mnli", NLI3, True, 128, ("dev",), "mnli"),
        _task("advglue-mnli-mm", NLI3, True, 128, ("dev",), "mnli"),
        _task("advglue-qqp", ("not_duplicate", "duplicate"), True, 128, ("dev",), "qqp"),
        _task("textfooler-imdb", SENTIMENT, False, 300, ("test",), "imdb"),
        _task("textfooler-mr", SENTIMENT, False, 80, ("test",), "mr"),
        _task("textfooler-snli", NLI3, True, 80, ("test",), "snli"),
        _task("textfooler-mnli", NLI3, True, 128, ("test",), "mnli"),
        _task("textfooler-mnli-matched", NLI3, True, 128, ("test",), "mnli"),
    ]
}
"""Every name :func:`load` accepts, with its label space and the splits of the local data folder."""
