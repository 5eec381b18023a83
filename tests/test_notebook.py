"""The chapters' setup cell: profile precedence, a clear error for a bad profile, and where figures go."""
from __future__ import annotations

import pytest

from rift_lite.notebook import setup


def test_profile_precedence_and_cpu_default(monkeypatch):
    monkeypatch.delenv("RIFT_LITE_PROFILE", raising=False)
    assert setup(device="cpu", verbose=False)["profile"] == "smoke"
    monkeypatch.setenv("RIFT_LITE_PROFILE", "paper")
    assert setup(device="cpu", verbose=False)["profile"] == "paper"
    assert setup(profile="lite", device="cpu", verbose=False)["profile"] == "lite"


def test_bad_profile_names_the_allowed_values(monkeypatch):
    monkeypatch.setenv("RIFT_LITE_PROFILE", "huge")
    with pytest.raises(ValueError, match="smoke.*lite.*paper.*'huge'"):
        setup(device="cpu", verbose=False)


def test_figures_folder_follows_the_environment(monkeypatch, tmp_path):
    target = tmp_path / "figs"
    monkeypatch.setenv("RIFT_LITE_FIGURES", str(target))
    info = setup(device="cpu", verbose=False)
    assert info["figures_dir"] == target and target.is_dir()


def test_the_test_session_never_writes_the_committed_figures():
    from pathlib import Path

    committed = Path(__file__).resolve().parents[1] / "figures"
    assert setup(device="cpu", verbose=False)["figures_dir"] != committed
