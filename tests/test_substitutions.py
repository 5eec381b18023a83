"""The counter-fitted substitution set and the candidate tensors aligned with token positions."""
from __future__ import annotations

import json

import pytest
import torch

from rift_lite.data import DataError, Example
from rift_lite.substitutions import SubstitutionSet, build_candidates


def test_real_set_size_and_a_known_entry(substitution_set):
    assert len(substitution_set) == 49_975
    assert substitution_set.neighbours("good") == ["alright", "buena", "well", "nice", "decent", "best"]
    assert substitution_set.neighbours("Good")[0] == "Alright"
    assert sum(1 for v in substitution_set.table.values() if v) == 25_591
    assert max(len(v) for v in substitution_set.table.values()) == 8


def test_candidates_align_with_tokens_hand_checked(small_minilm, substitution_set):
    _, tok = small_minilm
    ex = Example(id="h", text="the movie was good", label=1)
    cb = build_candidates([ex], tok, substitution_set)
    ids = cb.batch.input_ids[0]
    assert cb.candidates.shape == (1, ids.shape[0], 10)
    # slot 0 is always the original token
    assert torch.equal(cb.candidates[0, :, 0], ids)
    # "good" sits at token 4; its real slots are the original + its six neighbours, in order
    words = ["good", "alright", "buena", "well", "nice", "decent", "best"]
    expected = tok.word_ids(words)
    real = cb.candidate_mask[0, 4]
    assert real.sum().item() == len(set(expected))
    assert cb.candidates[0, 4, : real.sum()].tolist() == list(dict.fromkeys(expected))
    assert cb.slot_words[0][4][: real.sum()] == words[: real.sum()]
    # special tokens never get candidates
    assert cb.candidate_mask[0, 0].sum() == 1 and cb.candidate_mask[0, -1].sum() == 1
    # decoding slot 2 at "good" gives the matching neighbour, the rest unchanged
    chosen = torch.zeros_like(ids).unsqueeze(0)
    chosen[0, 4] = 2
    assert cb.decode([ex], chosen)[0].text == "the movie was buena"


def test_nli_only_hypothesis_gets_candidates(small_minilm, substitution_set):
    _, tok = small_minilm
    ex = Example(id="n", text="a good man sleeps", text_b="a good person", label=0)
    cb = build_candidates([ex], tok, substitution_set)
    premise_positions = range(1, 5)
    assert all(cb.candidate_mask[0, p, 1:].sum() == 0 for p in premise_positions)
    hyp_good = cb.batch.word_positions[0][1]
    assert cb.candidate_mask[0, hyp_good, 1:].sum() > 0


def test_word_without_neighbours_keeps_only_itself(small_minilm, substitution_set):
    _, tok = small_minilm
    assert substitution_set.neighbours("the") == []
    cb = build_candidates([Example(id="z", text="the the", label=0)], tok, substitution_set)
    assert cb.candidate_mask[0, :, 1:].sum() == 0
    assert cb.n_substitutable.tolist() == [0]


def test_padding_is_never_a_candidate(small_minilm, substitution_set):
    _, tok = small_minilm
    exs = [Example(id="a", text="good", label=1), Example(id="b", text="a good and fine film", label=0)]
    cb = build_candidates(exs, tok, substitution_set)
    pad = cb.batch.attention_mask == 0
    assert pad[0].any() and not cb.candidate_mask[pad].any()


def test_bad_substitution_files(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"good": ["fine",\n "nice"\n')
    with pytest.raises(DataError, match=r"bad\.json, line \d"):
        SubstitutionSet.from_file(bad)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"good": "fine"}))
    with pytest.raises(DataError, match="'good'"):
        SubstitutionSet.from_file(wrong)
    with pytest.raises(DataError, match="not found"):
        SubstitutionSet.from_file(tmp_path / "missing.json")


def test_candidates_align_with_byte_level_bpe_hand_checked(byte_level_bpe):
    """RoBERTa-style tokenisation: one token per word (its first byte-level piece), '</s></s>' between a pair."""
    from rift_lite.models import WordTokenizer

    tok = WordTokenizer(byte_level_bpe, max_tokens=32)
    subs = SubstitutionSet({"film": ["movie", "movies", "picture"], "good": ["great", "greatest"], "man": ["guy"]})

    def pieces(ids):
        return byte_level_bpe.convert_ids_to_tokens([int(i) for i in ids])

    ex = Example(id="b", text="the film is good", label=1)
    cb = build_candidates([ex], tok, subs, num_slots=4)
    assert pieces(cb.batch.input_ids[0]) == ["<s>", "Ġthe", "Ġfilm", "Ġis", "Ġgood", "</s>"]
    # "film" (token 2): itself, "movie"; "movies" shares movie's first piece "Ġmovie" and is dropped (it would not
    # change the input); "picture", not in this small vocabulary, keeps its first piece "Ġ"
    assert pieces(cb.candidates[0, 2][cb.candidate_mask[0, 2]]) == ["Ġfilm", "Ġmovie", "Ġ"]
    assert cb.slot_words[0][2] == ["film", "movie", "picture"]
    assert pieces(cb.candidates[0, 4][cb.candidate_mask[0, 4]]) == ["Ġgood", "Ġgreat"]  # "greatest" -> "Ġgreat"
    assert cb.candidate_mask[0, [0, 1, 3, 5]].sum(-1).tolist() == [1, 1, 1, 1]  # specials, "the", "is"
    chosen = torch.zeros(1, 6, dtype=torch.long)
    chosen[0, 2], chosen[0, 4] = 2, 1
    assert cb.decode([ex], chosen)[0].text == "the picture is great"
    # NLI: the premise word "man" has a neighbour but no candidates; the hypothesis starts after "</s></s>"
    pair = Example(id="p", text="a man", text_b="the film", label=0)
    cp = build_candidates([pair], tok, subs, num_slots=4)
    assert pieces(cp.batch.input_ids[0]) == ["<s>", "Ġa", "Ġman", "</s>", "</s>", "Ġthe", "Ġfilm", "</s>"]
    assert cp.candidate_mask[0, 2].sum() == 1 and cp.candidate_mask[0, 6].sum() == 3


def test_no_folder_and_no_internet_names_both_ways_out(tmp_path, monkeypatch):
    import urllib.request

    def offline(*args, **kwargs):
        raise OSError("Network is unreachable")

    monkeypatch.delenv("RIFT_LITE_DATA", raising=False)
    monkeypatch.setenv("RIFT_LITE_CACHE", str(tmp_path))
    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DataError) as error:
        SubstitutionSet.load()
    message = str(error.value)
    assert "--data-dir" in message and "$RIFT_LITE_DATA" in message and "internet" in message
