"""InfoNCE lower bounds on mutual information: I(S;T) and the conditional I(S;T|Y) of RIFT (Lemma 1).

Notation of the paper (Dong et al., NeurIPS 2021, Sec. 2.3): ``s = F_s(x)`` is the feature of the model being
fine-tuned (on the adversarial input ``x_hat`` in RIFT), ``t = F_t(x)`` the feature of the frozen pre-trained
model, ``y`` the class label.

* Lemma 1: for ``N`` examples of one class ``y``,

      -L_info = E_y E_{x_1..x_N ~ p(x|y)} [ 1/N sum_i log( e^{f_y(s_i,t_i)} / sum_j e^{f_y(s_i,t_j)} ) + log N ]
              <= I(S;T|Y),

  so the bound also can never exceed ``log N`` (each log-softmax term is <= 0).
* Eq. 10 (``L_r-info``) is exactly ``-(that bound)`` with ``s_i = F_s(x_hat_i)``: the ``- log N`` is *inside* the
  paper's loss, so :meth:`ConditionalInfoNCE.forward` returns ``-bound`` with the constant included and
  ``mi_estimate`` returns ``bound`` in nats. The constant has no effect on gradients.
* Table 3 ablation, I(S;T): the same bound over the whole batch with one unconditioned score function
  (:class:`InfoNCE`).

The score function (Sec. 2.3, following SimCLR) is ``f_y(a, b) = cos(g1_y(a), g2_y(b)) / tau`` with MLPs
``g = Linear(d, 512) - ReLU - Linear(512, 256)`` and ``tau = 0.2`` (supplementary A.1).
For the book's small experiments :class:`ScoreFunction` also offers linear projections (``hidden=None``), no
projection at all (``hidden=None, out=None``: the cosine of the raw features) and an unnormalised inner product
(``normalize=False``); :class:`GaussianScore` is the analytically optimal critic for correlated Gaussians.

Everything is vectorised over examples: the only Python loop is over the classes present in a batch.
"""
from __future__ import annotations

import math
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = [
    "ScoreFunction", "GaussianScore", "infonce_lower_bound", "InfoNCE", "ConditionalInfoNCE",
    "gaussian_mi", "sample_correlated_gaussians", "circle_clusters", "train_estimator", "estimate_mi",
    "score_range_cap",
]


def _projection(dim: int, hidden: int | None, out: int | None) -> nn.Module:
    if hidden is None and out is None:
        return nn.Identity()
    if hidden is None:
        return nn.Linear(dim, out)
    if out is None:
        raise ValueError("out must be given when hidden is given")
    return nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Linear(hidden, out))


class ScoreFunction(nn.Module):
    """The critic ``f(a, b) = <g1(a), g2(b)> / (||g1(a)|| ||g2(b)|| tau)`` of Sec. 2.3 (one per class in RIFT).

    ``forward(s [N, dim_s], t [M, dim_t])`` returns the score matrix ``[N, M]`` with ``scores[i, j] = f(s_i, t_j)``.

    * ``hidden=512, out=256`` (default): the paper's MLPs ``Linear(d, hidden) - ReLU - Linear(hidden, out)``.
    * ``hidden=None``: linear projections ``Linear(d, out)``; ``hidden=None, out=None``: no projection at all
      (needs ``dim_s == dim_t``; the critic then has no parameters).
    * ``normalize=False``: plain inner product ``<g1(a), g2(b)> / tau`` instead of the cosine.

    With ``normalize=True`` every score lies in ``[-1/tau, 1/tau]``, which caps the bound (see
    :func:`score_range_cap`): the temperature is part of the critic's capacity, not only an optimisation detail.
    """

    def __init__(self, dim_s: int, dim_t: int, hidden: int | None = 512, out: int | None = 256, tau: float = 0.2,
                 normalize: bool = True):
        super().__init__()
        if tau <= 0:
            raise ValueError(f"tau must be > 0, got {tau}")
        if hidden is None and out is None and dim_s != dim_t:
            raise ValueError(f"a projection-free critic needs dim_s == dim_t, got {dim_s} and {dim_t}")
        self.tau = float(tau)
        self.normalize = normalize
        self.g1 = _projection(dim_s, hidden, out)
        self.g2 = _projection(dim_t, hidden, out)

    def forward(self, s: Tensor, t: Tensor) -> Tensor:
        a, b = self.g1(s), self.g2(t)
        if self.normalize:
            a, b = F.normalize(a, dim=-1), F.normalize(b, dim=-1)
        return a @ b.transpose(0, 1) / self.tau


class GaussianScore(nn.Module):
    """The optimal critic ``f*(s, t) = log p(t|s) / p(t)`` (up to terms in ``s`` only) for the Gaussian pairs of
    :func:`sample_correlated_gaussians`: ``t = rho s + sqrt(1 - rho^2) eps`` with standard normal ``s, eps``.

    ``f*(s, t) = (rho <s, t> - rho^2 ||t||^2 / 2) / (1 - rho^2)``. Plugged into the InfoNCE bound it gives the
    tightest value the bound can reach for a batch size ``N`` (the critic that minimises L_info is proportional to
    ``p(t|s)/p(t)``, supplementary A.2), so it separates the bound's own gap from the critic's training error.
    """

    def __init__(self, rho: float):
        super().__init__()
        if not -1 < rho < 1:
            raise ValueError(f"rho must be in (-1, 1), got {rho}")
        self.rho = float(rho)

    def forward(self, s: Tensor, t: Tensor) -> Tensor:
        r = self.rho
        return (r * (s @ t.transpose(0, 1)) - 0.5 * r * r * (t * t).sum(-1)[None, :]) / (1 - r * r)


def infonce_lower_bound(scores: Tensor) -> Tensor:
    """``mean_i log softmax_j(scores[i, :])_i + log N`` in nats: the bracket of Lemma 1 for one batch (= -L_info).

    ``scores[i, j] = f(s_i, t_j)`` on ``N`` paired examples; the positive pair of row ``i`` is column ``i`` and the
    other ``N - 1`` columns are its negatives. The value is always ``<= log N``.
    """
    if scores.dim() != 2 or scores.shape[0] != scores.shape[1]:
        raise ValueError(f"scores must be a square [N, N] matrix, got shape {tuple(scores.shape)}")
    n = scores.shape[0]
    return torch.diagonal(torch.log_softmax(scores.float(), dim=1)).mean() + math.log(n)


def score_range_cap(n: int, tau: float) -> float:
    """The largest InfoNCE value a cosine critic with temperature ``tau`` can reach on ``n`` examples (nats).

    Scores lie in ``[-1/tau, 1/tau]``, so at best every positive scores ``1/tau`` and every negative ``-1/tau``:
    ``log n - log(1 + (n - 1) exp(-2 / tau))``. For ``tau = 0.2`` and ``n <= 1000`` this is within 0.05 of ``log n``;
    for ``tau = 1`` it is below ``log 8`` whatever ``n`` is.
    """
    return math.log(n) - math.log1p((n - 1) * math.exp(-2.0 / tau))


def _check(s: Tensor, t: Tensor, y: Tensor | None = None) -> None:
    if s.dim() != 2 or t.dim() != 2 or s.shape[0] != t.shape[0]:
        raise ValueError(f"s and t must be [N, d] with the same N, got {tuple(s.shape)} and {tuple(t.shape)}")
    if y is not None and (y.dim() != 1 or y.shape[0] != s.shape[0]):
        raise ValueError(f"y must be [N] with N = {s.shape[0]}, got shape {tuple(y.shape)}")


class InfoNCE(nn.Module):
    """Unconditional InfoNCE bound on I(S;T) over the whole batch (the I(S;T) ablation of Table 3).

    ``forward(s, t, y=None)`` returns the loss ``L_info = -bound`` (scalar, minimise; ``y`` is accepted and ignored so
    both estimators share one call signature); ``bound`` returns the tensor ``-L_info``; ``mi_estimate`` returns it
    as a float in nats. Every other example of the batch is a negative, whatever its class.
    """

    def __init__(self, dim_s: int, dim_t: int, tau: float = 0.2, hidden: int | None = 512, out: int | None = 256,
                 normalize: bool = True, score: nn.Module | None = None):
        super().__init__()
        self.score = score if score is not None else ScoreFunction(dim_s, dim_t, hidden, out, tau, normalize)

    def bound(self, s: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        _check(s, t)
        return infonce_lower_bound(self.score(s, t))

    def forward(self, s: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        return -self.bound(s, t)

    @torch.no_grad()
    def mi_estimate(self, s: Tensor, t: Tensor, y: Tensor | None = None) -> float:
        return float(self.bound(s, t))


class ConditionalInfoNCE(nn.Module):
    """Conditional InfoNCE bound on I(S;T|Y) (Lemma 1; ``L_r-info`` of Eq. 10 when ``s`` comes from ``x_hat``).

    One score function ``f_y`` per class (``self.scores[y]``). Inside each class ``y`` present in the batch, with
    ``N_y`` examples, the ``N_y x N_y`` matrix ``f_y(s_i, t_j)`` gives the bound
    ``b_y = mean_i log softmax_j + log N_y``: the negatives of an example are the other examples *of its own class*.
    The expectation over ``y`` is the class frequency in the batch: ``bound = sum_y (N_y / N') b_y`` where ``N'``
    counts the examples of classes with ``N_y >= 2`` (a class with a single example has no negative; its term is
    identically 0 and is left out). With RIFT's class-balanced batches every class has ``B / C`` examples and this is
    the plain average over classes.

    ``forward(s, t, y)`` returns ``L_info = -bound`` (scalar, minimise; the paper's Eq. 10 includes the ``- log N_y``);
    ``mi_estimate`` returns ``bound`` in nats; ``per_class`` returns ``{y: (N_y, b_y)}``.

    Score functions of classes absent from the batch take part in the graph with weight 0, so every parameter gets a
    gradient (zero) and DistributedDataParallel needs no ``find_unused_parameters``.
    """

    def __init__(self, dim_s: int, dim_t: int, num_classes: int, tau: float = 0.2, hidden: int | None = 512,
                 out: int | None = 256, normalize: bool = True):
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.scores = nn.ModuleList(
            ScoreFunction(dim_s, dim_t, hidden, out, tau, normalize) for _ in range(num_classes))

    def _terms(self, s: Tensor, t: Tensor, y: Tensor) -> tuple[list[tuple[int, int, Tensor]], list[int]]:
        _check(s, t, y)
        if y.numel() and (int(y.min()) < 0 or int(y.max()) >= self.num_classes):
            raise ValueError(f"labels must be in [0, {self.num_classes}), got {y.unique().tolist()}")
        order = torch.argsort(y, stable=True)
        classes, counts = torch.unique_consecutive(y[order], return_counts=True)
        terms, start = [], 0
        for c, n in zip(classes.tolist(), counts.tolist()):
            idx = order[start:start + n]
            start += n
            if n >= 2:
                terms.append((c, n, infonce_lower_bound(self.scores[c](s[idx], t[idx]))))
        absent = [c for c in range(self.num_classes) if c not in {c for c, _, _ in terms}]
        return terms, absent

    def bound(self, s: Tensor, t: Tensor, y: Tensor) -> Tensor:
        terms, absent = self._terms(s, t, y)
        if terms:
            total = sum(n for _, n, _ in terms)
            value = sum(b * (n / total) for _, n, b in terms)
        else:
            value = (s.sum() + t.sum()).float() * 0.0  # no class with >= 2 examples: the bound is 0 (log 1)
        for c in absent:  # weight 0: keeps every parameter in the graph (DDP), changes nothing else
            value = value + 0.0 * sum(p.sum() for p in self.scores[c].parameters())
        return value

    def forward(self, s: Tensor, t: Tensor, y: Tensor) -> Tensor:
        return -self.bound(s, t, y)

    @torch.no_grad()
    def mi_estimate(self, s: Tensor, t: Tensor, y: Tensor) -> float:
        return float(self.bound(s, t, y))

    @torch.no_grad()
    def per_class(self, s: Tensor, t: Tensor, y: Tensor) -> dict[int, tuple[int, float]]:
        terms, _ = self._terms(s, t, y)
        return {c: (n, float(b)) for c, n, b in terms}


# ------------------------------------------------------------------ experiments with a known answer (the book, tests)
def gaussian_mi(dim: int, rho: float) -> float:
    """True I(S;T) in nats for ``dim`` independent coordinate pairs with correlation ``rho``: ``-dim/2 log(1-rho^2)``."""
    return -0.5 * dim * math.log(1.0 - rho * rho)


def sample_correlated_gaussians(n: int, dim: int, rho: float, generator: torch.Generator | None = None,
                                device=None) -> tuple[Tensor, Tensor]:
    """``n`` pairs ``(s, t)``: ``s ~ N(0, I_dim)``, ``t = rho s + sqrt(1 - rho^2) eps`` (so I(S;T) = gaussian_mi)."""
    s = torch.randn(n, dim, generator=generator, device=device)
    eps = torch.randn(n, dim, generator=generator, device=device)
    return s, rho * s + math.sqrt(1.0 - rho * rho) * eps


def circle_clusters(n_per_class: int, centers: list[float], width: float = 0.6, noise: float = 0.05,
                    generator: torch.Generator | None = None) -> tuple[Tensor, Tensor, Tensor]:
    """Class-clustered features on the unit circle (the picture of the paper's Fig. 3), for Sec. 2.4's argument.

    Every class gets the *same* within-class configuration -- angles ``width * N(0, 1)`` for ``s``, plus
    ``noise * N(0, 1)`` for its aligned partner ``t`` -- rotated to the angle ``centers[c]``. Moving the centres
    changes only how the classes sit relative to each other, never the geometry inside a class.
    Returns ``s [C n, 2]``, ``t [C n, 2]``, ``y [C n]``.
    """
    base = torch.randn(n_per_class, generator=generator) * width
    jitter = torch.randn(n_per_class, generator=generator) * noise
    s, t, y = [], [], []
    for c, centre in enumerate(centers):
        a_s, a_t = base + centre, base + jitter + centre
        s.append(torch.stack([a_s.cos(), a_s.sin()], 1))
        t.append(torch.stack([a_t.cos(), a_t.sin()], 1))
        y.append(torch.full((n_per_class,), c, dtype=torch.long))
    return torch.cat(s), torch.cat(t), torch.cat(y)


def train_estimator(estimator: nn.Module, sample: Callable[[], tuple], steps: int = 300, lr: float = 1e-3) -> list[float]:
    """Maximise the bound of ``estimator`` (an :class:`InfoNCE` or :class:`ConditionalInfoNCE`) with Adam on fresh
    batches ``sample() -> (s, t)`` or ``(s, t, y)``; returns the bound (nats) at every step."""
    params = [p for p in estimator.parameters() if p.requires_grad]
    opt = torch.optim.Adam(params, lr=lr) if params else None
    history = []
    for _ in range(steps):
        loss = estimator(*sample())
        if opt is not None:
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        history.append(-float(loss.detach()))
    return history


@torch.no_grad()
def estimate_mi(estimator: nn.Module, sample: Callable[[], tuple], batches: int = 20) -> float:
    """Mean of ``estimator.mi_estimate`` over ``batches`` fresh batches (nats): the expectation in Lemma 1."""
    return sum(estimator.mi_estimate(*sample()) for _ in range(batches)) / batches
