"""Reproduction protocols and the runs each of the paper's tables needs (read by :mod:`rift_lite.reproduce`).

A *protocol* fixes the data, encoder, training size and attack sizes of every run; a *table* lists the runs
(method, hyper-parameters, seeds) and the attacks it reports. ``python -m rift_lite reproduce --list`` prints both.

* ``cpu`` -- MR with the offline MiniLM-L6, sized for a 2-core CPU so that a run (training, dev-split model selection,
  attacks) takes about 20-30 minutes and the whole campaign about 8-10 hours, landing run by run. These are the
  numbers the book shows; they are small-scale numbers, never the paper's.
* ``gpu`` -- IMDB (the certified-word-sub 20k/5k train/dev split, 25k test) with MiniLM on one GPU (about an hour
  for a table's seed); BERT-base is the ``paper`` protocol's encoder (from the hub).
* ``paper`` -- the paper's settings: BERT-base, IMDB, 20 epochs, batch 32, 300 tokens, 1,000 attacked test examples
  for both attacks (the official code attacked 300), model selection on the dev split (the official code selected
  on the test set).

The Genetic attack always uses the official protocol (population 60, 40 generations, parents in proportion to
1 - p(y|x)); PWWS applies the swaps in saliency order as the official code does. No LM constraint offline.

``table2`` is the paper's SNLI table. SNLI's 550k training pairs are not in the offline data snapshot, so the ``cpu``
protocol's SNLI entry uses the ``snli-offline`` splits (:mod:`rift_lite.loaders`: trains on SNLI dev, selects on SNLI
test pairs outside the attacked ones, attacks the SNLI test pairs of TextFooler's 1,000); ``gpu`` and ``paper`` read
SNLI from the hub. No SNLI run has been done here yet.

The PEAFT tables (``peaft1``, ``peaft2``: the soft-prompt defence's Tables 1-2) have runs on several datasets (GLUE
SST-2 and RTE); a run then names its dataset (:attr:`RunSpec.dataset`) and the protocol's sizes for that dataset
(``PROTOCOLS[p]["datasets"]``) replace its defaults. Only ``cpu`` has sizes for SST-2 and RTE. GLUE's test labels
are not public,
so the dev split is the test set (as in PEAFT): these runs train a fixed number of epochs and keep the last
(``select_on='last'``), never evaluating on dev while training. ``all`` stays the RIFT tables.

``cpu`` sizes for them: SST-2, a class-balanced 2,000-sentence training subset (GLUE's training set is mostly short
phrases), 64 tokens; RTE, all 2,490 training pairs, 128 tokens; both MiniLM-L6, 2 epochs, batch 32, TextFooler on
every dev example (872 / 277), AdvGLUE dev all (148 / 81). Estimate from a timed trial (real training steps at
the 20th, 50th and 80th percentile batch lengths, fitted over every batch; 1 thread on the shared 2-core machine):
an SST-2 run takes about 5-15 minutes, an RTE run 5 (Standard) to 20-35 (PEAFT, RIFT) minutes, so a seed of both
tables (8 runs) about 1.5-2 hours and three seeds 5-6 hours. Measured: SST-2 PEAFT, seed 0, trained in 4.4 minutes and attacked
by TextFooler in 3.0 (1 thread, beside a second job).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .profiles import PROTOCOLS, TINY  # noqa: F401 (their sizes live with the other run profiles)


@dataclass(frozen=True)
class RunSpec:
    """One training run of a table: method, hyper-parameter overrides, seed, and the attacks to run on it."""

    method: str
    seed: int = 0
    overrides: tuple[tuple[str, float], ...] = ()
    attacks: tuple[str, ...] = ("pwws", "genetic")
    dataset: str | None = None  # None: the protocol's dataset (MR for cpu); else e.g. "sst2" (the PEAFT tables)

    @property
    def name(self) -> str:
        tags = "".join(f"-{k[0]}{v:g}" for k, v in self.overrides)  # e.g. rift-a0.3, adv-base-b5
        return f"{self.method}{tags}-seed{self.seed}"

    @property
    def label(self) -> str:
        """The name with the dataset in front when the run has its own (``sst2-peaft-seed0``)."""
        return f"{self.dataset}-{self.name}" if self.dataset else self.name

    def override(self, key: str, default=None):
        return dict(self.overrides).get(key, default)


@dataclass(frozen=True)
class TableSpec:
    """What a table reports, and the runs it needs for ``seeds`` (``sweep`` runs use the first seed only)."""

    name: str
    caption: str
    methods: tuple[str, ...] = ()
    sweep: tuple[tuple[str, str, float], ...] = ()  # (method, hyper-parameter, value)
    attacks: tuple[str, ...] = ("pwws", "genetic")
    sweep_attacks: tuple[str, ...] = ("pwws",)
    paper: str = ""
    notes: tuple[str, ...] = field(default_factory=tuple)
    datasets: tuple[str, ...] = ()  # () = the protocol's dataset; else one run per dataset

    def runs(self, seeds: tuple[int, ...]) -> list[RunSpec]:
        datasets = self.datasets or (None,)
        out = [RunSpec(m, s, (), self.attacks, d) for s in seeds for d in datasets for m in self.methods]
        out += [RunSpec(m, seeds[0], ((key, value),), self.sweep_attacks, d)
                for d in datasets for m, key, value in self.sweep]
        return out


TABLES: dict[str, TableSpec] = {
    "table1": TableSpec("table1", "Table 1 / 5 analogue: accuracy under Genetic and PWWS, and clean accuracy",
                        methods=("standard", "adv-base", "adv-ptwd", "adv-mixout", "rift"), paper="rift-1"),
    "table3": TableSpec("table3", "Table 3 analogue: RIFT with I(S;T|Y) vs I(S;T)", methods=("rift", "rift-ist"),
                        paper="rift-3"),
    "table4": TableSpec("table4", "Table 4 analogue: alpha in {0, 0.05, 0.1, 0.3, 1} (alpha 0 is Adv-Base, 0.1 RIFT)",
                        methods=("adv-base", "rift"), attacks=("pwws",),
                        sweep=(("rift", "alpha", 0.05), ("rift", "alpha", 0.3), ("rift", "alpha", 1.0)),
                        paper="rift-4", notes=("one seed for the sweep (time); PWWS only",)),
    "fig2": TableSpec("fig2", "Fig. 2 analogue: relative L2 distance to the pre-trained encoder; (a) over training, "
                      "Standard vs Adv-Base, (b) at the end against beta in {0, 1, 5, 10}",
                      methods=("standard", "adv-base"), attacks=("pwws",),
                      sweep=(("adv-base", "beta", 1.0), ("adv-base", "beta", 5.0)),
                      notes=("beta = 0 is the Standard run (CE only: the KL term and its adversary do not "
                             "contribute), beta = 10 the Adv-Base run",)),
    "fig4": TableSpec("fig4", "Fig. 4 analogue: clean vs robust accuracy across the alpha and beta runs",
                      methods=("standard", "adv-base", "rift"), attacks=("pwws",),
                      sweep=(("rift", "alpha", 0.05), ("rift", "alpha", 0.3), ("rift", "alpha", 1.0),
                             ("adv-base", "beta", 1.0), ("adv-base", "beta", 5.0))),
    "table2": TableSpec("table2", "Table 2 analogue: SNLI, accuracy under Genetic and PWWS (the hypothesis attacked), "
                        "and clean accuracy", methods=("standard", "adv-base", "adv-ptwd", "adv-mixout", "rift"),
                        datasets=("snli",), paper="rift-2",
                        notes=("cpu: SNLI's training set is not offline; the protocol trains on SNLI dev (see "
                               "--list)",)),
    "peaft1": TableSpec("peaft1", "PEAFT Table 1 analogue: TextFooler on GLUE SST-2 and RTE dev (AUA, ACC, AVG)",
                        methods=("peaft", "freelb", "rose", "standard", "rift"), datasets=("sst2", "rte"),
                        attacks=("textfooler",), paper="peaft-1",
                        notes=("the dev split is the test set (GLUE test labels are not public): a fixed number of "
                               "epochs, the last one kept, no dev evaluation while training",)),
    "peaft2": TableSpec("peaft2", "PEAFT Table 2 analogue: AdvGLUE dev (AUA) and GLUE dev (ACC) for SST-2 and RTE",
                        methods=("peaft", "freelb", "rose", "standard", "rift"), datasets=("sst2", "rte"),
                        attacks=("advglue",), paper="peaft-2",
                        notes=("the same checkpoints as peaft1 (trained once)",)),
}
"""Table name -> spec. Runs shared by several tables (e.g. RIFT seed 0) are trained and attacked once."""

TABLE_ORDER = ("table1", "table3", "table4", "fig2", "fig4")
"""The RIFT paper's tables (``reproduce all``)."""

NLI_TABLE_ORDER = ("table2",)
"""The RIFT paper's SNLI table (named on its own, not part of ``all``: its runs are on SNLI, not MR)."""

PEAFT_TABLE_ORDER = ("peaft1", "peaft2")
"""The PEAFT paper's tables (GLUE SST-2 and RTE; named one by one, not part of ``all``)."""

ALL_TABLES = TABLE_ORDER + NLI_TABLE_ORDER + PEAFT_TABLE_ORDER

PRIORITY = ("peaft", "freelb", "rose", "standard", "adv-base", "rift", "rift-ist", "adv-ptwd", "adv-mixout")
"""Order of the methods inside a seed: the paper's central comparison (RIFT vs Adv-Base; PEAFT vs FreeLB, then ROSE)
lands first."""

ATTACK_ORDER = ("pwws", "genetic", "textfooler", "advglue")
"""``advglue`` is an evaluation, not a search: accuracy on AdvGLUE's fixed adversarial examples."""


def campaign(tables: list[str], seeds: tuple[int, ...]) -> list[RunSpec]:
    """Every run the ``tables`` need, each once (attacks merged), seed-major: all of seed 0 first, so that an
    interrupted campaign has complete single-seed tables before it has any second seed; inside a seed the default
    settings come before the sweeps, then the datasets in the order the tables name them, then :data:`PRIORITY`."""
    merged: dict[tuple, set] = {}
    order: list[tuple] = []
    for name in tables:
        for run in TABLES[name].runs(seeds):
            key = (run.method, run.seed, run.overrides, run.dataset)
            if key not in merged:
                merged[key] = set()
                order.append(key)
            merged[key].update(run.attacks)
    position = {k: i for i, k in enumerate(order)}
    rank = {m: i for i, m in enumerate(PRIORITY)}
    dataset_rank = {d: i for i, d in enumerate(dict.fromkeys(k[3] for k in order))}
    order.sort(key=lambda k: (k[1], bool(k[2]), dataset_rank[k[3]], rank.get(k[0], len(rank)), position[k]))
    return [RunSpec(m, s, o, tuple(a for a in ATTACK_ORDER if a in merged[(m, s, o, d)]), d) for m, s, o, d in order]


def _describe_dataset(dataset: str, q: dict) -> list[str]:
    """The ``--list`` lines of a protocol's entry for another dataset (``q``: the protocol's sizes with the entry's)."""
    tables = ", ".join(t for t in ALL_TABLES if dataset in TABLES[t].datasets)
    kept = "the last kept" if q.get("select_on") == "last" else f"selected on dev {q['dev_examples'] or 'all'}"
    attacked = "dev" if q.get("eval_split") == "dev" else "test"
    extra = f", AdvGLUE dev {q.get('advglue_n') or 'all'}" if "advglue_n" in q else ""
    loader = f" (loader {q['dataset']})" if q["dataset"] != dataset else ""
    lines = [f"         {dataset}{loader} ({tables}): {q['epochs']} epochs, {kept}, batch {q['batch_size']}, "
             f"{q['max_tokens']} tokens, train {q['train_examples'] or 'all'}; "
             f"{', '.join(f'{a} n={n}' for a, n in q['attack_n'].items())} on {attacked}{extra}",
             f"           {q['note']}"]
    if q.get("estimate"):
        lines.append(f"           time: {q['estimate']}")
    return lines


def describe() -> str:
    """The text of ``reproduce --list``."""
    lines = ["Protocols:"]
    for name, p in PROTOCOLS.items():
        lines.append(f"  {name:6s} {p['dataset']} / {p['model']}: {p['epochs']} epochs, batch {p['batch_size']}, "
                     f"{p['max_tokens']} tokens, train {p['train_examples'] or 'all'}, dev {p['dev_examples'] or 'all'}"
                     f"; attacks {', '.join(f'{a} n={n}' for a, n in p['attack_n'].items())}")
        lines.append(f"         {p['note']}")
        for dataset, d in p.get("datasets", {}).items():  # the SNLI and PEAFT tables' datasets
            lines += _describe_dataset(dataset, {**p, "dataset": dataset, **d})
    lines.append("Tables (runs for seeds 0 1 2; sweeps use the first seed; 'all' = the RIFT tables on the protocol's "
                 "own dataset; table2 and the PEAFT tables are named one by one):")
    for name in ALL_TABLES:
        t = TABLES[name]
        runs = t.runs((0, 1, 2))
        lines.append(f"  {name:7s} {t.caption}")
        lines.append(f"          {len(runs)} runs: {', '.join(r.label for r in runs)}")
    return "\n".join(lines)
