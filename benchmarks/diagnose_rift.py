"""Why does RIFT trail Adv-Base at small scale? Short RIFT runs that differ in one thing each (issue 9, items 2-4).

Runs (MR, MiniLM-L6, same seed, same class-balanced training subset and batches):

* ``base``     -- RIFT, mean pooling (MiniLM's pre-training), eval-mode ASCC target (the official code);
* ``cls``      -- the same with ``pooling='cls'`` (what the library did before: MiniLM's [CLS] vector);
* ``shared``   -- the same with ``shared_reference=True`` (the train-mode clean softmax as the ASCC target);
* ``alpha03``, ``alpha1`` -- alpha = 0.3 or 1 instead of 0.1;
* ``advbase``  -- Adv-Base (alpha = 0), for reference;
* ``critic``   -- RIFT with the score functions at their own lr 1e-3 (``--critic-lr``; the paper: one lr, 2e-5),
  chapter 04's hypothesis that the critic learns too slowly to steer the encoder;
* ``advbase-bf16`` -- Adv-Base trained under bfloat16 autocast on the CPU (``--precision bf16``), against ``advbase``:
  is the faster step (``benchmarks/bench_step_time.py --precisions fp32 bf16``) accurate enough?

Every run traces, every ``--trace-every`` steps, the relative L2 distance, the InfoNCE estimate of I(S;T|Y) and the
gradient norm of each weighted loss term w.r.t. the encoder. Results: one small JSON per run in ``--results`` and a
Markdown table on stdout. Usage::

    python benchmarks/diagnose_rift.py --runs base cls shared alpha03 alpha1 advbase
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

RUNS = {
    "base": {"method": "rift"},
    "cls": {"method": "rift", "pooling": "cls"},
    "shared": {"method": "rift", "shared_reference": True},
    "alpha03": {"method": "rift", "alpha": 0.3},
    "alpha1": {"method": "rift", "alpha": 1.0},
    "advbase": {"method": "adv-base"},
    "critic": {"method": "rift", "critic_lr": 1e-3},
    "advbase-bf16": {"method": "adv-base", "precision": "bf16"},
}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", nargs="+", default=list(RUNS), choices=list(RUNS))
    parser.add_argument("--train-examples", type=int, default=1600)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--dev-examples", type=int, default=300)
    parser.add_argument("--trace-every", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default="runs/diagnosis", help="run folders (checkpoints; ignored)")
    parser.add_argument("--results", default="book/results/diagnosis", help="small JSON per run (committed)")
    args = parser.parse_args(argv)

    from rift_lite.provenance import write_json_atomic
    from rift_lite.train import TrainConfig, train

    Path(args.results).mkdir(parents=True, exist_ok=True)
    for name in args.runs:
        tag = f"{name}-n{args.train_examples}-e{args.epochs}-seed{args.seed}"
        cfg = TrainConfig(dataset="mr", profile="lite", train_examples=args.train_examples, epochs=args.epochs,
                          dev_examples=args.dev_examples, length_buckets=50, seed=args.seed, progress=False,
                          trace_every_steps=args.trace_every, trace_grad_norms=True, out=f"{args.out}/{tag}",
                          **RUNS[name])
        res = train(cfg)
        keep = {k: res[k] for k in ("config", "best", "history", "trace", "wall_time_s", "steps", "code_version",
                                    "hardware", "n_train", "n_dev")}
        write_json_atomic(Path(args.results) / f"{tag}.json", {"diagnosis_run": name, **keep})
        print(f"{name}: done in {res['wall_time_s']:.0f} s", file=sys.stderr, flush=True)

    from rift_lite.report_readme import diagnosis_section

    print("\n".join(diagnosis_section(args.results)))  # every run in the folder: the README's table
    return 0


if __name__ == "__main__":
    sys.exit(main())
