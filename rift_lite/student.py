"""Student copies of the chapters: outputs cleared, exercise solutions taken out (fastai's "clean" notebooks).

    python -m rift_lite.student book/ student/            # every book/NN_*.ipynb -> student/NN_*.ipynb

A chapter's exercises end with a ``:::{dropdown} Solution`` ... ``:::`` block; a student copy replaces each block by a
one-line placeholder, so the questions stay and the answers go. Every code cell loses its outputs and execution
count (the reader runs them), and the notebook's saved widget state is dropped. The chapters themselves are never
changed. Plain JSON: no torch, no Jupyter needed.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

SOLUTION = re.compile(r"^:::\{dropdown\}\s*Solution[^\n]*\n.*?^:::[ \t]*$\n?", re.MULTILINE | re.DOTALL)
PLACEHOLDER = "*(Solution removed in the student copy: work it out, then compare with the book.)*\n"


def strip_solutions(markdown: str) -> tuple[str, int]:
    """``markdown`` with every Solution dropdown replaced by :data:`PLACEHOLDER`; and how many were removed."""
    return SOLUTION.subn(PLACEHOLDER, markdown)


def student_copy(notebook: dict) -> tuple[dict, int]:
    """A copy of ``notebook`` (nbformat 4 JSON) without outputs and solutions; and the number of solutions removed."""
    removed = 0
    cells = []
    for cell in notebook["cells"]:
        cell = dict(cell)
        source = "".join(cell.get("source", []))
        if cell["cell_type"] == "markdown":
            source, n = strip_solutions(source)
            removed += n
        elif cell["cell_type"] == "code":
            cell["outputs"], cell["execution_count"] = [], None
        cell["source"] = source.splitlines(keepends=True)
        cells.append(cell)
    metadata = {k: v for k, v in notebook.get("metadata", {}).items() if k != "widgets"}
    return {**notebook, "cells": cells, "metadata": metadata}, removed


def write_student_copies(book_dir, out_dir) -> list[tuple[Path, int]]:
    """One student copy per chapter notebook (``[0-9]*.ipynb``) of ``book_dir`` in ``out_dir``; ``[(path, removed)]``."""
    book_dir, out_dir = Path(book_dir), Path(out_dir)
    chapters = sorted(book_dir.glob("[0-9]*.ipynb"))
    if not chapters:
        raise FileNotFoundError(f"{book_dir}: no chapter notebooks (NN_*.ipynb) here")
    if out_dir.resolve() == book_dir.resolve():
        raise ValueError("the student copies need another folder than the book's (the chapters stay as they are)")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for path in chapters:
        copy, removed = student_copy(json.loads(path.read_text()))
        target = out_dir / path.name
        target.write_text(json.dumps(copy, indent=1, ensure_ascii=False) + "\n")
        written.append((target, removed))
    return written


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("book", help="the folder of the chapters (book/)")
    parser.add_argument("out", help="where the student copies go (created)")
    args = parser.parse_args(argv)
    try:
        written = write_student_copies(args.book, args.out)
    except (FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for path, removed in written:
        print(f"{path}: outputs cleared, {removed} solution(s) removed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
