"""Padding saved by length-ordered batches: in training (``--length-buckets``) and in the ASCC dev evaluation.

Training: the padded token positions of one epoch of class-balanced batches (``--train-batch``), random as in the
paper and with ``length_buckets=W`` (``rift_lite.train.ClassBalancedSampler``), and their ratio (no model needed).

``rift_lite.train.evaluate`` (the per-epoch dev evaluation) and the batched ASCC attack cut their batches from
``rift_lite.models.length_order``: examples of similar length share a batch, so little of each batch is padding.
This prints, for ``--n`` random dev examples in batches of ``--batch-size``: the padded token positions in random
order and in length order, and the time of the ASCC evaluation (``--steps`` Adam steps) on the same batches in both
orders, with the ratio. The accuracies must be the same in both orders (each example's attack is independent of its
batch-mates); the script checks that.

    python benchmarks/bench_padding.py --checkpoint runs/mr-standard-lite/best            # CPU, MR dev, n=200
    python benchmarks/bench_padding.py --checkpoint runs/mr-standard-lite/best --device cuda --n 500
    python benchmarks/bench_padding.py --dataset imdb --max-tokens 300 --train-only       # IMDB training batches
"""
from __future__ import annotations

import argparse
import random
import time

import torch
from common import run_on_devices, write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", default=None, help="a fine-tuned checkpoint (default: untrained MiniLM)")
    parser.add_argument("--layers", type=int, default=2, help="encoder layers of the untrained model (0 = all)")
    parser.add_argument("--dataset", default="mr")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10, help="ASCC steps")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, or all")
    parser.add_argument("--train-batch", type=int, default=32, help="training batch of the padding count")
    parser.add_argument("--length-buckets", type=int, default=50, help="W of the bucketed training batches")
    parser.add_argument("--train-only", action="store_true", help="only count the training padding (no model)")
    parser.add_argument("--json", default=None, help="also write the training-batch padding counts to this JSON")
    args = parser.parse_args()
    training_padding(args)
    if not args.train_only:
        run_on_devices(args.device, lambda device: bench(args, device))


def training_padding(args) -> None:
    """Padded positions of one epoch of training batches, random vs length-bucketed (tokens = words + 2, capped)."""
    from rift_lite import data
    from rift_lite.models import word_count
    from rift_lite.train import ClassBalancedSampler

    train_set = data.load(args.dataset, "train")
    labels = [ex.label for ex in train_set]
    tokens = [min(word_count(ex) + 2, args.max_tokens) for ex in train_set]
    classes = data.TASKS[args.dataset].num_labels
    print(f"# training batches: {args.dataset} train n={len(train_set)}, batch {args.train_batch}, "
          f"max_tokens {args.max_tokens}")
    counts, rows = {}, []
    for name, buckets in (("random", 0), (f"buckets W={args.length_buckets}", args.length_buckets)):
        sampler = ClassBalancedSampler(labels, args.train_batch, classes, seed=0, lengths=tokens,
                                       bucket_batches=buckets)
        batches = sampler.epoch_batches(0)
        total = sum(max(tokens[i] for i in b) * len(b) for b in batches)
        pad = total - sum(tokens[i] for b in batches for i in b)
        counts[name] = total
        rows.append({"name": name, "token_positions": total, "padding_share": round(pad / total, 4)})
        print(f"{name:15s} padding {pad / total:6.1%} of {total} token positions per epoch")
    random_total, bucketed_total = counts.values()
    print(f"token positions random / bucketed = {random_total / bucketed_total:.2f}x")
    write_json(args.json, "bench_padding", "cpu", rows, what=f"{args.dataset} training batches of {args.train_batch}, "
               f"max {args.max_tokens} tokens; token positions random / bucketed = {random_total / bucketed_total:.2f}x")


def padded_positions(examples, tokenizer, batch_size: int, max_tokens: int) -> tuple[int, int]:
    """(padding positions, all positions) over the batches cut from ``examples`` in the given order."""
    pad = total = 0
    for lo in range(0, len(examples), batch_size):
        mask = tokenizer.encode(examples[lo: lo + batch_size], max_tokens).attention_mask
        pad += int((mask == 0).sum())
        total += mask.numel()
    return pad, total


def bench(args, device: torch.device) -> None:
    from rift_lite import data, train
    from rift_lite.models import build_classifier, length_order, load_classifier
    from rift_lite.substitutions import SubstitutionSet

    if args.checkpoint:
        model, tokenizer = load_classifier(args.checkpoint, max_tokens=args.max_tokens)
    else:
        torch.manual_seed(0)
        model, tokenizer = build_classifier("minilm", data.TASKS[args.dataset].num_labels, args.layers or None,
                                            args.max_tokens)
    model.to(device)
    subs = SubstitutionSet.load()
    dev = random.Random("dev-0").sample(data.load(args.dataset, "dev"), args.n)
    by_length = [dev[i] for i in length_order(dev)]
    print(f"# {args.checkpoint or 'untrained minilm'} on {device}; {args.dataset} dev n={args.n}, batch "
          f"{args.batch_size}, max_tokens {args.max_tokens}, ASCC {args.steps} steps")
    timings, results = {}, {}
    for name, order in (("random order", dev), ("length order", by_length)):
        pad, total = padded_positions(order, tokenizer, args.batch_size, args.max_tokens)
        # evaluate() orders by length itself; time the batches exactly as given here instead
        start = time.perf_counter()
        counts = {"clean": 0, "robust": 0}
        for lo in range(0, len(order), args.batch_size):
            chunk = order[lo: lo + args.batch_size]
            r = train.evaluate(model, chunk, tokenizer, subs, batch_size=len(chunk), max_tokens=args.max_tokens,
                               attack_steps=args.steps, device=device)
            counts["clean"] += round(r["clean_acc"] * r["n"])
            counts["robust"] += round(r["robust_acc"] * r["n"])
        if device.type == "cuda":
            torch.cuda.synchronize()
        timings[name] = time.perf_counter() - start
        results[name] = counts
        print(f"{name:13s} padding {pad / total:6.1%} of {total} positions   {timings[name]:7.2f} s   "
              f"clean {counts['clean']}/{args.n}  robust {counts['robust']}/{args.n}")
    assert results["random order"] == results["length order"], "the order changed the results"
    print(f"speed-up length order / random order = {timings['random order'] / timings['length order']:.2f}x "
          "(same accuracies)")


if __name__ == "__main__":
    main()
