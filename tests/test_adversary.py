"""ASCC (Eq. 8) on a real small encoder, and the embedding-space PGD adversary."""
from __future__ import annotations

import copy

import pytest
import torch

from rift_lite.adversary import (ASCCConfig, adversarial_token_ids, ascc_attack, ascc_attack_batch,
                                 candidate_embeddings, convex_weights, decode_adversarial, mix_embeddings,
                                 pgd_attack, pgd_random_init)

SENTENCES = [
    ("a disturbing and frighteningly evocative assembly of imagery and hypnotic music .", 1),
    ("the movie is a dull , simple and boring story with bad actors .", 0),
    ("an intelligent , warm and funny film about a terrible family .", 1),
]


@pytest.fixture(scope="module")
def attack_setup(small_minilm, substitution_set):
    from rift_lite.data import Example
    from rift_lite.substitutions import build_candidates

    model, tokenizer = small_minilm
    model = copy.deepcopy(model)
    torch.manual_seed(0)
    with torch.no_grad():  # a fixed, confident head, so the KL landscape is not flat at a random initialisation
        model.head[0].reset_parameters()
        model.head[2].reset_parameters()
        model.head[2].weight.mul_(100.0)
    examples = [Example(f"t/{i}", text, label) for i, (text, label) in enumerate(SENTENCES)]
    cbatch = build_candidates(examples, tokenizer, substitution_set, max_tokens=24)
    with torch.no_grad():  # centre the logits: the clean predictions sit near the decision boundary
        model.eval()
        b = cbatch.batch
        model.head[2].bias.sub_(model(b.input_ids, b.attention_mask, b.token_type_ids).mean(0))
    return model, examples, cbatch


@pytest.mark.slow
def test_ascc_increases_kl_and_stays_on_simplex(attack_setup):
    model, examples, cbatch = attack_setup
    model.train()
    flags = [p.requires_grad for p in model.parameters()]
    result = ascc_attack_batch(model, cbatch, config=ASCCConfig(steps=10))
    assert len(result.objective) == 11
    # (step 0 is the centroid of each candidate set, w = 0; the KL grows by orders of magnitude)
    assert result.objective[-1] > 10 * result.objective[0] > 0, result.objective
    assert max(result.objective[1:]) > result.objective[0]
    # mode and requires_grad flags restored
    assert model.training and [p.requires_grad for p in model.parameters()] == flags
    w = result.weights
    real = cbatch.batch.attention_mask.bool()
    sums = w.sum(-1)
    assert torch.allclose(sums[real], torch.ones_like(sums[real]), atol=1e-5)
    assert (w >= 0).all()
    # padding slots of real tokens carry exactly zero weight and are never chosen
    assert (w[real][~cbatch.candidate_mask[real]] == 0).all()
    slots = w.argmax(-1)
    assert cbatch.candidate_mask.gather(-1, slots.unsqueeze(-1)).squeeze(-1)[real].all()
    # positions without substitutes keep the original token
    fixed = real & ~cbatch.candidate_mask[:, :, 1:].any(-1)
    ids = adversarial_token_ids(cbatch.candidates, w)
    assert torch.equal(ids[fixed], cbatch.batch.input_ids[fixed])
    assert result.embeddings.shape == (*cbatch.candidates.shape[:2], model.hidden_size)


@pytest.mark.slow
def test_decode_gives_real_substitutions(attack_setup, substitution_set):
    model, examples, cbatch = attack_setup
    result = ascc_attack_batch(model, cbatch, config=ASCCConfig(steps=3))
    adversarial = decode_adversarial(cbatch, result.weights, examples)
    for clean, adv in zip(examples, adversarial):
        a, b = clean.words(), adv.words()
        assert len(a) == len(b)
        for wa, wb in zip(a, b):
            assert wa == wb or wb in substitution_set.neighbours(wa)
    assert any(c.text != a.text for c, a in zip(examples, adversarial))


@pytest.mark.slow
def test_candidate_embeddings_match_single_slots(attack_setup):
    model, _, cbatch = attack_setup
    model.eval()
    b = cbatch.batch
    with torch.no_grad():
        emb = candidate_embeddings(model, cbatch.candidates, b.token_type_ids)
        assert torch.allclose(emb[:, :, 0], model.embed(b.input_ids, b.token_type_ids), atol=1e-5)
        k3 = model.embed(cbatch.candidates[:, :, 3], b.token_type_ids)
        assert torch.allclose(emb[:, :, 3], k3, atol=1e-5)
        # mixing with one-hot slot-0 weights is the clean embedding; the clean logits are reproduced
        onehot = torch.zeros(cbatch.candidates.shape)
        onehot[..., 0] = 1
        mixed = mix_embeddings(onehot, emb)
        clean = model(b.input_ids, b.attention_mask, b.token_type_ids)
        via_mix = model(b.input_ids, b.attention_mask, b.token_type_ids, embedding_output=mixed)
        assert torch.allclose(clean, via_mix, atol=1e-4)


def test_convex_weights_mask_and_padding_rows():
    mask = torch.tensor([[[True, True, False], [False, False, False]]])
    w = torch.tensor([[[0.3, -0.2, 5.0], [1.0, 2.0, 3.0]]])
    p = convex_weights(w, mask)
    assert p[0, 0, 2] == 0 and torch.isclose(p[0, 0].sum(), torch.tensor(1.0))
    assert torch.equal(p[0, 1], torch.tensor([1.0, 0.0, 0.0]))  # a padding token keeps slot 0, no NaN


def test_ce_attack_needs_labels():
    with pytest.raises(ValueError, match="labels"):
        ascc_attack(None, torch.zeros(1, 2, dtype=torch.long), None, None, torch.zeros(1, 2, 1, dtype=torch.long),
                    torch.ones(1, 2, 1, dtype=torch.bool), config=ASCCConfig(loss="ce"))
    with pytest.raises(ValueError, match="ASCCConfig.loss"):
        ASCCConfig(loss="hinge")


def _toy_problem():
    torch.manual_seed(0)
    lin = torch.nn.Linear(8, 3)
    emb = torch.randn(4, 5, 8)
    mask = torch.ones(4, 5)
    mask[:, 3:] = 0
    y = torch.tensor([0, 1, 2, 0])

    def forward(e):
        return lin(e.mean(1))

    def loss_fn(logits):
        return torch.nn.functional.cross_entropy(logits, y)

    return forward, emb, mask, loss_fn


@pytest.mark.parametrize("norm", ["l2", "sign"])
def test_pgd_increases_loss_within_budget(norm):
    forward, emb, mask, loss_fn = _toy_problem()
    eps = 0.5
    delta = pgd_attack(forward, emb, mask, loss_fn, steps=5, step_size=0.2, eps=eps, eps_init=0.1, norm=norm,
                       generator=torch.Generator().manual_seed(0))
    assert loss_fn(forward(emb + delta)) > loss_fn(forward(emb))
    assert (delta[:, 3:] == 0).all()
    if norm == "l2":
        assert (delta.flatten(1).norm(dim=1) <= eps + 1e-5).all()
    else:
        assert delta.abs().max() <= eps + 1e-6


def test_pgd_random_init_scale():
    emb = torch.zeros(2, 10, 16)
    mask = torch.zeros(2, 10)
    mask[0, :4] = 1
    mask[1, :9] = 1
    delta = pgd_random_init(emb, mask, eps_init=1.0, generator=torch.Generator().manual_seed(0))
    assert (delta[0, 4:] == 0).all() and (delta[1, 9:] == 0).all()
    bound = 1.0 / torch.sqrt(torch.tensor([4.0 * 16, 9.0 * 16]))
    assert (delta.abs().flatten(1).max(1).values <= bound + 1e-7).all()
