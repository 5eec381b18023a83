"""Tests of rift_lite.data: real split sizes, label balance, normalisation, user files and every bad-input case.

The real-data tests read the folder named by $RIFT_LITE_DATA (default: ../shared/data beside the repository)
and are skipped, with the reason, when it is absent. The rest use small temporary files.
"""
from __future__ import annotations

import collections
import dataclasses
import gzip
import json
import os
from pathlib import Path

import pytest

from rift_lite import data
from rift_lite.data import DataError, Example, TASKS, load, load_file, normalize_text, resolve_data_dir

DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="module")
def root() -> Path:
    path = Path(os.environ.get("RIFT_LITE_DATA") or DEFAULT_DATA)
    if not path.is_dir():
        pytest.skip(f"no data folder at {path}: set RIFT_LITE_DATA to the project's data snapshot")
    return path


def labels(examples) -> dict[int, int]:
    return dict(sorted(collections.Counter(e.label for e in examples).items()))


# ------------------------------------------------------------------------------------------- real counts

EXPECTED = {
    ("imdb", "train"): 20_000, ("imdb", "dev"): 5_000, ("imdb", "test"): 25_000,
    ("mr", "train"): 8_694, ("mr", "dev"): 966, ("mr", "test"): 1_000,
    ("sst2", "train"): 67_349, ("sst2", "dev"): 872, ("sst2", "test"): 1_821,
    ("snli", "dev"): 9_842, ("snli", "test"): 9_824,
    ("snli-offline", "train"): 9_842, ("snli-offline", "dev"): 8_824, ("snli-offline", "test"): 1_000,
    ("rte", "train"): 2_490, ("rte", "dev"): 277,
    ("mrpc", "train"): 3_668, ("mrpc", "dev"): 408, ("mrpc", "test"): 1_725,
    ("qnli", "dev"): 5_463,
    ("advglue-sst2", "dev"): 148, ("advglue-qnli", "dev"): 148, ("advglue-rte", "dev"): 81,
    ("advglue-mnli", "dev"): 121, ("advglue-mnli-mm", "dev"): 162, ("advglue-qqp", "dev"): 78,
    ("textfooler-imdb", "test"): 1_000, ("textfooler-mr", "test"): 1_000, ("textfooler-snli", "test"): 1_000,
    ("textfooler-mnli", "test"): 1_000, ("textfooler-mnli-matched", "test"): 1_000,
}


def test_every_local_split_is_counted():
    assert {(name, split) for name, info in TASKS.items() for split in info.splits} == set(EXPECTED)


@pytest.mark.parametrize("name,split", sorted(k for k in EXPECTED if k[0] != "imdb"))
def test_split_sizes(root, name, split):
    examples = load(name, split, data_dir=root)
    assert len(examples) == EXPECTED[name, split]
    assert len({e.id for e in examples}) == len(examples), "ids must be unique"
    info = TASKS[name]
    assert all(0 <= e.label < info.num_labels for e in examples)
    assert all(e.is_pair == info.is_pair for e in examples)


def test_imdb_splits_follow_the_certified_word_sub_lists(root):
    train, dev, test = (load("imdb", s, data_dir=root) for s in ("train", "dev", "test"))
    assert (len(train), len(dev), len(test)) == (20_000, 5_000, 25_000)
    assert labels(test) == {0: 12_500, 1: 12_500}
    assert abs(labels(train)[1] - 10_000) < 200 and abs(labels(dev)[1] - 2_500) < 100
    lists = root / "imdb" / "splits_certified_word_sub"
    first_dev = (lists / "imdb_dev_files.txt").read_text().split()[0]
    assert dev[0].id == f"imdb/train/{first_dev}"
    assert not {e.id for e in train} & {e.id for e in dev}
    assert all("<br" not in e.text for e in train[:2000])
    assert test[0].id.startswith("imdb/test/") and test[0].label == (1 if "/pos/" in test[0].id else 0)


def test_mr_test_is_textfooler_and_never_in_train_or_dev(root):
    train, dev, test = (load("mr", s, data_dir=root) for s in ("train", "dev", "test"))
    # 10,662 lines, 2 near-duplicate pairs kept once (documented) -> 10,660 sentences.
    assert len(train) + len(dev) + len(test) == 10_662 - 2
    assert len(test) == 1_000 and labels(test) == {0: 511, 1: 489}
    held_out = {data._mr_key(e.text) for e in test}
    assert not held_out & {data._mr_key(e.text) for e in train + dev}
    assert not {e.id for e in train} & {e.id for e in dev}
    textfooler = load("textfooler-mr", "test", data_dir=root)
    assert [data._mr_key(e.text) for e in textfooler] == [data._mr_key(e.text) for e in test]
    assert [e.label for e in textfooler] == [e.label for e in test]
    assert all(e.id.startswith(("mr/pos/", "mr/neg/")) for e in test)
    assert abs(labels(train)[0] - labels(train)[1]) < 100


def test_label_balance_and_conventions(root):
    assert labels(load("snli", "test", data_dir=root)) == {0: 3_368, 1: 3_219, 2: 3_237}  # ent, neu, con
    assert labels(load("sst2", "dev", data_dir=root)) == {0: 428, 1: 444}
    assert labels(load("rte", "dev", data_dir=root)) == {0: 146, 1: 131}  # entailment=0
    assert labels(load("mrpc", "test", data_dir=root)) == {0: 578, 1: 1_147}
    assert labels(load("advglue-sst2", "dev", data_dir=root)) == {0: 72, 1: 76}
    assert labels(load("textfooler-snli", "test", data_dir=root)) == {0: 367, 1: 322, 2: 311}
    first = load("snli", "test", data_dir=root)[0]
    assert first.label == TASKS["snli"].label_names.index("neutral")
    assert first.words() == first.text_b.split() and first.attack_field == "text_b"


def test_split_aliases_cache_and_copies(root):
    first = load("sst2", "validation", data_dir=root)
    first.clear()
    again = load("SST2", "dev", data_dir=root)
    assert len(again) == 872 and again[0] == load("sst2", "dev", data_dir=root)[0]
    with pytest.raises(dataclasses.FrozenInstanceError):
        again[0].label = 1 - again[0].label


def test_unknown_names_and_splits(root):
    with pytest.raises(DataError, match="unknown dataset"):
        load("yelp", "train", data_dir=root)
    with pytest.raises(DataError, match="no split 'train'.*available: dev, test"):
        load("snli", "train", data_dir=root)


def test_example_words_roundtrip():
    example = Example("x/0", "A man sleeps .", 0, "A person rests .")
    swapped = example.with_words(["A", "guy", "rests", "."])
    assert swapped.text == example.text and swapped.text_b == "A guy rests ." and swapped.id == "x/0"
    single = Example("y/0", "a good movie", 1)
    assert single.words() == ["a", "good", "movie"] and single.with_words(["a", "nice", "movie"]).text == "a nice movie"


# ----------------------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("Great film.<br /><br />Loved it!", "Great film . Loved it !"),
        ("I didn't like it, but it's ok...", "I did n't like it , but it 's ok ..."),
        ("We can't and won't (sadly).", "We ca n't and wo n't ( sadly ) ."),
        ('She said "good" -- twice', 'She said " good " -- twice'),
        ("the actors' fault and 'quotes'", "the actors ' fault and ' quotes '"),
        ("Mr. Smith paid 1,000 dollars at 10:30 in the U.S.", "Mr. Smith paid 1,000 dollars at 10:30 in the U.S."),
        ("  tabs\tand\nnewlines  ", "tabs and newlines"),
        ("Don\u2019t \u201csmart\u201d quotes\u2026", 'Do n\'t " smart " quotes ...'),
        ("back in the '60s they'd 'em", "back in the '60s they 'd 'em"),
    ],
)
def test_normalize_examples(raw, expected):
    assert normalize_text(raw) == expected
    assert normalize_text(expected) == expected


@pytest.mark.parametrize(
    "ptb",
    [
        "davis is so enamored of her own creation that she ca n't see how insufferable the character is",
        "it 's hard to imagine that even very small children will be impressed by this tired retread",
        "A person in a black and green outfit is riding a bicycle .",
        "You ca n't take it with you -- neither can I , unfortunately .",
        "`` quoted '' text , 1,000 times ... and more : yes ; no ? ( maybe ) !",
    ],
)
def test_normalize_is_a_no_op_on_ptb_text(ptb):
    assert normalize_text(ptb) == ptb
    assert normalize_text(ptb + "   ") == ptb


def test_normalize_is_idempotent_and_single_spaced_on_real_data(root):
    texts = [e.text for e in load("imdb", "dev", data_dir=root)[:1000]]
    texts += [e.text for e in load("mr", "train", data_dir=root)]
    texts += [e.text_b for e in load("snli", "dev", data_dir=root)[:2000]]
    for text in texts:
        assert normalize_text(text) == text
        assert text.split() == text.split(" ")


def test_normalized_words_match_substitution_keys(root):
    table = json.loads((root / "substitution_sets" / "counterfitted_neighbors.json").read_text())
    words = normalize_text("This movie wasn't good, it was great!").lower().split()
    assert {"movie", "good", "great"} <= {w for w in words if table.get(w)}
    assert "good," not in words and "great!" not in words


# -------------------------------------------------------------------------------------------- user files


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_load_file_csv_tsv_jsonl(tmp_path):
    csv_path = write(tmp_path / "reviews.csv", 'text,label\n"Good, really good.",pos\nBad!,neg\n\n')
    examples = load_file(csv_path, "text", "label")
    assert [(e.text, e.label) for e in examples] == [("Good , really good .", 1), ("Bad !", 0)]
    assert [e.id for e in examples] == ["reviews/0", "reviews/1"]

    tsv_path = write(tmp_path / "pairs.tsv", "premise\thypothesis\tgold\nA dog runs.\tAn animal moves.\t0\n")
    pair = load_file(tsv_path, "premise", "gold", text_b_column="hypothesis", name="mine")[0]
    assert pair == Example("mine/0", "A dog runs .", 0, "An animal moves .")

    jsonl_path = write(tmp_path / "x.jsonl", json.dumps({"t": "It's fine", "y": "ok"}) + "\n\n"
                       + json.dumps({"t": "meh", "y": "bad"}) + "\n")
    examples = load_file(jsonl_path, "t", "y", label_map={"bad": 0, "ok": 1})
    assert [(e.text, e.label) for e in examples] == [("It 's fine", 1), ("meh", 0)]

    gz_path = tmp_path / "y.jsonl.gz"
    with gzip.open(gz_path, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps({"t": "one", "y": 1}) + "\n" + json.dumps({"t": "two", "y": 0}) + "\n")
    assert [e.label for e in load_file(gz_path, "t", "y")] == [1, 0]


@pytest.mark.parametrize("raw, expected", [
    (["0", "1"], [0, 1]), (["1", "0"], [1, 0]),
    (["2", "0"], [2, 0]),  # only some classes present: the numbers keep their value
    (["10", "2"], [10, 2]),  # numbers, not strings: "10" does not sort before "2"
    (["2.0", "10.0", "1."], [2, 10, 1]), ([" 1", "0 "], [1, 0]),
    (["pos", "neg", "pos"], [1, 0, 1]),  # names: numbered in sorted order
])
def test_load_file_numeric_labels_keep_their_value(tmp_path, raw, expected):
    path = write(tmp_path / "l.csv", "text,label\n" + "".join(f"w{i},{label}\n" for i, label in enumerate(raw)))
    assert [e.label for e in load_file(path, "text", "label")] == expected
    rows = "".join(json.dumps({"text": f"w{i}", "label": float(r) if "." in r else r}) + "\n" for i, r in enumerate(raw))
    assert [e.label for e in load_file(write(tmp_path / "l.jsonl", rows), "text", "label")] == expected


def test_file_label_names_number_a_partial_file_like_the_full_one(tmp_path):
    """Named labels are numbered in sorted order *of the file*: a file holding only 'positive' reviews would call
    them class 0. The training file's names (saved with the checkpoint) keep a dev or attacked file's numbering."""
    from rift_lite.data import file_label_names

    full = write(tmp_path / "train.csv", "review,sentiment\ngood,positive\nbad,negative\nfine,positive\n")
    part = write(tmp_path / "part.csv", "review,sentiment\ngreat,positive\nwarm,positive\n")
    names = file_label_names(full, "review", "sentiment")
    assert names == ("negative", "positive")
    assert [e.label for e in load_file(part, "review", "sentiment")] == [0, 0]  # alone: its only name is class 0
    assert [e.label for e in load_file(part, "review", "sentiment", label_names=names)] == [1, 1]
    assert file_label_names(write(tmp_path / "n.csv", "text,label\na,1\nb,0\n")) is None  # numbers keep their value
    assert file_label_names(write(tmp_path / "n.txt", "1 a\n0 b\n")) is None


@pytest.mark.parametrize("raw, line, message", [
    (["10", "2", "x"], 4, r"label 'x' is a name but '10' \(line 2\) is a number"),
    (["1", "-1"], 3, r"label '-1' is not a class id"),
    (["0", "1.5"], 3, r"label '1.5' is not a class id"),
])
def test_load_file_bad_label_sets(tmp_path, raw, line, message):
    path = write(tmp_path / "l.csv", "text,label\n" + "".join(f"w{i},{label}\n" for i, label in enumerate(raw)))
    with pytest.raises(DataError, match=rf"l\.csv, line {line}: field 'label': {message}"):
        load_file(path, "text", "label")


@pytest.mark.parametrize("name, content", [
    ("empty.csv", ""), ("header.csv", "text,label\n"), ("header.tsv", "text\tlabel\n\n"),
    ("blank.jsonl", "\n\n"), ("empty.txt", ""),
])
def test_load_file_without_examples_is_an_error(tmp_path, name, content):
    path = write(tmp_path / name, content)
    with pytest.raises(DataError, match="no examples") as error:
        load_file(path, "text", "label")
    assert str(path) in str(error.value)


def test_load_file_textfooler_label_text_lines(tmp_path):
    single = write(tmp_path / "mine.txt", "1 a gorgeous , witty film\n\n0 it 's not good\n")
    assert load_file(single) == [Example("mine/0", "a gorgeous , witty film", 1), Example("mine/1", "it 's not good", 0)]
    pairs = write(tmp_path / "nli.txt", "entailment\tA dog runs .\tAn animal moves .\ncontradiction\tA cat.\tNo cat.\n")
    examples = load_file(pairs, label_names=("entailment", "neutral", "contradiction"))
    assert [(e.text, e.text_b, e.label) for e in examples] == [("A dog runs .", "An animal moves .", 0),
                                                               ("A cat .", "No cat .", 2)]
    with pytest.raises(DataError, match=r"bad\.txt, line 2: field 'text': missing"):
        load_file(write(tmp_path / "bad.txt", "1 fine\nlonely\n"))
    with pytest.raises(DataError, match=r"odd\.txt, line 2: field 'text_b': missing"):
        load_file(write(tmp_path / "odd.txt", "0\ta\tb\n1\tc\n"))
    with pytest.raises(DataError, match=r"unknown file type '\.xlsx'.*\.txt"):
        load_file(write(tmp_path / "sheet.xlsx", ""))


def test_load_file_reads_the_projects_own_textfooler_files(root):
    for which in ("mr", "snli"):
        task = TASKS[f"textfooler-{which}"]
        mine = load_file(root / "attack_test_sets" / f"textfooler_{which}.txt", label_names=task.label_names)
        theirs = load(f"textfooler-{which}", "test")
        assert [(e.text, e.text_b, e.label) for e in mine] == [(e.text, e.text_b, e.label) for e in theirs]


# ------------------------------------------------------------------------------------------ bad inputs


def test_missing_data_folder(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataError, match="data folder not found") as error:
        load("mr", "train", data_dir=missing)
    assert str(missing) in str(error.value)
    monkeypatch.setenv("RIFT_LITE_DATA", str(missing))
    with pytest.raises(DataError, match=r"RIFT_LITE_DATA"):
        resolve_data_dir()
    monkeypatch.delenv("RIFT_LITE_DATA")
    assert resolve_data_dir() is None


def test_no_folder_and_no_datasets_package(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_datasets(name, *args, **kwargs):
        if name == "datasets":
            raise ImportError("no datasets")
        return real_import(name, *args, **kwargs)

    monkeypatch.delenv("RIFT_LITE_DATA", raising=False)
    monkeypatch.setattr(builtins, "__import__", no_datasets)
    with pytest.raises(DataError, match="`datasets` package is not installed"):
        load("rte", "dev")
    with pytest.raises(DataError, match="only in the project's data folder"):
        load("textfooler-mr", "test")


def test_no_folder_and_no_hub_names_both_ways_out(monkeypatch, caplog):
    """Offline without a data folder: the one error line says how to get the data (a folder, or the internet)."""
    import logging
    import sys
    import types

    def offline(*args, **kwargs):
        logging.getLogger("huggingface_hub").warning("'[Errno -2] Name or service not known' thrown while requesting")
        raise ConnectionError("Couldn't reach 'nyu-mll/glue' on the Hub (LocalEntryNotFoundError)\n  details ...")

    monkeypatch.delenv("RIFT_LITE_DATA", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setitem(sys.modules, "datasets", types.SimpleNamespace(load_dataset=offline))
    with caplog.at_level(logging.WARNING), pytest.raises(DataError) as error:
        load("rte", "dev")
    message = str(error.value)
    assert "--data-dir" in message and "$RIFT_LITE_DATA" in message and "internet" in message
    assert "Couldn't reach" in message and "\n" not in message and "unset HF_HUB_OFFLINE" in message
    assert not caplog.records  # the Hub's own retry warnings do not come before the one error line
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    with pytest.raises(DataError) as error:
        load("mrpc", "dev")
    assert "HF_HUB_OFFLINE" not in str(error.value)


def test_missing_file(tmp_path):
    (tmp_path / "glue_rte").mkdir()
    with pytest.raises(DataError, match="file not found") as error:
        load("rte", "dev", data_dir=tmp_path)
    assert str(tmp_path / "glue_rte" / "dev.tsv") in str(error.value)
    with pytest.raises(DataError, match="file not found"):
        load_file(tmp_path / "absent.csv", "text", "label")


def fake_rte(tmp_path, rows: str) -> Path:
    (tmp_path / "glue_rte").mkdir(exist_ok=True)
    write(tmp_path / "glue_rte" / "dev.tsv", "index\tsentence1\tsentence2\tlabel\n" + rows)
    return tmp_path / "glue_rte" / "dev.tsv"


def test_malformed_line(tmp_path):
    path = fake_rte(tmp_path, "0\tA man.\tA person.\tentailment\n1\tOnly one sentence.\tentailment\n")
    with pytest.raises(DataError) as error:
        load("rte", "dev", data_dir=tmp_path)
    message = str(error.value)
    assert str(path) in message and "line 3" in message and "'label'" in message and "found 3" in message
    assert error.value.line == 3 and error.value.field == "label"

    bad_csv = write(tmp_path / "bad.csv", "text,label\nfine,1\ntoo,many,fields\n")
    with pytest.raises(DataError, match=r"bad\.csv, line 3: field 'label'") as error:
        load_file(bad_csv, "text", "label")
    bad_json = write(tmp_path / "bad.jsonl", '{"text": "ok", "label": 1}\n{"text": "broken"\n')
    with pytest.raises(DataError, match=r"bad\.jsonl, line 2.*invalid JSON"):
        load_file(bad_json, "text", "label")
    missing_key = write(tmp_path / "key.jsonl", '{"text": "ok"}\n')
    with pytest.raises(DataError, match=r"key\.jsonl, line 1: field 'label': missing"):
        load_file(missing_key, "text", "label")


def test_unknown_label(tmp_path):
    path = fake_rte(tmp_path, "0\tA man.\tA person.\tentailment\n1\tA cat.\tA dog.\tmaybe\n")
    with pytest.raises(DataError, match=r"unknown label 'maybe'") as error:
        load("rte", "dev", data_dir=tmp_path)
    assert str(error.value).startswith(f"{path}, line 3: field 'label'")
    user = write(tmp_path / "u.tsv", "text\tlabel\ngood\tpos\nbad\tneutral\n")
    with pytest.raises(DataError, match=r"u\.tsv, line 3: field 'label': unknown label 'neutral'"):
        load_file(user, "text", "label", label_map={"neg": 0, "pos": 1})


def test_empty_text(tmp_path):
    path = fake_rte(tmp_path, "0\tA man.\t   \tentailment\n")
    with pytest.raises(DataError, match="empty text") as error:
        load("rte", "dev", data_dir=tmp_path)
    assert str(error.value).startswith(f"{path}, line 2: field 'sentence2'")
    user = write(tmp_path / "e.csv", 'review,label\n"",1\n')
    with pytest.raises(DataError, match=r"e\.csv, line 2: field 'review': empty text"):
        load_file(user, "review", "label")
    (tmp_path / "mr_rotten_tomatoes").mkdir()
    write(tmp_path / "mr_rotten_tomatoes" / "rt-polarity.pos", "fine .\n<br />\n")
    with pytest.raises(DataError, match=r"rt-polarity\.pos, line 2: field 'text': empty text"):
        load("mr", "train", data_dir=tmp_path)


def test_snli_offline_splits_are_disjoint_and_test_is_textfoolers_thousand(data_dir):
    from rift_lite import data

    splits = {s: data.load("snli-offline", s, data_dir) for s in ("train", "dev", "test")}
    assert {s: len(v) for s, v in splits.items()} == {"train": 9842, "dev": 8824, "test": 1000}
    ids = {s: {ex.id for ex in v} for s, v in splits.items()}
    assert all(i.startswith("snli/dev/") for i in ids["train"]) and not (ids["dev"] & ids["test"])
    assert ids["dev"] | ids["test"] == {ex.id for ex in data.load("snli", "test", data_dir)}
    textfooler = data.load("textfooler-snli", "test", data_dir)
    assert [ex.label for ex in splits["test"]] == [ex.label for ex in textfooler]  # matched in TextFooler's order
    assert data.TASKS["snli-offline"].is_pair and data.TASKS["snli-offline"].num_labels == 3
