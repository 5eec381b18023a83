"""The papers' numbers as data, so the book can set "paper" and "ours" side by side (never mixed).

Sources (markdown transcriptions in the project's ``papers/`` folder; OCR-ish tables read by hand):

* RIFT -- Dong, Luu, Lin, Yan, Zhang. *How Should Pre-Trained Language Models Be Fine-Tuned Towards
  Adversarial Robustness?* NeurIPS 2021. Tables 1-4 (main paper) and Tables 5-6 (supplementary A.4,
  vanilla accuracy). Accuracies in %, mean +- std over runs where the paper gives a std. Robust accuracy is
  measured on 1,000 random test examples under the Genetic attack (with the language-model constraint) and
  PWWS (without it). Models: BERT-base-uncased and RoBERTa-base.
* PEAFT -- parameter-efficient adversarial fine-tuning with a defense soft prompt. Table 1 (GLUE tasks under
  TextFooler) and Table 2 (AdvGLUE dev). AUA = accuracy under attack, ACC = benign accuracy,
  AVG = (AUA + ACC) / 2; "OOM" cells are ``value=None``.

Reading notes. In RIFT the captions sit below the wrong tables in the transcription; the first results table is
IMDB (Table 1) and the second SNLI (Table 2), which Tables 3 and 4 confirm (same RIFT numbers). In PEAFT
Table 1 the method labels drifted: the 21 rows are 3 methods x 7 targets in the order roberta-base,
deberta-v3-base, electra-base, roberta-large, deberta-v3-large, electra-large, Llama, so the row labelled
"FreeLB Llama" is PEAFT's Llama row and "ROSE electra-large" is FreeLB's. PEAFT Table 2's "68.501" is read
as 68.50 (AVG 58.35 = (48.20 + 68.50) / 2). One inconsistency is kept as printed: RIFT Table 4(a) gives
vanilla 78.1 at alpha = 0 (the Adv-Base setting) while Table 5 gives Adv-Base BERT 74.6; and PEAFT Table 1's
Llama SST-2 AVG is printed 68.18 where (37.51 + 98.81) / 2 = 68.16, Table 2's ROSE deberta-v3-large SST-2 AVG
74.10 where (52.61 + 95.50) / 2 = 74.06 (all kept as printed).

Use :func:`paper_table` for rows and :func:`paper_value` for one number; :data:`PAPER_HPARAMS` holds the
hyper-parameters of RIFT's Sec. 3.2 and supplementary A.1. No torch import here.
"""
from __future__ import annotations

import copy
from typing import Any

__all__ = ["PAPER_TABLES", "PAPER_HPARAMS", "paper_table", "paper_value", "table_names"]

BERT, ROBERTA = "bert-base-uncased", "roberta-base"
RIFT_METHODS = ("Standard", "Adv-Base", "Adv-PTWD", "Adv-Mixout", "RIFT")
PEAFT_TARGETS = ("roberta-base", "deberta-v3-base", "electra-base", "roberta-large", "deberta-v3-large",
                 "electra-large", "Llama")

COLUMNS = ("table", "method", "model", "dataset", "attack", "metric", "value", "std", "alpha")
"""Every row has exactly these keys; ``std`` and ``alpha`` are None where the table has none."""


def _row(table, method, model, dataset, attack, metric, value, std=None, alpha=None) -> dict[str, Any]:
    return dict(zip(COLUMNS, (table, method, model, dataset, attack, metric, value, std, alpha)))


# ------------------------------------------------------------------------------------------------ RIFT

# (method, model) -> ((genetic, std), (pwws, std))
_RIFT_T1_IMDB = {
    ("Standard", BERT): ((38.1, 2.5), (40.7, 1.1)),
    ("Adv-Base", BERT): ((74.8, 0.4), (68.3, 0.3)),
    ("Adv-PTWD", BERT): ((73.9, 0.4), (69.1, 0.7)),
    ("Adv-Mixout", BERT): ((75.4, 0.7), (68.8, 0.6)),
    ("RIFT", BERT): ((77.2, 0.8), (70.1, 0.5)),
    ("Standard", ROBERTA): ((42.1, 2.1), (45.6, 3.1)),
    ("Adv-Base", ROBERTA): ((70.3, 1.2), (63.3, 0.7)),
    ("Adv-PTWD", ROBERTA): ((69.3, 1.4), (64.4, 0.3)),
    ("Adv-Mixout", ROBERTA): ((70.6, 1.0), (63.9, 1.3)),
    ("RIFT", ROBERTA): ((73.5, 0.8), (66.3, 0.7)),
}
_RIFT_T2_SNLI = {
    ("Standard", BERT): ((40.1, 0.7), (19.4, 0.4)),
    ("Adv-Base", BERT): ((75.7, 0.5), (72.9, 0.2)),
    ("Adv-PTWD", BERT): ((75.2, 1.0), (72.6, 0.5)),
    ("Adv-Mixout", BERT): ((76.3, 0.8), (73.2, 1.0)),
    ("RIFT", BERT): ((77.5, 0.9), (74.3, 1.1)),
    ("Standard", ROBERTA): ((43.4, 1.2), (20.4, 1.0)),
    ("Adv-Base", ROBERTA): ((82.6, 0.6), (79.9, 0.7)),
    ("Adv-PTWD", ROBERTA): ((81.2, 0.8), (78.9, 0.7)),
    ("Adv-Mixout", ROBERTA): ((82.6, 0.9), (80.6, 0.3)),
    ("RIFT", ROBERTA): ((83.5, 0.8), (81.1, 0.4)),
}
# Table 3: (objective, dataset, model) -> (genetic, pwws); no std given.
_RIFT_T3 = {
    ("RIFT", "imdb", BERT): (77.2, 70.1), ("RIFT-I(S;T)", "imdb", BERT): (76.1, 69.4),
    ("RIFT", "imdb", ROBERTA): (73.5, 66.3), ("RIFT-I(S;T)", "imdb", ROBERTA): (72.0, 65.3),
    ("RIFT", "snli", BERT): (77.5, 74.3), ("RIFT-I(S;T)", "snli", BERT): (76.6, 72.1),
    ("RIFT", "snli", ROBERTA): (83.5, 81.1), ("RIFT-I(S;T)", "snli", ROBERTA): (82.5, 79.4),
}
# Table 4 (BERT): dataset -> alpha -> (vanilla, genetic, pwws)
_RIFT_T4 = {
    "imdb": {0.0: (78.1, 74.8, 68.3), 0.05: (78.4, 76.5, 69.2), 0.1: (78.3, 77.2, 70.1), 0.3: (78.3, 76.2, 69.5)},
    "snli": {0.0: (79.4, 75.7, 72.9), 0.5: (80.0, 76.9, 73.8), 0.7: (80.4, 77.5, 74.3), 1.0: (80.6, 77.3, 73.2)},
}
# Supplementary A.4, Tables 5 (IMDB) and 6 (SNLI): vanilla (clean) accuracy.
_RIFT_A4 = {
    "imdb": {BERT: (93.1, 74.6, 76.6, 77.8, 78.3), ROBERTA: (94.9, 80.1, 80.7, 79.0, 84.2)},
    "snli": {BERT: (89.2, 79.4, 78.4, 79.3, 80.5), ROBERTA: (91.3, 87.1, 85.9, 87.1, 87.9)},
}


def _robust_rows(table: str, dataset: str, cells) -> list[dict]:
    rows = []
    for (method, model), ((genetic, g_std), (pwws, p_std)) in cells.items():
        rows.append(_row(table, method, model, dataset, "Genetic", "robust_accuracy", genetic, g_std))
        rows.append(_row(table, method, model, dataset, "PWWS", "robust_accuracy", pwws, p_std))
    return rows


def _rift_table3() -> list[dict]:
    rows = []
    for (method, dataset, model), (genetic, pwws) in _RIFT_T3.items():
        rows.append(_row("rift-3", method, model, dataset, "Genetic", "robust_accuracy", genetic))
        rows.append(_row("rift-3", method, model, dataset, "PWWS", "robust_accuracy", pwws))
    return rows


def _rift_table4() -> list[dict]:
    rows = []
    for dataset, by_alpha in _RIFT_T4.items():
        for alpha, (vanilla, genetic, pwws) in by_alpha.items():
            rows.append(_row("rift-4", "RIFT", BERT, dataset, None, "accuracy", vanilla, alpha=alpha))
            rows.append(_row("rift-4", "RIFT", BERT, dataset, "Genetic", "robust_accuracy", genetic, alpha=alpha))
            rows.append(_row("rift-4", "RIFT", BERT, dataset, "PWWS", "robust_accuracy", pwws, alpha=alpha))
    return rows


def _rift_vanilla() -> list[dict]:
    return [
        _row("rift-a4", method, model, dataset, None, "accuracy", value)
        for dataset, by_model in _RIFT_A4.items()
        for model, values in by_model.items()
        for method, value in zip(RIFT_METHODS, values)
    ]


# ----------------------------------------------------------------------------------------------- PEAFT

OOM = None
# Table 1 (TextFooler on GLUE): method -> target -> {task: (AUA, ACC, AVG)}
_PEAFT_T1_ROWS = {
    "PEAFT": [
        ((70.00, 73.20, 71.60), (32.50, 92.30, 62.40), (49.50, 68.50, 59.00), (48.00, 93.80, 70.90)),
        ((64.41, 86.27, 75.34), (32.22, 93.18, 62.70), (55.24, 80.14, 67.69), (34.17, 94.61, 64.39)),
        ((67.43, 88.97, 78.20), (28.26, 91.61, 59.94), (57.36, 73.29, 65.33), (36.76, 94.27, 65.52)),
        ((66.23, 87.74, 76.99), (36.52, 93.68, 65.10), (55.78, 85.19, 70.49), (41.50, 94.08, 67.79)),
        ((68.41, 90.44, 79.43), (34.72, 94.40, 64.56), (58.42, 88.81, 73.62), (42.32, 95.30, 68.81)),
        ((71.22, 89.48, 80.35), (33.60, 94.10, 63.85), (62.23, 88.09, 75.16), (50.91, 95.15, 73.03)),
        ((52.89, 95.11, 74.00), (28.90, 89.16, 59.03), (66.82, 89.32, 78.07), (37.51, 98.81, 68.18)),
    ],
    "FreeLB": [
        ((12.23, 74.34, 43.29), (29.00, 84.10, 56.55), (16.41, 69.11, 42.76), (12.30, 82.50, 47.40)),
        ((14.11, 81.21, 47.66), (14.12, 88.10, 51.11), (8.12, 71.50, 39.81), (13.76, 94.95, 54.36)),
        ((8.90, 78.91, 43.91), (19.11, 91.73, 55.42), (12.10, 69.01, 40.56), (11.58, 93.81, 52.70)),
        ((11.76, 87.50, 49.63), (12.63, 93.68, 53.16), (1.44, 80.14, 40.79), (11.47, 94.84, 53.16)),
        ((7.35, 87.50, 47.43), (OOM, OOM, OOM), (OOM, OOM, OOM), (21.90, 94.15, 58.03)),
        ((29.95, 63.20, 46.58), (10.71, 48.26, 29.49), (7.58, 81.23, 44.41), (8.60, 95.41, 52.01)),
        ((OOM, OOM, OOM), (OOM, OOM, OOM), (OOM, OOM, OOM), (OOM, OOM, OOM)),
    ],
    "ROSE": [
        ((28.12, 71.14, 49.63), (37.12, 85.10, 61.11), (18.87, 66.81, 42.84), (31.64, 84.12, 57.88)),
        ((31.60, 80.91, 56.26), (33.12, 85.31, 59.22), (19.10, 73.00, 46.05), (15.81, 84.17, 49.99)),
        ((25.70, 71.61, 48.66), (17.81, 88.40, 53.11), (31.28, 61.17, 46.23), (26.79, 88.00, 57.40)),
        ((26.94, 83.78, 55.36), (18.39, 87.13, 52.76), (15.10, 71.97, 43.54), (19.75, 86.39, 53.07)),
        ((22.00, 70.26, 46.13), (12.96, 76.94, 44.95), (22.00, 72.98, 47.49), (19.65, 78.46, 49.06)),
        ((27.81, 60.10, 43.96), (22.90, 64.67, 43.79), (24.64, 78.35, 51.50), (15.47, 84.43, 49.95)),
        ((11.26, 90.20, 50.73), (25.50, 80.69, 53.09), (32.87, 82.26, 57.56), (9.94, 89.66, 49.80)),
    ],
}
_PEAFT_T1_TASKS = ("mrpc", "qnli", "rte", "sst2")
# Table 2 (AdvGLUE dev; no Llama): method -> rows of ((RTE AUA, ACC, AVG), (SST2 AUA, ACC, AVG))
_PEAFT_T2_ROWS = {
    "PEAFT": [
        ((48.20, 68.50, 58.35), (66.14, 93.86, 80.00)),
        ((59.82, 80.14, 69.98), (64.58, 94.61, 79.60)),
        ((62.27, 73.29, 67.78), (66.02, 94.27, 80.15)),
        ((71.59, 85.19, 78.39), (60.92, 94.08, 77.50)),
        ((72.71, 88.81, 80.76), (68.64, 95.30, 81.97)),
        ((70.37, 88.09, 79.23), (61.35, 95.15, 78.25)),
    ],
    "FreeLB": [
        ((64.19, 58.12, 61.15), (39.18, 93.11, 66.15)),
        ((65.43, 81.58, 73.51), (52.70, 94.95, 73.83)),
        ((43.21, 74.00, 58.61), (44.59, 93.81, 69.20)),
        ((56.79, 80.14, 68.47), (50.67, 94.83, 72.75)),
        ((OOM, OOM, OOM), (47.97, 94.15, 71.06)),
        ((69.13, 81.22, 75.18), (63.51, 95.41, 79.46)),
    ],
    "ROSE": [
        ((35.49, 78.34, 56.92), (37.67, 94.84, 66.26)),
        ((32.09, 78.26, 55.18), (39.50, 90.76, 65.13)),
        ((31.85, 75.74, 53.80), (42.72, 90.37, 66.55)),
        ((70.62, 85.13, 77.88), (57.77, 95.58, 76.68)),
        ((70.50, 83.71, 77.11), (52.61, 95.50, 74.10)),
        ((77.82, 85.71, 81.77), (59.64, 93.20, 76.42)),
    ],
}
_PEAFT_T2_TASKS = ("advglue-rte", "advglue-sst2")


def _peaft_rows(table: str, cells: dict, tasks: tuple[str, ...], attack: str) -> list[dict]:
    rows = []
    for method, per_target in cells.items():
        for target, per_task in zip(PEAFT_TARGETS, per_target):
            for dataset, (aua, acc, avg) in zip(tasks, per_task):
                rows.append(_row(table, method, target, dataset, attack, "AUA", aua))
                rows.append(_row(table, method, target, dataset, None, "ACC", acc))
                rows.append(_row(table, method, target, dataset, attack, "AVG", avg))
    return rows


# ------------------------------------------------------------------------------------------ public API

PAPER_TABLES: dict[str, dict[str, Any]] = {
    "rift-1": {"caption": "RIFT Table 1: accuracy (%) of fine-tuning methods under attacks on IMDB",
               "rows": _robust_rows("rift-1", "imdb", _RIFT_T1_IMDB)},
    "rift-2": {"caption": "RIFT Table 2: accuracy (%) of fine-tuning methods under attacks on SNLI",
               "rows": _robust_rows("rift-2", "snli", _RIFT_T2_SNLI)},
    "rift-3": {"caption": "RIFT Table 3: RIFT maximising I(S;T|Y) (method 'RIFT') vs I(S;T) ('RIFT-I(S;T)')",
               "rows": _rift_table3()},
    "rift-4": {"caption": "RIFT Table 4: ablation on alpha (BERT); metric 'accuracy' is vanilla accuracy",
               "rows": _rift_table4()},
    "rift-a4": {"caption": "RIFT supplementary A.4 (Tables 5 and 6): vanilla accuracy (%) on IMDB and SNLI",
                "rows": _rift_vanilla()},
    "peaft-1": {"caption": "PEAFT Table 1: defenses on GLUE tasks attacked by TextFooler (AUA/ACC/AVG, %)",
                "rows": _peaft_rows("peaft-1", _PEAFT_T1_ROWS, _PEAFT_T1_TASKS, "TextFooler")},
    "peaft-2": {"caption": "PEAFT Table 2: defenses on the AdvGLUE dev set (AUA/ACC/AVG, %)",
                "rows": _peaft_rows("peaft-2", _PEAFT_T2_ROWS, _PEAFT_T2_TASKS, "AdvGLUE")},
}
_ALIASES = {"rift-5": "rift-a4", "rift-6": "rift-a4", "rift-vanilla": "rift-a4"}

_COMMON = {
    "optimizer": "AdamW",
    "lr": 2e-5,
    "encoder_weight_decay": 0.0,
    "head_weight_decay": 2e-4,
    "epochs": 20,
    "tau": 0.2,
    "mixout_p": 0.6,
    "attack_examples": 1000,
    "genetic_population": 60,
    "genetic_iterations": 40,
    "genetic_lm_constraint": True,
    "pwws_lm_constraint": False,
    "features": "last-layer [CLS]",
    "head": "Linear-ReLU-Linear",
    "model_selection": "early stopping on robust accuracy",
}
PAPER_HPARAMS: dict[str, dict[str, Any]] = {
    "imdb": {**_COMMON, "batch_size": 32, "beta": 10.0, "alpha": 0.1, "ptwd_lambda": 0.01, "max_tokens": 300},
    "snli": {**_COMMON, "batch_size": 120, "beta": 5.0, "alpha": 0.7, "ptwd_lambda": 0.005, "max_tokens": 80},
}
"""RIFT's hyper-parameters (Sec. 3.2 and supplementary A.1) per dataset. ``beta`` weighs the KL term of
Eq. 9/11, ``alpha`` the L_r-info term, ``tau`` the score-function temperature, ``ptwd_lambda`` the
pre-trained weight decay lambda * ||W - W_pre||_2 of Adv-PTWD, ``mixout_p`` Adv-Mixout's probability;
``max_tokens`` includes the special tokens."""


def table_names() -> list[str]:
    """Names accepted by :func:`paper_table`."""
    return list(PAPER_TABLES)


def paper_table(name: str) -> list[dict[str, Any]]:
    """Rows of one paper table as dicts with keys :data:`COLUMNS` (a fresh copy each call).

    Names: ``rift-1`` (IMDB), ``rift-2`` (SNLI), ``rift-3``, ``rift-4``, ``rift-a4`` (vanilla accuracy,
    supplementary Tables 5-6), ``peaft-1`` (TextFooler on GLUE), ``peaft-2`` (AdvGLUE).
    """
    key = name.strip().lower().replace(" ", "-").replace("_", "-").replace("table-", "")
    key = _ALIASES.get(key, key)
    if key not in PAPER_TABLES:
        raise KeyError(f"unknown paper table {name!r}; known: {', '.join(PAPER_TABLES)}")
    return copy.deepcopy(PAPER_TABLES[key]["rows"])


def paper_value(table: str, **where: Any) -> float | None:
    """The one value of ``table`` whose row matches every ``column=value`` given, e.g.
    ``paper_value("rift-1", method="RIFT", model="bert-base-uncased", attack="Genetic")`` -> 77.2."""
    rows = [r for r in paper_table(table) if all(r.get(k) == v for k, v in where.items())]
    if len(rows) != 1:
        raise KeyError(f"{len(rows)} rows of {table} match {where}; give more columns")
    return rows[0]["value"]
