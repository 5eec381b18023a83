"""A soft prompt: k learned virtual tokens prepended to a frozen encoder's input (PEAFT, Sec. 3.1; Lester et al. 2021).

PEAFT's input to the encoder is (Sec. 3.1, the unnumbered display after "The initial embeddings ... are thus
defined as")::

    E_init = [p_1, ..., p_k, E(x_1), ..., E(x_q)],   p_i in R^d

:class:`PromptedEncoder` wraps a Hugging Face encoder so that every call -- clean, with an ``embedding_output``
swapped in by :class:`rift_lite.models.Classifier` (ASCC's convex mixes, PEAFT's and FreeLB's perturbed
embeddings), or from an attack -- sees ``[p; E(x)]``, and gives back the outputs of the q input positions only.
Decisions, each tested in ``tests/test_peaft.py``:

* **Where p lives.** ``E(x)`` is the output of the encoder's embedding layer (token + position + type embedding,
  LayerNorm), the space in which this library's adversaries already act (:mod:`rift_lite.adversary`); p is a free
  vector of that space, i.e. of the first transformer layer's input. For T5, Lester et al.'s model, the token
  embedding *is* that input (relative positions, no embedding LayerNorm); BERT-style encoders add absolute positions
  and a LayerNorm, and putting p after them keeps the q input tokens exactly as pre-trained.
* **Position ids do not shift.** The input tokens keep positions 0..q-1 (the embedding layer runs on x alone); the
  prompt gets no position or type embedding (a learned p would absorb one anyway). So [CLS] stays at position 0 as in
  pre-training, and k + q may exceed the encoder's maximum positions. (Hugging Face PEFT's prompt tuning prepends p
  to the word embeddings instead, so there every input position shifts by k.)
* **Attention mask.** ``[1]*k + mask``: every input token attends to the prompt, padding stays masked.
* **Outputs.** The k prompt positions are dropped from ``last_hidden_state``; the pooler (if any) is recomputed on
  the first input token. ``Classifier.pool`` then works unchanged: ``cls`` reads [CLS], ``mean`` averages the input
  tokens only, ``pooler`` is the pre-trained pooler on [CLS].

The wrapper registers the encoder's own sub-modules under their own names (``embeddings``, ``encoder``, ``pooler``),
so parameter names and state-dict keys are those of the bare encoder plus ``prompt``: the trainer's copy of the
pre-trained weights and its forgetting measure keep working. ``save_pretrained`` writes the encoder and
``soft_prompt.pt``; :func:`maybe_prompted` restores the wrapper when a checkpoint has one. Knows no trainer.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

PROMPT_FILE = "soft_prompt.pt"
PROMPT_INITS = ("random", "vocab")


def initial_prompt(encoder: nn.Module, num_tokens: int, init: str = "random", sample: int = 256) -> torch.Tensor:
    """k initial prompt vectors [k, d] on the scale of the embedding layer's output.

    ``random`` (PEAFT: "k randomly initialized soft prompts"): N(0, s^2) with s the per-coordinate standard
    deviation of the embedding-layer output over ``sample`` random vocabulary tokens; ``vocab``: the embedding-layer
    outputs of k random vocabulary tokens (Lester et al.'s "sampled vocab" initialisation). Uses the global RNG.
    """
    if init not in PROMPT_INITS:
        raise ValueError(f"prompt init must be one of {', '.join(PROMPT_INITS)}; got {init!r}")
    vocab = encoder.get_input_embeddings().num_embeddings
    device = encoder.get_input_embeddings().weight.device
    emb = encoder.embeddings
    mode = emb.training
    emb.eval()
    try:
        with torch.no_grad():
            if init == "vocab":
                ids = torch.randint(0, vocab, (1, num_tokens), device=device)
                return emb(input_ids=ids)[0].float().clone()
            ids = torch.randint(0, vocab, (sample // 8, 8), device=device)  # short rows: within any max positions
            scale = emb(input_ids=ids).float().std()
    finally:
        emb.train(mode)
    return torch.randn(num_tokens, encoder.config.hidden_size, device=device) * scale


class PromptedEncoder(nn.Module):
    """``encoder`` with k learned vectors ``prompt`` [k, d] prepended to its embedding-layer output (see module doc)."""

    def __init__(self, encoder: nn.Module, num_tokens: int, init: str = "random", prompt: torch.Tensor | None = None):
        super().__init__()
        if num_tokens < 1:
            raise ValueError(f"a soft prompt needs >= 1 virtual token, got {num_tokens}")
        if isinstance(encoder, PromptedEncoder):
            raise ValueError("the encoder already has a soft prompt")
        if list(encoder.parameters(recurse=False)) or not hasattr(encoder, "embeddings"):
            raise ValueError(f"{type(encoder).__name__}: a soft prompt needs an encoder whose parameters all sit in "
                             "sub-modules, one of them 'embeddings'")
        object.__setattr__(self, "_inner", encoder)  # not a sub-module: its children are registered below
        for name, child in encoder.named_children():
            self.add_module(name, child)
        self.config = encoder.config
        self.num_tokens = num_tokens
        if prompt is None:
            prompt = initial_prompt(encoder, num_tokens, init)
        if tuple(prompt.shape) != (num_tokens, encoder.config.hidden_size):
            raise ValueError(f"prompt shape {tuple(prompt.shape)} != ({num_tokens}, {encoder.config.hidden_size})")
        self.prompt = nn.Parameter(prompt.detach().clone().float())

    @property
    def inner(self) -> nn.Module:
        """The wrapped encoder (its modules are this wrapper's modules)."""
        return self._inner

    def train(self, mode: bool = True):
        super().train(mode)
        self._inner.training = mode
        return self

    def get_input_embeddings(self) -> nn.Module:
        return self._inner.get_input_embeddings()

    def extend_mask(self, attention_mask: torch.Tensor) -> torch.Tensor:
        """``[1]*k + attention_mask``: [B, T] -> [B, k + T] (the prompt is always visible)."""
        ones = attention_mask.new_ones(attention_mask.shape[0], self.num_tokens)
        return torch.cat([ones, attention_mask], dim=1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None,
                token_type_ids: torch.Tensor | None = None, **kwargs):
        """Encode ``[p; E(x)]``; returns the input positions' ``last_hidden_state`` [B, T, d] and ``pooler_output``."""
        B, T = input_ids.shape
        k = self.num_tokens
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        types = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
        # E(x) at positions 0..T-1; a forward hook set by Classifier (embedding_output) replaces it here
        embedded = self.embeddings(input_ids=input_ids, **types)
        hidden = torch.cat([self.prompt.to(embedded.dtype).unsqueeze(0).expand(B, -1, -1), embedded], dim=1)
        ids = torch.cat([input_ids[:, :1].expand(B, k), input_ids], dim=1)  # placeholders: their embedding is replaced
        if token_type_ids is not None:
            types = {"token_type_ids": torch.cat([token_type_ids.new_zeros(B, k), token_type_ids], dim=1)}
        # registered last, so it runs after any Classifier hook: the transformer layers read [p; E(x)]
        handle = self.embeddings.register_forward_hook(lambda module, args, output: hidden)
        try:
            out = self._inner(input_ids=ids, attention_mask=self.extend_mask(attention_mask), **types, **kwargs)
        finally:
            handle.remove()
        from transformers.modeling_outputs import BaseModelOutputWithPooling

        sequence = out.last_hidden_state[:, k:]
        pooler = getattr(self._inner, "pooler", None)
        return BaseModelOutputWithPooling(last_hidden_state=sequence,
                                          pooler_output=pooler(sequence) if pooler is not None else None)

    def save_pretrained(self, directory, **kwargs) -> None:
        """The encoder as Hugging Face writes it, plus ``soft_prompt.pt`` (the prompt and k)."""
        self._inner.save_pretrained(directory, **kwargs)
        torch.save({"prompt": self.prompt.detach().cpu(), "num_tokens": self.num_tokens}, Path(directory) / PROMPT_FILE)


def add_soft_prompt(model: nn.Module, num_tokens: int, init: str = "random") -> PromptedEncoder:
    """Put a :class:`PromptedEncoder` in place of ``model.encoder`` (a Classifier's encoder); returns it."""
    model.encoder = PromptedEncoder(model.encoder, num_tokens, init)
    return model.encoder


def maybe_prompted(encoder: nn.Module, folder) -> nn.Module:
    """``encoder`` wrapped with the soft prompt saved in ``folder`` (``soft_prompt.pt``), or unchanged without one."""
    path = Path(folder) / PROMPT_FILE
    if not path.is_file():
        return encoder
    saved = torch.load(path, map_location="cpu", weights_only=True)
    return PromptedEncoder(encoder, int(saved["num_tokens"]), prompt=saved["prompt"])
