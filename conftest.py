"""Test-session environment for every collected path (``tests/`` and, through nbval, the chapters in ``book/``).

Chapters executed by the tests save their figures into a temporary folder (``RIFT_LITE_FIGURES``), never over the
committed ones in ``figures/``; the Hub stays offline; the data folder defaults to ``../shared/data`` when present.
nbval's kernels inherit these variables. (A conftest under ``tests/`` alone is not loaded for ``pytest book``.)
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
if "RIFT_LITE_FIGURES" not in os.environ:
    os.environ["RIFT_LITE_FIGURES"] = tempfile.mkdtemp(prefix="rift_lite_figures_")
    atexit.register(shutil.rmtree, os.environ["RIFT_LITE_FIGURES"], ignore_errors=True)
if "RIFT_LITE_DATA" not in os.environ and (REPO.parent / "shared" / "data").is_dir():
    os.environ["RIFT_LITE_DATA"] = str(REPO.parent / "shared" / "data")
