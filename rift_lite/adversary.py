"""Adversaries that live *inside* training: ASCC (Eq. 8 of RIFT) and embedding-space PGD (FreeLB / PEAFT).

ASCC -- adversarial sparse convex combination (Dong et al., ICLR 2021), the inner maximisation of RIFT's Eq. 8::

    x_hat = argmax_{x' in B(x)} KL( q(.|F_s(x)) || q(.|F_s(x')) )

The discrete attack space B(x) (every word may become one of its counter-fitted neighbours) is relaxed to its convex
hull: at token position ``t`` the adversarial embedding is ``sum_k softmax(w[t])_k * e(c[t, k])`` where ``c[t, :]`` are
the K candidate tokens of :class:`rift_lite.substitutions.CandidateBatch` (slot 0 = the original word, padding slots
masked to ``-inf``) and ``e(.)`` is the output of the embedding layer (word + position + type, LayerNorm): mixing
happens *after* the embedding layer, as in the official code. The weights ``w`` [B, T, K] are optimised with Adam
(lr 1, weight decay 2e-5, 10 steps) on

    maximise  KL(p_ref || q(.|x_hat))  (training, labels unused)   or   CE(q(.|x_hat), y)  (test time)
              - entropy_weight * entropy_scale * sum_t H(softmax(w[t]))

The entropy penalty (weight 15, scale 1/(300*128) in the official code) pushes each position towards one candidate,
so the arg-max decodes to a real word substitution (:func:`adversarial_token_ids`, :func:`decode_adversarial`).
The encoder runs in eval mode and with frozen parameters during the inner loop (mode and flags are restored).

Differences from the official code (documented, deliberate):

* ``w`` starts at 0 (the centroid of each candidate set) instead of Kaiming-normal noise. The official noise has
  std sqrt(2 / (T*K)) (0.026 for T=300, K=10), and Adam's first step at lr 1 moves every logit by +-1 whatever
  the start, so the noise matters little; a deterministic start makes a batch's result independent of how it is
  split across processes (see the 2-process test). ``init_std > 0`` restores random starts.
* Candidate embeddings are computed once per batch (one embedding call with the K slots folded into the batch),
  not once per inner step.

The embedding-space PGD adversary (:func:`pgd_attack`) perturbs the embedding output by ``delta`` with random start
``U(-1, 1) * eps_init / sqrt(q * d)`` under the input mask (q real tokens, d hidden size; FreeLB and PEAFT), then
takes L2-normalised or sign gradient-ascent steps, optionally projected onto an eps-ball.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

OFFICIAL_ENTROPY_SCALE = 1.0 / (300 * 128)
"""The official code divides the summed entropy by 300*128 (IMDB's max tokens times a batch size of 128)."""


@dataclass
class ASCCConfig:
    """Settings of the ASCC inner loop (defaults: the official RIFT code)."""

    steps: int = 10
    lr: float = 1.0
    weight_decay: float = 2e-5
    entropy_weight: float = 15.0
    entropy_scale: float = OFFICIAL_ENTROPY_SCALE
    loss: str = "kl"  # "kl" (training, Eq. 8) or "ce" (test-time attack with labels)
    init_std: float = 0.0

    def __post_init__(self):
        if self.steps < 0:
            raise ValueError(f"ASCCConfig.steps must be >= 0, got {self.steps}")
        if self.lr <= 0:
            raise ValueError(f"ASCCConfig.lr must be > 0, got {self.lr}")
        if self.loss not in ("kl", "ce"):
            raise ValueError(f"ASCCConfig.loss must be 'kl' or 'ce', got {self.loss!r}")
        if self.entropy_weight < 0 or self.weight_decay < 0 or self.init_std < 0:
            raise ValueError("ASCCConfig.entropy_weight, weight_decay and init_std must be >= 0")


@dataclass
class ASCCResult:
    """What :func:`ascc_attack` returns.

    ``embeddings`` [B, T, H]: the adversarial embedding output (detached; mix again with gradient through
    :func:`mix_embeddings` for the outer loss); ``weights`` [B, T, K]: softmax(w) (rows on the simplex, 0 on padding
    slots); ``logits`` [B, C] after the last step; ``objective`` per step: the mean KL (or CE) per example
    *before* each update, then after the last one (``steps + 1`` values).
    """

    embeddings: torch.Tensor
    weights: torch.Tensor
    logits: torch.Tensor
    objective: list[float] = field(default_factory=list)
    candidate_embeddings: torch.Tensor | None = None


@contextlib.contextmanager
def frozen_eval(module: nn.Module):
    """Eval mode and ``requires_grad=False`` on every parameter for the duration; both restored afterwards."""
    modes = {m: m.training for m in module.modules()}
    flags = [(p, p.requires_grad) for p in module.parameters()]
    module.eval()
    for p, _ in flags:
        p.requires_grad_(False)
    try:
        yield module
    finally:
        for m, mode in modes.items():
            m.training = mode
        for p, flag in flags:
            p.requires_grad_(flag)


def candidate_embeddings(model, candidates: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
    """Embedding-layer outputs of every candidate slot, [B, T, K, H], in one call on ``[B*K, T]`` ids.

    Runs in whatever mode and grad state the caller set (the trainer calls it once per batch in eval mode *with*
    gradient, and hands the inner loop a detached view).
    """
    B, T, K = candidates.shape
    ids = candidates.permute(0, 2, 1).reshape(B * K, T)
    types = None
    if token_type_ids is not None:
        types = token_type_ids.unsqueeze(1).expand(B, K, T).reshape(B * K, T)
    emb = model.embed(ids, types)
    return emb.reshape(B, K, T, -1).permute(0, 2, 1, 3)


def masked_logits(w: torch.Tensor, candidate_mask: torch.Tensor) -> torch.Tensor:
    """``w`` with padding slots at -inf. Positions with no real slot (padding tokens) keep slot 0."""
    valid = candidate_mask.clone()
    valid[..., 0] = True
    return w.masked_fill(~valid, float("-inf"))


def convex_weights(w: torch.Tensor, candidate_mask: torch.Tensor) -> torch.Tensor:
    """softmax over the real candidate slots of each position (Eq. 8's convex hull); exactly 0 on padding slots."""
    return torch.softmax(masked_logits(w, candidate_mask).float(), dim=-1)


def mix_embeddings(weights: torch.Tensor, cand_emb: torch.Tensor) -> torch.Tensor:
    """``sum_k weights[..., k] * cand_emb[..., k, :]``: [B, T, K] x [B, T, K, H] -> [B, T, H]."""
    return torch.einsum("btk,btkh->bth", weights.to(cand_emb.dtype), cand_emb)


def entropy(weights: torch.Tensor) -> torch.Tensor:
    """Entropy of each position's weights [B, T] (0 log 0 = 0)."""
    return -(weights * torch.log(weights.clamp_min(1e-12))).sum(-1)


def kl_divergence(p_logits_or_probs: torch.Tensor, q_logits: torch.Tensor, reduction: str = "batchmean",
                  p_is_probs: bool = False) -> torch.Tensor:
    """KL(p || q) over classes; ``batchmean`` (default), ``sum`` or ``none`` ([B])."""
    log_q = F.log_softmax(q_logits.float(), dim=-1)
    if p_is_probs:
        p = p_logits_or_probs.float()
        log_p = torch.log(p.clamp_min(1e-12))
    else:
        log_p = F.log_softmax(p_logits_or_probs.float(), dim=-1)
        p = log_p.exp()
    per_example = (p * (log_p - log_q)).sum(-1)
    if reduction == "none":
        return per_example
    if reduction == "sum":
        return per_example.sum()
    return per_example.mean()


def ascc_attack(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor | None,
                candidates: torch.Tensor, candidate_mask: torch.Tensor, *, config: ASCCConfig | None = None,
                reference_probs: torch.Tensor | None = None, labels: torch.Tensor | None = None,
                cand_emb: torch.Tensor | None = None) -> ASCCResult:
    """Solve Eq. 8 approximately by ASCC; batched over the whole batch.

    ``reference_probs`` [B, C]: ``q(.|F_s(x))`` for the KL objective (computed here in eval mode, without gradient,
    when not given; the trainer passes the detached clean distribution it already has). ``labels`` are required for
    ``config.loss == "ce"`` and ignored otherwise. ``cand_emb`` [B, T, K, H] may be passed to reuse candidate
    embeddings (it is detached here). Returns an :class:`ASCCResult`; the model's modes and flags are restored.
    """
    config = config or ASCCConfig()
    if config.loss == "ce" and labels is None:
        raise ValueError("ASCC with loss='ce' needs labels")
    with frozen_eval(model):
        if cand_emb is None:
            with torch.no_grad():
                cand_emb = candidate_embeddings(model, candidates, token_type_ids)
        cand_emb = cand_emb.detach()
        if config.loss == "kl" and reference_probs is None:
            with torch.no_grad():
                reference_probs = torch.softmax(model(input_ids, attention_mask, token_type_ids).float(), -1)
        if reference_probs is not None:
            reference_probs = reference_probs.detach().float()

        w = torch.zeros(candidates.shape, dtype=torch.float32, device=candidates.device)
        if config.init_std > 0:
            w.normal_(0.0, config.init_std)
        w.requires_grad_(True)
        optimizer = torch.optim.Adam([w], lr=config.lr, weight_decay=config.weight_decay)
        history: list[float] = []

        def objective(weights: torch.Tensor):
            logits = model(input_ids, attention_mask, token_type_ids, embedding_output=mix_embeddings(weights, cand_emb))
            if config.loss == "kl":
                attack = kl_divergence(reference_probs, logits, reduction="sum", p_is_probs=True)
            else:
                attack = F.cross_entropy(logits.float(), labels, reduction="sum")
            return attack, logits

        n = max(1, input_ids.shape[0])
        for _ in range(config.steps):
            with torch.enable_grad():
                weights = convex_weights(w, candidate_mask)
                attack, _ = objective(weights)
                loss = -attack
                if config.entropy_weight:
                    loss = loss + config.entropy_weight * config.entropy_scale * entropy(weights).sum()
                (grad,) = torch.autograd.grad(loss, [w])
            history.append(attack.item() / n)
            w.grad = grad
            optimizer.step()
        with torch.no_grad():
            weights = convex_weights(w, candidate_mask)
            attack, logits = objective(weights)
            history.append(attack.item() / n)
            mixed = mix_embeddings(weights, cand_emb)
    return ASCCResult(mixed.detach(), weights.detach(), logits.detach(), history, cand_emb)


def ascc_attack_batch(model, cbatch, *, config: ASCCConfig | None = None, reference_probs=None, use_labels=None):
    """:func:`ascc_attack` on a :class:`rift_lite.substitutions.CandidateBatch` (labels taken from the batch)."""
    b = cbatch.batch
    return ascc_attack(model, b.input_ids, b.attention_mask, b.token_type_ids, cbatch.candidates,
                       cbatch.candidate_mask, config=config, reference_probs=reference_probs, labels=b.labels)


def chosen_slots(weights: torch.Tensor) -> torch.Tensor:
    """Arg-max slot of each position [B, T] (never a padding slot: those have weight exactly 0)."""
    return weights.argmax(-1)


def adversarial_token_ids(candidates: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The discrete adversarial input: at each position the candidate token with the largest weight, [B, T]."""
    return candidates.gather(-1, chosen_slots(weights).unsqueeze(-1)).squeeze(-1)


def decode_adversarial(cbatch, weights: torch.Tensor, examples: Sequence) -> list:
    """The arg-max adversarial text: ``examples`` with each attacked word replaced by its chosen candidate word.

    Uses ``batch.word_positions`` and the candidate words of ``cbatch`` (see ``CandidateBatch.decode``).
    """
    return cbatch.decode(examples, chosen_slots(weights).cpu())


# ------------------------------------------------------------------------------------------------ embedding PGD


def pgd_random_init(embeddings: torch.Tensor, mask: torch.Tensor, eps_init: float,
                    generator: torch.Generator | None = None) -> torch.Tensor:
    """FreeLB/PEAFT random start: ``U(-1, 1) * mask * eps_init / sqrt(q * d)`` with q real tokens, d hidden size."""
    mask = mask.to(embeddings.dtype).unsqueeze(-1)
    noise = torch.rand(embeddings.shape, generator=generator, device=embeddings.device, dtype=embeddings.dtype)
    delta = (noise * 2 - 1) * mask
    dims = mask.sum(dim=(1, 2)).clamp_min(1) * embeddings.shape[-1]
    return delta * (eps_init / dims.sqrt()).view(-1, 1, 1)


def pgd_attack(forward: Callable[[torch.Tensor], torch.Tensor], embeddings: torch.Tensor, mask: torch.Tensor,
               loss_fn: Callable[[torch.Tensor], torch.Tensor], *, steps: int = 3, step_size: float = 1e-2,
               eps: float = 0.0, eps_init: float = 1e-2, norm: str = "l2",
               generator: torch.Generator | None = None) -> torch.Tensor:
    """Embedding-space PGD: returns ``delta`` (detached) that approximately maximises ``loss_fn(forward(emb + delta))``.

    ``norm="l2"``: steps along the per-example L2-normalised gradient, projection onto ``||delta||_2 <= eps``;
    ``norm="sign"``: sign-gradient steps (PEAFT), projection onto ``|delta|_inf <= eps``. ``eps=0`` means no
    projection. ``mask`` [B, T] zeroes perturbations of padding (and, if the caller wishes, special tokens).
    """
    if norm not in ("l2", "sign"):
        raise ValueError(f"norm must be 'l2' or 'sign', got {norm!r}")
    if steps < 0 or step_size < 0 or eps < 0 or eps_init < 0:
        raise ValueError("steps, step_size, eps and eps_init must be >= 0")
    embeddings = embeddings.detach()
    delta = pgd_random_init(embeddings, mask, eps_init, generator) if eps_init > 0 else torch.zeros_like(embeddings)
    for _ in range(steps):
        delta.requires_grad_(True)
        with torch.enable_grad():
            loss = loss_fn(forward(embeddings + delta))
            (grad,) = torch.autograd.grad(loss, [delta])
        delta = pgd_step(delta, grad, mask, step_size=step_size, eps=eps, norm=norm)
    return delta.detach()


@torch.no_grad()
def pgd_step(delta: torch.Tensor, grad: torch.Tensor, mask: torch.Tensor, *, step_size: float, eps: float = 0.0,
             norm: str = "l2") -> torch.Tensor:
    """One ascent step of :func:`pgd_attack` (also FreeLB's, :mod:`rift_lite.embedding_adversarial`), detached.

    ``l2``: ``delta + step_size * g / ||g||_2`` (per example, over all its positions), then rescaled onto
    ``||delta||_2 <= eps``; ``sign``: ``delta + step_size * sign(g)``, then clipped to ``|delta|_inf <= eps``.
    ``eps=0``: no projection. ``g`` and the result are zero outside ``mask`` [B, T].
    """
    m = mask.to(delta.dtype).unsqueeze(-1)
    grad = grad * m
    if norm == "l2":
        g_norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1)
        delta = delta + step_size * grad / g_norm
        if eps > 0:
            d_norm = delta.flatten(1).norm(dim=1).view(-1, 1, 1)
            delta = delta * torch.clamp(eps / d_norm.clamp_min(1e-12), max=1.0)
    else:
        delta = delta + step_size * grad.sign()
        if eps > 0:
            delta = delta.clamp(-eps, eps)
    return (delta * m).detach()
