"""The reproduction command: protocols and tables, a tiny real campaign end to end, resume after SIGKILL, the
paired bootstrap difference and the rendered tables."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from rift_lite.protocols import PROTOCOLS, TABLES, TINY, campaign
from rift_lite.report import render_tables
from rift_lite.report_peaft import majority_share
from rift_lite.results import paired_difference


def test_list_prints_every_protocol_and_table():
    out = subprocess.run([sys.executable, "-m", "rift_lite", "reproduce", "--list"], capture_output=True, text=True,
                         check=True).stdout
    for name in list(PROTOCOLS) + list(TABLES):
        assert name in out
    assert "pwws n=1000" in out and "genetic n=200" in out


def test_campaign_is_seed_major_and_trains_shared_runs_once():
    runs = campaign(["table1", "table3", "table4", "fig2", "fig4"], (0, 1, 2))
    names = [r.name for r in runs]
    assert len(names) == len(set(names)) == 23
    assert all(r.seed == 0 for r in runs[:11]) and runs[11].seed == 1  # every seed-0 run (sweeps too) first
    rift0 = next(r for r in runs if r.name == "rift-seed0")
    assert rift0.attacks == ("pwws", "genetic")  # Table 1 wants both, Table 4 only PWWS: merged
    assert next(r for r in runs if r.name == "rift-a0.3-seed0").attacks == ("pwws",)


def test_unknown_table_or_protocol_is_one_error_line(tmp_path):
    for argv in (["reproduce", "table9"], ["reproduce", "table1", "--protocol", "tpu"], ["reproduce"]):
        res = subprocess.run([sys.executable, "-m", "rift_lite", *argv, "--results-dir", str(tmp_path)],
                             capture_output=True, text=True)
        assert res.returncode == 2 and res.stderr.strip().startswith("error:") and len(res.stderr.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def _fake_run(method, seed, outcomes, sha="x"):
    return {"run": f"{method}-{seed}", "method": method, "seed": seed, "overrides": {},
            "attacks": {"pwws": {"ids_sha1": sha, "outcomes": outcomes,
                                 "metrics": {"accuracy_under_attack": outcomes.count("r") / len(outcomes)}}}}


def test_paired_difference_pairs_seeds_and_examples():
    a = [_fake_run("rift", 0, "rrrrrrrrrr"), _fake_run("rift", 1, "rrrrrrrrrr")]
    b = [_fake_run("adv-base", 0, "ffffffffff"), _fake_run("adv-base", 1, "xxxxxxxxxx")]
    d = paired_difference(a, b, "pwws", n_boot=200)
    assert d["difference"] == 1.0 and d["ci95"] == [1.0, 1.0] and d["holds"] and d["n_seeds"] == 2
    same = paired_difference(a, a, "pwws", n_boot=200)
    assert same["difference"] == 0.0 and not same["holds"]
    mixed = paired_difference([_fake_run("rift", 0, "rf" * 50)], [_fake_run("adv-base", 0, "fr" * 50)], "pwws")
    assert mixed["difference"] == 0.0 and mixed["ci95"][0] < 0 < mixed["ci95"][1] and not mixed["holds"]
    with pytest.raises(ValueError, match="different examples"):
        paired_difference(a[:1], [_fake_run("adv-base", 0, "rrrrrrrrrr", sha="y")], "pwws")
    assert paired_difference(a, [], "pwws")["n_seeds"] == 0


@pytest.mark.slow
def test_tiny_campaign_end_to_end_with_provenance(tmp_path, data_dir):
    from rift_lite.reproduce import reproduce

    kwargs = dict(tiny=True, results_dir=tmp_path / "results", runs_dir=tmp_path / "runs", data_dir=str(data_dir))
    paths = reproduce(["table3"], "cpu", (0,), **kwargs)
    assert [p.name for p in paths] == ["cpu-tiny-mr-rift-seed0.json", "cpu-tiny-mr-rift-ist-seed0.json"]
    run = json.loads(paths[0].read_text())
    for key in ("protocol", "protocol_config", "code_version", "hardware", "wall_time_s", "seed", "command"):
        assert key in run
    assert run["train"]["config"]["pooling"] == "mean" and run["train"]["config"]["length_buckets"] == 50
    assert len(run["train"]["trace"]) >= 2 and all("rel_l2_distance" in row for row in run["train"]["trace"])
    assert run["train"]["model_selection"].startswith("dev split")
    for attack in ("pwws", "genetic"):
        a = run["attacks"][attack]
        assert len(a["outcomes"]) == a["n"] == a["metrics"]["n"] == TINY["attack_n"][attack]
        assert a["metrics"]["accuracy_under_attack"] == a["outcomes"].count("r") / a["n"]
    assert run["attacks"]["genetic"]["attack_config"]["selection"] == "proportional"
    table = (tmp_path / "results" / "table3-tiny" / "table-cpu.md").read_text()
    assert "RIFT-I(S;T)" in table and "paper: PWWS" in table and "69.4" in table  # the paper's BERT/IMDB value
    mtime = paths[0].stat().st_mtime
    again = reproduce(["table3"], "cpu", (0,), **kwargs)
    assert again == paths and paths[0].stat().st_mtime == mtime  # done runs are skipped


@pytest.mark.slow
def test_reproduce_resumes_after_sigkill(tmp_path, data_dir):
    """Kill the command once the first run has a checkpoint; running it again finishes with the numbers of an
    uninterrupted campaign."""
    def command(root):
        return [sys.executable, "-m", "rift_lite", "reproduce", "table3", "--tiny", "--seeds", "0", "--max-runs", "1",
                "--results-dir", str(root / "results"), "--runs-dir", str(root / "runs"), "--data-dir", str(data_dir)]

    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(command(tmp_path / "a"), check=True, env=env, capture_output=True)
    proc = subprocess.Popen(command(tmp_path / "b"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    latest = tmp_path / "b" / "runs" / "cpu-tiny-mr-rift-seed0" / "checkpoints" / "LATEST"
    deadline = time.time() + 120
    while not latest.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    partial = tmp_path / "b" / "results" / "runs" / "cpu-tiny-mr-rift-seed0.json"
    assert not partial.exists() or not json.loads(partial.read_text())["complete"]
    subprocess.run(command(tmp_path / "b"), check=True, env=env, capture_output=True)
    a, b = (json.loads((tmp_path / x / "results" / "runs" / "cpu-tiny-mr-rift-seed0.json").read_text()) for x in "ab")
    assert b["train"]["resumed_at_steps"] and not a["train"]["resumed_at_steps"]
    assert b["train"]["best"] == a["train"]["best"]
    for attack in ("pwws", "genetic"):
        assert b["attacks"][attack]["outcomes"] == a["attacks"][attack]["outcomes"]


def test_render_tables_from_results_files(tmp_path):
    folder = tmp_path / "runs"
    folder.mkdir()
    for method, seed, outcomes in (("rift", 0, "rrrf"), ("adv-base", 0, "rfff"), ("rift", 1, "rrff"),
                                   ("adv-base", 1, "rfff")):
        run = _fake_run(method, seed, outcomes)
        run.update(protocol="cpu", tiny=False, code_version="abc", protocol_config={"note": "test"})
        run["attacks"]["pwws"]["metrics"]["clean_accuracy"] = 1.0
        (folder / f"{method}-{seed}.json").write_text(json.dumps(run))
    md = render_tables(["table1"], "cpu", tmp_path)[0].read_text()
    assert "| RIFT | 100.0 ± 0.0 (2) | -- | 62.5 ± 17.7 (2) | 78.3 | 77.2 | 70.1 |" in md
    assert "| Adv-Base | 100.0 ± 0.0 (2) | -- | 25.0 ± 0.0 (2) |" in md
    assert "RIFT − Adv-Base, pwws: +37.5 points" in md


def test_readme_measured_section_is_the_rendering_of_the_results_files():
    """The README's numbers come from book/results only: re-render with `reproduce all --render-readme`."""
    from pathlib import Path

    from rift_lite.report_readme import README_BEGIN, README_END, readme_section

    repo = Path(__file__).resolve().parents[1]
    text = (repo / "README.md").read_text()
    section = text[text.index(README_BEGIN): text.index(README_END) + len(README_END)]
    assert section == readme_section(repo / "book" / "results")


@pytest.mark.slow
def test_results_file_lands_in_pieces(tmp_path, data_dir, monkeypatch):
    """After training the file exists with "complete": false (the forgetting curves are usable); an attack that fails
    leaves it so, and the next call finishes it."""
    from rift_lite import reproduce as rep

    calls = []
    real = rep.attack_run

    def failing_genetic(checkpoint, attack, *args, **kwargs):
        calls.append(attack)
        if attack == "genetic" and len(calls) < 3:
            raise KeyboardInterrupt("stopped during the genetic attack")
        return real(checkpoint, attack, *args, **kwargs)

    monkeypatch.setattr(rep, "attack_run", failing_genetic)
    kwargs = dict(tiny=True, results_dir=tmp_path / "results", runs_dir=tmp_path / "runs", data_dir=str(data_dir))
    spec = rep.RunSpec("standard", 0, (), ("pwws", "genetic"))
    with pytest.raises(KeyboardInterrupt):
        rep.run_one(spec, "cpu", **kwargs)
    path = tmp_path / "results" / "runs" / "cpu-tiny-mr-standard-seed0.json"
    partial = json.loads(path.read_text())
    assert partial["complete"] is False and list(partial["attacks"]) == ["pwws"] and partial["train"]["trace"]
    assert rep.run_one(spec, "cpu", **kwargs) == (path, True)
    done = json.loads(path.read_text())
    assert done["complete"] is True and sorted(done["attacks"]) == ["genetic", "pwws"]
    assert done["attacks"]["pwws"] == partial["attacks"]["pwws"]
    assert rep.run_one(spec, "cpu", **kwargs) == (path, False)


# ---------------------------------------------------------------------------------------------- the PEAFT tables


def test_peaft_tables_runs_have_their_own_dataset_and_rift_names_do_not_change():
    from rift_lite.protocols import RunSpec
    from rift_lite.reproduce import protocol_sizes, run_name

    runs = campaign(["peaft1", "peaft2"], (0,))
    assert [r.label for r in runs] == [f"{d}-{m}-seed0" for d in ("sst2", "rte")
                                       for m in ("peaft", "freelb", "rose", "standard", "rift")]
    assert all(r.attacks == ("textfooler", "advglue") for r in runs)  # the same checkpoints serve both tables
    sst2 = protocol_sizes("cpu", dataset="sst2")
    assert run_name(runs[0], "cpu", sst2) == "cpu-sst2-peaft-seed0"
    assert sst2["select_on"] == "last" and sst2["eval_split"] == "dev" and sst2["max_tokens"] == 64
    assert protocol_sizes("cpu", dataset="rte")["max_tokens"] == 128 and "datasets" not in sst2
    assert run_name(RunSpec("rift"), "cpu", protocol_sizes("cpu")) == "cpu-mr-rift-seed0"
    assert protocol_sizes("cpu", dataset="mr") == protocol_sizes("cpu")
    with pytest.raises(ValueError, match="no sizes for sst2"):
        protocol_sizes("gpu", dataset="sst2")
    assert {r.dataset for r in campaign(["table1", "table3", "table4", "fig2", "fig4"], (0,))} == {None}


def test_select_on_last_keeps_every_epoch_without_a_score():
    from rift_lite.selection import improved_best
    from rift_lite.train_config import TrainConfig, resolve_config

    first = improved_best(None, 1, {"clean_acc": None, "robust_acc": None}, "last")
    assert first["epoch"] == 1 and first["score"] is None
    assert improved_best(first, 2, {"clean_acc": None, "robust_acc": None}, "last")["epoch"] == 2
    assert improved_best({"score": 0.9}, 2, {"clean_acc": 0.5, "robust_acc": 0.1}, "robust") is None  # default kept
    cfg = resolve_config(TrainConfig(method="standard", model="tiny-random", select_on="last", dev_attack_steps=0))
    assert cfg.select_on == "last"
    with pytest.raises(ValueError, match="select_on"):
        resolve_config(TrainConfig(method="standard", model="tiny-random", select_on="best"))


def _fake_peaft_run(method, dataset, seed, aua, acc, evaluation="textfooler"):
    outcomes = "r" * round(10 * aua) + "f" * (10 - round(10 * aua))
    return {"run": f"cpu-{dataset}-{method}-seed{seed}", "protocol": "cpu", "tiny": False, "dataset": dataset,
            "method": method, "seed": seed, "overrides": {}, "code_version": "abc",
            "protocol_config": {"note": f"{dataset} test"},
            "attacks": {evaluation: {"ids_sha1": "x", "outcomes": outcomes,
                                     "metrics": {"accuracy_under_attack": aua, "clean_accuracy": acc}}}}


def test_render_peaft_tables_beside_the_paper_and_apart_from_the_rift_tables(tmp_path):
    folder = tmp_path / "runs"
    folder.mkdir()
    runs = [_fake_peaft_run("peaft", "sst2", 0, 0.5, 0.9), _fake_peaft_run("peaft", "sst2", 1, 0.3, 0.7),
            _fake_peaft_run("freelb", "sst2", 0, 0.1, 0.9), _fake_peaft_run("standard", "sst2", 0, 0.0, 0.8),
            _fake_peaft_run("peaft", "rte", 0, 0.4, 0.6, "advglue")]
    runs[-1]["attacks"]["advglue"]["metrics"].update(n=81, n_clean=277)
    mr_run = {**_fake_peaft_run("adv-base", "mr", 0, 0.1, 0.7, "pwws"), "code_version": "mr-only"}
    for run in runs + [mr_run]:
        (folder / f"{run['run']}.json").write_text(json.dumps(run))
    md = render_tables(["peaft1"], "cpu", tmp_path)[0].read_text()
    assert "paper (roberta-base): AUA" in md and "sst2 test" in md
    assert "| SST-2 | PEAFT | 40.0 ± 14.1 (2) | 80.0 ± 14.1 (2) | 60.0 ± 14.1 (2) | 48.0 | 93.8 | 70.9 |" in md
    assert "| SST-2 | Standard | 0.0 (1) | 80.0 (1) | 40.0 (1) | -- | -- | -- |" in md  # no such row in the paper
    assert "| RTE | PEAFT | -- | -- | -- | 49.5 | 68.5 | 59.0 |" in md  # its run has the AdvGLUE evaluation only
    assert "PEAFT − FreeLB, SST-2, textfooler: +40.0 points" in md
    assert "Code version(s): abc." in md  # the versions of this table's runs, not of the MR run beside them
    md2 = render_tables(["peaft2"], "cpu", tmp_path)[0].read_text()
    assert "| RTE | PEAFT | 40.0 (1) | 60.0 (1) | 50.0 (1) | 48.2 | 68.5 | 58.4 |" in md2
    assert "examples: RTE 81 AdvGLUE / 277 GLUE dev" in md2
    rift = render_tables(["table1"], "cpu", tmp_path)[0].read_text()
    assert "| Standard | -- | -- | -- |" in rift  # the SST-2 Standard run never enters a RIFT (MR) table


def test_a_peaft_claim_is_not_read_where_the_clean_accuracy_is_at_chance(tmp_path, data_dir):
    """RTE's dev majority class is 146 of 277 (52.7 %): a run 0.3 points above it is a near-constant classifier whose
    AUA says nothing about robustness, so the PEAFT-vs-FreeLB verdict there is withheld; SST-2's stays."""
    assert majority_share("rte") == pytest.approx(146 / 277)
    folder = tmp_path / "runs"
    folder.mkdir()
    runs = [_fake_peaft_run("peaft", "rte", 0, 0.5, 0.53), _fake_peaft_run("freelb", "rte", 0, 0.1, 0.70),
            _fake_peaft_run("peaft", "sst2", 0, 0.5, 0.9), _fake_peaft_run("freelb", "sst2", 0, 0.1, 0.9)]
    for run in runs:
        (folder / f"{run['run']}.json").write_text(json.dumps(run))
    md = render_tables(["peaft1"], "cpu", tmp_path)[0].read_text()
    assert "PEAFT − FreeLB, SST-2, textfooler: +40.0 points" in md and "examples -- holds at this scale." in md
    assert ("PEAFT − FreeLB, RTE, textfooler: +40.0 points, 95 % interval" in md
            and "-- not readable at this scale: PEAFT at chance level" in md)  # FreeLB (70 %) is readable
    assert "RTE: the majority class is 52.7 % of dev; PEAFT within 5 points of it" in md
    table = json.loads((tmp_path / "peaft1" / "table-cpu.json").read_text())
    assert table["at_chance"] == {"sst2": [], "rte": ["peaft"]}


@pytest.mark.slow
def test_tiny_peaft_tables_end_to_end_with_provenance(tmp_path, data_dir, monkeypatch):
    """`reproduce peaft1 peaft2 --tiny`: ten runs (5 methods x SST-2 / RTE), trained a fixed number of epochs
    without ever evaluating on dev, attacked by TextFooler on dev, evaluated on AdvGLUE; both tables rendered."""
    from rift_lite import train as train_module
    from rift_lite.reproduce import reproduce

    def no_dev_evaluation(*args, **kwargs):
        raise AssertionError("select_on='last' must not evaluate on the dev split")

    monkeypatch.setattr(train_module, "evaluate", no_dev_evaluation)
    kwargs = dict(tiny=True, results_dir=tmp_path / "results", runs_dir=tmp_path / "runs", data_dir=str(data_dir))
    paths = reproduce(["peaft1", "peaft2"], "cpu", (0,), **kwargs)
    assert [p.name for p in paths] == [f"cpu-tiny-{d}-{m}-seed0.json" for d in ("sst2", "rte")
                                       for m in ("peaft", "freelb", "rose", "standard", "rift")]
    for path in paths:
        run = json.loads(path.read_text())
        for key in ("protocol", "protocol_config", "code_version", "hardware", "wall_time_s", "seed", "command",
                    "dataset", "model"):
            assert key in run
        assert run["complete"] and run["tables"] == ["peaft1", "peaft2"]
        assert run["dataset"] in ("sst2", "rte") and run["protocol_config"]["eval_split"] == "dev"
        assert run["train"]["model_selection"].startswith("the last epoch") and run["train"]["n_dev"] == 0
        assert run["train"]["best"]["select_on"] == "last" and run["train"]["best"]["epoch"] == TINY["epochs"]
        tf, ag = run["attacks"]["textfooler"], run["attacks"]["advglue"]
        assert len(tf["outcomes"]) == tf["n"] == TINY["attack_n"]["textfooler"] and tf["split"] == "dev"
        m = tf["peaft_metrics"]
        assert m["AUA"] == pytest.approx(100 * tf["metrics"]["accuracy_under_attack"])
        assert m["ACC"] == pytest.approx(100 * tf["metrics"]["clean_accuracy"])
        assert m["AVG"] == pytest.approx((m["AUA"] + m["ACC"]) / 2)
        assert ag["n"] == len(ag["outcomes"]) == TINY["advglue_n"] and ag["clean"]["n"] == TINY["clean_n"]
        assert ag["metrics"]["accuracy_under_attack"] == ag["outcomes"].count("r") / ag["n"]
        assert ag["peaft_metrics"]["AVG"] == pytest.approx((ag["peaft_metrics"]["AUA"] + ag["peaft_metrics"]["ACC"]) / 2)
    peaft = json.loads(paths[0].read_text())
    assert peaft["train"]["config"]["extra"]["prompt_tokens"] == 20 and peaft["train"]["history"][-1]["dev_n"] == 0
    table1 = (tmp_path / "results" / "peaft1-tiny" / "table-cpu.md").read_text()
    assert "| SST-2 | PEAFT |" in table1 and "| 48.0 | 93.8 | 70.9 |" in table1  # the paper's roberta-base row
    table2 = (tmp_path / "results" / "peaft2-tiny" / "table-cpu.md").read_text()
    assert "| RTE | FreeLB |" in table2 and "| 64.2 | 58.1 | 61.1 |" in table2
    mtime = paths[0].stat().st_mtime
    assert reproduce(["peaft2"], "cpu", (0,), **kwargs) == paths and paths[0].stat().st_mtime == mtime


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="checks the message on a machine without CUDA")
def test_cuda_asked_for_without_cuda_is_one_error_line(tmp_path):
    for argv in (["reproduce", "table1", "--tiny", "--device", "cuda", "--results-dir", str(tmp_path / "r"),
                  "--runs-dir", str(tmp_path / "runs")],
                 ["train", "--profile", "smoke", "--device", "cuda", "--out", str(tmp_path / "t")]):
        res = subprocess.run([sys.executable, "-m", "rift_lite", *argv], capture_output=True, text=True)
        assert res.returncode == 2, res.stderr[-500:]
        assert res.stderr.strip().splitlines()[-1].startswith("error: --device cuda: no CUDA device")
    assert not (tmp_path / "t").exists()


def test_readme_section_adds_the_peaft_tables_once_a_peaft_run_exists(tmp_path):
    from rift_lite.report_readme import readme_section

    (tmp_path / "runs").mkdir()
    assert "PEAFT Table 1 analogue" not in readme_section(tmp_path)
    run = _fake_peaft_run("peaft", "sst2", 0, 0.5, 0.9)
    (tmp_path / "runs" / f"{run['run']}.json").write_text(json.dumps(run))
    section = readme_section(tmp_path)
    assert "#### PEAFT Table 1 analogue" in section and "#### PEAFT Table 2 analogue" in section
    assert "| SST-2 | PEAFT | 50.0 (1) | 90.0 (1) | 70.0 (1) | 48.0 | 93.8 | 70.9 |" in section
    assert "PEAFT-table runs complete (1): cpu-sst2-peaft-seed0." in section
    partial = {**_fake_peaft_run("freelb", "sst2", 0, 0.4, 0.9), "complete": False}
    (tmp_path / "runs" / f"{partial['run']}.json").write_text(json.dumps(partial))
    assert ("PEAFT-table runs complete (1): cpu-sst2-peaft-seed0. Trained, attacks not all in yet (1): "
            "cpu-sst2-freelb-seed0.") in readme_section(tmp_path)


@pytest.mark.slow
def test_tiny_snli_table_on_the_offline_splits(tmp_path, data_dir):
    """`reproduce table2 --tiny`: five methods on snli-offline (train = SNLI dev, attacks on the SNLI test pairs of
    TextFooler's 1,000, hypothesis only), batches a multiple of 3 classes, the paper's SNLI rows beside ours."""
    from rift_lite.reproduce import protocol_sizes, reproduce

    sizes = protocol_sizes("cpu", False, "snli")
    assert sizes["dataset"] == "snli-offline" and sizes["batch_size"] % 3 == 0 and sizes["attack_n"]["pwws"] == 1000
    assert protocol_sizes("gpu", False, "snli")["dataset"] == "snli"  # the hub's SNLI, with its training set
    assert protocol_sizes("cpu", True, "snli")["batch_size"] == 9  # tiny's 8 rounded up to whole classes
    kwargs = dict(tiny=True, results_dir=tmp_path / "results", runs_dir=tmp_path / "runs", data_dir=str(data_dir))
    paths = reproduce(["table2"], "cpu", (0,), **kwargs)
    assert [p.name for p in paths] == [f"cpu-tiny-snli-offline-{m}-seed0.json" for m in
                                       ("standard", "adv-base", "rift", "adv-ptwd", "adv-mixout")]
    run = json.loads(paths[2].read_text())
    assert run["complete"] and run["tables"] == ["table2"] and run["dataset"] == "snli-offline"
    assert run["train"]["config"]["beta"] == 5.0 and run["train"]["config"]["alpha"] == 0.7  # the paper's SNLI values
    records = [json.loads(line) for line in (tmp_path / "runs" / "cpu-tiny-snli-offline-rift-seed0" / "attack-pwws" /
                                             "records.jsonl").read_text().splitlines()]
    assert records and all(r["field"] == "text_b" and r["id"].startswith("snli/test/") for r in records)
    table = (tmp_path / "results" / "table2-tiny" / "table-cpu.md").read_text()
    assert "| RIFT |" in table and "| 80.5 | 77.5 | 74.3 |" in table  # the paper's SNLI BERT row (Tables 2, 5)
