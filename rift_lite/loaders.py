"""The loaders of the local data folder, one per dataset (:data:`LOCAL_LOADERS`; the table of names, splits and
counts is in :mod:`rift_lite.data`). A new dataset gets a loader here, an entry in :data:`rift_lite.tasks.TASKS`,
and, where it has a public copy, a line in :mod:`rift_lite.hub`.

MR split rule. TextFooler's 1,000 MR sentences are the held-out test split. Their text lost punctuation
and non-ASCII letters on the way, so they are matched to rt-polarity lines on a key of lowercase ASCII letters
and digits; all 1,000 match, with the same labels, and the test split holds the matching rt-polarity lines
(their ids and original text; the TextFooler wording stays available as ``textfooler-mr``). Duplicates: lines
with the same key are kept once (first occurrence); the snapshot has 2 such pairs (e.g. ``a pretentious mess .``
and ``. . . a pretentious mess . . .``), so 10,662 lines give 10,660 sentences. Lines matching a test
sentence are removed from the pool, leaving 9,660; dev is 10% of those (966), chosen by sorting on
``sha1("mr-dev-0:" + id)`` -- fixed, independent of Python's ``random`` -- and the other 8,694 are train.
No test sentence (nor a near-duplicate of one) is in train or dev.
"""
from __future__ import annotations

import functools
import hashlib
import json
import re
from pathlib import Path
from typing import Callable, Mapping, Sequence

from .data_io import (jsonl_rows, label_ids, numbered_lines, open_text, parse_label, parse_text,
                      split_first_space, tsv_rows)
from .tasks import NLI2, NLI3, SENTIMENT, TASKS, DataError, Example

MR_DEV_FRACTION = 0.1
MR_DEV_SEED = "mr-dev-0"


def _load_imdb(root: Path, split: str) -> list[Example]:
    """IMDB: the JSONL keeps aclImdb file names; train/dev/test follow the certified-word-sub file lists."""
    source = "imdb_test.jsonl.gz" if split == "test" else "imdb_train.jsonl.gz"
    folder = "test" if split == "test" else "train"
    records = _imdb_records(str(root / "imdb" / source))
    list_path = root / "imdb" / "splits_certified_word_sub" / f"imdb_{split}_files.txt"
    examples = []
    for number, name in numbered_lines(list_path):
        name = name.strip()
        if not name:
            raise DataError("empty file name", path=list_path, line=number, field="file")
        if name not in records:
            raise DataError(f"{name!r} is not in {source}", path=list_path, line=number, field="file")
        line, label, raw = records[name]
        where = (root / "imdb" / source, line)
        if label != (1 if name.startswith("pos/") else 0):
            raise DataError(f"label {label} disagrees with the file name {name!r}", *where, field="label")
        examples.append(Example(f"imdb/{folder}/{name}", parse_text(raw, *where, field="text"), label))
    return examples


@functools.lru_cache(maxsize=2)
def _imdb_records(path: str) -> dict[str, tuple[int, int, str]]:
    """{aclImdb file name: (line, label, raw text)} of one IMDB JSONL file (parsed once per process)."""
    records = {}
    for number, row in jsonl_rows(Path(path), ("file", "label", "text")):
        label = parse_label(row["label"], label_ids(SENTIMENT), path, number, "label")
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
        for number, line in numbered_lines(path):
            example = Example(f"mr/{polarity}/{number - 1}", parse_text(line, path, number, "text"), label)
            pool.setdefault(_mr_key(example.text), example)
    test_path = root / TEXTFOOLER_FILES["mr"][0]
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
        mapping = label_ids(labels)
        examples = []
        for index, (number, row) in enumerate(tsv_rows(path, columns, header=True)):
            text = parse_text(row[text_col], path, number, text_col)
            text_b = parse_text(row[text_b_col], path, number, text_b_col) if text_b_col else None
            label = parse_label(row[label_col], mapping, path, number, label_col)
            examples.append(Example(f"{tag}/{split}/{index}", text, label, text_b))
        return examples

    return load_split


ADVGLUE_FIELDS = {
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
    with open_text(path) as handle:
        try:
            data = json.load(handle)
        except json.JSONDecodeError as error:
            raise DataError(f"invalid JSON ({error.msg})", path=path, line=error.lineno) from None
    if task not in data:
        raise DataError(f"task {task!r} missing (tasks: {', '.join(data)})", path=path, field=task)
    text_col, text_b_col = ADVGLUE_FIELDS[task]
    info = TASKS[f"advglue-{task}"]
    examples = []
    for index, row in enumerate(data[task]):
        where = f"{task}[{index}]"
        for field in [c for c in (text_col, text_b_col, "label", "idx") if c]:
            if field not in row:
                raise DataError("missing", path=path, field=f"{where}.{field}")
        text = parse_text(row[text_col], path, None, f"{where}.{text_col}")
        text_b = parse_text(row[text_b_col], path, None, f"{where}.{text_b_col}") if text_b_col else None
        label = parse_label(row["label"], label_ids(info.label_names), path, None, f"{where}.label")
        examples.append(Example(f"advglue-{task}/dev/{row['idx']}", text, label, text_b))
    return examples


TEXTFOOLER_FILES = {  # name -> (file, pair?)
    "imdb": ("attack_test_sets/textfooler_imdb.txt", False),
    "mr": ("attack_test_sets/textfooler_mr.txt", False),
    "snli": ("attack_test_sets/textfooler_snli.txt", True),
    "mnli": ("attack_test_sets/textfooler_mnli.txt", True),
    "mnli-matched": ("attack_test_sets/textfooler_mnli_matched.txt", True),
}


def _load_textfooler(root: Path, which: str) -> list[Example]:
    """TextFooler's 1,000-example sets: ``label text`` (imdb, mr) or ``label<TAB>premise<TAB>hypothesis``."""
    relative, pair = TEXTFOOLER_FILES[which]
    path = root / relative
    labels = SENTIMENT if not pair else NLI3
    if pair:
        rows = ((n, r["label"], r["premise"], r["hypothesis"])
                for n, r in tsv_rows(path, ("label", "premise", "hypothesis"), header=False))
    else:
        rows = ((n, *split_first_space(line, path, n), None) for n, line in numbered_lines(path))
    examples = []
    for index, (number, raw_label, raw_text, raw_b) in enumerate(rows):
        label = parse_label(raw_label, label_ids(labels), path, number, "label")
        text = parse_text(raw_text, path, number, "premise" if pair else "text")
        text_b = parse_text(raw_b, path, number, "hypothesis") if pair else None
        examples.append(Example(f"textfooler-{which}/{index}", text, label, text_b))
    return examples


def _load_snli_offline(root: Path, split: str) -> list[Example]:
    """SNLI on the offline snapshot, which has no SNLI training set: train = SNLI dev (9,842 pairs); test = the SNLI
    test pairs that TextFooler's 1,000 SNLI pairs come from (matched on premise + hypothesis, lowercase letters and
    digits; all 1,000 match once, with the same labels; their SNLI ids and text); dev = the other 8,824 test pairs,
    for model selection. No pair is in two splits."""
    tests = LOCAL_LOADERS["snli"](root, "test")
    if split == "train":
        return LOCAL_LOADERS["snli"](root, "dev")
    pool = {_mr_key(f"{ex.text} | {ex.text_b}"): ex for ex in tests}
    chosen = []
    for ex in _load_textfooler(root, "snli"):
        match = pool.get(_mr_key(f"{ex.text} | {ex.text_b}"))
        if match is None or match.label != ex.label:
            raise DataError("has no SNLI test pair with the same text and label",
                            path=root / TEXTFOOLER_FILES["snli"][0], field=ex.id)
        chosen.append(match)
    if split == "test":
        return chosen
    held_out = {ex.id for ex in chosen}
    return [ex for ex in tests if ex.id not in held_out]


LOCAL_LOADERS: dict[str, Callable[[Path, str], list[Example]]] = {
    "imdb": _load_imdb,
    "mr": _load_mr,
    "sst2": _glue_loader("glue_sst2", {"train": "train.tsv", "dev": "dev.tsv", "test": "test_labeled_autoprompt.tsv"},
                         "sentence", None, "label", SENTIMENT, "sst2"),
    "snli": _glue_loader("snli", {"dev": "snli_dev_esnli.tsv", "test": "snli_test_esnli.tsv"},
                         "premise", "hypothesis", "label", NLI3, "snli"),
    "snli-offline": _load_snli_offline,
    "rte": _glue_loader("glue_rte", {"train": "train.tsv", "dev": "dev.tsv"},
                        "sentence1", "sentence2", "label", NLI2, "rte"),
    "mrpc": _glue_loader("glue_mrpc", {"train": "train.tsv", "dev": "dev.tsv", "test": "msr_paraphrase_test.txt"},
                         "#1 String", "#2 String", "Quality", ("not_equivalent", "equivalent"), "mrpc"),
    "qnli": _glue_loader("glue_qnli", {"dev": "dev.tsv"}, "question", "sentence", "label", NLI2, "qnli"),
    **{f"advglue-{task}": (lambda root, split, task=task: _load_advglue(root, task)) for task in ADVGLUE_FIELDS},
    **{f"textfooler-{which}": (lambda root, split, which=which: _load_textfooler(root, which))
       for which in TEXTFOOLER_FILES},
}
