"""The README and the book's introduction say what works: their commands exist and parse, the facts they state hold."""
from __future__ import annotations

import re
import shlex
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
INTRO = (REPO / "book" / "intro.md").read_text(encoding="utf-8")
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _commands(markdown: str, prefix: str) -> list[list[str]]:
    """The shell lines of the ```bash blocks that start with ``prefix``, split into words (comments dropped)."""
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", markdown, re.S):
        lines += [shlex.split(line, comments=True) for line in block.splitlines() if line.startswith(prefix + " ")]
    return lines


def test_readme_names_the_rift_authors():
    authors = "Xinshuai Dong, Luu Anh Tuan, Min Lin, Shuicheng Yan, Hanwang Zhang"
    assert authors in " ".join(README.split())


@pytest.mark.parametrize("command", _commands(README, ".venv/bin/python -m rift_lite"), ids=" ".join)
def test_readme_command_lines_parse(command):
    """Every option a README example uses exists (argparse would stop the command with 'unrecognized arguments')."""
    from rift_lite.__main__ import build_parser

    argv = command[3:]
    build_parser(argv[0]).parse_args(argv)


def test_readme_examples_say_where_the_data_is():
    """Outside make there is no RIFT_LITE_DATA: the examples export it first (the Makefile's default folder)."""
    block = re.search(r"```bash\n(export RIFT_LITE_DATA=\S+)", README)
    assert block and block.group(1) == "export RIFT_LITE_DATA=../shared/data"
    assert "export RIFT_LITE_DATA ?= $(abspath ../shared/data)" in (REPO / "Makefile").read_text()


@pytest.mark.parametrize("doc", ["README.md", "book/intro.md"])
def test_venv_tools_the_docs_name_are_installed(doc):
    """`.venv/bin/jupyter lab` needs JupyterLab: every `.venv/bin/<tool> [<sub>]` of the docs is in this venv."""
    text = (REPO / doc).read_text(encoding="utf-8")
    tools = set(re.findall(r"\.venv/bin/([\w-]+)(?: (lab|notebook|nbconvert|book)\b)?", text))
    if not tools:
        pytest.skip(f"{doc} names no .venv tool")
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "jupyter").exists():
        pytest.skip("the book extra is not installed in this environment")
    for tool, sub in tools:
        assert (bin_dir / (f"{tool}-{sub}" if sub else tool)).exists(), f"{doc}: .venv/bin/{tool} {sub} is missing"


def test_packaging_declares_what_the_docs_promise():
    project = PYPROJECT["project"]
    assert project["license"] == "MIT"  # an SPDX expression (PEP 639), not the deprecated table
    assert any(re.fullmatch(r"setuptools>=(\d+)", r) and int(r.split(">=")[1]) >= 77
               for r in PYPROJECT["build-system"]["requires"])
    assert any(dep.startswith("datasets") for dep in project["dependencies"])  # the Hub path of rift_lite.data
    assert any(dep.startswith("jupyterlab") for dep in project["optional-dependencies"]["book"])  # book/intro.md
    assert ".venv/bin/jupyter lab book/" in INTRO
