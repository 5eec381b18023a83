"""The one setup call every chapter makes: device, run profile, seeds, paths -- printed so a reader sees what ran.

Profiles (DESIGN.md Sec. 4): ``smoke`` (CPU, seconds: the default without a GPU, and what nbval runs),
``lite`` (one GPU for minutes: the default with one), ``paper`` (the paper's settings, only on request).
Choose explicitly with ``setup(profile=...)`` or the environment variable ``RIFT_LITE_PROFILE``.

Figures go to the repository's ``figures/`` folder, or to ``$RIFT_LITE_FIGURES`` when it is set (the test session
sets it to a temporary folder, so running the tests never rewrites the committed figures).
"""
from __future__ import annotations

import os
import platform
import random
from pathlib import Path

from .profiles import PROFILE_ORDER as PROFILES


def in_colab() -> bool:
    """True when running inside Google Colab."""
    try:
        import google.colab  # noqa: F401
    except ImportError:
        return False
    return True


def find_repo_root(start: Path | None = None) -> Path | None:
    """The folder holding the book's ``_config.yml`` (walking up from ``start`` or the working directory)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "_config.yml").is_file() and (folder / "rift_lite").is_dir():
            return folder
    return None


def seed_everything(seed: int = 0) -> None:
    """Seed Python, NumPy (if installed) and torch (CPU and every GPU)."""
    random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import numpy as np

        np.random.seed(seed)
    except ImportError:
        pass
    import torch

    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def pick_device(prefer: str | None = None) -> str:
    """``prefer`` if given, else ``cuda`` when a GPU is visible, else ``cpu``."""
    import torch

    if prefer:
        return prefer
    return "cuda" if torch.cuda.is_available() else "cpu"


def setup(profile: str | None = None, seed: int = 0, device: str | None = None, verbose: bool = True) -> dict:
    """Pick device and profile, seed everything, find the figures folder; print and return what was chosen.

    Profile precedence: the argument, then ``$RIFT_LITE_PROFILE``, then ``lite`` on a GPU and ``smoke`` on a CPU.
    Figures folder: ``$RIFT_LITE_FIGURES`` if set, else the repository's ``figures/``.
    Returns ``{"profile", "device", "seed", "colab", "figures_dir", "torch", "hardware"}``.
    """
    import torch

    device = pick_device(device)
    profile = profile or os.environ.get("RIFT_LITE_PROFILE") or ("lite" if device.startswith("cuda") else "smoke")
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r} (argument or $RIFT_LITE_PROFILE)")
    seed_everything(seed)
    root = find_repo_root()
    if os.environ.get("RIFT_LITE_FIGURES"):
        figures_dir = Path(os.environ["RIFT_LITE_FIGURES"])
    else:
        figures_dir = (root / "figures") if root is not None else Path.cwd() / "figures"
    figures_dir.mkdir(parents=True, exist_ok=True)
    if device.startswith("cuda"):
        hardware = torch.cuda.get_device_name(torch.device(device))
    else:
        hardware = f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"
    info = {"profile": profile, "device": device, "seed": seed, "colab": in_colab(), "figures_dir": figures_dir,
            "torch": torch.__version__, "hardware": hardware}
    if verbose:
        print(f"rift_lite setup: profile={profile} device={device} ({hardware}) seed={seed} "
              f"torch={torch.__version__} colab={info['colab']}")
    return info


def glue(name: str, value, display: bool = False):
    """Store ``value`` for the book's text (``{glue:text}`name``` in markdown, via myst-nb); returns ``value``.

    Numbers quoted in a chapter's prose come from here, i.e. from the executed cell, never typed by hand. Where
    myst-nb is not installed (e.g. Colab) this only returns the value.
    """
    try:
        from myst_nb import glue as _glue
    except ImportError:
        return value
    _glue(name, value, display=display)
    return value
