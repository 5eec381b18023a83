"""Word diffs of adversarial examples: positions, text and HTML renderings, escaping, and the table."""
from __future__ import annotations

import pytest

from rift_lite.data import Example
from rift_lite.display import DiffTable, word_diff


def test_changes_text_and_html():
    d = word_diff("the film is good .", "the movie is nice .")
    assert d.changes == [(1, "film", "movie"), (3, "good", "nice")] and d.n_changed == 2
    assert str(d) == repr(d) == "the [film -> movie] is [good -> nice] ."
    html = d._repr_html_()
    assert html.count("line-through") == 2 and ">film</span>" in html and ">movie</span>" in html
    assert "the" in html and ">the<" not in html  # unchanged words stay plain text


def test_examples_give_their_attacked_field_and_html_is_escaped():
    a = Example(id="p", text="a <b>man</b> & dog", text_b="he sleeps", label=0)
    b = a.with_words(["she", "sleeps"])
    assert word_diff(a, b).changes == [(0, "he", "she")]
    d = word_diff(["<b>"], ["&amp;"])
    assert "&lt;b&gt;" in d.to_html() and "&amp;amp;" in d.to_html()


def test_lengths_must_match():
    with pytest.raises(ValueError, match="equal length"):
        word_diff("a b c", "a b")


def test_table_text_and_html():
    t = DiffTable([["PWWS", word_diff("a good film", "a nice film"), "0.90 -> 0.40"]], ["attack", "text", "p(y)"])
    text = str(t).splitlines()
    assert text[0].split() == ["attack", "text", "p(y)"] and set(text[1]) <= {"-", " "}
    assert "[good -> nice]" in text[2]
    html = t._repr_html_()
    assert html.startswith("<table>") and "<th" in html and "line-through" in html and "0.90 -&gt; 0.40" in html
    with pytest.raises(ValueError, match="every row needs 3 cells"):
        DiffTable([["only one"]], ["a", "b", "c"])
