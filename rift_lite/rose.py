"""ROSE: robust selective fine-tuning (Jiang et al., EMNLP 2022, "ROSE: Robust Selective Fine-tuning for Pre-trained
Language Models", Sec. 3). Full fine-tuning in which, at every step, only the weight tensors judged *robust* by a risk
are updated; the others keep their values.

Written from the official code (github.com/jiangllan/ROSE, files named below), in this library's terms:

* **First-order risk** (Sec. 3, first-order ROSE; ``robustSSANs/models/modeling_roberta.py``,
  ``RobertaForSequenceClassificationWithKL.roberta_kl``; ``robustSSANs/utils/mytrainer.py``, ``train``): the batch
  goes twice through the model with dropout, giving P1 and P2; the risk of a weight tensor W is
  ``r1(W) = ||grad_W KL_sym||_2``, ``KL_sym = 1/2 (KL(P1||P2) + KL(P2||P1))``, gradient through both passes
  (``kl_loss.backward(retain_graph=True)``, then ``calculate_mask(type="kl")``, then ``zero_grad``). The KL only
  measures risk: the update follows the cross-entropy averaged over the two passes, ``1/2 (CE(P1) + CE(P2))``.
  The dropout of every encoder layer is set to ``rose_dropout`` (``run_classification.py`` sets the config's
  hidden and attention dropout to ``kl_dropout`` when ``--sparse_first``).
* **Second-order risk** (Sec. 3, second-order ROSE; ``robustSSANs/utils/optimization.py``,
  ``calculate_second_order_param_mask``, called at the top of ``SparseAdamW.step``): from Adam's first moment *before*
  this step's update, ``r2(W) = | (1 - beta1) ||g_t(W)|| / ||m_{t-1}(W)|| - 1 |``, g_t the step's (clipped) CE
  gradient; the code writes the constant 0.1, i.e. 1 - beta1 at its beta1 = 0.9. No m yet (first step): all kept.
* **Mask** (``calculate_first_order_param_mask`` and the second-order one): one risk per weight tensor; over all
  selectable tensors together, keep those whose risk lies between the ``rose_lower``-th and ``rose_upper``-th
  percentile (``torch.quantile``, linear interpolation, both ends inclusive) -- with lower 0, the ``rose_upper`` %
  least risky tensors (a zero risk is always kept). Selectable (``check_apply_sparse``: names holding "layer" and
  "weight"): the weights of the Transformer layers (attention and feed-forward matrices, the layers' LayerNorm
  gains); biases, embeddings, pooler and task head are always updated.
* **ROSE-Ensemble** (``calculate_mask``, ``sparse_first and sparse_second``): ``M = (1 - gamma) M2 + gamma M1``, a
  soft mask with values in {0, gamma, 1 - gamma, 1}.
* **Where the mask acts** (``SparseAdamW.step``): inside Adam, per tensor with mask s, the gradient fed to both
  moments is ``s g + (1 - s) m_{t-1}`` (s = 0: m unchanged), and the update and the decoupled weight decay are
  multiplied by s. A tensor with s = 0 is bit-for-bit unchanged by the step (:class:`RoseAdamW`).

Defaults (:data:`ROSE_DEFAULTS`): ``rose_upper`` 60 and ``rose_lower`` 0 (the official README's training commands
for all three variants: ``run_train_sparse_{first,second,ensemble}.sh ... 60 0 ...``; the scripts themselves take
them as required arguments, and ``training_args.py``'s 100 / 0 would select everything), ``rose_gamma`` 0.5 and
``rose_dropout`` 0.1 (``training_args.py`` defaults ``gamma`` and ``kl_dropout``, also the README's values), and
``rose_variant`` ``ensemble`` (``runs/run_train_sparse_ensemble.sh``, which passes ``--sparse_first --sparse_second``:
the paper's strongest variant; the README's ensemble line calls ``run_train_sparse_first.sh`` by mistake, a script
that ignores its tenth argument, gamma).

Departures, all marked: (1) ``KL_sym`` here is a batch mean; the official code sums over the batch and divides by 4 --
a positive rescaling, so the ranking and the mask are the same. (2) :class:`RoseAdamW` is torch's AdamW (as every
other method here) where the official code uses Transformers' AdamW (eps added before the bias correction, weight
decay after the update); the mask acts the same way. (3) Masks start at the first step: the official code starts them
after the learning-rate warm-up steps, 0 in its three scripts. (4) The scripts' optimiser settings (lr 1e-5, batch 32,
10 epochs, weight decay 0.01, beta2 0.98, fp16) are the trainer's business and not applied by these options; the
risks do not depend on beta2. The paper's own text could not be consulted here (offline), so the formulas are the
official code's; no difference between code and paper could be checked.
"""
from __future__ import annotations

import argparse
import re
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from . import distributed

ROSE_METHODS: tuple[str, ...] = ("rose",)
VARIANTS: tuple[str, ...] = ("first", "second", "ensemble")
OPTIONS: tuple[str, ...] = ("rose_variant", "rose_upper", "rose_lower", "rose_gamma", "rose_dropout")
ROSE_DEFAULTS = {"rose_variant": "ensemble", "rose_upper": 60.0, "rose_lower": 0.0, "rose_gamma": 0.5,
                 "rose_dropout": 0.1}
"""The official scripts' settings (sources in the module docstring)."""

RISK_KEY = "rose_kl"
"""The loss-terms entry holding ``KL_sym`` with its graph, for :func:`kl_risk` before the backward pass."""

_LAYER_WEIGHT = re.compile(r"(^|\.)layers?\.\d+\..*weight$")


@dataclass
class RoseConfig:
    """ROSE's options (:data:`OPTIONS` without the ``rose_`` prefix); a bad value is a ValueError naming the option
    and its allowed range."""

    variant: str = "ensemble"
    upper: float = 60.0  # percentile: keep risks at most this (official ``--upper``)
    lower: float = 0.0  # percentile: keep risks at least this (official ``--lower``)
    gamma: float = 0.5  # ensemble weight of the first-order mask (official ``--gamma``)
    dropout: float = 0.1  # dropout of the two KL passes (official ``--kl_dropout``)

    def __post_init__(self):
        checks = [("rose_variant", self.variant in VARIANTS, f"one of {', '.join(VARIANTS)}", self.variant),
                  ("rose_upper", _number(self.upper) and 0 < self.upper <= 100, "a percentile in (0, 100]",
                   self.upper),
                  ("rose_lower", _number(self.lower) and 0 <= self.lower < 100, "a percentile in [0, 100)",
                   self.lower),
                  ("rose_gamma", _number(self.gamma) and 0 <= self.gamma <= 1, "in [0, 1]", self.gamma),
                  ("rose_dropout", _number(self.dropout) and 0 <= self.dropout < 1, "in [0, 1)", self.dropout)]
        for name, ok, allowed, value in checks:
            if not ok:
                raise ValueError(f"rose option {name} must be {allowed}; got {value!r}")
        if self.lower >= self.upper:
            raise ValueError(f"rose option rose_lower must be below rose_upper ({self.upper}): the kept risks lie "
                             f"between the two percentiles; got {self.lower!r}")
        if self.uses_kl and self.dropout == 0:
            raise ValueError(f"rose option rose_dropout must be in (0, 1) for variant {self.variant}: without dropout "
                             "the two passes agree and the first-order risk is 0 everywhere; got 0")

    @property
    def uses_kl(self) -> bool:
        """Whether the first-order risk (two dropout passes) is part of the mask."""
        return self.variant in ("first", "ensemble")

    @property
    def uses_moments(self) -> bool:
        """Whether the second-order risk (Adam's first moment) is part of the mask."""
        return self.variant in ("second", "ensemble")

    def options(self) -> dict:
        """The ``rose_*`` options of this config (what the trainer records in ``extra``)."""
        return {f"rose_{k}": v for k, v in asdict(self).items()}

    @classmethod
    def from_options(cls, options: dict | None) -> "RoseConfig":
        """From ``rose_*`` options (the trainer's ``extra``); unset ones take :data:`ROSE_DEFAULTS`."""
        values = {**ROSE_DEFAULTS, **{k: v for k, v in (options or {}).items() if k in OPTIONS and v is not None}}
        return cls(**{k.removeprefix("rose_"): v for k, v in values.items()})


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def resolve_options(method: str, extra: dict | None) -> dict:
    """``extra`` with every ROSE option filled in and checked for ``rose``; ROSE options given to another method are
    an error (they would silently do nothing)."""
    given = {k: v for k, v in (extra or {}).items() if k in OPTIONS and v is not None}
    if method not in ROSE_METHODS:
        if given:
            raise ValueError(f"options {', '.join(sorted(given))} apply to rose only, not to {method}")
        return dict(extra or {})
    return {**(extra or {}), **RoseConfig.from_options(given).options()}


# ------------------------------------------------------------------------------------------------ the model side


def selectable_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The weight tensors the mask may hold back: the Transformer layers' weights (official ``check_apply_sparse``)."""
    params = [p for n, p in model.encoder.named_parameters() if p.requires_grad and _LAYER_WEIGHT.search(n)]
    if not params:
        raise ValueError("rose needs an encoder whose Transformer layers are named layer.N (BERT, RoBERTa, MiniLM); "
                         f"{type(model.encoder).__name__} has none")
    return params


def prepare_model(model: nn.Module, config: RoseConfig) -> nn.Module:
    """First-order and ensemble: every dropout of the encoder gets p = ``rose_dropout`` (as the official
    ``run_classification.py`` sets the hidden and attention dropout to ``kl_dropout``). Returns ``model``."""
    if config.uses_kl:
        for module in model.encoder.modules():
            if isinstance(module, nn.Dropout):
                module.p = config.dropout
        for key in ("hidden_dropout_prob", "attention_probs_dropout_prob"):
            if hasattr(model.encoder.config, key):
                setattr(model.encoder.config, key, config.dropout)
    return model


def symmetric_kl(logits_a: torch.Tensor, logits_b: torch.Tensor) -> torch.Tensor:
    """``1/2 (KL(P_a||P_b) + KL(P_b||P_a))``, batch mean, gradient through both (first-order ROSE, Sec. 3)."""
    log_a, log_b = F.log_softmax(logits_a.float(), -1), F.log_softmax(logits_b.float(), -1)
    kl_ab = (log_a.exp() * (log_a - log_b)).sum(-1)
    kl_ba = (log_b.exp() * (log_b - log_a)).sum(-1)
    return 0.5 * (kl_ab + kl_ba).mean()


def rose_loss(model, config: RoseConfig, input_ids, attention_mask, token_type_ids, labels,
              parts: bool = False) -> dict:
    """ROSE's loss terms. First-order / ensemble: two dropout passes, ``total = ce = 1/2 (CE(P1) + CE(P2))``, ``kl``
    = ``KL_sym`` (logged) and :data:`RISK_KEY` (with its graph, for :func:`kl_risk`); second-order: one pass, CE."""
    logits = model(input_ids, attention_mask, token_type_ids)
    kl = None
    if config.uses_kl:
        other = model(input_ids, attention_mask, token_type_ids)
        ce = 0.5 * (F.cross_entropy(logits.float(), labels) + F.cross_entropy(other.float(), labels))
        kl = symmetric_kl(logits, other)
    else:
        ce = F.cross_entropy(logits.float(), labels)
    zero = torch.zeros((), device=ce.device)
    terms = {"total": ce, "ce": ce.detach(), "kl": zero if kl is None else kl.detach(), "info": zero, "ptwd": zero,
             "mi": torch.tensor(float("nan"), device=ce.device),
             "acc": (logits.argmax(-1) == labels).float().mean().detach(),
             "adv_acc": torch.tensor(float("nan"), device=ce.device)}
    if kl is not None:
        terms[RISK_KEY] = kl
    if parts:
        terms["parts"] = {"ce": ce}
    return terms


def kl_risk(kl: torch.Tensor, params: list[nn.Parameter]) -> torch.Tensor:
    """First-order risks ``||grad_W KL_sym||_2``, one per tensor of ``params`` (no gradient: 0). The graph is kept
    for the backward pass of the loss; nothing is accumulated into ``.grad``. Under data parallelism the gradient is
    averaged over the ranks first, as DDP averages the official ``kl_loss.backward()``."""
    grads = torch.autograd.grad(kl, params, retain_graph=True, allow_unused=True)
    grads = [torch.zeros_like(p) if g is None else g.detach() for p, g in zip(params, grads)]
    if distributed.is_initialized() and distributed.world_size() > 1:
        flat = torch.cat([g.flatten() for g in grads])
        torch.distributed.all_reduce(flat)
        grads = list((flat / distributed.world_size()).split([g.numel() for g in grads]))
    return torch.stack([g.float().norm() for g in grads])


def quantile_mask(risk: torch.Tensor, lower: float, upper: float) -> torch.Tensor:
    """1 where ``risk`` lies between its ``lower``-th and ``upper``-th percentile (inclusive), else 0 (the official
    ``calculate_*_param_mask``)."""
    risk = risk.float()
    bounds = torch.quantile(risk, torch.tensor([lower / 100.0, upper / 100.0], device=risk.device))
    return ((risk >= bounds[0]) & (risk <= bounds[1])).float()


# ------------------------------------------------------------------------------------------------ the optimiser


class RoseAdamW(torch.optim.Optimizer):
    """torch's AdamW with ROSE's per-tensor mask (``SparseAdamW.step`` of the official code; module docstring).

    ``selectable``: the tensors the mask covers (:func:`selectable_parameters`); the rest update as in AdamW. Before
    each :meth:`step` of a first-order / ensemble config, :meth:`set_first_order_risk` takes that step's
    :func:`kl_risk`. After a step, ``last_mask`` holds the mask used (over ``selectable``, in order) and
    ``last_risk`` the risks ({'first': ..., 'second': ...}). Every mask 1 gives exactly torch's AdamW step.
    """

    def __init__(self, params, config: RoseConfig, selectable, lr: float = 1e-3, betas=(0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2):
        if not 0 < lr or not 0 <= betas[0] < 1 or not 0 <= betas[1] < 1 or not eps >= 0 or not weight_decay >= 0:
            raise ValueError(f"RoseAdamW needs lr > 0, betas in [0, 1), eps >= 0, weight_decay >= 0; got lr={lr}, "
                             f"betas={betas}, eps={eps}, weight_decay={weight_decay}")
        super().__init__(params, {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay})
        self.config = config
        self.selectable = list(selectable)
        known = {id(p) for group in self.param_groups for p in group["params"]}
        if not self.selectable or any(id(p) not in known for p in self.selectable):
            raise ValueError("RoseAdamW: selectable must be a non-empty subset of the optimised parameters")
        self._first_risk = None
        self.last_mask: torch.Tensor | None = None
        self.last_risk: dict[str, torch.Tensor] = {}

    def set_first_order_risk(self, risk: torch.Tensor) -> None:
        """The coming step's first-order risks (:func:`kl_risk`), one per selectable tensor."""
        if risk.shape != (len(self.selectable),):
            raise ValueError(f"first-order risk needs one value per selectable tensor ({len(self.selectable)}); "
                             f"got shape {tuple(risk.shape)}")
        self._first_risk = risk.detach()

    def second_order_risk(self) -> torch.Tensor | None:
        """``|(1 - beta1) ||g_t|| / ||m_{t-1}|| - 1|`` per selectable tensor, None before the first step (no m)."""
        beta1 = {id(p): group["betas"][0] for group in self.param_groups for p in group["params"]}
        risks = []
        for p in self.selectable:
            state = self.state.get(p)
            if not state:
                return None
            grad = torch.zeros((), device=p.device) if p.grad is None else p.grad.float().norm()
            ratio = grad / state["exp_avg"].float().norm().clamp_min(1e-12)
            risks.append(((1 - beta1[id(p)]) * ratio - 1).abs())
        return torch.stack(risks)

    def selection_mask(self) -> torch.Tensor:
        """This step's mask over ``selectable``: M1, M2 or ``(1 - gamma) M2 + gamma M1`` (consumes the first-order
        risk, so a stale one is never reused)."""
        cfg, first, second = self.config, None, None
        self.last_risk = {}
        if cfg.uses_kl:
            if self._first_risk is None:
                raise RuntimeError(f"RoseAdamW.step (variant {cfg.variant}) needs set_first_order_risk(kl_risk(...)) "
                                   "before every step")
            self.last_risk["first"], self._first_risk = self._first_risk, None
            first = quantile_mask(self.last_risk["first"], cfg.lower, cfg.upper)
        if cfg.uses_moments:
            risk = self.second_order_risk()
            if risk is None:
                second = torch.ones(len(self.selectable), device=self.selectable[0].device)
            else:
                self.last_risk["second"] = risk
                second = quantile_mask(risk, cfg.lower, cfg.upper)
        if first is None or second is None:
            return second if first is None else first
        return (1 - cfg.gamma) * second + cfg.gamma * first.to(second.device)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        self.last_mask = self.selection_mask()
        scale = dict(zip((id(p) for p in self.selectable), self.last_mask.tolist()))
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    _masked_adamw(p, self.state[p], group, scale.get(id(p), 1.0))
        return loss


def _masked_adamw(param: torch.Tensor, state: dict, group: dict, scale: float) -> None:
    """One AdamW update of ``param`` under mask value ``scale`` (official ``SparseAdamW.step``; torch's AdamW
    arithmetic): gradient ``s g + (1 - s) m`` into both moments, update and weight decay times s; s = 0: no change."""
    if not state:
        state.update(step=0, exp_avg=torch.zeros_like(param), exp_avg_sq=torch.zeros_like(param))
    exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
    beta1, beta2 = group["betas"]
    grad = param.grad if scale == 1.0 else param.grad * scale + exp_avg * (1.0 - scale)
    state["step"] += 1
    exp_avg.lerp_(grad, 1 - beta1)
    exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    if scale == 0.0:
        return
    lr = group["lr"]
    param.mul_(1 - lr * group["weight_decay"] * scale)
    bias_correction1 = 1 - beta1 ** state["step"]
    bias_correction2 = 1 - beta2 ** state["step"]
    denom = (exp_avg_sq.sqrt() / bias_correction2 ** 0.5).add_(group["eps"])
    param.addcdiv_(exp_avg if scale == 1.0 else exp_avg * scale, denom, value=-lr / bias_correction1)


# ------------------------------------------------------------------------------------------------ command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The train command's ROSE options (unset: :data:`ROSE_DEFAULTS`)."""
    g = parser.add_argument_group("rose (robust selective fine-tuning)")
    g.add_argument("--rose-variant", choices=VARIANTS, default=None,
                   help="risk: first (dropout KL gradient), second (Adam moment), ensemble (both; default)")
    g.add_argument("--rose-upper", type=float, default=None,
                   help="keep tensors whose risk is at most this percentile (60)")
    g.add_argument("--rose-lower", type=float, default=None, help="... and at least this percentile (0)")
    g.add_argument("--rose-gamma", type=float, default=None, help="ensemble: weight of the first-order mask (0.5)")
    g.add_argument("--rose-dropout", type=float, default=None, help="dropout of the two KL passes (0.1)")


def options_from_args(args: argparse.Namespace) -> dict:
    """The ROSE options given on the command line (for ``TrainConfig.extra``)."""
    return {k: getattr(args, k) for k in OPTIONS if getattr(args, k, None) is not None}
