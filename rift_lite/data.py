"""Datasets for robust fine-tuning: one loader per dataset, one text normaliser, one error type.

Use :func:`load` (``load(name, split, data_dir=None) -> list[Example]``) for the datasets below and
:func:`load_file` for your own CSV/TSV/JSONL file. Every text goes through :func:`normalize_text` exactly once.

Where the data comes from (first match wins)
--------------------------------------------
1. the ``data_dir`` argument, 2. the environment variable ``$RIFT_LITE_DATA``: a folder laid out like the
   project's data snapshot (``imdb/``, ``mr_rotten_tomatoes/``, ``glue_sst2/``, ``snli/``, ``glue_rte/``,
   ``glue_mrpc/``, ``glue_qnli/``, ``advglue/``, ``attack_test_sets/``; see its ``PROVENANCE.md``);
3. otherwise the public copies on the Hugging Face Hub through the optional ``datasets`` package
   (``pip install datasets``; needs internet). Without a folder and without ``datasets``, :class:`DataError`.

Datasets, splits and counts of the local folder (``TASKS[name].splits``)
----------------------------------------------------------------------
==================  =====================  =============================  ==========================================
name                splits                 counts                         source / rule
==================  =====================  =============================  ==========================================
``imdb``            train / dev / test     20,000 / 5,000 / 25,000        aclImdb v1.0; train/dev = the file lists of
                                                                          Jia et al. (certified-word-sub), matched to
                                                                          the JSONL ``file`` field; 12,500/12,500 test
``mr``              train / dev / test     8,694 / 966 / 1,000            rt-polarity v1.0 (5,331 pos + 5,331 neg);
                                                                          test = TextFooler's 1,000 MR sentences
``sst2``            train / dev / test     67,349 / 872 / 1,821           GLUE SST-2; test = labelled AutoPrompt copy
``snli``            dev / test             9,842 / 9,824                  SNLI 1.0 pairs with a gold label (e-SNLI)
``snli-offline``    train / dev / test     9,842 / 8,824 / 1,000          SNLI without its training set: train =
                                                                          SNLI dev, test = the SNLI test pairs of
                                                                          TextFooler's 1,000, dev = the other test
                                                                          pairs (rule in :mod:`rift_lite.loaders`)
``rte``             train / dev            2,490 / 277                    GLUE RTE
``mrpc``            train / dev / test     3,668 / 408 / 1,725            GLUE MRPC; test labels from
                                                                          ``msr_paraphrase_test.txt``
``qnli``            dev                    5,463                          GLUE QNLI
``advglue-<task>``  dev                    sst2 148, qnli 148, rte 81,    AdvGLUE dev.json (tasks sst2, qnli, rte,
                                           mnli 121, mnli-mm 162, qqp 78  mnli, mnli-mm, qqp)
``textfooler-<d>``  test                   1,000 each                     TextFooler's attack sets for imdb, mr, snli,
                                                                          mnli (= mismatched), mnli-matched
==================  =====================  =============================  ==========================================

Ids are stable and label ids follow the Hugging Face convention (:mod:`rift_lite.tasks` lists both);
``"validation"`` and ``"val"`` are accepted for ``"dev"``.

MR's test split is TextFooler's 1,000 sentences matched back to rt-polarity lines, and no test sentence (nor a
near-duplicate of one) is in train or dev; the rule is in :mod:`rift_lite.loaders`.

Nothing is dropped silently: a missing file, a line with the wrong number of fields, an unknown label or an
empty text raises :class:`DataError` naming the file, the 1-based line and the field. The only documented
omissions are upstream ones: SNLI pairs without a gold label ('-') are absent from the files (and filtered
from the Hub copy), and unlabelled test sets (GLUE RTE/QNLI/SST-2 test) are not offered.

Loaded splits are cached in-process per (name, split, folder); :func:`load` returns a fresh list of frozen
:class:`Example` objects each time, so callers cannot corrupt the cache.

Where each part lives (this module is the entry point and re-exports their public names)
----------------------------------------------------------------------------------------
* :mod:`rift_lite.tasks` -- :class:`Example`, :class:`TaskInfo`, :data:`TASKS`, :class:`DataError`;
* :mod:`rift_lite.normalize` -- :func:`normalize_text`, the PTB-style normaliser, and its rules;
* :mod:`rift_lite.data_io` -- line readers whose errors name the file, line and field;
* :mod:`rift_lite.loaders` -- one loader per dataset of the local folder, and the MR split rule;
* :mod:`rift_lite.hub` -- the same datasets from the Hugging Face Hub;
* :mod:`rift_lite.user_data` -- :func:`load_file` for your own CSV/TSV/JSONL/TextFooler file, its dev split and the
  command line's ``--file`` options.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

from .hub import load_from_hub
from .loaders import LOCAL_LOADERS
# re-exported: the public names of the data layer stay importable from rift_lite.data
from .loaders import MR_DEV_FRACTION, MR_DEV_SEED, _mr_key  # noqa: F401
from .normalize import normalize_text
from .tasks import ENV_VAR, NO_DATA_FOLDER, TASKS, DataError, Example, TaskInfo  # noqa: F401
from .user_data import (FILE_DEV_FRACTION, FILE_FORMATS, FILE_MAX_TOKENS, add_file_arguments,  # noqa: F401
                        file_dataset_name, file_label_names, file_task, load_file, split_off_dev)

__all__ = [
    "DataError",
    "Example",
    "TaskInfo",
    "TASKS",
    "ENV_VAR",
    "resolve_data_dir",
    "load",
    "load_file",
    "normalize_text",
]


_SPLIT_ALIASES = {"validation": "dev", "val": "dev", "valid": "dev"}


# ------------------------------------------------------------------------------------------ data location


def resolve_data_dir(data_dir=None) -> Path | None:
    """The local data folder: ``data_dir`` if given, else ``$RIFT_LITE_DATA``, else ``None`` (use the Hub).

    A folder that is named but does not exist is an error, not a silent fall-back to the internet.
    """
    if data_dir is not None and str(data_dir) != "":
        origin, path = "data_dir", Path(data_dir).expanduser()
    elif os.environ.get(ENV_VAR):
        origin, path = f"${ENV_VAR}", Path(os.environ[ENV_VAR]).expanduser()
    else:
        return None
    if not path.is_dir():
        raise DataError(f"data folder not found (given by {origin}); point it at the folder holding the datasets",
                        path=path)
    return path.resolve()


def load(name: str, split: str, data_dir=None) -> list[Example]:
    """Examples of one split of a dataset: ``load("imdb", "train")``, ``load("advglue-sst2", "dev")``.

    ``name`` is a key of :data:`TASKS`; ``split`` one of ``TASKS[name].splits`` ("validation" means "dev").
    Reads the local folder (:func:`resolve_data_dir`), else the Hugging Face Hub. Results are cached in-process.
    """
    key = name.strip().lower().replace("_", "-")
    if key not in TASKS:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(TASKS)}")
    split = _SPLIT_ALIASES.get(split.strip().lower(), split.strip().lower())
    root = resolve_data_dir(data_dir)
    return list(_load_cached(key, split, None if root is None else str(root)))


@functools.lru_cache(maxsize=64)
def _load_cached(name: str, split: str, root: str | None) -> tuple[Example, ...]:
    if root is None:
        return tuple(load_from_hub(name, split))
    if split not in TASKS[name].splits:
        raise DataError(f"{name} has no split {split!r} in the local data folder; available: "
                        f"{', '.join(TASKS[name].splits)}", path=root)
    return tuple(LOCAL_LOADERS[name](Path(root), split))

