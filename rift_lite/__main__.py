"""Command line: ``python -m rift_lite train ...`` and ``python -m rift_lite attack ...``.

Each sub-command's options live beside the code they drive (:mod:`rift_lite.train`, :mod:`rift_lite.evaluate`);
this file only dispatches, and imports them lazily so ``--help`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS = {
    "train": ("rift_lite.train", "fine-tune a classifier with one of the methods (standard, adv-base, rift, ...)"),
    "attack": ("rift_lite.evaluate", "evaluate a checkpoint under an attack (genetic, pwws, textfooler, ascc)"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rift_lite", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        module.add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    return int(module.run_cli(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
