"""Mixout (Lee, Cho and Kang, ICLR 2020): the Adv-Mixout baseline of RIFT (Sec. 3.2, p = 0.6).

In training, every weight of a wrapped ``nn.Linear`` is replaced by its pre-trained value with probability ``p`` and
the result is rescaled so that its expectation is the current weight::

    W_mix = ( M * W_0 + (1 - M) * W - p * W_0 ) / (1 - p),   M_ij ~ Bernoulli(p)  (1 = take the pre-trained value)

(Lee et al., Eq. 4; E[W_mix] = W). A fresh mask is drawn at every forward pass; in eval mode the layer is the plain
Linear ``W``. Note that at initialisation ``W = W_0`` makes ``W_mix = W_0``: Mixout only starts to act once the
weights have moved.

The official RIFT code wraps the encoder with a ``MixoutWrapper`` that never takes effect (Adv-Mixout there is
Adv-Base); this module really mixes. It converts the ``nn.Linear`` layers of a module in place (the class of each
layer becomes :class:`MixLinear`, a subclass, so names, ``state_dict`` keys and ``save_pretrained`` are unchanged;
the pre-trained copy is a non-persistent buffer).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def mixout(weight: torch.Tensor, target: torch.Tensor, p: float, training: bool = True) -> torch.Tensor:
    """``(M * target + (1 - M) * weight - p * target) / (1 - p)`` with ``M ~ Bernoulli(p)``; ``weight`` if not training."""
    if not training or p == 0.0:
        return weight
    mask = (torch.rand_like(weight) < p).to(weight.dtype)
    return (mask * target + (1 - mask) * weight - p * target) / (1 - p)


class MixLinear(nn.Linear):
    """An ``nn.Linear`` whose weight is mixed out towards ``weight_target`` (the pre-trained weight) in training."""

    mixout_p: float
    weight_target: torch.Tensor

    def mixed_weight(self) -> torch.Tensor:
        """The weight this forward pass would use (a fresh random mask in training)."""
        return mixout(self.weight, self.weight_target, self.mixout_p, self.training)

    def forward(self, input: torch.Tensor) -> torch.Tensor:  # noqa: A002 - nn.Linear's name
        return F.linear(input, self.mixed_weight(), self.bias)

    def extra_repr(self) -> str:
        return super().extra_repr() + f", mixout_p={self.mixout_p}"


def apply_mixout(module: nn.Module, p: float = 0.6) -> int:
    """Turn every ``nn.Linear`` inside ``module`` into a :class:`MixLinear` with its current weight as target.

    Call it on the encoder right after loading the pre-trained weights. Returns the number of layers converted.
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"mixout p must be in [0, 1), got {p}")
    count = 0
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            if not isinstance(layer, MixLinear):
                layer.__class__ = MixLinear
                layer.register_buffer("weight_target", layer.weight.detach().clone(), persistent=False)
            layer.mixout_p = float(p)
            count += 1
    return count


def remove_mixout(module: nn.Module) -> int:
    """Undo :func:`apply_mixout` (layers become plain ``nn.Linear`` with their learned weights)."""
    count = 0
    for layer in module.modules():
        if isinstance(layer, MixLinear):
            del layer._buffers["weight_target"]
            layer.__class__ = nn.Linear
            count += 1
    return count
