"""Reproduction protocols and the runs each of the paper's tables needs (read by :mod:`rift_lite.reproduce`).

A *protocol* fixes the data, encoder, training size and attack sizes of every run; a *table* lists the runs
(method, hyper-parameters, seeds) and the attacks it reports. ``python -m rift_lite reproduce --list`` prints both.

* ``cpu`` -- MR with the offline MiniLM-L6, sized for a 2-core CPU so that a run (training, dev-split model selection,
  attacks) takes about 20-30 minutes and the whole campaign about 8-10 hours, landing run by run. These are the
  numbers the book shows; they are small-scale numbers, never the paper's.
* ``gpu`` -- IMDB (the certified-word-sub 20k/5k train/dev split, 25k test) with MiniLM on one GPU (about an hour
  for a table's seed); ``--model bert-base-uncased`` where the hub is reachable.
* ``paper`` -- the paper's settings: BERT-base, IMDB, 20 epochs, batch 32, 300 tokens, 1,000 attacked test examples
  for both attacks (the official code attacked 300), model selection on the dev split (the official code selected
  on the test set).

The Genetic attack always uses the official protocol (population 60, 40 generations, parents in proportion to
1 - p(y|x)); PWWS applies the swaps in saliency order as the official code does. No LM constraint offline.
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

    @property
    def name(self) -> str:
        tags = "".join(f"-{k[0]}{v:g}" for k, v in self.overrides)  # e.g. rift-a0.3, adv-base-b5
        return f"{self.method}{tags}-seed{self.seed}"

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

    def runs(self, seeds: tuple[int, ...]) -> list[RunSpec]:
        out = [RunSpec(m, s, (), self.attacks) for s in seeds for m in self.methods]
        out += [RunSpec(m, seeds[0], ((key, value),), self.sweep_attacks) for m, key, value in self.sweep]
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
}
"""Table name -> spec. Runs shared by several tables (e.g. RIFT seed 0) are trained and attacked once."""

TABLE_ORDER = ("table1", "table3", "table4", "fig2", "fig4")

PRIORITY = ("standard", "adv-base", "rift", "rift-ist", "adv-ptwd", "adv-mixout")
"""Order of the methods inside a seed: the paper's central comparison (RIFT vs Adv-Base) lands first."""


def campaign(tables: list[str], seeds: tuple[int, ...]) -> list[RunSpec]:
    """Every run the ``tables`` need, each once (attacks merged), seed-major: all of seed 0 first, so that an
    interrupted campaign has complete single-seed tables before it has any second seed; inside a seed the default
    settings come before the sweeps, in :data:`PRIORITY` order."""
    merged: dict[tuple, set] = {}
    order: list[tuple] = []
    for name in tables:
        for run in TABLES[name].runs(seeds):
            key = (run.method, run.seed, run.overrides)
            if key not in merged:
                merged[key] = set()
                order.append(key)
            merged[key].update(run.attacks)
    position = {k: i for i, k in enumerate(order)}
    rank = {m: i for i, m in enumerate(PRIORITY)}
    order.sort(key=lambda k: (k[1], bool(k[2]), rank.get(k[0], len(rank)), position[k]))
    attack_order = ("pwws", "genetic")
    return [RunSpec(m, s, o, tuple(a for a in attack_order if a in merged[(m, s, o)])) for m, s, o in order]


def describe() -> str:
    """The text of ``reproduce --list``."""
    lines = ["Protocols:"]
    for name, p in PROTOCOLS.items():
        lines.append(f"  {name:6s} {p['dataset']} / {p['model']}: {p['epochs']} epochs, batch {p['batch_size']}, "
                     f"{p['max_tokens']} tokens, train {p['train_examples'] or 'all'}, dev {p['dev_examples'] or 'all'}"
                     f"; attacks {', '.join(f'{a} n={n}' for a, n in p['attack_n'].items())}")
        lines.append(f"         {p['note']}")
    lines.append("Tables (runs for seeds 0 1 2; sweeps use the first seed):")
    for name in TABLE_ORDER:
        t = TABLES[name]
        runs = t.runs((0, 1, 2))
        lines.append(f"  {name:7s} {t.caption}")
        lines.append(f"          {len(runs)} runs: {', '.join(r.name for r in runs)}")
    return "\n".join(lines)
