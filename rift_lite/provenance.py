"""Where a result came from, and writing it safely: the code version and atomic JSON files.

Every run folder (training: ``results.json`` / ``log.jsonl``; evaluation: ``summary.json``) records the code version
next to its numbers, and is written through a temporary file and ``os.replace`` so that an interrupted process never
leaves a half-written file behind (what resuming relies on).
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any, Iterable


def git_describe() -> str:
    """The code version (``git describe --always --dirty --tags``), or ``"unknown"`` outside a git checkout."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--tags"], capture_output=True, text=True,
                             cwd=Path(__file__).resolve().parent, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def write_json_atomic(path, payload: Any, lines: bool = False) -> None:
    """Write ``payload`` as indented JSON (or, with ``lines``, an iterable of rows as JSON Lines) atomically."""
    path = Path(path)
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    with open(tmp, "w") as fh:
        if lines:
            rows: Iterable = payload
            for row in rows:
                fh.write(json.dumps(row, sort_keys=True) + "\n")
        else:
            json.dump(payload, fh, indent=2, sort_keys=True, default=str)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@contextlib.contextmanager
def removed_if_empty_on_failure(folder):
    """Run a block that may create ``folder``; if the block fails, remove what it created that holds no file.

    A run that fails on bad input (an unknown model, a file with no example, ...) therefore leaves no empty run
    folder behind, while a folder that existed before, or holds anything written (checkpoints, records), is kept.
    """
    folder = Path(folder).absolute()
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent  # the deepest ancestor that already exists: nothing above it is removed
    try:
        yield folder
    except BaseException:
        if not folder.exists() or existing == folder:
            raise
        for path in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                path.rmdir()  # only empty folders go
        path = folder
        while path != existing:
            try:
                path.rmdir()
            except OSError:
                break
            path = path.parent
        raise
