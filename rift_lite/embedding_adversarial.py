"""Embedding-space adversarial training: PEAFT (defence soft prompt on a frozen encoder) and FreeLB (full model).

**PEAFT** ("Robust Tuning of Pre-trained Language Models: a Parameter-efficient Approach", Sec. 3). The paper numbers
none of its displays; we cite them as (P1)-(P6) in order of appearance:

* (P1) ``E_init = [p_1, ..., p_k, E(x_1), ..., E(x_q)]`` -- k prompt vectors before the input (Sec. 3.1);
  :class:`rift_lite.prompts.PromptedEncoder` (where p lives, why positions do not shift).
* (P2) ``L_cls = 1/N sum_i L(f_{p,theta}(x_i), y_i)``, only p trained, theta frozen (Sec. 3.1).
* (P3) ``min_p max_{||delta|| <= eps} L(f_{p,theta}(x + delta), y)`` (Sec. 3.2).
* (P4) ``delta_0 = (U(-1, 1) * M) * eps_init / sqrt(q * d)``, M the input mask, q the input length, d the
  embedding size (Sec. 3.2, "Learning the Attack Soft Prompt"); :func:`rift_lite.adversary.pgd_random_init`.
* (P5) ``E_adv^(k) = E_init + delta_k``, ``delta_k = eps * sign(grad_E L_adv)`` (same paragraph).
* (P6) ``L_total = L_bgn + lambda * L_adv`` (Sec. 3.2, "Learning the Defense Soft Prompt").

Reading of Sec. 3.2. Its two "prompts" are the *defence* soft prompt p (the only learned tokens, outer minimisation)
and the *attack* soft prompt, which (P4)-(P5) define as the perturbation delta of the input embeddings -- it lives on
the q input positions (mask M), not on p -- so delta is what the inner maximisation finds, and "the same training
objective as [FreeLB]" (Sec. 4.2) holds. delta is added in the space of p, the embedding-layer output
(``space='embedding'``). Update ``paper`` is (P5) as printed: starting from delta_0 of (P4), each step *replaces*
delta by eps * sign of the gradient at the previous point (so |delta|_inf = eps after the first step); ``pgd`` is
Madry et al.'s accumulate-and-clip PGD (:func:`rift_lite.adversary.pgd_attack`, sign steps of ``adv_lr``).
Trained: p and, declared here, the task head -- the paper's classifiers (RoBERTa, ..., Llama "with a sequence
classification head") have a new, randomly initialised head that must learn the task; ``train_head=False`` trains
p alone, as (P2) reads literally. L_bgn and L_adv are cross-entropies on the clean and the perturbed input, both
through the prompt; the inner loop runs in the model's current mode (train mode in the trainer, as FreeLB).

The paper reports **no hyper-parameter values** (k, eps, eps_init, steps, lambda, learning rates). Our defaults,
marked as ours: k = 20 (Lester et al. 2021, Sec. 3.2 / Fig. 3a: gains beyond 20 tokens are marginal), lambda = 1,
3 inner steps, eps = 0.05 per coordinate and eps_init = 1 (MiniLM's embedding-layer output has a per-coordinate std
of 0.54, measured, so eps is about a tenth of it), prompt lr 1e-2 and head lr 1e-3 with AdamW (new parameters: the
fine-tuning lr of 2e-5 would barely move them).

**FreeLB** (Zhu et al., ICLR 2020, Algorithm 1): full fine-tuning; per batch K ascent steps on delta, each a forward
and backward whose parameter gradients are **accumulated** (the "free" part), so theta is updated with
``1/K sum_t grad_theta L(x + delta_t)``; ``delta_0`` from (P4) (their l2 init), then ``delta_{t+1} = Proj(delta_t +
adv_lr * g / ||g||_2)`` onto ``||delta||_2 <= eps`` (``eps = 0``: no bound). As in the official code delta perturbs the
*word* embeddings (``space='word'``: before position / type embeddings and LayerNorm), and the defaults per task are
the official launch scripts' (RoBERTa-large; :data:`FREELB_HPARAMS`). One graph per ascent step is kept and
back-propagated once by the trainer: the same gradient as the official per-step ``backward()``, with K graphs in
memory and one extra backward (to delta) per step. Not reproduced: their reuse of one dropout mask across the K steps.
"""
from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from .adversary import pgd_attack, pgd_random_init, pgd_step
from .prompts import PROMPT_INITS, add_soft_prompt

EMBEDDING_METHODS: tuple[str, ...] = ("peaft", "freelb")
SPACES = ("embedding", "word")
UPDATES = ("paper", "pgd")

FREELB_HPARAMS: dict[str, dict[str, float]] = {
    "sst2": {"adv_lr": 0.1, "steps": 2, "init_mag": 1.0, "eps": 0.6},
    "mrpc": {"adv_lr": 0.04, "steps": 3, "init_mag": 0.64, "eps": 0.4},
    "qnli": {"adv_lr": 0.075, "steps": 2, "init_mag": 0.15, "eps": 0.15},
    "rte": {"adv_lr": 0.06, "steps": 3, "init_mag": 0.16, "eps": 0.14},
}
"""FreeLB's GLUE settings (github.com/zhuchen03/FreeLB, ``fairseq-RoBERTa/launch/FreeLB/<task>-fp32-clip.sh``; RTE's
active lines there train without adversary, these are its commented FreeLB line). Other single-sentence tasks use
SST-2's values, other pair tasks RTE's."""

PEAFT_DEFAULTS = {"steps": 3, "eps": 0.05, "init_mag": 1.0, "adv_lr": None, "space": "embedding"}
"""Ours: the PEAFT paper gives no values (see the module docstring)."""


@dataclass
class EmbeddingAdvConfig:
    """Settings of PEAFT or FreeLB (``method``); :meth:`for_method` fills the defaults per method and dataset."""

    method: str = "peaft"
    steps: int = 3  # PEAFT: inner iterations of (P5); FreeLB: ascent steps K
    eps: float = 0.05  # PEAFT: |delta|_inf bound (P3, P5); FreeLB: ||delta||_2 bound per example (0 = none)
    init_mag: float = 1.0  # eps_init of (P4) (0 = start at delta = 0)
    adv_lr: float | None = None  # FreeLB ascent step; PEAFT update 'pgd' step (None: 2.5 * eps / steps)
    space: str = "embedding"  # where delta is added: 'embedding' (layer output, where p lives) or 'word'
    prompt_tokens: int = 20  # k of (P1)
    peaft_lambda: float = 1.0  # lambda of (P6)
    update: str = "paper"  # PEAFT inner update: 'paper' (P5 as printed) or 'pgd'
    train_head: bool = True
    prompt_lr: float = 1e-2
    head_lr: float = 1e-3
    prompt_init: str = "random"

    def __post_init__(self):
        checks = [("method", self.method in EMBEDDING_METHODS, f"one of {', '.join(EMBEDDING_METHODS)}"),
                  ("steps", isinstance(self.steps, int) and self.steps >= 1, "an integer >= 1"),
                  ("eps", self.eps > 0 if self.method == "peaft" else self.eps >= 0,
                   "> 0 for peaft (the l_inf radius), >= 0 for freelb (0 = unbounded)"),
                  ("init_mag", self.init_mag >= 0, ">= 0"),
                  ("adv_lr", self.adv_lr is None or self.adv_lr > 0, "> 0"),
                  ("space", self.space in SPACES, f"one of {', '.join(SPACES)}"),
                  ("prompt_tokens", isinstance(self.prompt_tokens, int) and self.prompt_tokens >= 1, "an integer >= 1"),
                  ("peaft_lambda", self.peaft_lambda >= 0, ">= 0"),
                  ("update", self.update in UPDATES, f"one of {', '.join(UPDATES)}"),
                  ("prompt_lr", self.prompt_lr > 0, "> 0"), ("head_lr", self.head_lr > 0, "> 0"),
                  ("prompt_init", self.prompt_init in PROMPT_INITS, f"one of {', '.join(PROMPT_INITS)}")]
        for name, ok, allowed in checks:
            if not ok:
                raise ValueError(f"{self.method} option {name} must be {allowed}; got {getattr(self, name)!r}")
        if self.method == "freelb" and self.adv_lr is None:
            raise ValueError("freelb option adv_lr must be > 0; got None")
        if self.method == "peaft" and self.update == "paper" and self.adv_lr is not None:
            raise ValueError("peaft option adv_lr is the step of update 'pgd'; update 'paper' steps by eps")

    @property
    def step_size(self) -> float:
        """The sign step of PEAFT's ``pgd`` update: ``adv_lr``, or 2.5 * eps / steps (a common PGD rule) when unset."""
        return self.adv_lr if self.adv_lr is not None else 2.5 * self.eps / self.steps

    @classmethod
    def for_method(cls, method: str, dataset: str = "sst2", **overrides) -> "EmbeddingAdvConfig":
        """Defaults for ``method`` on ``dataset`` (:func:`default_options`), then ``overrides`` (None ignored)."""
        values = default_options(method, dataset)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(method=method, **values)


OPTIONS = tuple(f.name for f in fields(EmbeddingAdvConfig) if f.name != "method")
PEAFT_ONLY = ("prompt_tokens", "peaft_lambda", "update", "train_head", "prompt_lr", "head_lr", "prompt_init")


def default_options(method: str, dataset: str) -> dict:
    """PEAFT: :data:`PEAFT_DEFAULTS`; FreeLB: :data:`FREELB_HPARAMS` for ``dataset`` in word space."""
    if method not in EMBEDDING_METHODS:
        raise ValueError(f"method must be one of {', '.join(EMBEDDING_METHODS)}; got {method!r}")
    if method == "peaft":
        return dict(PEAFT_DEFAULTS)
    name = dataset.lower().removeprefix("advglue-")
    if name not in FREELB_HPARAMS:
        from .data import TASKS

        task = TASKS.get(name)
        name = "rte" if task is not None and task.is_pair else "sst2"
    return {**FREELB_HPARAMS[name], "space": "word"}


def resolve_options(method: str, dataset: str, extra: dict) -> dict:
    """``extra`` (the trainer's free-form options) with every option of ``method`` filled in and checked.

    Options of this module given to another method are an error (they would silently do nothing).
    """
    given = {k: v for k, v in (extra or {}).items() if k in OPTIONS and v is not None}
    if method not in EMBEDDING_METHODS:
        if given:
            raise ValueError(f"options {', '.join(sorted(given))} apply to {' and '.join(EMBEDDING_METHODS)} only, "
                             f"not to {method}")
        return dict(extra or {})
    if method == "freelb" and set(given) & set(PEAFT_ONLY):
        raise ValueError(f"options {', '.join(sorted(set(given) & set(PEAFT_ONLY)))} apply to peaft only")
    config = EmbeddingAdvConfig.for_method(method, dataset, **given)
    keep = OPTIONS if method == "peaft" else tuple(k for k in OPTIONS if k not in PEAFT_ONLY)
    return {**(extra or {}), **{k: v for k, v in asdict(config).items() if k in keep}}


# ------------------------------------------------------------------------------------------------ the model side


def prepare_model(model: nn.Module, config: EmbeddingAdvConfig) -> nn.Module:
    """PEAFT: freeze the encoder, prepend a k-token soft prompt (trainable), head trainable iff ``train_head``.

    FreeLB: nothing (everything trains). Returns ``model``.
    """
    if config.method == "peaft":
        model.encoder.requires_grad_(False)
        add_soft_prompt(model, config.prompt_tokens, config.prompt_init)
        model.head.requires_grad_(config.train_head)
    return model


def param_groups(model: nn.Module, config: EmbeddingAdvConfig, head_weight_decay: float) -> list[dict] | None:
    """PEAFT's optimiser groups (prompt: lr ``prompt_lr``, no decay; head: ``head_lr``); None for FreeLB."""
    if config.method != "peaft":
        return None
    groups = [{"params": [model.encoder.prompt], "weight_decay": 0.0, "lr": config.prompt_lr},
              {"params": [p for p in model.head.parameters() if p.requires_grad], "weight_decay": head_weight_decay,
               "lr": config.head_lr}]
    return [g for g in groups if g["params"]]


def perturbable(model: nn.Module, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None, space: str):
    """``(E, to_output)``: the tensor delta is added to, and the map from it to the embedding-layer output.

    ``embedding``: E is the embedding-layer output, the map the identity. ``word``: E is the word-embedding lookup
    (FreeLB's ``inputs_embeds``) and the map adds position / type embeddings and the LayerNorm.
    """
    if space == "embedding":
        return model.embed(input_ids, token_type_ids), (lambda e: e)
    kwargs = {}
    if token_type_ids is not None and getattr(model.encoder.config, "type_vocab_size", 0) > 1:
        kwargs["token_type_ids"] = token_type_ids
    words = model.encoder.get_input_embeddings()(input_ids)
    return words, (lambda e: model.embeddings(inputs_embeds=e, **kwargs))


def _accuracy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return (logits.argmax(-1) == labels).float().mean().detach()


def _terms(total, ce, adv_ce, acc, adv_acc, **more) -> dict:
    zero = torch.zeros((), device=total.device)
    return {"total": total, "ce": ce.detach(), "adv_ce": adv_ce.detach(), "kl": zero, "info": zero, "ptwd": zero,
            "mi": torch.tensor(float("nan"), device=total.device), "acc": acc, "adv_acc": adv_acc, **more}


def peaft_perturbation(logits_of, embeddings: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor,
                       config: EmbeddingAdvConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """The attack soft prompt delta (P4, P5): maximises CE(logits_of(E + delta), y) under the input mask M.

    ``|delta|_inf <= eps``; zero on padding (and p is never perturbed: it is not in ``embeddings``). Detached.
    """
    def loss_fn(logits):
        return F.cross_entropy(logits.float(), labels)

    if config.update == "pgd":
        return pgd_attack(logits_of, embeddings, attention_mask, loss_fn, steps=config.steps,
                          step_size=config.step_size, eps=config.eps, eps_init=config.init_mag, norm="sign",
                          generator=generator)
    embeddings = embeddings.detach()
    m = attention_mask.to(embeddings.dtype).unsqueeze(-1)
    delta = pgd_random_init(embeddings, attention_mask, config.init_mag, generator)  # (P4); 0 if init_mag = 0
    for _ in range(config.steps):
        delta.requires_grad_(True)
        with torch.enable_grad():
            (grad,) = torch.autograd.grad(loss_fn(logits_of(embeddings + delta)), [delta])
        delta = (config.eps * grad.sign() * m).detach()  # (P5): delta_k = eps * sign(grad_E L_adv)
    return delta


def peaft_loss(model, config: EmbeddingAdvConfig, input_ids, attention_mask, token_type_ids, labels,
               parts: bool = False) -> dict:
    """PEAFT's step (P3, P6): ``L_bgn + lambda * L_adv`` with delta from :func:`peaft_perturbation`.

    Returns the trainer's loss terms: ``total``, ``ce`` = L_bgn, ``adv_ce`` = L_adv, accuracies on clean / perturbed.
    """
    base, to_output = perturbable(model, input_ids, token_type_ids, config.space)

    def logits_of(e):
        return model(input_ids, attention_mask, token_type_ids, embedding_output=to_output(e))

    clean = logits_of(base)
    l_bgn = F.cross_entropy(clean.float(), labels)
    delta = peaft_perturbation(logits_of, base, attention_mask, labels, config)
    adv = logits_of(base + delta)
    l_adv = F.cross_entropy(adv.float(), labels)
    total = l_bgn + config.peaft_lambda * l_adv
    more = {"parts": {"ce": l_bgn, "adv": config.peaft_lambda * l_adv}} if parts else {}
    return _terms(total, l_bgn, l_adv, _accuracy(clean, labels), _accuracy(adv, labels), **more)


def freelb_loss(model, config: EmbeddingAdvConfig, input_ids, attention_mask, token_type_ids, labels,
                parts: bool = False, generator: torch.Generator | None = None) -> dict:
    """FreeLB's step: ``total = 1/K sum_t CE(f(E + delta_t), y)`` over the ascent points delta_0 .. delta_{K-1}.

    ``ce`` / ``acc``: at the random start delta_0; ``adv_ce`` / ``adv_acc``: at the last ascent point; ``ascent``:
    the K losses (detached). Back-propagating ``total`` gives FreeLB's accumulated parameter gradient.
    """
    base, to_output = perturbable(model, input_ids, token_type_ids, config.space)
    if config.init_mag > 0:
        delta = pgd_random_init(base.detach(), attention_mask, config.init_mag, generator)
    else:
        delta = torch.zeros_like(base)
    total, losses, first, last = 0.0, [], None, None
    for t in range(config.steps):
        delta = delta.detach().requires_grad_(True)
        last = model(input_ids, attention_mask, token_type_ids, embedding_output=to_output(base + delta))
        first = last if first is None else first
        loss = F.cross_entropy(last.float(), labels)
        total = total + loss / config.steps
        losses.append(loss.detach())
        if t + 1 < config.steps:
            (grad,) = torch.autograd.grad(loss, [delta], retain_graph=True)
            delta = pgd_step(delta.detach(), grad, attention_mask, step_size=config.adv_lr, eps=config.eps, norm="l2")
    more = {"ascent": torch.stack(losses), "delta": delta.detach()}
    if parts:
        more["parts"] = {"adv": total}
    return _terms(total, losses[0], losses[-1], _accuracy(first, labels), _accuracy(last, labels), **more)


def embedding_loss(model, config: EmbeddingAdvConfig, input_ids, attention_mask, token_type_ids, labels,
                   parts: bool = False) -> dict:
    """Dispatch to :func:`peaft_loss` or :func:`freelb_loss`."""
    fn = peaft_loss if config.method == "peaft" else freelb_loss
    return fn(model, config, input_ids, attention_mask, token_type_ids, labels, parts=parts)


# ------------------------------------------------------------------------------------------------ command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The train command's PEAFT / FreeLB options (unset: :func:`default_options`)."""
    g = parser.add_argument_group("peaft and freelb (embedding-space adversarial training)")
    g.add_argument("--adv-steps", type=int, default=None, help="PEAFT inner steps (3) / FreeLB ascent steps K (task)")
    g.add_argument("--adv-eps", type=float, default=None,
                   help="PEAFT: l_inf radius eps (0.05); FreeLB: l2 bound per example (task; 0 = none)")
    g.add_argument("--adv-init-mag", type=float, default=None, help="eps_init of delta_0 = U(-1,1) M eps_init/sqrt(qd)")
    g.add_argument("--adv-lr", type=float, default=None,
                   help="FreeLB ascent step (task); PEAFT: step of --peaft-update pgd")
    g.add_argument("--adv-space", choices=SPACES, default=None,
                   help="add delta to the embedding-layer output (PEAFT default) or the word embeddings (FreeLB)")
    g.add_argument("--prompt-tokens", type=int, default=None, help="PEAFT: k virtual tokens (20)")
    g.add_argument("--peaft-lambda", type=float, default=None, help="PEAFT: weight of L_adv (1.0)")
    g.add_argument("--peaft-update", choices=UPDATES, default=None,
                   help="PEAFT inner update: 'paper' (delta = eps*sign(grad), as printed) or 'pgd' (accumulate, clip)")
    g.add_argument("--prompt-lr", type=float, default=None, help="PEAFT: learning rate of the prompt (1e-2)")
    g.add_argument("--head-lr", type=float, default=None, help="PEAFT: learning rate of the task head (1e-3)")
    g.add_argument("--prompt-init", choices=PROMPT_INITS, default=None, help="PEAFT: prompt initialisation (random)")
    g.add_argument("--freeze-head", action="store_true", help="PEAFT: train the prompt only")


def options_from_args(args: argparse.Namespace) -> dict:
    """The options given on the command line (for ``TrainConfig.extra``)."""
    names = {"adv_steps": "steps", "adv_eps": "eps", "adv_init_mag": "init_mag", "adv_lr": "adv_lr",
             "adv_space": "space", "prompt_tokens": "prompt_tokens", "peaft_lambda": "peaft_lambda",
             "peaft_update": "update", "prompt_lr": "prompt_lr", "head_lr": "head_lr", "prompt_init": "prompt_init"}
    options = {option: getattr(args, arg) for arg, option in names.items() if getattr(args, arg, None) is not None}
    if getattr(args, "freeze_head", False):
        options["train_head"] = False
    return options
