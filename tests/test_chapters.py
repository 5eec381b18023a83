"""Every chapter is committed executed and follows the template (book/_template.md); read from the files, no kernel.

nbval re-runs the chapters but (with --nbval-lax) never compares their outputs, so it cannot see a chapter committed
without outputs, or re-executed under ``MPLBACKEND=Agg`` (``plt.show()`` then saves no image and the book loses its
figures). These checks can.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
CHAPTERS = sorted(BOOK.glob("[0-9][0-9]_*.ipynb"))
TOC = (BOOK.parent / "_toc.yml").read_text()


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def _source(cell: dict) -> str:
    return "".join(cell["source"])


def test_there_are_chapters():
    assert CHAPTERS, "no chapter notebooks found in book/"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_is_committed_executed_in_order(path):
    code = [c for c in _cells(path) if c["cell_type"] == "code" and _source(c).strip()]
    counts = [c["execution_count"] for c in code]
    assert all(n is not None for n in counts), f"{path.name}: a code cell was never executed"
    assert counts == sorted(counts) and len(set(counts)) == len(counts), f"{path.name}: cells run out of order"
    errors = [o for c in code for o in c["outputs"] if o["output_type"] == "error"]
    assert not errors, f"{path.name}: committed with an error output"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_every_captioned_figure_cell_holds_its_image(path):
    figures = [c for c in _cells(path) if c.get("metadata", {}).get("mystnb", {}).get("figure")]
    for cell in figures:
        options = cell["metadata"]["mystnb"]["figure"]
        assert options.get("name", "").startswith("fig-") and options.get("caption"), options
        images = [o for o in cell["outputs"] if "image/png" in o.get("data", {})]
        assert len(images) == 1, (f"{path.name}, figure {options['name']}: expected one image output, found "
                                  f"{len(images)} (re-executed under MPLBACKEND=Agg? use `make notebooks`)")
    names = [c["metadata"]["mystnb"]["figure"]["name"] for c in figures]
    assert len(names) == len(set(names)), f"{path.name}: duplicate figure names {names}"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.stem)
def test_chapter_follows_the_template(path):
    cells = _cells(path)
    markdown = "\n".join(_source(c) for c in cells if c["cell_type"] == "markdown")
    assert _source(cells[0]).startswith(f"# {path.stem[:2]}. "), f"{path.name}: first cell must be '# NN. Title'"
    assert "colab.research.google.com/github/" in _source(cells[0]) and path.name in _source(cells[0])
    assert "Learning goals" in markdown and "## Summary" in markdown and "## Exercises" in markdown
    assert ":::{dropdown} Solution" in markdown, f"{path.name}: exercises need hidden solutions"
    first_code = next(c for c in cells if c["cell_type"] == "code")
    assert "google.colab" in _source(first_code), f"{path.name}: the first code cell is the Colab install cell"
    assert any("setup(" in _source(c) for c in cells if c["cell_type"] == "code"), f"{path.name}: no setup cell"
    assert f"file: {path.stem}" in TOC, f"{path.name} is not in _toc.yml"
