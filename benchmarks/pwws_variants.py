"""PWWS as the official code runs it (every swap in saliency order) vs the variant that skips unhelpful swaps.

On long reviews the two differ most: the official order also applies a word's best swap when it does not lower
p(y|x) on its own, and later swaps can then flip the label. The victim is a probe (:mod:`rift_lite.probe`): MiniLM's
first ``--layers`` layers frozen, mean-pooled, with a head trained on ``--train`` IMDB training reviews; both variants
attack the same ``--n`` IMDB test reviews (seed 0) with the same counter-fitted substitution set, one review after the
other with one cache (their saliency and swap queries are the same texts: scored once). Usage::

    python benchmarks/pwws_variants.py --n 200 --json book/results/benchmarks/pwws-variants-imdb.json
"""
from __future__ import annotations

import argparse
import sys
import time

import torch
from common import write_json


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="IMDB test reviews attacked")
    parser.add_argument("--train", type=int, default=2000, help="IMDB training reviews the probe's head is fit on")
    parser.add_argument("--layers", type=int, default=2, help="MiniLM layers kept")
    parser.add_argument("--max-tokens", type=int, default=300)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)

    from rift_lite import data
    from rift_lite.attacks import ClassifierVictim, PWWSAttack
    from rift_lite.evaluate import sample_examples, summarize
    from rift_lite.models import build_classifier
    from rift_lite.probe import encode_features, fit_head, head_accuracy
    from rift_lite.substitutions import SubstitutionSet

    torch.manual_seed(0)
    model, tokenizer = build_classifier("minilm", 2, args.layers, args.max_tokens)
    train = sample_examples(data.load("imdb", "train"), args.train, 0)
    fit_head(model, encode_features(model, tokenizer, train), [e.label for e in train])
    test = sample_examples(data.load("imdb", "test"), args.n, 0)
    victim = ClassifierVictim(model, tokenizer, batch_size=64, max_tokens=args.max_tokens)
    substitutions = SubstitutionSet.load()
    attacks = {"official order (default)": PWWSAttack(substitutions),
               "skip unhelpful swaps": PWWSAttack(substitutions, skip_unhelpful=True)}
    records = {name: [] for name in attacks}
    start = time.perf_counter()
    for i, example in enumerate(test, 1):
        victim.clear_cache()  # per review; inside it both variants share the saliency and swap scores
        for name, attack in attacks.items():
            records[name].append(attack.attack(victim, example).to_record())
        if i % 20 == 0:
            print(f"{i}/{len(test)} reviews, {time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    rows = []
    for name, recs in records.items():
        m = summarize(recs)
        rows.append({"name": name, "clean_accuracy": m["clean_accuracy"],
                     "accuracy_under_attack": m["accuracy_under_attack"], "success_rate": m["success_rate"],
                     "mean_changed_fraction": m["mean_changed_fraction"], "n": m["n"]})
        print(rows[-1], flush=True)
    write_json(args.json, "pwws_variants", "cpu", rows, what=f"probe victim: MiniLM {args.layers} layers frozen, head fit "
               f"on {args.train} IMDB train reviews; {args.n} IMDB test reviews (seed 0), <= {args.max_tokens} tokens")
    return 0


if __name__ == "__main__":
    sys.exit(main())
