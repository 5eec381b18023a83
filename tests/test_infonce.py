"""InfoNCE bounds (Lemma 1, Eq. 10, Table 3) and the MI chapter's central claims, checked numerically. CPU, < 20 s."""
from __future__ import annotations

import math

import pytest
import torch

from rift_lite.infonce import (
    ConditionalInfoNCE,
    GaussianScore,
    InfoNCE,
    ScoreFunction,
    circle_clusters,
    estimate_mi,
    gaussian_mi,
    infonce_lower_bound,
    sample_correlated_gaussians,
    score_range_cap,
    train_estimator,
)


def test_lower_bound_formula_and_log_n_ceiling():
    torch.manual_seed(0)
    scores = torch.randn(7, 7)
    expected = sum(math.log(math.exp(scores[i, i]) / sum(math.exp(scores[i, j]) for j in range(7))) for i in range(7))
    assert float(infonce_lower_bound(scores)) == pytest.approx(expected / 7 + math.log(7), abs=1e-5)
    perfect = torch.eye(50) * 1e4  # positives infinitely more likely than negatives: the bound hits log N exactly
    assert float(infonce_lower_bound(perfect)) == pytest.approx(math.log(50), abs=1e-6)
    assert float(infonce_lower_bound(torch.zeros(5, 5))) == pytest.approx(0.0, abs=1e-6)  # uninformative critic
    with pytest.raises(ValueError):
        infonce_lower_bound(torch.zeros(3, 4))


def test_score_function_shapes_and_variants():
    s, t = torch.randn(6, 10), torch.randn(6, 12)
    f = ScoreFunction(10, 12)  # paper: Linear(d,512)-ReLU-Linear(512,256), cos / 0.2
    assert [m.out_features for m in f.g1 if isinstance(m, torch.nn.Linear)] == [512, 256]
    out = f(s, t)
    assert out.shape == (6, 6) and out.abs().max() <= 1 / 0.2 + 1e-4
    assert ScoreFunction(10, 12, hidden=None, out=8)(s, t).shape == (6, 6)
    ident = ScoreFunction(10, 10, hidden=None, out=None, tau=0.5)
    assert len(list(ident.parameters())) == 0
    x = torch.randn(4, 10)
    assert torch.allclose(ident(x, x).diagonal(), torch.full((4,), 2.0), atol=1e-5)  # cos(x, x) / 0.5
    with pytest.raises(ValueError):
        ScoreFunction(3, 4, hidden=None, out=None)


def test_gaussian_optimal_critic_bound_below_mi_and_log_n():
    """With the optimal critic the bound is below I and log N, and approaches min(I, log N) as N grows."""
    g = torch.Generator().manual_seed(0)
    dim, rho = 2, 0.9
    true_mi = gaussian_mi(dim, rho)
    est = InfoNCE(dim, dim, score=GaussianScore(rho))
    values = {}
    for n in (4, 16, 64, 256):
        values[n] = estimate_mi(est, lambda: sample_correlated_gaussians(n, dim, rho, g), batches=30)
        assert values[n] <= min(true_mi, math.log(n)) + 0.03
    assert values[4] < values[16] < values[64] < values[256]
    assert values[4] > 0.55 * math.log(4)  # N = 4: the log N ceiling binds (log 4 < I)
    assert values[256] > true_mi - 0.1  # N = 256: close to the true value


def test_trained_critic_stays_below_true_mi_and_approaches_it():
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    dim, rho = 2, 0.9
    true_mi = gaussian_mi(dim, rho)
    est = InfoNCE(dim, dim, tau=0.2, hidden=64, out=32)
    history = train_estimator(est, lambda: sample_correlated_gaussians(64, dim, rho, g), steps=120, lr=3e-3)
    assert sum(history[-10:]) / 10 > sum(history[:10]) / 10 + 0.5  # training raised the bound
    small = estimate_mi(est, lambda: sample_correlated_gaussians(4, dim, rho, g), batches=40)
    large = estimate_mi(est, lambda: sample_correlated_gaussians(128, dim, rho, g), batches=10)
    assert small <= math.log(4) + 1e-6 and large <= math.log(128)
    assert small < large < true_mi  # fresh batches: a valid lower bound that tightens with N
    assert large > 0.7 * true_mi


def test_cosine_critic_cap_depends_on_tau():
    assert score_range_cap(64, 0.2) == pytest.approx(math.log(64), abs=0.01)
    assert score_range_cap(64, 1.0) < 2.0 < math.log(64)
    scores = torch.full((64, 64), -1.0).fill_diagonal_(1.0) / 1.0  # best possible cosine configuration, tau = 1
    assert float(infonce_lower_bound(scores)) == pytest.approx(score_range_cap(64, 1.0), abs=1e-5)


def test_conditional_equals_frequency_weighted_per_class_bounds():
    torch.manual_seed(0)
    cond = ConditionalInfoNCE(5, 7, num_classes=3, hidden=16, out=8)
    s, t = torch.randn(23, 5), torch.randn(23, 7)
    y = torch.tensor([0] * 10 + [2] * 12 + [1])  # class 1 has one example: no negatives, left out
    expected = sum(
        n / 22 * InfoNCE(5, 7, score=cond.scores[c]).mi_estimate(s[y == c], t[y == c]) for c, n in ((0, 10), (2, 12)))
    assert cond.mi_estimate(s, t, y) == pytest.approx(expected, abs=1e-5)
    assert float(cond(s, t, y).detach()) == pytest.approx(-expected, abs=1e-5)  # L_info = -bound (Eq. 10 includes -log N)
    per = cond.per_class(s, t, y)
    assert set(per) == {0, 2} and per[0][0] == 10
    assert cond.mi_estimate(s, t, y) <= math.log(12)  # each class term is capped by log N_y, not log N


def test_conditional_ignores_class_arrangement_unconditional_rewards_spreading_classes():
    """Sec. 2.4: unconditional negatives include other-class samples, conditional ones only same-class samples."""
    kw = dict(hidden=None, out=None, tau=0.2)  # a fixed cosine critic, the same for every class
    cond, unc = ConditionalInfoNCE(2, 2, num_classes=2, **kw), InfoNCE(2, 2, **kw)
    stacked = circle_clusters(32, [0.0, 0.0], generator=torch.Generator().manual_seed(0))  # classes on top of each other
    spread = circle_clusters(32, [0.0, math.pi], generator=torch.Generator().manual_seed(0))  # same, spread apart
    # conditional: identical (within-class geometry unchanged); it equals the per-class unconditional bound
    assert cond.mi_estimate(*stacked) == pytest.approx(cond.mi_estimate(*spread), abs=1e-5)
    s, t, y = spread
    per_class = [unc.mi_estimate(s[y == c], t[y == c]) for c in (0, 1)]
    assert cond.mi_estimate(s, t, y) == pytest.approx(sum(per_class) / 2, abs=1e-5)
    # unconditional: spreading the classes apart (uniformity across classes) lowers its loss
    assert float(unc(*spread)) < float(unc(*stacked)) - 0.3
    # within-class uniformity still matters to the conditional bound: squeeze each class and it drops
    s2, t2, y2 = spread
    squeezed_s = torch.nn.functional.normalize(s2 + 3 * torch.tensor([[1.0, 0.0]]) * (1 - 2 * y2[:, None]), dim=1)
    squeezed_t = torch.nn.functional.normalize(t2 + 3 * torch.tensor([[1.0, 0.0]]) * (1 - 2 * y2[:, None]), dim=1)
    assert cond.mi_estimate(squeezed_s, squeezed_t, y2) < cond.mi_estimate(s2, t2, y2) - 0.3


def test_gradients_reach_features_and_all_score_parameters():
    torch.manual_seed(0)
    cond = ConditionalInfoNCE(6, 6, num_classes=3, hidden=16, out=8)
    s = torch.randn(12, 6, requires_grad=True)
    t = torch.randn(12, 6)
    y = torch.tensor([0] * 6 + [1] * 6)  # class 2 absent from the batch
    cond(s, t, y).backward()
    assert s.grad is not None and s.grad.abs().sum() > 0
    for c in (0, 1):
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in cond.scores[c].parameters())
    assert all(p.grad is not None and p.grad.abs().sum() == 0 for p in cond.scores[2].parameters())  # DDP-safe
    unc = InfoNCE(6, 6, hidden=16, out=8)
    s.grad = None
    unc(s, t).backward()
    assert s.grad.abs().sum() > 0 and all(p.grad is not None for p in unc.parameters())
    with pytest.raises(ValueError):
        cond(s, t, torch.tensor([0] * 11 + [3]))
