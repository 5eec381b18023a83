"""Reading data files line by line, with errors that say where: every problem is a :class:`DataError` naming the
file, the 1-based line and the field.

Nothing is dropped silently: a missing file, a line with the wrong number of fields, an unknown label or an
empty text raises :class:`DataError`. Every text goes through :func:`rift_lite.normalize.normalize_text` here
(:func:`parse_text`), once. Shared by the dataset loaders (:mod:`rift_lite.loaders`, :mod:`rift_lite.hub`) and
your own files (:mod:`rift_lite.user_data`).
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from .normalize import normalize_text
from .tasks import DataError

def open_text(path: Path):
    if not path.is_file():
        raise DataError("file not found", path=path)
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return open(path, encoding="utf-8-sig", newline="")


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its line break); a final empty line is not a line."""
    with open_text(path) as handle:
        number = 0
        try:
            for number, line in enumerate(handle, start=1):
                yield number, line.rstrip("\r\n")
        except UnicodeDecodeError as error:
            raise DataError(f"not valid UTF-8 ({error.reason}) at or shortly after this line", path=path,
                            line=number + 1) from None


def read_header(fields: Sequence[str], columns: Sequence[str], path: Path, number: int) -> list[str]:
    """The column names of a header line; every name in ``columns`` must be among them."""
    names = [f.strip() for f in fields]
    for column in columns:
        if column not in names:
            raise DataError(f"column missing from the header (header: {', '.join(names)})",
                            path=path, line=number, field=column)
    return names


def check_width(fields: Sequence[str], names: Sequence[str], kind: str, path: Path, number: int) -> None:
    """A row must have one field per column: name the first missing column, or count the extra fields."""
    if len(fields) == len(names):
        return
    missing = names[len(fields)] if len(fields) < len(names) else None
    problem = "missing" if missing else f"{len(fields) - len(names)} extra field(s)"
    raise DataError(f"{problem}: expected {len(names)} {kind} fields ({', '.join(names)}), found {len(fields)}",
                    path=path, line=number, field=missing or names[-1])


def tsv_rows(path: Path, columns: Sequence[str] | None, header: bool,
              skip_blank: bool = False) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows of an unquoted tab-separated file as {column: value}.

    With ``header`` the first line names the columns (``columns`` must be among them); without it
    ``columns`` names the fields in order. A row with a different number of fields is an error (a blank line too,
    unless ``skip_blank``: users' files).
    """
    names: list[str] | None = None if header else list(columns or [])
    for number, line in numbered_lines(path):
        if skip_blank and not line.strip():
            continue
        fields = line.split("\t")
        if names is None:
            names = read_header(fields, columns or [], path, number)
            continue
        check_width(fields, names, "tab-separated", path, number)
        yield number, dict(zip(names, fields))


def parse_text(raw: Any, path, line, field) -> str:
    if not isinstance(raw, str):
        raise DataError(f"expected a string, found {type(raw).__name__}", path=path, line=line, field=field)
    text = normalize_text(raw)
    if not text:
        raise DataError("empty text", path=path, line=line, field=field)
    return text


def parse_label(raw: Any, mapping: Mapping[Any, int], path, line, field) -> int:
    key = raw.strip() if isinstance(raw, str) else raw
    if key in mapping:
        return mapping[key]
    if str(key) in mapping:
        return mapping[str(key)]
    known = ", ".join(repr(k) for k in mapping)
    raise DataError(f"unknown label {raw!r}; expected one of {known}", path=path, line=line, field=field)


def label_ids(names: Sequence[str]) -> dict[str, int]:
    """Label map accepting both the names and their indices as strings: {"negative": 0, "0": 0, ...}."""
    mapping = {label: index for index, label in enumerate(names)}
    mapping.update({str(index): index for index in range(len(names))})
    return mapping


def split_first_space(line: str, path, number) -> tuple[str, str]:
    label, sep, text = line.partition(" ")
    if not sep:
        raise DataError("missing: expected 'label text' separated by a space", path=path, line=number, field="text")
    return label, text


def jsonl_rows(path: Path, columns: Sequence[str], problem: str = "") -> Iterator[tuple[int, dict[str, Any]]]:
    """(1-based line number, object) of each non-blank line of a JSONL file; every name in ``columns`` must be a key.
    ``problem`` starts the message of a line that is not a JSON object (e.g. ``"malformed line: "``)."""
    for number, line in numbered_lines(path):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{problem}invalid JSON ({error.msg})", path=path, line=number) from None
        if not isinstance(row, dict):
            raise DataError(f"{problem}expected a JSON object", path=path, line=number)
        for column in columns:
            if column not in row:
                raise DataError("missing", path=path, line=number, field=column)
        yield number, row
