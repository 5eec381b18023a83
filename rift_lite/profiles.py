"""Run profiles, in one place: how large a training run, an attack and a reproduction protocol are.

One code path, three sizes. ``smoke`` is a plumbing check (CPU seconds to minutes: tests, nbval, a laptop), ``lite``
a small-scale run (one GPU for minutes, or a CPU on short texts), ``paper`` the paper's settings. Every results file
records the profile it ran under and the note of :data:`TRAIN_PROFILE_NOTES` / :data:`ATTACK_PROFILE_NOTES`, so a
smoke or lite number is never presented as the paper's.

* :data:`TRAIN_PROFILES` -- read by :func:`rift_lite.train_config.resolve_config` (``python -m rift_lite train
  --profile``); explicit fields override it, and 0 means "all" or "the dataset's value" (:data:`PAPER_BATCH`);
* :data:`ATTACK_PROFILES` -- read by ``python -m rift_lite attack`` (:mod:`rift_lite.attack_cli`);
  :func:`resolve_attack_profiles` picks the settings and the profile a result may claim;
* :data:`PROTOCOLS` and :data:`TINY` -- the reproduction protocols ``cpu`` / ``gpu`` / ``paper`` of
  ``python -m rift_lite reproduce`` (the tables that use them are in :mod:`rift_lite.protocols`).

No torch here: the command line reads the profiles before it loads a model.
"""
from __future__ import annotations

from typing import Any

PROFILE_ORDER = ("smoke", "lite", "paper")
"""The profiles from the smallest to the paper's; a result claims the lower of its checkpoint's and its own."""

# ------------------------------------------------------------------------------------------------------ training

TRAIN_PROFILES: dict[str, dict[str, Any]] = {
    "smoke": {"model": "minilm", "num_hidden_layers": 2, "train_examples": 200, "dev_examples": 48, "max_tokens": 32,
              "epochs": 1, "batch_size": 8, "eval_batch_size": 16, "ascc_steps": 10, "dev_attack_steps": 10},
    "lite": {"model": "minilm", "num_hidden_layers": 0, "train_examples": 0, "dev_examples": 500, "max_tokens": 64,
             "epochs": 3, "batch_size": 32, "eval_batch_size": 64, "ascc_steps": 10, "dev_attack_steps": 10},
    "paper": {"model": "bert-base-uncased", "num_hidden_layers": 0, "train_examples": 0, "dev_examples": 0,
              "max_tokens": 0, "epochs": 20, "batch_size": 0, "eval_batch_size": 64, "ascc_steps": 10,
              "dev_attack_steps": 10},
}
"""Per-profile defaults; 0 means "all" (examples, layers) or "the dataset's value" (max_tokens, batch_size)."""

TRAIN_PROFILE_NOTES: dict[str, str] = {
    "smoke": ("plumbing check only: 2 encoder layers, 200 training sentences, 25 steps at the paper's lr -- the model "
              "stays near chance by design; use --profile lite for accuracies that mean something"),
    "lite": ("MiniLM-L6 (offline), short texts, a few epochs: a small-scale run, not the paper's BERT-base "
             "numbers"),
    "paper": "the paper's settings (Sec. 3.2, supplementary A.1)",
}
"""What a number from each profile may be used for; written into every ``results.json`` and printed by the CLI."""

PAPER_BATCH = {"imdb": 32, "snli": 120}
"""The paper's batch size per dataset (supplementary A.1); other datasets: 32, or 120 for a pair task."""

# ------------------------------------------------------------------------------------------------------ attacks

ATTACK_PROFILES: dict[str, dict[str, Any]] = {
    # n examples; genetic population / generations; ASCC steps. "paper" = the paper's settings.
    "smoke": {"n": 20, "pop_size": 8, "iterations": 4, "ascc_steps": 3},
    "lite": {"n": 300, "pop_size": 60, "iterations": 40, "ascc_steps": 10},
    "paper": {"n": 1000, "pop_size": 60, "iterations": 40, "ascc_steps": 10},
}
"""Attack sizes per profile. ``lite`` uses the official code's 300 examples; ``paper`` the paper's 1,000."""

ATTACK_PROFILE_NOTES: dict[str, str] = {
    "smoke": "plumbing check only (a smoke checkpoint stays near chance by design; few examples, a small genetic "
             "search): not a result",
    "lite": "a small-scale run (small encoder, short texts, 300 examples), not the paper's BERT-base numbers",
    "paper": "the paper's settings (Sec. 3.1)",
}
"""What a number from each recorded profile may be used for (written into ``summary.json``, printed by the CLI)."""


def resolve_attack_profiles(requested: str | None, checkpoint_profile: str | None) -> tuple[str, str]:
    """``(settings, recorded)``: the attack's settings come from ``--profile``, else the checkpoint's profile, else
    paper; the recorded profile is the lower of the settings and the checkpoint's (a smoke checkpoint attacked with
    the paper's settings is still a smoke result)."""
    trained = checkpoint_profile if checkpoint_profile in PROFILE_ORDER else None
    settings = requested or trained or "paper"
    recorded = min([settings] + ([trained] if trained else []), key=PROFILE_ORDER.index)
    return settings, recorded


# ------------------------------------------------------------------------------------------------------ reproduction

PROTOCOLS: dict[str, dict[str, Any]] = {
    "cpu": {
        "dataset": "mr", "model": "minilm", "profile": "lite", "epochs": 2, "batch_size": 32, "max_tokens": 64,
        "train_examples": 2400, "dev_examples": 300, "dev_attack_steps": 10, "length_buckets": 50,
        "traces_per_run": 12, "attack_n": {"pwws": 1000, "genetic": 200}, "pop_size": 60, "iterations": 40,
        "note": "MR (8,694 train / 966 dev / 1,000 held-out TextFooler test), MiniLM-L6 offline, a class-balanced "
                "2,400-sentence training subset, 2 epochs, length-bucketed batches; PWWS on all 1,000 test "
                "sentences, Genetic on a fixed 200 of them: a 2-core CPU protocol, not the paper's setting",
        "datasets": {  # the PEAFT tables (peaft1, peaft2): GLUE tasks whose dev split is the test set
            "sst2": {"train_examples": 2000, "max_tokens": 64, "select_on": "last", "dev_examples": 0,
                     "dev_attack_steps": 0, "eval_split": "dev", "attack_n": {"textfooler": 872}, "advglue_n": 0,
                     "clean_n": 0,
                     "note": "GLUE SST-2 (67,349 train / 872 dev, the dev split used as the test set), MiniLM-L6 "
                             "offline, a class-balanced 2,000-sentence training subset, 2 epochs, the last epoch kept "
                             "(no model selection: nothing looks at dev while training), length-bucketed batches; "
                             "TextFooler-style attack on all 872 dev sentences, AdvGLUE SST-2 dev (148): a 2-core "
                             "CPU protocol, not the paper's setting",
                     "estimate": "per run, from timed trial steps (1 thread, shared 2-core machine): training about "
                                 "1 (Standard), 1.5 (FreeLB), 4 (PEAFT), 4.5 (RIFT) min, ROSE 5 min (measured: its seed-0 "
                                 "run, three runs sharing the 2 cores); TextFooler on 872 sentences 2-11 min; AdvGLUE "
                                 "+ clean dev under a minute"},
            "rte": {"train_examples": 0, "max_tokens": 128, "select_on": "last", "dev_examples": 0,
                    "dev_attack_steps": 0, "eval_split": "dev", "attack_n": {"textfooler": 277}, "advglue_n": 0,
                    "clean_n": 0,
                    "note": "GLUE RTE (2,490 train / 277 dev, the dev split used as the test set), MiniLM-L6 offline, "
                            "all 2,490 training pairs, 2 epochs, the last epoch kept (no model selection), "
                            "length-bucketed batches; TextFooler-style attack on the hypothesis of all 277 dev pairs, "
                            "AdvGLUE RTE dev (81): a 2-core CPU protocol, not the paper's setting",
                    "estimate": "per run, from timed trial steps (1 thread, shared 2-core machine): training about "
                                "3.5 (Standard), 13 (FreeLB), 18-33 (PEAFT), 26 (RIFT) min, ROSE 30 min (measured: its "
                                "seed-0 run, three runs sharing the 2 cores); TextFooler on 277 pairs under 2 min; "
                                "AdvGLUE + clean dev under a minute"},
            "snli": {"dataset": "snli-offline", "train_examples": 3000, "batch_size": 30, "max_tokens": 80,
                     "note": "SNLI without its training set (offline): trains on a class-balanced 3,000 of the 9,842 "
                             "SNLI dev pairs, selects on 300 SNLI test pairs outside the attacked ones, attacks the "
                             "hypothesis of TextFooler's 1,000 SNLI test pairs (PWWS on all, Genetic on a fixed 200); "
                             "MiniLM-L6, 2 epochs, batches of 30 (10 per class), the paper's SNLI beta 5 and alpha 0.7: "
                             "a 2-core CPU protocol, not the paper's setting (which trains on SNLI's 550k pairs)",
                     "estimate": "not measured; about 1.5x an MR run of the same method (longer pair inputs)"},
        },
    },
    "gpu": {
        "dataset": "imdb", "model": "minilm", "profile": "lite", "epochs": 3, "batch_size": 32, "max_tokens": 300,
        "train_examples": 0, "dev_examples": 1000, "dev_attack_steps": 10, "length_buckets": 50,
        "traces_per_run": 20, "attack_n": {"pwws": 1000, "genetic": 300}, "pop_size": 60, "iterations": 40,
        "note": "IMDB (20k/5k certified-word-sub split, 25k test), MiniLM-L6, 3 epochs on one GPU; not run here "
                "(no GPU was lent to this project's sessions)",
        "datasets": {"snli": {"dataset": "snli", "train_examples": 60000, "batch_size": 120, "max_tokens": 80,
                              "note": "SNLI from the Hugging Face hub (stanfordnlp/snli: 550k train, dev, test), "
                                      "MiniLM-L6, a class-balanced 60,000-pair subset, 3 epochs, batches of 120; "
                                      "attacks on 1,000 / 300 random test pairs; not run here"}},
    },
    "paper": {
        "dataset": "imdb", "model": "bert-base-uncased", "profile": "paper", "epochs": 20, "batch_size": 32,
        "max_tokens": 300, "train_examples": 0, "dev_examples": 0, "dev_attack_steps": 10, "length_buckets": 0,
        "traces_per_run": 40, "attack_n": {"pwws": 1000, "genetic": 1000}, "pop_size": 60, "iterations": 40,
        "note": "the paper's settings (Sec. 3.2, A.1) with dev-split model selection; GPU hours; not run here",
        "datasets": {"snli": {"dataset": "snli", "batch_size": 120, "max_tokens": 80,
                              "note": "SNLI from the Hugging Face hub (550k train pairs), BERT-base, the paper's "
                                      "settings (batch 120, beta 5, alpha 0.7) with dev-split model selection; not "
                                      "run here"}},
    },
}
"""Protocol name -> sizes. ``train_examples``/``dev_examples`` 0 = all; ``attack_n``: test examples per attack
(drawn once with seed 0, the same for every run, so runs are compared on the same examples). ``datasets``: sizes
that replace these for a run on another dataset (the SNLI and PEAFT tables; an entry's own ``dataset`` names the
loader, e.g. ``snli-offline`` for the ``cpu`` protocol's SNLI); there ``eval_split`` is the split attacked
(``dev``: GLUE's test labels are not public), ``advglue_n`` / ``clean_n`` the AdvGLUE dev and clean dev examples
of the ``advglue`` evaluation (0 = all), ``select_on='last'`` a fixed number of epochs without dev selection."""

TINY: dict[str, Any] = {
    "model": "tiny-random", "num_hidden_layers": 2, "epochs": 1, "batch_size": 8, "max_tokens": 16,
    "train_examples": 32, "dev_examples": 16, "dev_attack_steps": 2, "ascc_steps": 2, "lr": 1e-3,
    "traces_per_run": 2, "attack_n": {"pwws": 6, "genetic": 3, "textfooler": 6}, "pop_size": 4, "iterations": 2,
    "advglue_n": 8, "clean_n": 12,
    "note": "TINY: a random 2-layer model on 32 sentences -- a plumbing check of the reproduction code, no result",
}
"""``reproduce --tiny``: the same code path shrunk to seconds (a random 2-layer model, for the tests)."""
