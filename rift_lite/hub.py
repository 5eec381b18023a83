"""The public copies of the datasets on the Hugging Face Hub, read through ``datasets`` when no data folder is
given (needs the internet, e.g. on Colab; not exercised offline). Offline, the error names both ways out.
"""
from __future__ import annotations

import contextlib
import hashlib
import logging
import os

from .data_io import parse_text
from .loaders import ADVGLUE_FIELDS
from .tasks import ENV_VAR, NO_DATA_FOLDER, DataError, Example

# name -> (hub path, config, {our split: hub split}, text column, text_b column)
_HUB: dict[str, tuple[str, str | None, dict[str, str], str, str | None]] = {
    "imdb": ("stanfordnlp/imdb", None, {"train": "train", "dev": "train", "test": "test"}, "text", None),
    "mr": ("cornell-movie-review-data/rotten_tomatoes", None,
           {"train": "train", "dev": "validation", "test": "test"}, "text", None),
    "sst2": ("nyu-mll/glue", "sst2", {"train": "train", "dev": "validation"}, "sentence", None),
    "snli": ("stanfordnlp/snli", None, {"train": "train", "dev": "validation", "test": "test"},
             "premise", "hypothesis"),
    "rte": ("nyu-mll/glue", "rte", {"train": "train", "dev": "validation"}, "sentence1", "sentence2"),
    "mrpc": ("nyu-mll/glue", "mrpc", {"train": "train", "dev": "validation", "test": "test"},
             "sentence1", "sentence2"),
    "qnli": ("nyu-mll/glue", "qnli", {"train": "train", "dev": "validation"}, "question", "sentence"),
    **{f"advglue-{task}": ("AI-Secure/adv_glue", "adv_" + task.replace("-mm", "_mismatched"),
                           {"dev": "validation"}, *ADVGLUE_FIELDS[task]) for task in ADVGLUE_FIELDS},
}
_HUB_IMDB_DEV = 5000  # Hub IMDB has no file names: dev = a fixed 5,000 of its train split (not Jia et al.'s list)


def load_from_hub(name: str, split: str) -> list[Example]:
    """The public copy on the Hugging Face Hub (needs ``datasets`` and internet; not exercised offline).

    Differences from the local folder, by necessity: IMDB dev is a fixed hash-chosen 5,000 of the Hub train
    split (the Hub copy has no aclImdb file names); MR uses the Hub's own 8,530/1,066/1,066 split; SNLI also
    offers "train"; pairs with label -1 (no gold label) are left out, as in the local SNLI files.
    """
    if name not in _HUB:
        raise DataError(f"{name} exists only in the project's data folder (it is not on the Hugging Face Hub); "
                        f"pass --data-dir / data_dir= or set ${ENV_VAR}")
    path, config, splits, text_col, text_b_col = _HUB[name]
    if split not in splits:
        raise DataError(f"{name} has no split {split!r} on the Hub; available: {', '.join(splits)}")
    try:
        import datasets
    except ImportError:
        raise DataError(f"{NO_DATA_FOLDER} and the Hugging Face `datasets` package is not installed "
                        f"(pip install datasets) to fetch {name} from the Hub") from None
    source = f"hf://{path}" + (f"/{config}" if config else "") + f"[{splits[split]}]"
    try:
        with _hub_warnings_silenced():  # their retry warnings would come before our one-line error
            table = datasets.load_dataset(path, config, split=splits[split])
    except Exception as error:  # offline, network, missing dataset, ...: say which source failed and the ways out
        reason = " ".join(str(error).split())[:200] or type(error).__name__
        offline = os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")
        raise DataError(f"{NO_DATA_FOLDER} and {source} could not be loaded from the Hugging Face Hub ({reason}). "
                        "Either point at a data folder, or connect to the internet"
                        + (" and unset HF_HUB_OFFLINE" if offline else "")) from error
    examples = []
    for index, row in enumerate(table):
        if row["label"] is None or int(row["label"]) < 0:
            continue  # documented: unlabelled rows (SNLI '-', GLUE test) are not examples
        text = parse_text(row[text_col], source, index + 1, text_col)
        text_b = parse_text(row[text_b_col], source, index + 1, text_b_col) if text_b_col else None
        examples.append(Example(f"{name}/hf-{splits[split]}/{index}", text, int(row["label"]), text_b))
    if name == "imdb" and split != "test":
        dev = sorted(examples, key=lambda e: hashlib.sha1(f"imdb-dev-0:{e.id}".encode()).hexdigest())
        dev_ids = {e.id for e in dev[:_HUB_IMDB_DEV]}
        examples = [e for e in examples if (e.id in dev_ids) == (split == "dev")]
    if not examples:
        raise DataError(f"no labelled examples in {name} {split} on the Hub", path=source)
    return examples


@contextlib.contextmanager
def _hub_warnings_silenced():
    """Only errors from the Hub's loggers while loading (a failed load ends in one DataError line instead)."""
    loggers = [logging.getLogger(name) for name in ("huggingface_hub", "datasets", "fsspec")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)

