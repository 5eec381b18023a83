"""The probe victim: features of a frozen encoder in input order, a head that learns, and a real Classifier after."""
from __future__ import annotations

import pytest
import torch

from rift_lite.data import Example
from rift_lite.probe import encode_features, fit_head, head_accuracy
from rift_lite.train import build_model


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return build_model("tiny-random", 2, 2, 16, seed=0)


EXAMPLES = [Example(id=f"e{i}", text=t, label=i % 2) for i, t in enumerate(
    ["a dull film .", "a truly great and funny film that everyone should see .", "bad", "good good good",
     "the plot is thin and the acting is worse than the script", "brilliant ."])]


def test_features_are_the_classifiers_own_in_input_order(tiny):
    model, tokenizer = tiny
    model.train()
    feats = encode_features(model, tokenizer, EXAMPLES, batch_size=2)  # several length-ordered batches
    assert feats.shape == (len(EXAMPLES), model.hidden_size) and model.training  # mode restored
    model.eval()
    with torch.no_grad():
        for i, ex in enumerate(EXAMPLES):
            b = tokenizer.encode([ex])
            one = model.features(b.input_ids, b.attention_mask, b.token_type_ids)[0]
            assert torch.allclose(feats[i], one, atol=1e-5), ex.text


def test_fit_head_trains_only_the_head_and_matches_the_full_model(tiny):
    model, tokenizer = tiny
    encoder_before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    feats = encode_features(model, tokenizer, EXAMPLES)
    labels = [ex.label for ex in EXAMPLES]
    info = fit_head(model, feats, labels, epochs=200, batch_size=3, lr=1e-2, weight_decay=0.0, seed=0)
    assert info["n"] == len(EXAMPLES) and len(info["train_loss"]) == 200
    assert info["train_loss"][-1] < info["train_loss"][0]
    assert info["train_acc"] == 1.0  # six points in 32 dimensions are separable
    assert all(torch.equal(v, model.encoder.state_dict()[k]) for k, v in encoder_before.items())
    assert head_accuracy(model, feats, labels) == 1.0
    assert not model.training and not model.encoder.training  # queried as a victim: no dropout
    with torch.no_grad():  # the probe is an ordinary Classifier: the full forward agrees with the head on features
        b = tokenizer.encode(EXAMPLES)
        assert (model(b.input_ids, b.attention_mask, b.token_type_ids).argmax(-1) == b.labels).all()


def test_fit_head_is_seeded_and_checks_its_input(tiny):
    model, tokenizer = tiny
    feats = torch.randn(8, model.hidden_size)
    state = {k: v.clone() for k, v in model.head.state_dict().items()}
    a = fit_head(model, feats, [0, 1] * 4, epochs=3, seed=1)["train_loss"]
    model.head.load_state_dict(state)
    b = fit_head(model, feats, [0, 1] * 4, epochs=3, seed=1)["train_loss"]
    assert a == b
    with pytest.raises(ValueError, match="must match"):
        fit_head(model, feats, [0, 1, 0])
    with pytest.raises(ValueError, match="epochs and batch_size"):
        fit_head(model, feats, [0, 1] * 4, epochs=0)
    with pytest.raises(ValueError, match="at least one example"):
        encode_features(model, tokenizer, [])
