"""The syllable trigram KN model against an independent slow reference implementation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hearme.core import io
from hearme.tibetan import ngram, synth
from hearme.tibetan.hashtable import HashTable
from tests.kn_reference import ReferenceKN


@pytest.fixture(scope="module")
def corpus():
    g = synth.Generator(n_syllables=300, n_words=400, seed=1)
    train = g.lines(15000, 3, 15)
    test = g.lines(1500, 3, 15)
    return train, test


@pytest.fixture(scope="module")
def model(corpus):
    return ngram.KNTrigram.fit(corpus[0])


@pytest.fixture(scope="module")
def reference(corpus):
    return ReferenceKN([ngram.lm_tokens(t) for t in corpus[0]])


ODD = [
    "ང་ལ་ OK ༡༢ 2024 ཀཀཀ། །",   # numbers, Latin, OOV syllable, shad runs
    "",                          # empty: only </s> is predicted
    "ཀ",
    "ასა და ჰუთისა ერთა",        # all OOV
    "我很焦虑",
    "། ། །",
]


def test_matches_reference_within_1e_6(corpus, model, reference):
    test = corpus[1] + ODD
    fast = model.score(test)
    slow = np.array([reference.mean_logprob(ngram.lm_tokens(t)) for t in test])
    assert np.max(np.abs(fast - slow)) < 1e-6


def test_per_token_logprobs_match_reference(corpus, model, reference):
    for line in corpus[1][:20] + ODD[:1]:
        fast = [lp for _, lp in model.token_logprobs(line)]
        slow = reference.sentence_logprobs(ngram.lm_tokens(line))
        assert np.allclose(fast, slow, atol=1e-9, rtol=0)


def test_distribution_sums_to_one(corpus, model, reference):
    """p(w | u v) over the vocabulary (every seen type with </s>, plus <unk>; never <s>) sums to 1."""
    ids = np.array([model.index[w] for w in reference.a1] + [ngram.UNK], dtype=np.int64)
    toks = ngram.lm_tokens(corpus[1][0])
    a, b = model.index[toks[0]], model.index[toks[1]]
    for u, v in ((a, b), (ngram.BOS, ngram.BOS), (ngram.BOS, a), (ngram.UNK, a), (b, ngram.UNK), (ngram.EOS, a)):
        lp = model._logprobs(np.full(ids.size, u), np.full(ids.size, v), ids)
        assert math.isclose((10 ** lp).sum(), 1.0, abs_tol=1e-9), (u, v)


def test_kenlm_semantics(model, reference):
    """<unk> gets the uniform share only; an empty sentence predicts only </s>; |V| counts <unk>."""
    lps = dict(model.token_logprobs("ཀཀཀ"))
    assert lps["<unk>"] < -2
    assert len(model.token_logprobs("")) == 1
    assert model.meta["vocab"] == reference.vocab_size


def test_save_load_roundtrip(tmp_path, corpus, model):
    path = model.save(tmp_path / "lm.npz")
    again = ngram.KNTrigram.load(path)
    assert np.array_equal(again.score(corpus[1][:50]), model.score(corpus[1][:50]))
    assert again.meta == model.meta


def test_workers_give_identical_scores(corpus, model):
    many = corpus[1] * 30  # more than one chunk
    ngram_chunk = ngram.CHUNK_TEXTS
    try:
        ngram.CHUNK_TEXTS = 500
        a = model.score(many, workers=1)
        b = model.score(many, workers=2)
    finally:
        ngram.CHUNK_TEXTS = ngram_chunk
    assert np.array_equal(a, b)


def test_garbage_scores_lower(corpus, model):
    clean = model.score(corpus[1]).mean()
    rng = np.random.default_rng(0)
    shuffled = []
    for line in corpus[1]:
        syl = line.rstrip("།").split("་")
        rng.shuffle(syl)
        shuffled.append("་".join(syl) + "།")
    assert model.score(shuffled).mean() < clean - 0.3
    assert model.score(["ასა და ჰუთისა ერთა გვერდზე ერთ დროში"]).mean() < clean - 1


def test_empty_and_bad_corpus(tmp_path):
    with pytest.raises(io.HearMeError, match="no tokens"):
        ngram.KNTrigram.fit(["", "   ", "..."])
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    with pytest.raises(io.InputError, match="empty"):
        ngram.read_corpus(empty)
    zh = tmp_path / "zh.txt"
    zh.write_text("我最近总是失眠。\n心里很烦。\n", encoding="utf-8")
    with pytest.raises(io.InputError, match="not Tibetan"):
        ngram.read_corpus(zh)
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a model")
    with pytest.raises(io.InputError, match="not a HearMe KN trigram model"):
        ngram.KNTrigram.load(bad)


def test_tiny_corpus_uses_fallback_discounts():
    m = ngram.KNTrigram.fit(["ང་ལ་སེམས་ཁྲལ་ཡོད།"])
    assert m.meta["notes"] and "fallback" in m.meta["notes"][0]
    assert np.isfinite(m.score(["ང་ལ་ཡོད།"])).all()


def test_hashtable_roundtrip():
    rng = np.random.default_rng(0)
    keys = np.unique(rng.integers(0, 1 << 62, size=50000))
    vals = rng.random(keys.size)
    t = HashTable(keys, vals)
    got, found = t.get(keys)
    assert found.all() and np.array_equal(got, vals)
    missing = keys + 1
    missing = missing[~np.isin(missing, keys)]
    got, found = t.get(missing, default=-7.0)
    assert not found.any() and (got == -7.0).all()
    k, v = t.items()
    assert set(k.tolist()) == set(keys.tolist())
