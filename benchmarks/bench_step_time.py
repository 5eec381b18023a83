"""Step time of RIFT vs Adv-Base at the same batch (goal: RIFT / Adv-Base <= 1.15).

A step = the objective's forward (clean forward, 10-step ASCC inner loop, adversarial forward, and for RIFT the
no-grad teacher forward + score MLPs), backward and the AdamW update. Both methods run on the same MR batch,
alternating, after warm-up; the median of ``--steps`` timed steps is reported. Prints the settings.

    python benchmarks/bench_step_time.py                       # CPU: MiniLM first 2 layers, batch 16 x 32 tokens
    python benchmarks/bench_step_time.py --device cuda --layers 0 --batch-size 32 --max-tokens 64
"""
from __future__ import annotations

import argparse
import copy
import os
import statistics
import time

import torch
from common import run_on_devices, write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu, cuda, or auto (= cuda if available; both if 'all')")
    parser.add_argument("--model", default="minilm")
    parser.add_argument("--layers", type=int, default=None, help="encoder layers kept (0 = all; default 2 on CPU)")
    parser.add_argument("--batch-size", type=int, default=None, help="default 16 on CPU, 32 on CUDA")
    parser.add_argument("--max-tokens", type=int, default=None, help="default 32 on CPU, 64 on CUDA")
    parser.add_argument("--ascc-steps", type=int, default=10)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per method")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--methods", nargs="+", default=["adv-base", "rift"],
                        help="objectives to time; 'adv-base-shared' = Adv-Base with the train-mode ASCC target")
    parser.add_argument("--json", default=None, help="also write the measurements to this JSON file")
    parser.add_argument("--precisions", nargs="+", choices=("auto", "fp32", "bf16"), default=["auto"],
                        help="autocast per run; auto = bf16 on CUDA, fp32 on the CPU; several = each method in each "
                             "(ratios to the first)")
    args = parser.parse_args()
    run_on_devices(args.device, lambda device: bench(args, device))


def bench(args, device: torch.device) -> None:
    from rift_lite import data
    from rift_lite.adversary import ASCCConfig
    from rift_lite.methods import MethodConfig, Objective, batch_inputs
    from rift_lite.models import build_classifier, device_summary
    from rift_lite.substitutions import SubstitutionSet, build_candidates

    cuda = device.type == "cuda"
    layers = args.layers if args.layers is not None else (0 if cuda else 2)
    batch_size = args.batch_size or (32 if cuda else 16)
    max_tokens = args.max_tokens or (64 if cuda else 32)
    torch.manual_seed(0)
    base_model, tokenizer = build_classifier(args.model, 2, layers or None, max_tokens)
    pool = data.load("mr", "train")
    examples = [e for e in pool if e.label == 0][: batch_size // 2] + [e for e in pool if e.label == 1][: batch_size // 2]
    cbatch = build_candidates(examples, tokenizer, SubstitutionSet.load(), max_tokens=max_tokens).to(device)
    inputs = batch_inputs(cbatch)
    precisions = [("bf16" if cuda else "fp32") if p == "auto" else p for p in args.precisions]
    runners, first_loss = {}, {}
    for name in args.methods:
        for precision in dict.fromkeys(precisions):
            method, shared = name.removesuffix("-shared"), name.endswith("-shared")
            model = copy.deepcopy(base_model).to(device)
            obj = Objective(model, MethodConfig.for_dataset(method, "mr", ascc=ASCCConfig(steps=args.ascc_steps),
                                                            shared_reference=shared)).to(device)
            obj.train()
            opt = torch.optim.AdamW([{"params": obj.encoder_parameters(), "weight_decay": 0.0},
                                     {"params": obj.task_parameters(), "weight_decay": 2e-4}], lr=2e-5)
            runners[(name, precision)] = (obj, opt)

    def step(key):
        obj, opt = runners[key]
        if cuda:
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        torch.manual_seed(0)  # the same dropout masks and ASCC start for every runner: comparable first losses
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=key[1] == "bf16"):
            out = obj(**inputs)
        first_loss.setdefault(key, float(out["total"].detach()))
        out["total"].backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        return time.perf_counter() - t0

    for _ in range(args.warmup):
        for name in runners:
            step(name)
    times = {name: [] for name in runners}
    for _ in range(args.steps):
        for name in runners:
            times[name].append(step(name))
    med = {name: statistics.median(t) for name, t in times.items()}
    info = device_summary()
    print(f"device={device} ({info.get('gpu', 'cpu')}, torch {info['torch']}, threads {torch.get_num_threads()}, "
          f"cpu_count {os.cpu_count()}) model={args.model} layers={layers or 'all'} batch={batch_size} "
          f"(2 classes) tokens<={max_tokens} (T={cbatch.candidates.shape[1]}, K={cbatch.candidates.shape[2]}) "
          f"ascc_steps={args.ascc_steps} precisions={precisions} timed_steps={args.steps} warmup={args.warmup}")
    base = precisions[0]
    rows = []
    for name, precision in runners:
        key = (name, precision)
        row = {"name": name if len(set(precisions)) == 1 else f"{name} {precision}", "median_step_ms":
               round(med[key] * 1000, 1), "first_loss": round(first_loss[key], 5)}
        if (("adv-base", precision)) in med:
            row["ratio_to_adv_base"] = round(med[key] / med[("adv-base", precision)], 3)
        if precision != base:
            row[f"time_ratio_to_{base}"] = round(med[key] / med[(name, base)], 3)
            row[f"loss_diff_to_{base}"] = round(first_loss[key] - first_loss[(name, base)], 5)
        rows.append(row)
        print(f"  {row['name']:16s} median step {med[key] * 1000:8.1f} ms, first loss {first_loss[key]:.5f}  "
              f"(all: {', '.join(f'{t * 1000:.0f}' for t in times[key])})")
    for precision in dict.fromkeys(precisions):
        if ("rift", precision) in med and ("adv-base", precision) in med:
            print(f"  ratio RIFT / Adv-Base ({precision}) = {med[('rift', precision)] / med[('adv-base', precision)]:.3f}"
                  "  (goal <= 1.15)")
    for row in rows:
        if f"time_ratio_to_{base}" in row:
            print(f"  {row['name']}: time / {base} = {row[f'time_ratio_to_{base}']:.3f}, first-loss difference "
                  f"{row[f'loss_diff_to_{base}']:+.5f}")
    write_json(args.json, "bench_step_time", device, rows, what=f"{args.model}, {layers or 'all'} layers, batch "
               f"{batch_size} x {max_tokens} tokens, ASCC {args.ascc_steps} steps, {args.steps} timed steps")


if __name__ == "__main__":
    main()
