"""The per-run lock that lets several `reproduce` processes share one campaign."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import pytest

from rift_lite.run_lock import FRESH_S, LOCK_FILE, lock_holder, run_lock


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_held_lock_is_not_taken_and_is_released_after_the_block(tmp_path):
    with run_lock(tmp_path / "run") as mine:
        assert mine
        assert lock_holder(tmp_path / "run" / LOCK_FILE) == (os.getpid(), socket.gethostname())
        with run_lock(tmp_path / "run") as again:  # a live holder (here: this very process)
            assert not again
        assert (tmp_path / "run" / LOCK_FILE).exists()  # the refused attempt did not remove it
    assert not (tmp_path / "run" / LOCK_FILE).exists()


def test_the_lock_is_released_when_the_run_fails(tmp_path):
    with pytest.raises(RuntimeError):
        with run_lock(tmp_path) as mine:
            assert mine
            raise RuntimeError("training crashed")
    assert not (tmp_path / LOCK_FILE).exists()


def test_a_stale_lock_of_a_dead_process_is_taken_over(tmp_path):
    (tmp_path / LOCK_FILE).write_text(f"{_dead_pid()} {socket.gethostname()}\n")
    with run_lock(tmp_path) as mine:
        assert mine
        assert lock_holder(tmp_path / LOCK_FILE)[0] == os.getpid()


def test_a_lock_from_another_host_or_being_written_counts_as_live(tmp_path):
    (tmp_path / LOCK_FILE).write_text(f"{_dead_pid()} some-other-host\n")
    with run_lock(tmp_path) as mine:
        assert not mine
    (tmp_path / LOCK_FILE).write_text("")  # created, not yet written by its owner
    with run_lock(tmp_path) as mine:
        assert not mine
    old = time.time() - 2 * FRESH_S
    os.utime(tmp_path / LOCK_FILE, (old, old))  # unreadable and old: its owner died while writing it
    with run_lock(tmp_path) as mine:
        assert mine


def test_run_one_skips_a_run_another_process_holds(tmp_path):
    from rift_lite.protocols import RunSpec
    from rift_lite.reproduce import run_one

    spec = RunSpec("standard", 0, attacks=("pwws",))
    folder = tmp_path / "runs" / "cpu-tiny-mr-standard-seed0"
    folder.mkdir(parents=True)
    (folder / LOCK_FILE).write_text(f"{os.getpid()} {socket.gethostname()}\n")  # a live holder
    path, ran = run_one(spec, "cpu", tiny=True, results_dir=tmp_path / "results", runs_dir=tmp_path / "runs")
    assert ran is None and not path.exists()  # nothing trained, nothing written
    assert sorted(p.name for p in folder.iterdir()) == [LOCK_FILE]
