"""A lock file per run folder, so that several ``reproduce`` processes can share one campaign.

Each process walks the same run list (:func:`rift_lite.protocols.campaign`); before it trains or attacks a run it
takes ``<run folder>/.lock`` with an exclusive create. A process that finds the lock held by a live process skips
that run and goes on to the next, so two workers on a 2-core machine (one thread each) finish a campaign in about
half the time, and never train into the same folder. A lock whose process has died (killed, machine restarted) is
stale and is taken over: the run then resumes from its last checkpoint as usual. Liveness is checked with
``os.kill(pid, 0)`` when the lock was written on this host; a lock from another host is treated as live. Knows
nothing of training.
"""
from __future__ import annotations

import os
import socket
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

LOCK_FILE = ".lock"
FRESH_S = 60.0
"""An unreadable lock younger than this is being written by its owner: treated as live."""


def lock_holder(lock: Path) -> tuple[int, str] | None:
    """``(pid, host)`` written in ``lock``, or None when the file is missing or unreadable."""
    try:
        pid, host = lock.read_text().split()[:2]
        return int(pid), host
    except (OSError, ValueError):
        return None


def holder_alive(pid: int, host: str) -> bool:
    """True when the process may still run: it exists on this host, or the lock comes from another host."""
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def is_stale(lock: Path) -> bool:
    """The lock's process is gone (an unreadable lock is stale only once older than :data:`FRESH_S`)."""
    holder = lock_holder(lock)
    if holder is None:  # its owner may be writing it right now
        return _age_s(lock) >= FRESH_S
    return not holder_alive(*holder)


def _age_s(path: Path) -> float:
    try:
        return time.time() - path.stat().st_mtime
    except OSError:
        return float("inf")


def _create(lock: Path) -> bool:
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as fh:
        fh.write(f"{os.getpid()} {socket.gethostname()}\n")
    return True


@contextmanager
def run_lock(folder) -> Iterator[bool]:
    """Hold ``folder/.lock`` for the block; yields True when this process holds it, False when a live one does.

    A stale lock (its process is gone) is removed and taken. The lock is removed when the block ends, also on an
    exception; a SIGKILL leaves it behind, stale, for the next process to take over.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK_FILE
    acquired = _create(lock)
    if not acquired and is_stale(lock):
        lock.unlink(missing_ok=True)
        acquired = _create(lock)
    try:
        yield acquired
    finally:
        if acquired and lock_holder(lock) == (os.getpid(), socket.gethostname()):
            lock.unlink(missing_ok=True)
