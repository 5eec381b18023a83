"""Throughput of the Genetic and PWWS attacks, and the model evaluations saved by caching and batching.

Attacks ``--n`` MR test examples (fixed seed) and prints, per attack: examples per second, texts requested,
unique texts scored (queries), model calls (batches), the fraction of requested texts the cache saved
(``1 - queries / requests``) and the fraction of forward calls batching saved (``1 - calls / queries``).

With an untrained classifier (the default; no fine-tuned checkpoint ships with the code) most predictions are one
class, so each example's label is set to the model's clean prediction (``--relabel``, on by default without a
checkpoint): every example is then attacked, which is what a throughput number needs. Accuracy numbers of such a
run mean nothing.

    python benchmarks/bench_attacks.py                                  # CPU: untrained MiniLM, first 2 layers, n=20
    python benchmarks/bench_attacks.py --n 100 --layers 0               # CPU, all 6 layers (about 40 min on 2 cores)
    python benchmarks/bench_attacks.py --device cuda --batch-size 256   # GPU: all layers, n=100
    python benchmarks/bench_attacks.py --checkpoint runs/mr-standard    # a fine-tuned model (no relabelling)
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time

import torch
from common import run_on_devices


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=None, help="MR test examples (default 20 on CPU, 100 on CUDA)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="minilm", help="encoder of an untrained classifier")
    parser.add_argument("--layers", type=int, default=None,
                        help="keep the first encoder layers of the untrained model (default 2 on CPU, all on CUDA)")
    parser.add_argument("--checkpoint", default=None, help="attack this fine-tuned checkpoint instead")
    parser.add_argument("--attacks", default="genetic,pwws")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, or all")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--pop-size", type=int, default=60)
    parser.add_argument("--iterations", type=int, default=40)
    parser.add_argument("--precision", choices=("fp32", "bf16"), default="fp32")
    parser.add_argument("--relabel", choices=("auto", "yes", "no"), default="auto",
                        help="label = clean prediction (auto: only for an untrained model)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--json", default=None, help="also write the measurements to this JSON file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    run_on_devices(args.device, lambda device: bench(args, device))


def bench(args, device: torch.device) -> None:
    from rift_lite import data
    from rift_lite.attacks import ClassifierVictim, build_attack
    from rift_lite.evaluate import sample_examples
    from rift_lite.models import build_classifier, device_summary, load_classifier
    from rift_lite.substitutions import SubstitutionSet

    torch.manual_seed(args.seed)
    cuda = device.type == "cuda"
    n = args.n or (100 if cuda else 20)
    layers = args.layers if args.layers is not None else (0 if cuda else 2)
    if args.checkpoint:
        model, tokenizer = load_classifier(args.checkpoint)
        what = f"checkpoint {args.checkpoint}"
    else:
        model, tokenizer = build_classifier(args.model, 2, layers or None, data.TASKS["mr"].max_tokens)
        what = f"untrained {args.model} ({layers or 'all'} layers)"
    victim = ClassifierVictim(model, tokenizer, batch_size=args.batch_size, device=device, precision=args.precision)
    examples = sample_examples(data.load("mr", "test"), n, args.seed)
    relabel = args.relabel == "yes" or (args.relabel == "auto" and not args.checkpoint)
    if relabel:
        preds = victim.predict_proba(examples).argmax(-1).tolist()
        examples = [dataclasses.replace(e, label=p) for e, p in zip(examples, preds)]
    substitutions = SubstitutionSet.load()
    hw = device_summary()
    hardware = hw.get("gpu") or f"{hw['cpu_threads']} CPU threads"
    print(f"# {what}; device {device} ({hardware}); n={len(examples)} MR test "
          f"examples (seed {args.seed}); batch {args.batch_size}; {args.precision}; relabelled={relabel}")
    print(f"{'attack':10s} {'ex/s':>8s} {'s/ex':>7s} {'success':>8s} {'requests':>9s} {'queries':>8s} "
          f"{'calls':>7s} {'cache saved':>12s} {'batching saved':>15s} {'q/attacked':>10s} {'in forwards':>12s}")
    rows = []
    for name in args.attacks.split(","):
        options = {"pop_size": args.pop_size, "iterations": args.iterations} if name == "genetic" else {}
        attack = build_attack(name, substitutions, seed=args.seed, **options)
        victim.clear_cache()
        victim.reset_counts()
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        results = attack.attack_many(victim, examples)
        wall = time.perf_counter() - start
        success = sum(r.status == "success" for r in results) / max(1, sum(r.status != "skipped" for r in results))
        saved_cache = 1 - victim.queries / max(1, victim.requests)
        saved_batch = 1 - victim.model_calls / max(1, victim.queries)
        attacked = max(1, sum(r.status != "skipped" for r in results))
        share = victim.forward_time_s / wall  # goal >= 0.8: within 1.25x of the floor (queries x one forward)
        print(f"{name:10s} {len(examples) / wall:8.3f} {wall / len(examples):7.3f} {success:8.2f} "
              f"{victim.requests:9d} {victim.queries:8d} {victim.model_calls:7d} {saved_cache:12.1%} "
              f"{saved_batch:15.1%} {victim.queries / attacked:10.1f} {share:12.1%}", flush=True)
        rows.append({"attack": name, "n": len(examples), "wall_s": round(wall, 2), "examples_per_s": len(examples) / wall,
                     "success_rate": success, "requests": victim.requests, "queries": victim.queries,
                     "model_calls": victim.model_calls, "queries_per_attacked": victim.queries / attacked,
                     "forward_time_s": round(victim.forward_time_s, 2), "share_in_forwards": share})
    if args.json:
        from rift_lite.provenance import git_describe, write_json_atomic

        write_json_atomic(args.json, {"benchmark": "bench_attacks", "what": what, "device": str(device),
                                      "hardware": hw, "code_version": git_describe(), "seed": args.seed,
                                      "batch_size": args.batch_size, "precision": args.precision, "rows": rows,
                                      "command": "python benchmarks/bench_attacks.py " + " ".join(sys.argv[1:])})


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
