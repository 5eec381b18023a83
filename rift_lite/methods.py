"""The fine-tuning objectives compared in RIFT (Dong et al., NeurIPS 2021, Sec. 2 and 3.2), sharing one adversary.

=============  =============================================================================================
method         loss (per batch; x_hat from the ASCC adversary of Eq. 8, :mod:`rift_lite.adversary`)
=============  =============================================================================================
standard       CE(q(.|F_s(x)), y)
adv-base       CE + beta * KL(q(.|F_s(x)) || q(.|F_s(x_hat)))                                  (Eq. 2 / Eq. 9)
adv-ptwd       adv-base + lambda * ||theta - theta_0||_2   (encoder parameters, *not* squared)
adv-mixout     adv-base with Mixout p = 0.6 on the encoder's Linear layers  (:mod:`rift_lite.mixout`)
rift           adv-base + alpha * L_r-info,  L_r-info = conditional InfoNCE between student features on
               x_hat and frozen-teacher features on clean x, per class y                       (Eq. 10, 11)
rift-ist       adv-base + alpha * unconditional InfoNCE (the I(S;T) ablation of Table 3)
peaft          frozen encoder + k-token defence soft prompt: CE(x) + lambda * CE(x + delta), delta from sign
               steps in embedding space     (PEAFT, Sec. 3; :mod:`rift_lite.embedding_adversarial`)
freelb         full fine-tuning on 1/K sum_t CE(x + delta_t) over K l2 ascent steps (Zhu et al., ICLR 2020)
rose           1/2 (CE(x; dropout 1) + CE(x; dropout 2)) (ROSE-Second: one CE); each step updates only the
               layer weight tensors of low risk: ||grad KL_sym|| of the two dropout passes and / or Adam's
               moment ratio (ROSE, Jiang et al., EMNLP 2022, Sec. 3; :mod:`rift_lite.rose`)
=============  =============================================================================================

Every objective returns a dict of loss terms ``total`` (the differentiable loss), ``ce``, ``kl``, ``info``, ``ptwd``
(detached), the InfoNCE estimate ``mi`` (nats, = -L_r-info; NaN for methods without it) and the batch accuracies
``acc`` (clean) and ``adv_acc`` (on x_hat). For rose, ``kl`` is the symmetric KL between its two dropout passes (the
risk's source, not part of ``total``); build its optimiser with :meth:`Objective.optimizer` and back-propagate with
:meth:`Objective.backward`, which hand the mask its risks.

Cost-conscious layout of one adversarial step (the RIFT / Adv-Base step-time ratio is a goal, <= 1.15):

1. the embedding-layer outputs of all K candidates are computed **once** (eval mode, with gradient); slot 0 is the
   clean input, so the clean embedding is that slice plus the embedding dropout;
2. one clean forward (train mode) gives the CE *and* the KL's reference distribution q(.|x). The inner ASCC loop's
   target is, by default (``shared_reference=False``), a separate eval-mode no-grad forward as in the official code:
   the train-mode logits carry dropout noise (and under Adv-Mixout mixed weights), so the adversary would chase a
   noisy target. ``shared_reference=True`` reuses the detached train-mode softmax instead (one forward fewer).
   Measured (README, "Measured so far", diagnosis runs ``base`` and ``shared``: same seed, data and batches): no
   difference in dev accuracy under ASCC beyond the noise of 300 dev sentences, and the saving is one no-grad clean
   forward per step (about 1 of the ~25 passes of a 10-step adversarial step; ``benchmarks/bench_step_time.py
   --methods adv-base adv-base-shared`` times it). With no measured gain, the default follows the official code;
3. ASCC runs on the detached candidate embeddings with frozen parameters;
4. one adversarial forward gives the features ``s_hat`` (for L_r-info) *and* the logits (for the KL) -- the official
   code runs the student twice on x_hat;
5. RIFT adds only a no-grad teacher forward on the clean x and the small score MLPs.

Hyper-parameters default to the paper's per dataset (Sec. 3.2, A.1): IMDB beta 10, alpha 0.1, lambda 0.01; SNLI beta 5,
alpha 0.7, lambda 0.005; tau 0.2; Mixout p 0.6. The paper has no MR / SST-2 settings: they use the IMDB values
(sentiment, single sentence); other pair tasks use the SNLI values.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn

from . import distributed
from .adversary import ASCCConfig, ascc_attack, candidate_embeddings, kl_divergence, mix_embeddings
from .embedding_adversarial import EMBEDDING_METHODS, EmbeddingAdvConfig, embedding_loss, param_groups, prepare_model
from .mixout import apply_mixout
from .rose import RISK_KEY, ROSE_METHODS, RoseAdamW, RoseConfig, kl_risk, rose_loss, selectable_parameters
from .rose import prepare_model as prepare_rose

METHODS: tuple[str, ...] = (("standard", "adv-base", "adv-ptwd", "adv-mixout", "rift", "rift-ist") + EMBEDDING_METHODS
                            + ROSE_METHODS)
ADVERSARIAL = frozenset({"adv-base", "adv-ptwd", "adv-mixout", "rift", "rift-ist"})  # the ASCC (word-substitution) ones
INFO_METHODS = frozenset({"rift", "rift-ist"})

_IMDB = {"beta": 10.0, "alpha": 0.1, "ptwd_lambda": 0.01, "tau": 0.2, "mixout_p": 0.6}
_SNLI = {"beta": 5.0, "alpha": 0.7, "ptwd_lambda": 0.005, "tau": 0.2, "mixout_p": 0.6}


def default_hparams(dataset: str) -> dict[str, float]:
    """The paper's beta / alpha / lambda / tau / Mixout p for ``dataset``.

    IMDB and SNLI are the paper's (Sec. 3.2, supplementary A.1). MR and SST-2 (and other single-sentence tasks) use
    the IMDB values; pair tasks (RTE, MRPC, QNLI, ...) use the SNLI values -- the paper gives neither.
    """
    name = dataset.lower()
    if name == "imdb":
        return dict(_IMDB)
    if name == "snli":
        return dict(_SNLI)
    try:
        from .data import TASKS

        task = TASKS.get(name)
        if task is not None and task.is_pair:
            return dict(_SNLI)
    except ImportError:  # pragma: no cover
        pass
    return dict(_IMDB)


@dataclass
class MethodConfig:
    """Which objective and its weights (see the module docstring for the equations)."""

    name: str = "rift"
    beta: float = 10.0
    alpha: float = 0.1
    ptwd_lambda: float = 0.01
    mixout_p: float = 0.6
    tau: float = 0.2
    ascc: ASCCConfig = field(default_factory=ASCCConfig)
    shared_reference: bool = False
    embedding: EmbeddingAdvConfig | None = None  # peaft / freelb settings (None: their defaults for the dataset)
    rose: RoseConfig | None = None  # rose settings (None: the official scripts' defaults, rift_lite.rose)

    def __post_init__(self):
        if self.name not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}; got {self.name!r}")
        for key in ("beta", "alpha", "ptwd_lambda"):
            if getattr(self, key) < 0:
                raise ValueError(f"{key} must be >= 0, got {getattr(self, key)}")
        if not 0.0 <= self.mixout_p < 1.0:
            raise ValueError(f"mixout_p must be in [0, 1), got {self.mixout_p}")
        if self.tau <= 0:
            raise ValueError(f"tau must be > 0, got {self.tau}")

    @classmethod
    def for_dataset(cls, name: str, dataset: str, **overrides) -> "MethodConfig":
        """The paper's defaults for ``dataset`` (:func:`default_hparams`), then ``overrides`` (None values ignored)."""
        values = default_hparams(dataset)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(name=name, **values)


class Objective(nn.Module):
    """One training objective around a :class:`rift_lite.models.Classifier`; ``forward`` returns the loss terms.

    Holds what the method needs: the frozen teacher ``F_t`` and the InfoNCE score functions (rift, rift-ist), the
    pre-trained encoder weights ``theta_0`` (Adv-PTWD's penalty and the forgetting measure of Fig. 2), Mixout layers
    (adv-mixout, applied here to ``model.encoder``). Construct it on the pre-trained model, after moving the model to
    its device. Wrap it in DDP as a whole: everything that uses a trainable parameter happens inside ``forward``.
    """

    def __init__(self, model: nn.Module, config: MethodConfig | str = "rift", dataset: str = "imdb"):
        super().__init__()
        if isinstance(config, str):
            config = MethodConfig.for_dataset(config, dataset)
        self.config = config
        self.model = model
        names, refs = [], []
        for name, param in model.encoder.named_parameters():
            names.append(name)
            refs.append(param.detach().clone())
        self._theta0_names = names
        self.theta0 = nn.Module()  # non-persistent buffers: move with .to(), never saved (always the pre-trained values)
        for i, ref in enumerate(refs):
            self.theta0.register_buffer(f"p{i}", ref, persistent=False)
        self.teacher = None
        self.mi = None
        if config.name in INFO_METHODS:
            from .infonce import ConditionalInfoNCE, InfoNCE
            from .models import frozen_copy

            self.teacher = frozen_copy(model)
            self._teacher_dtype = torch.float32
            h = model.hidden_size
            if config.name == "rift":
                self.mi = ConditionalInfoNCE(h, h, model.num_labels, tau=config.tau)
            else:
                self.mi = InfoNCE(h, h, tau=config.tau)
        if config.name == "adv-mixout":
            apply_mixout(model.encoder, config.mixout_p)
        self.embedding = None
        if config.name in EMBEDDING_METHODS:  # after theta_0: PEAFT freezes the encoder and adds its soft prompt
            self.embedding = config.embedding or EmbeddingAdvConfig.for_method(config.name, dataset)
            if self.embedding.method != config.name:
                raise ValueError(f"MethodConfig.embedding is for {self.embedding.method}, not {config.name}")
            prepare_model(model, self.embedding)
        self.rose = None
        if config.name in ROSE_METHODS:  # after theta_0: sets the encoder's dropout for the two KL passes
            self.rose = config.rose or RoseConfig()
            prepare_rose(model, self.rose)

    # ---------------------------------------------------------------- parameter-space distances
    def _pairs(self):
        params = dict(self.model.encoder.named_parameters())
        for i, name in enumerate(self._theta0_names):
            yield params[name], getattr(self.theta0, f"p{i}")

    def ptwd_distance(self, eps: float = 1e-12) -> torch.Tensor:
        """``||theta - theta_0||_2`` over the encoder (differentiable; ``eps`` keeps the gradient finite at 0)."""
        total = None
        for param, ref in self._pairs():
            sq = (param.float() - ref.float()).pow(2).sum()
            total = sq if total is None else total + sq
        return (total + eps).sqrt()

    @torch.no_grad()
    def relative_distance(self) -> float:
        """``||theta - theta_0|| / ||theta_0||`` of the encoder: the forgetting measure of the paper's Fig. 2."""
        diff = ref_sq = 0.0
        for param, ref in self._pairs():
            diff += (param.float() - ref.float()).pow(2).sum().item()
            ref_sq += ref.float().pow(2).sum().item()
        return math.sqrt(diff) / max(math.sqrt(ref_sq), 1e-12)

    def task_parameters(self) -> list[nn.Parameter]:
        """Trainable parameters outside the encoder: the head and the InfoNCE score MLPs (weight decay 2e-4)."""
        encoder_ids = {id(p) for p in self.model.encoder.parameters()}
        return [p for p in self.parameters() if p.requires_grad and id(p) not in encoder_ids]

    def encoder_parameters(self) -> list[nn.Parameter]:
        return [p for p in self.model.encoder.parameters() if p.requires_grad]

    def critic_parameters(self) -> list[nn.Parameter]:
        """The InfoNCE score functions' parameters (RIFT, RIFT-I(S;T); none for the other methods)."""
        return [p for p in self.mi.parameters() if p.requires_grad] if self.mi is not None else []

    def param_groups(self, encoder_weight_decay: float, head_weight_decay: float,
                     critic_lr: float | None = None) -> list[dict]:
        """The optimiser's groups: trainable encoder / task parameters with their weight decays (PEAFT: its own).

        ``critic_lr`` gives the score functions (:meth:`critic_parameters`) a group of their own with that learning
        rate (weight decay as the head); None keeps them in the task group at the shared rate, as the paper."""
        groups = param_groups(self.model, self.embedding, head_weight_decay) if self.embedding is not None else None
        if groups:
            return groups
        critic = self.critic_parameters() if critic_lr is not None else []
        critic_ids = {id(p) for p in critic}
        task = [p for p in self.task_parameters() if id(p) not in critic_ids]
        return ([{"params": self.encoder_parameters(), "weight_decay": encoder_weight_decay},
                 {"params": task, "weight_decay": head_weight_decay}]
                + ([{"params": critic, "weight_decay": head_weight_decay, "lr": critic_lr}] if critic else []))

    def optimizer(self, lr: float, encoder_weight_decay: float, head_weight_decay: float,
                  critic_lr: float | None = None) -> torch.optim.Optimizer:
        """AdamW over :meth:`param_groups`; for rose its masked AdamW (:class:`rift_lite.rose.RoseAdamW`)."""
        groups = self.param_groups(encoder_weight_decay, head_weight_decay, critic_lr)
        if self.rose is not None:
            return RoseAdamW(groups, self.rose, selectable_parameters(self.model), lr=lr)
        return torch.optim.AdamW(groups, lr=lr)

    def backward(self, terms: dict, optimizer: torch.optim.Optimizer) -> None:
        """Back-propagate ``terms['total']``; for rose first hand ``optimizer`` the step's first-order risk (the
        gradient norms of the symmetric KL, :func:`rift_lite.rose.kl_risk`), which leaves ``.grad`` untouched."""
        risk_graph = terms.pop(RISK_KEY, None)
        if risk_graph is not None:
            optimizer.set_first_order_risk(kl_risk(risk_graph, optimizer.selectable))
        terms["total"].backward()

    # ---------------------------------------------------------------- the objective
    def forward(self, input_ids, attention_mask, token_type_ids, labels, candidates=None, candidate_mask=None):
        cfg = self.config
        model = self.model
        nan = torch.tensor(float("nan"), device=input_ids.device)
        zero = torch.zeros((), device=input_ids.device)
        if self.embedding is not None:
            return embedding_loss(model, self.embedding, input_ids, attention_mask, token_type_ids, labels,
                                  parts=getattr(self, "return_parts", False))
        if self.rose is not None:
            return rose_loss(model, self.rose, input_ids, attention_mask, token_type_ids, labels,
                             parts=getattr(self, "return_parts", False))
        if cfg.name not in ADVERSARIAL:
            logits = model(input_ids, attention_mask, token_type_ids)
            ce = F.cross_entropy(logits.float(), labels)
            acc = (logits.argmax(-1) == labels).float().mean()
            return {"total": ce, "ce": ce.detach(), "kl": zero, "info": zero, "ptwd": zero, "mi": nan,
                    "acc": acc.detach(), "adv_acc": nan}
        if candidates is None or candidate_mask is None:
            raise ValueError(f"method {cfg.name!r} needs candidates and candidate_mask (see build_candidates)")

        # 1. all candidate embeddings once: eval mode (no dropout), with gradient for the outer loss
        emb_layer = model.embeddings
        emb_mode = emb_layer.training
        emb_layer.eval()
        try:
            cand_emb = candidate_embeddings(model, candidates, token_type_ids)
        finally:
            emb_layer.train(emb_mode)
        p_drop = float(getattr(model.encoder.config, "hidden_dropout_prob", 0.0))

        # 2. clean forward: CE and the reference distribution q(.|x)
        clean_emb = F.dropout(cand_emb[:, :, 0], p_drop, self.training)
        clean_logits = model(input_ids, attention_mask, token_type_ids, embedding_output=clean_emb)
        ce = F.cross_entropy(clean_logits.float(), labels)
        reference = torch.softmax(clean_logits.detach().float(), -1) if cfg.shared_reference else None

        # 3. ASCC inner loop (Eq. 8), frozen parameters, eval mode
        adv = ascc_attack(model, input_ids, attention_mask, token_type_ids, candidates, candidate_mask,
                          config=replace(cfg.ascc, loss="kl"), reference_probs=reference, cand_emb=cand_emb.detach())

        # 4. one adversarial forward: features for L_r-info and logits for the KL
        adv_emb = F.dropout(mix_embeddings(adv.weights, cand_emb), p_drop, self.training)
        s_hat = model.features(input_ids, attention_mask, token_type_ids, embedding_output=adv_emb)
        adv_logits = model.head(s_hat)
        kl = kl_divergence(clean_logits, adv_logits)  # KL(q(x) || q(x_hat)), gradient through both (official code)
        total = ce + cfg.beta * kl
        info, mi, ptwd = zero, nan, zero

        # 5. L_r-info (Eq. 10): student on x_hat vs frozen teacher on clean x, over the global batch
        if self.mi is not None:
            if input_ids.is_cuda and torch.is_autocast_enabled("cuda") and self._teacher_dtype != torch.bfloat16:
                # bf16 teacher weights under CUDA autocast: no per-op weight casts in the (no-grad) teacher forward
                self.teacher.module.to(torch.bfloat16)
                self._teacher_dtype = torch.bfloat16
            with torch.no_grad():
                t = self.teacher.module.features(input_ids, attention_mask, token_type_ids)
            s_all = distributed.gather_with_grad(s_hat.float())
            t_all = distributed.gather_no_grad(t.float())
            y_all = distributed.gather_no_grad(labels)
            info = self.mi(s_all, t_all, y_all) if cfg.name == "rift" else self.mi(s_all, t_all)
            mi = -info.detach()
            total = total + cfg.alpha * info
        if cfg.name == "adv-ptwd":
            ptwd = self.ptwd_distance()
            total = total + cfg.ptwd_lambda * ptwd
        terms = {
            "total": total, "ce": ce.detach(), "kl": kl.detach(), "info": info.detach(), "ptwd": ptwd.detach(),
            "mi": mi, "acc": (clean_logits.argmax(-1) == labels).float().mean().detach(),
            "adv_acc": (adv_logits.argmax(-1) == labels).float().mean().detach(),
        }
        if getattr(self, "return_parts", False):  # the weighted terms with their graphs (gradient-norm diagnosis)
            terms["parts"] = {"ce": ce, "kl": cfg.beta * kl, "info": cfg.alpha * info, "ptwd": cfg.ptwd_lambda * ptwd}
        return terms

    def batch_loss(self, cbatch) -> dict[str, torch.Tensor]:
        """``forward`` on a :class:`~rift_lite.substitutions.CandidateBatch` (or an ``EncodedBatch`` for standard)."""
        return self(**batch_inputs(cbatch))


def batch_inputs(cbatch) -> dict[str, torch.Tensor]:
    """The tensors :meth:`Objective.forward` takes, from a CandidateBatch or an EncodedBatch."""
    batch = getattr(cbatch, "batch", cbatch)
    out = {"input_ids": batch.input_ids, "attention_mask": batch.attention_mask,
           "token_type_ids": batch.token_type_ids, "labels": batch.labels}
    if hasattr(cbatch, "candidates"):
        out["candidates"] = cbatch.candidates
        out["candidate_mask"] = cbatch.candidate_mask
    return out
