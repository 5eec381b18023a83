"""Student copies: the questions stay, the solutions and outputs go, the chapters are untouched."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from rift_lite.student import PLACEHOLDER, main, strip_solutions, write_student_copies

BOOK = Path(__file__).resolve().parents[1] / "book"


def test_strip_solutions_keeps_the_question_and_the_text_after():
    text = ("1. **Predict.** What happens?\n\n:::{dropdown} Solution\nIt doubles.\n\n```python\nx = 2\n```\n:::\n\n"
            "2. **Next.** Why?\n")
    stripped, n = strip_solutions(text)
    assert n == 1 and "It doubles" not in stripped and "x = 2" not in stripped
    assert stripped.startswith("1. **Predict.** What happens?") and stripped.endswith("2. **Next.** Why?\n")
    assert PLACEHOLDER in stripped


def test_student_copies_of_the_real_chapters(tmp_path):
    before = {p.name: p.read_bytes() for p in BOOK.glob("[0-9]*.ipynb")}
    written = write_student_copies(BOOK, tmp_path)
    assert sorted(p.name for p, _ in written) == sorted(before)
    assert all(removed >= 2 for _, removed in written)  # every chapter has exercises with solutions
    for path, _ in written:
        original = json.loads(before[path.name])
        copy = json.loads(path.read_text())
        assert len(copy["cells"]) == len(original["cells"])
        code = [c for c in copy["cells"] if c["cell_type"] == "code"]
        assert all(c["outputs"] == [] and c["execution_count"] is None for c in code)
        assert [c["source"] for c in code] == [c["source"] for c in original["cells"] if c["cell_type"] == "code"]
        text = "".join("".join(c["source"]) for c in copy["cells"] if c["cell_type"] == "markdown")
        assert ":::{dropdown} Solution" not in text and "## Exercises" in text
        assert "widgets" not in copy["metadata"]
    assert {p.name: p.read_bytes() for p in BOOK.glob("[0-9]*.ipynb")} == before  # the book is untouched


def test_cli_refuses_to_overwrite_the_book(capsys):
    assert main([str(BOOK), str(BOOK)]) == 2
    assert "another folder" in capsys.readouterr().err
