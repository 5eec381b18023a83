"""Your own data: :func:`load_file` reads a CSV, TSV, JSONL or TextFooler-style file (``--file`` on the command
line), :func:`file_label_names` the names of its classes, :func:`file_task` its label space, :func:`split_off_dev` a
fixed dev split of it, and :func:`add_file_arguments` the command line's ``--file`` options (shared by ``train`` and
``attack``).
"""
from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from .data_io import (check_width, jsonl_rows, label_ids, numbered_lines, open_text, parse_label, parse_text,
                      read_header, split_first_space, tsv_rows)
from .tasks import DataError, Example, TaskInfo

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
    parsed, label_column = _parsed_rows(path, text_column, label_column, text_b_column)
    tag = name or path.name.split(".")[0]
    if label_map is None and label_names is not None:
        label_map = label_ids(label_names)
    if label_map is None:
        label_map = _default_label_map(path, label_column, [(n, raw) for n, _, _, raw in parsed])
    return [Example(f"{tag}/{index}", text, parse_label(raw, label_map, path, number, label_column), text_b)
            for index, (number, text, text_b, raw) in enumerate(parsed)]


def file_label_names(path, text_column: str = "text", label_column: str = "label",
                     text_b_column: str | None = None) -> tuple[str, ...] | None:
    """The class names of a file whose labels are names, in class order (``("negative", "positive")``: classes 0
    and 1, as :func:`load_file` numbers them), or None when its labels are numbers (they keep their value).

    A run trained on the file saves them with its checkpoint, so that a dev file or a file attacked later numbers the
    same names the same way -- also when it holds only some of them (a file of ``positive`` reviews alone would
    otherwise number ``positive`` 0).
    """
    path = Path(path).expanduser()
    parsed, label_column = _parsed_rows(path, text_column, label_column, text_b_column)
    mapping = _default_label_map(path, label_column, [(n, raw) for n, _, _, raw in parsed])
    if any(_label_number(raw) is not None for raw in mapping):
        return None
    return tuple(sorted(mapping, key=mapping.get))


def _parsed_rows(path: Path, text_column: str, label_column: str, text_b_column: str | None):
    """``([(line, text, text_b, raw label), ...], label column)`` of a file; a file without examples is an error."""
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    kind = suffixes[-1] if suffixes else ""
    columns = [c for c in (text_column, text_b_column, label_column) if c]
    if kind == ".csv":
        rows = _csv_rows(path, columns)
    elif kind in (".tsv", ".tab"):
        rows = tsv_rows(path, columns, header=True, skip_blank=True)
    elif kind in (".jsonl", ".ndjson", ".json"):
        rows = jsonl_rows(path, columns, problem="malformed line: ")
    elif kind == ".txt":
        rows = _label_text_rows(path)
        text_column, label_column, text_b_column = "text", "label", "text_b"
    else:
        raise DataError(f"unknown file type {kind or '(no suffix)'!r}: use {FILE_FORMATS}", path=path)
    parsed = []
    for number, row in rows:
        text = parse_text(row[text_column], path, number, text_column)
        pair = text_b_column is not None and text_b_column in row  # .txt: only lines with a third field
        text_b = parse_text(row[text_b_column], path, number, text_b_column) if pair else None
        parsed.append((number, text, text_b, row[label_column]))
    if not parsed:
        raise DataError("no examples: the file is empty" + (" or has only its header line" if kind in
                        (".csv", ".tsv", ".tab") else ""), path=path)
    return parsed, label_column


FILE_MAX_TOKENS = 128
"""Default token budget for your own file (the command line's ``--max-tokens`` overrides it)."""
FILE_DEV_FRACTION = 0.1


def file_dataset_name(path) -> str:
    """The name a run on your own file goes by: ``file-<stem>`` (``reviews.csv.gz`` -> ``file-reviews``)."""
    return "file-" + Path(path).name.split(".")[0]


def file_task(examples: Sequence[Example], name: str, label_names: Sequence[str] | None = None) -> TaskInfo:
    """The label space and shape of examples read by :func:`load_file`: classes ``0 .. max label`` (at least 2),
    named ``label_names`` (:func:`file_label_names`) or else by their index, a pair task when the examples have a
    second text, ``FILE_MAX_TOKENS`` tokens."""
    if not examples:
        raise DataError(f"{name}: no examples")
    names = tuple(label_names or ())
    num_labels = max(2, max(example.label for example in examples) + 1, len(names))
    names += tuple(str(i) for i in range(len(names), num_labels))
    return TaskInfo(name, num_labels, names, examples[0].is_pair, FILE_MAX_TOKENS, ("train", "dev", "test"), name)


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
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        if width is None:
            width = len(line.split("\t")) if "\t" in line else 1
            if width > 3:
                raise DataError(f"{width} tab-separated fields: expected 'label text', 'label<TAB>text' or "
                                "'label<TAB>text<TAB>text_b'", path=path, line=number)
        if width == 1:
            label, text = split_first_space(line, path, number)
            yield number, {"label": label, "text": text}
            continue
        fields = line.split("\t")
        names = ["label", "text", "text_b"][:width]
        check_width(fields, names, "tab-separated", path, number)
        yield number, dict(zip(names, fields))


def _csv_rows(path: Path, columns: Sequence[str]) -> Iterator[tuple[int, dict[str, str]]]:
    with open_text(path) as handle:
        reader = csv.reader(handle)
        header = None
        start = 1
        try:
            for fields in reader:
                number, start = start, reader.line_num + 1
                if not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue
                if header is None:
                    header = read_header(fields, columns, path, number)
                    continue
                check_width(fields, header, "comma-separated", path, number)
                yield number, dict(zip(header, fields))
        except csv.Error as error:
            raise DataError(f"malformed CSV ({error})", path=path, line=start) from None
