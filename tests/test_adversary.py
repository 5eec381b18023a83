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


# ------------------------------------------------------------------------------------------------ entropy term


class _OneWeightVictim(torch.nn.Module):
    """logits = [0, c * e] of the mixed embedding's single coordinate e: CE(y=0) grows with the weight of the slot
    whose embedding is 1 (the one the attack favours)."""

    def __init__(self, c: float):
        super().__init__()
        self.c = torch.nn.Parameter(torch.tensor(float(c)))

    def forward(self, input_ids, attention_mask, token_type_ids=None, embedding_output=None):
        z = self.c * embedding_output[:, 0, 0]
        return torch.stack([torch.zeros_like(z), z], -1)


def _one_position(favoured: int, tokens: int = 3):
    """One example of ``tokens`` positions; only the first has a substitute (the others' entropy is 0)."""
    cand_emb = torch.zeros(1, tokens, 2, 1)
    cand_emb[0, 0, favoured, 0] = 1.0
    cand_mask = torch.zeros(1, tokens, 2, dtype=torch.bool)
    cand_mask[..., 0] = True
    cand_mask[0, 0, 1] = True
    return (torch.zeros(1, tokens, dtype=torch.long), torch.ones(1, tokens, dtype=torch.long),
            torch.zeros(1, tokens, 2, dtype=torch.long), cand_mask, cand_emb)


def test_entropy_defaults_are_the_official_code():
    config = ASCCConfig()
    assert config.entropy_weight == 15.0 and config.entropy_scale == 1.0 / (300 * 128)
    assert config.lr == 1.0 and config.weight_decay == 2e-5 and config.steps == 10


@pytest.mark.parametrize("ratio", [0.5, 2.0])
def test_entropy_penalty_is_15_over_300x128_times_the_entropy(ratio):
    """The inner loss is -CE + 15 / (300*128) * sum_t H(softmax(w_t)): at a start where the slot the attack favours
    is the *smaller* one, the penalty (towards one-hot, i.e. towards the larger slot) and the attack pull in opposite
    directions. Adam's first step moves w by -lr * sign(gradient), so whichever term has the larger gradient wins:
    the penalty when the attack's gradient is half of it, the attack when it is twice it. A different weight, scale
    or sign of the penalty, or a mean over positions instead of the sum, flips one of the two outcomes."""
    from rift_lite.adversary import entropy

    torch.manual_seed(3)
    w0 = torch.zeros(1, 3, 2).normal_(0.0, 1.0)
    favoured = int(w0[0, 0].argmin())  # the attack pushes towards the smaller slot
    ids, mask, cands, cmask, cand_emb = _one_position(favoured)
    scale = 15.0 / (300 * 128)

    def grads(c):  # gradients w.r.t. w0 of the attack (to maximise) and of the penalty (to minimise)
        w = w0[:, :1].clone().requires_grad_(True)
        p = torch.softmax(w, -1)
        z = c * (p[..., favoured]).squeeze()
        attack = torch.nn.functional.cross_entropy(torch.stack([torch.zeros_like(z), z]).unsqueeze(0),
                                                   torch.tensor([0]), reduction="sum")
        (g_attack,) = torch.autograd.grad(attack, [w], retain_graph=True)
        (g_penalty,) = torch.autograd.grad(scale * entropy(p).sum(), [w])
        return g_attack[0, 0, favoured].abs().item(), g_penalty[0, 0, favoured].abs().item()

    lo, hi = 0.0, 1.0  # find c with |attack gradient| = ratio * |penalty gradient| (monotone in c)
    for _ in range(60):
        c = (lo + hi) / 2
        g_attack, g_penalty = grads(c)
        lo, hi = (c, hi) if g_attack < ratio * g_penalty else (lo, c)
    torch.manual_seed(3)  # ascc_attack draws the same start w0 (init_std=1)
    result = ascc_attack(_OneWeightVictim(c), ids, mask, None, cands, cmask, labels=torch.tensor([0]),
                         cand_emb=cand_emb, config=ASCCConfig(steps=1, loss="ce", weight_decay=0.0, init_std=1.0))
    start = torch.softmax(w0, -1)[0, 0, favoured]
    after = result.weights[0, 0, favoured]
    if ratio < 1:
        assert after < start  # the penalty won: towards the one-hot of the larger slot
    else:
        assert after > start  # the attack won


def test_entropy_penalty_moves_the_optimum_towards_one_hot(attack_setup):
    """Same problem, same steps: a stronger entropy penalty ends at sparser weights (lower entropy per position) and
    nearer to a real word substitution (the mixed embedding nearer to the arg-max one)."""
    from rift_lite.adversary import entropy

    model, _, cbatch = attack_setup
    real = cbatch.batch.attention_mask.bool() & cbatch.candidate_mask[:, :, 1:].any(-1)
    ends = {}
    for weight in (0.0, 15.0, 15.0 * 300 * 128):
        config = ASCCConfig(steps=10, entropy_weight=weight)
        result = ascc_attack_batch(model, cbatch, config=config)
        onehot = torch.nn.functional.one_hot(result.weights.argmax(-1), result.weights.shape[-1]).float()
        gap = (result.embeddings - mix_embeddings(onehot, result.candidate_embeddings)).norm(dim=-1)
        ends[weight] = (entropy(result.weights)[real].mean().item(), gap[real].mean().item())
    assert ends[15.0 * 300 * 128][0] < ends[15.0][0] <= ends[0.0][0] + 1e-6, ends
    assert ends[15.0 * 300 * 128][1] < ends[0.0][1], ends
