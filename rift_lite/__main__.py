"""Command line: ``python -m rift_lite train ...`` and ``python -m rift_lite attack ...``.

Each sub-command's options live in its own module (:mod:`rift_lite.train_cli`, :mod:`rift_lite.attack_cli`,
:mod:`rift_lite.reproduce`); this file only dispatches. Only the module of the sub-command that runs is imported,
so ``--help`` stays fast and one sub-command never depends on another.
"""
from __future__ import annotations

import argparse
import importlib
import sys

SUBCOMMANDS = {
    "train": ("rift_lite.train_cli", "fine-tune a classifier with one of the methods (standard, adv-base, rift, ...)"),
    "attack": ("rift_lite.attack_cli", "evaluate a checkpoint under an attack (genetic, pwws, textfooler, ascc)"),
    "reproduce": ("rift_lite.reproduce", "run every (method, setting, seed) a paper table needs, attack it, write "
                  "results files and the table (--list: protocols and tables)"),
}


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one line too: ``error: <what> (see <prog> --help)``, exit status 2."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; the options of ``command`` only are added (its module is imported), the others list by name."""
    parser = _Parser(prog="python -m rift_lite", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sub_parser = sub.add_parser(name, help=help_text, description=help_text)
        if name == command:
            importlib.import_module(module_name).add_arguments(sub_parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    args = build_parser(command).parse_args(argv)
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    try:
        return int(module.run_cli(args) or 0)
    except (ValueError, FileNotFoundError) as exc:  # bad input (DataError is a ValueError): one clear line, no trace
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: checkpoints and attack records are written atomically, nothing is lost
        print(f"interrupted: run the same command again to resume ({' '.join(['python -m rift_lite', *argv])})",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
