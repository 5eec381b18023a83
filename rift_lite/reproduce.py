"""One command per table: train every run a table needs, attack the selected checkpoints, write small results files.

``python -m rift_lite reproduce table1 --protocol cpu --seeds 0 1 2`` runs, for every (method, setting, seed) that
:mod:`rift_lite.protocols` lists for the table:

1. training with dev-split model selection (:func:`rift_lite.train.train`; checkpoints every few steps in
   ``--runs-dir``, an ignored folder, so a killed run resumes where it stopped);
2. the table's attacks (PWWS, Genetic) on the selected checkpoint, on test examples drawn once with seed 0 -- the
   same examples for every run (records appended per example, so a killed attack resumes too);
3. one small results file ``<results-dir>/runs/<protocol>-<dataset>-<run>.json``: the metrics of every attack, the
   per-example outcomes (for paired confidence intervals), the per-epoch log and the trace of the relative L2
   distance, the config, seed, code version, hardware, wall times and the protocol.

Runs whose results file exists are skipped, so the command can be run a few hours at a time; shared runs (RIFT seed
0 is in Tables 1, 3 and 4) are trained once. Several processes can share a campaign (e.g. two workers with one thread
each on a 2-core machine): each takes a lock on a run's folder before it trains it and skips the runs another live
process holds (:mod:`rift_lite.run_lock`). At the end the tables are rendered (:mod:`rift_lite.report`) into
``<results-dir>/<table>/table.md`` beside the paper's numbers. ``--list`` prints the protocols and tables.

The PEAFT tables (``reproduce peaft1 peaft2 --protocol cpu``) run the same way on GLUE SST-2 and RTE (a run's own
dataset, ``cpu-sst2-peaft-seed0``): training keeps the last of a fixed number of epochs (the dev split is the test
set), ``textfooler`` attacks the dev examples (PEAFT's AUA / ACC / AVG, :func:`rift_lite.evaluate.aua_acc_avg`), and
the ``advglue`` evaluation (:func:`advglue_run`) measures the same checkpoint on AdvGLUE dev and on the clean dev set.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from .protocols import ALL_TABLES, PROTOCOLS, TABLE_ORDER, TABLES, TINY, RunSpec, campaign, describe
from .provenance import git_describe, write_json_atomic
from .run_lock import run_lock

RESULTS_DIR = Path("book") / "results"
RUNS_DIR = Path("runs") / "reproduce"
OUTCOME_CODES = {"robust": "r", "success": "f", "skipped": "x"}
"""Per-example outcome letters: r = correct before and after the attack, f = flipped by it, x = wrong already."""


def protocol_sizes(protocol: str, tiny: bool = False, dataset: str | None = None) -> dict[str, Any]:
    """The sizes of a run of ``protocol`` on ``dataset`` (None: the protocol's own), shrunk by :data:`TINY`."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"--protocol must be one of {', '.join(PROTOCOLS)}; got {protocol!r}")
    sizes = dict(PROTOCOLS[protocol])
    per_dataset = sizes.pop("datasets", {})
    if dataset is not None and dataset != sizes["dataset"]:
        if dataset not in per_dataset:
            having = [p for p, v in PROTOCOLS.items() if dataset in v.get("datasets", {})]
            raise ValueError(f"protocol {protocol} has no sizes for {dataset} (protocols with them: "
                             f"{', '.join(having) or 'none'})")
        sizes.update({"dataset": dataset, **per_dataset[dataset]})  # an entry may name its own loader
    if tiny:
        sizes.update(TINY)
        from .tasks import TASKS  # class-balanced batches need a multiple of the classes (SNLI: 3)

        classes = TASKS[sizes["dataset"]].num_labels
        sizes["batch_size"] = classes * -(-sizes["batch_size"] // classes)
    return sizes


def run_name(spec: RunSpec, protocol: str, sizes: dict) -> str:
    return f"{protocol}{'-tiny' if sizes.get('model') == TINY['model'] else ''}-{sizes['dataset']}-{spec.name}"


def train_config(spec: RunSpec, sizes: dict, out: Path, *, data_dir=None, device="auto", progress=False):
    """The :class:`~rift_lite.train.TrainConfig` of one run (protocol sizes, then the run's overrides)."""
    from . import data
    from .train import TrainConfig

    n_train = sizes["train_examples"] or len(data.load(sizes["dataset"], "train", data_dir))
    steps = sizes["epochs"] * (n_train // sizes["batch_size"])
    fields = {f.name for f in dataclasses.fields(TrainConfig)}
    values = {k: v for k, v in sizes.items() if k in fields}
    values.update(method=spec.method, seed=spec.seed, out=str(out), data_dir=data_dir, device=device,
                  progress=progress, trace_every_steps=max(1, steps // sizes["traces_per_run"]),
                  checkpoint_every_steps=max(1, min(25, steps // 4)))
    values.update(dict(spec.overrides))
    return TrainConfig(**values)


def attack_run(checkpoint: Path, attack_name: str, sizes: dict, out: Path, *, data_dir=None, device="cpu",
               progress=False) -> dict:
    """Attack the test examples of the protocol (drawn with seed 0) with a resumable record file in ``out``."""
    import torch

    from . import data
    from .attacks import ClassifierVictim, build_attack
    from .evaluate import evaluate_attack, read_records, sample_examples
    from .models import load_classifier
    from .substitutions import SubstitutionSet

    if attack_name == "advglue":
        return advglue_run(checkpoint, sizes, data_dir=data_dir, device=device)
    model, tokenizer = load_classifier(checkpoint)
    victim = ClassifierVictim(model, tokenizer, batch_size=64, device=torch.device(device),
                              max_tokens=tokenizer.max_tokens)
    options = {"pop_size": sizes["pop_size"], "iterations": sizes["iterations"]} if attack_name == "genetic" else {}
    attack = build_attack(attack_name, SubstitutionSet.load(data_dir), None, 0, **options)
    split = sizes.get("eval_split", "test")
    examples = sample_examples(data.load(sizes["dataset"], split, data_dir), sizes["attack_n"][attack_name], 0)
    summary = evaluate_attack(victim, attack, examples, out, resume=True, progress=progress)
    records = {r["id"]: r for r in read_records(out / "records.jsonl")}
    ids = sorted(ex.id for ex in examples)
    outcomes = "".join(OUTCOME_CODES["skipped"] if records[i]["clean_pred"] != records[i]["label"] else
                       OUTCOME_CODES["robust"] if records[i]["adv_pred"] == records[i]["label"] else
                       OUTCOME_CODES["success"] for i in ids)
    result = {"metrics": summary["metrics"], "attack_config": summary["attack_config"],
              "constraints": summary["constraints"], "n": len(examples), "example_seed": 0,
              "ids_sha1": hashlib.sha1("\n".join(ids).encode()).hexdigest(), "outcomes": outcomes,
              "wall_time_s": summary["metrics"]["attack_time_s"]}
    if split != "test":  # PEAFT's metrics, on the same examples (ACC = clean accuracy on them)
        from .evaluate import aua_acc_avg

        result.update(split=split, peaft_metrics=aua_acc_avg([records[i] for i in ids]))
    return result


def advglue_run(checkpoint: Path, sizes: dict, *, data_dir=None, device="cpu") -> dict:
    """PEAFT Table 2's evaluation of one checkpoint: AUA = accuracy on AdvGLUE's dev examples of the run's task
    (``advglue-<dataset>``, fixed adversarial texts: no search), ACC = clean accuracy on the task's dev split.

    Per-example outcomes (``r`` correct, ``f`` wrong; sorted ids) for both sets, so runs can be compared paired.
    """
    import torch

    from . import data
    from .attacks import ClassifierVictim
    from .evaluate import aua_acc_avg, sample_examples
    from .models import load_classifier

    started = time.perf_counter()
    model, tokenizer = load_classifier(checkpoint)
    victim = ClassifierVictim(model, tokenizer, batch_size=64, device=torch.device(device),
                              max_tokens=tokenizer.max_tokens)
    name, split = sizes["dataset"], sizes.get("eval_split", "dev")
    sets = {"adversarial": sample_examples(data.load(f"advglue-{name}", "dev", data_dir), sizes.get("advglue_n", 0)),
            "clean": sample_examples(data.load(name, split, data_dir), sizes.get("clean_n", 0))}
    parts = {}
    for key, examples in sets.items():
        examples = sorted(examples, key=lambda ex: ex.id)
        preds = victim.predict_proba(examples).argmax(-1).tolist()
        outcomes = "".join("r" if p == ex.label else "f" for p, ex in zip(preds, examples))
        parts[key] = {"n": len(examples), "accuracy": outcomes.count("r") / len(examples), "outcomes": outcomes,
                      "ids_sha1": hashlib.sha1("\n".join(ex.id for ex in examples).encode()).hexdigest()}
    adv, clean = parts["adversarial"], parts["clean"]
    wall = round(time.perf_counter() - started, 3)
    return {"metrics": {"accuracy_under_attack": adv["accuracy"], "clean_accuracy": clean["accuracy"],
                        "n": adv["n"], "n_clean": clean["n"]},
            "peaft_metrics": aua_acc_avg(aua=adv["accuracy"], acc=clean["accuracy"]),
            "evaluation": f"AdvGLUE dev (advglue-{name}, {adv['n']} examples) and clean {name} {split} "
                          f"({clean['n']} examples); no search", "split": split, "n": adv["n"],
            "ids_sha1": adv["ids_sha1"], "outcomes": adv["outcomes"], "clean": clean, "wall_time_s": wall}


def _complete(path: Path) -> bool:
    """A results file exists and holds every attack of its run (a file is also written after training alone)."""
    if not path.is_file():
        return False
    try:
        return bool(json.loads(path.read_text()).get("complete", True))
    except json.JSONDecodeError:
        return False


def run_one(spec: RunSpec, protocol: str, *, tiny: bool = False, results_dir=RESULTS_DIR, runs_dir=RUNS_DIR,
            data_dir=None, device: str = "auto", progress: bool = False) -> tuple[Path, bool | None]:
    """Train, attack and write the results file of one run; returns ``(path, ran)`` (``ran=False``: already done;
    ``None``: another process holds the run's lock, :mod:`rift_lite.run_lock`, and is on it).

    The file is written in pieces: after training (``"complete": false``, no attack yet: enough for the forgetting
    curves of Fig. 2), then after each attack; ``"complete": true`` once every attack of the run is in.
    """
    sizes = protocol_sizes(protocol, tiny, spec.dataset)
    name = run_name(spec, protocol, sizes)
    path = Path(results_dir) / "runs" / f"{name}.json"
    if _complete(path):
        return path, False
    out = Path(runs_dir) / name
    with run_lock(out) as mine:
        if not mine:  # another reproduce process is on this run
            return path, None
        print(f"{name}: training, then {', '.join(spec.attacks) or 'no attack'} (checkpoints in {out}; --progress "
              f"shows bars) ...", file=sys.stderr, flush=True)
        _train_and_attack(spec, protocol, sizes, name, path, out, tiny=tiny, data_dir=data_dir, device=device,
                          progress=progress)
    return path, True


def _train_and_attack(spec: RunSpec, protocol: str, sizes: dict, name: str, path: Path, out: Path, *, tiny: bool,
                      data_dir, device: str, progress: bool) -> None:
    from .models import device_summary
    from .train import train

    started = time.time()
    cfg = train_config(spec, sizes, out, data_dir=data_dir, device=device, progress=progress)
    trained = train(cfg)
    device_used = trained["hardware"]["device"]
    keep = ("config", "best", "history", "trace", "wall_time_s", "steps", "n_train", "n_dev", "resumed_at_steps",
            "model_selection", "profile", "profile_note")
    result = {
        "run": name, "protocol": protocol, "tiny": tiny, "protocol_config": sizes, "method": spec.method,
        "seed": spec.seed, "overrides": dict(spec.overrides), "dataset": sizes["dataset"], "model": cfg.model,
        "tables": [t for t in ALL_TABLES if any(r.method == spec.method and r.overrides == spec.overrides
                                                and r.dataset == spec.dataset for r in TABLES[t].runs((spec.seed,)))],
        "train": {k: trained[k] for k in keep}, "attacks": {},
        "code_version": git_describe(), "hardware": {**device_summary(), "device": device_used},
        "command": f"python -m rift_lite reproduce TABLE --protocol {protocol} --seeds {spec.seed}"
                   + (" --tiny" if tiny else ""),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    for attack in (None, *spec.attacks):
        if attack is not None:
            result["attacks"][attack] = attack_run(out / "best", attack, sizes, out / f"attack-{attack}",
                                                   data_dir=data_dir, device=device_used, progress=progress)
        result["complete"] = len(result["attacks"]) == len(spec.attacks)
        # resume-safe: training's own clock (carried across restarts) plus the per-example attack times
        result["wall_time_s"] = round(trained["wall_time_s"] + sum(a["wall_time_s"] for a in result["attacks"].values()), 1)
        result["this_invocation_s"] = round(time.time() - started, 1)
        write_json_atomic(path, result)


def reproduce(tables: list[str], protocol: str, seeds: tuple[int, ...] = (0, 1, 2), *, tiny: bool = False,
              results_dir=RESULTS_DIR, runs_dir=RUNS_DIR, data_dir=None, device: str = "auto",
              progress: bool = False, max_runs: int | None = None, render: bool = True) -> list[Path]:
    """Every run of ``tables`` (seed-major, each once), then the tables; ``max_runs`` stops after that many new runs."""
    unknown = [t for t in tables if t not in TABLES]
    if unknown:
        raise ValueError(f"unknown table {unknown[0]!r}; choose from {', '.join(ALL_TABLES)} or 'all'")
    if not seeds or len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise ValueError(f"--seeds: distinct integers >= 0, got {list(seeds)}")
    specs = campaign(tables, tuple(seeds))
    for dataset in dict.fromkeys(spec.dataset for spec in specs):  # every run's sizes exist before any trains
        protocol_sizes(protocol, tiny, dataset)
    paths, new = [], 0
    for i, spec in enumerate(specs, 1):
        if max_runs is not None and new >= max_runs:
            break
        t0 = time.time()
        path, ran = run_one(spec, protocol, tiny=tiny, results_dir=results_dir, runs_dir=runs_dir,
                            data_dir=data_dir, device=device, progress=progress)
        new += bool(ran)
        paths.append(path)
        state = "done" if ran else ("already done" if ran is False else "skipped: another reproduce process is on it")
        print(f"[{i}/{len(specs)}] {spec.label}: {state} "
              f"({time.time() - t0:.0f} s) -> {path}", file=sys.stderr, flush=True)
    if render:
        from .report import render_tables

        for written in render_tables(tables, protocol, results_dir, tiny=tiny):
            print(f"table -> {written}", file=sys.stderr)
    return paths


# ---------------------------------------------------------------------------------------------- command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m rift_lite reproduce``."""
    parser.add_argument("tables", nargs="*", metavar="TABLE",
                        help=f"{', '.join(ALL_TABLES)}, or all (= {', '.join(TABLE_ORDER)}); several allowed")
    parser.add_argument("--list", action="store_true", help="print the protocols and tables, run nothing")
    parser.add_argument("--protocol", default="cpu", help=f"{', '.join(PROTOCOLS)} (default cpu)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--device", default="auto")
    parser.add_argument("--data-dir", default=None, help="data folder (default $RIFT_LITE_DATA)")
    parser.add_argument("--results-dir", default=str(RESULTS_DIR), help="where results files go (committed)")
    parser.add_argument("--runs-dir", default=str(RUNS_DIR), help="checkpoints and attack records (ignored)")
    parser.add_argument("--max-runs", type=int, default=None, help="stop after this many new runs")
    parser.add_argument("--tiny", action="store_true", help="the same code path shrunk to seconds (tests)")
    parser.add_argument("--render-only", action="store_true", help="only re-render the tables from results files")
    parser.add_argument("--render-readme", action="store_true",
                        help="only re-render the tables and the README's measured section from results files")
    parser.add_argument("--progress", action="store_true", help="progress bars")


def run_cli(args: argparse.Namespace) -> int:
    if args.list:
        print(describe())
        return 0
    if not args.tables:
        print("error: name a TABLE (" + ", ".join(ALL_TABLES) + ", or all), or use --list", file=sys.stderr)
        return 2
    tables = list(TABLE_ORDER) if args.tables == ["all"] else args.tables
    if args.max_runs is not None and args.max_runs < 0:
        print(f"error: --max-runs must be >= 0, got {args.max_runs}", file=sys.stderr)
        return 2
    if args.render_only or args.render_readme:
        from .report import render_tables
        from .report_readme import update_readme

        for written in render_tables(tables, args.protocol, args.results_dir, tiny=args.tiny):
            print(f"table -> {written}")
        if args.render_readme:
            changed = update_readme(Path(__file__).resolve().parents[1] / "README.md", args.results_dir, args.protocol)
            print(f"README.md {'updated' if changed else 'already up to date'}")
        return 0
    reproduce(tables, args.protocol, tuple(args.seeds), tiny=args.tiny, results_dir=args.results_dir,
              runs_dir=args.runs_dir, data_dir=args.data_dir, device=args.device, progress=args.progress,
              max_runs=args.max_runs)
    return 0
