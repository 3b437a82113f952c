"""The fast filter gives the same numbers as the plain one: the order check's dense path, its hashed
path and a straightforward re-implementation agree to the bit; blocks and workers change nothing;
the progress helpers report a rate and an ETA (no timing assertions: speed is in benchmarks/)."""

from __future__ import annotations

import json
import random
import re

import numpy as np
import pytest

from hearme.core import io, paths
from hearme.core.progress import Throughput, timing_line
from hearme.tibetan import filter as F, filter_lm as FL, filter_scan, garbage, ngram, order as O
from hearme.tibetan import text as T


def _lines() -> list[str]:
    import json

    recs = [json.loads(x) for x in (paths.DATA / "samples" / "firefly" / "tibetan_dialogues.jsonl")
            .read_text(encoding="utf-8").splitlines() if x.strip()]
    ours = [t[k] for r in recs for t in r["conversation"] for k in ("human", "assistant")]
    rng = random.Random(5)
    joined = [" ".join(rng.sample(ours, 2)) for _ in range(60)]
    broken = [garbage.shuffled(x, rng) for x in joined[:20]] + [garbage.stutter(x, rng) for x in joined[20:25]]
    return joined + broken + ["ང་ལ་སེམས་ཁྲལ་ཡོད།", "abc ཀ་ཁ 中文"]


@pytest.fixture(scope="module")
def dm():
    return FL.default_model()


def _reference_order_z(lm, texts, shuffles, min_tokens, chunk_texts):
    """The first implementation: re-encode the streams of every shuffle, score with _logprobs."""
    z = np.full(len(texts), np.nan)
    ids = ngram._Ids(lm.index, grow=False)
    for c0 in range(0, len(texts), chunk_texts):
        part = texts[c0:c0 + chunk_texts]
        per = [T.sentences(t) or [t] for t in part]
        sent_text = np.repeat(np.arange(len(part)), [len(p) for p in per])
        arr = ngram._encode_chunk([s for p in per for s in p], ids)
        pos_text = sent_text[np.cumsum(arr == ngram.SEP) - 1]
        movable = np.nonzero((arr != ngram.SEP) & (arr != ngram.SHAD_ID))[0]
        n_tok = np.bincount(pos_text[movable], minlength=len(part))

        def totals(a):
            u, v, w, sent = ngram._streams(a)
            return np.bincount(sent_text[sent], weights=lm._logprobs(u, v, w), minlength=len(part))

        orig, rng = totals(arr), np.random.default_rng([0, c0])
        rounds = np.empty((shuffles, len(part)))
        for r in range(shuffles):
            a = arr.copy()
            a[movable] = arr[movable[np.argsort(pos_text[movable] + rng.random(len(movable)))]]
            rounds[r] = totals(a)
        sd = rounds.std(0, ddof=1)
        ok = (n_tok >= min_tokens) & (sd > 1e-9)
        z[c0:c0 + len(part)] = np.where(ok, (orig - rounds.mean(0)) / np.where(ok, sd, 1.0), np.nan)
    return z


def test_order_z_dense_hashed_and_reference_agree_to_the_bit(dm, monkeypatch):
    lines = _lines()
    dense, gain = O.order_z(dm.lm, lines, shuffles=6, chunk_texts=30)
    ref = _reference_order_z(dm.lm, lines, 6, 8, 30)
    monkeypatch.setattr(O, "ROWS_MAX", 0)  # dense pairs and a trigram table instead of one lookup
    tri, _ = O.order_z(dm.lm, lines, shuffles=6, chunk_texts=30)
    assert np.array_equal(tri, ref, equal_nan=True)
    monkeypatch.setattr(O, "TRI_MAX", 0)  # dense pairs, hashed trigrams
    probed, _ = O.order_z(dm.lm, lines, shuffles=6, chunk_texts=30)
    monkeypatch.setattr(O, "DENSE_MAX", 1)
    hashed, gain_h = O.order_z(dm.lm, lines, shuffles=6, chunk_texts=30)
    assert np.array_equal(probed, hashed, equal_nan=True)
    assert np.isfinite(dense).sum() > 60 and np.isnan(dense[-2])  # the short line is not judged
    assert np.array_equal(dense, ref, equal_nan=True) and np.array_equal(dense, hashed, equal_nan=True)
    assert np.array_equal(gain, gain_h, equal_nan=True)
    got = O.chunk_scores(dm.lm, lines, shuffles=None, lm_stats=True)  # the LM numbers from the same encoding
    want = FL.lm_measure(dm.lm, lines)
    assert np.array_equal(got["lm"], want[0]) and np.array_equal(got["unknown"], want[1])
    # a slice scored with its offset gets the draws it gets inside the whole list
    tail, _ = O.order_z(dm.lm, lines[30:], shuffles=6, chunk_texts=30, offset=30)
    assert np.array_equal(tail, dense[30:], equal_nan=True)


def test_blocks_and_workers_change_nothing(dm, tmp_path, monkeypatch):
    lines = _lines()
    io.write_text(tmp_path / "in.txt", "".join(x + "\n" for x in lines))
    monkeypatch.setattr(filter_scan, "BLOCK", 25)
    seen, outs = [], {}
    for w in (1, 2):
        seen.clear()
        out = tmp_path / f"out{w}.txt"
        rep = F.run(tmp_path / "in.txt", out, dm.lm, None, order=dm.order, workers=w, progress=False,
                    on_block=lambda done, total: seen.append((done, total)))
        outs[w] = [p.read_bytes() for p in (out, io.rejected_path(out), F.scores_path(out))]
    assert outs[1] == outs[2]
    assert seen[-1] == (len(lines), len(lines)) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert rep["utterances"] == len(lines) and rep["syllables"] == sum(len(T.syllables(x)) for x in lines)
    assert rep["read"] == rep["written"] + rep["rejected"] and rep["rejected_by_check"].get("order", 0) >= 15
    z, _ = O.order_z(dm.lm, lines, chunk_texts=25)  # the blocks' z is the whole list's, chunked alike
    scored = [t for _, r, _ in io.iter_jsonl(F.scores_path(tmp_path / "out1.txt")) for t in r["turns"]]
    checks = F.Checks()  # lines rejected by another check get no shuffles (z null)
    settled = [bool(F.measure(x, checks)[1]) or t["unknown"] > checks.max_unknown for x, t in zip(lines, scored)]
    want = [None if np.isnan(x) or s else round(float(x), 3) for x, s in zip(z, settled)]
    assert [t["order_z"] for t in scored] == want and sum(settled) >= 5


def test_permutation_is_the_float_argsort():
    rng = np.random.default_rng(3)
    long = np.r_[rng.integers(1, 4, 4000), 9000]  # 13 bits of texts and 14 of places: no room, argsort
    for lens, packed in ((rng.integers(1, 90, 300), True), (np.array([5, 3000, 7]), True), (np.array([3, 2]), True),
                         (long, False)):
        owner = np.repeat(np.arange(len(lens)), lens)
        perm = O._Permutation(owner)
        assert perm.packed == packed
        for _ in range(5):
            d = rng.random(len(owner))
            assert (perm(d) == np.argsort(owner + d)).all()


def test_skipping_settled_lines_keeps_every_decision(tmp_path, dm):
    """No shuffles for lines another check rejects: the same kept file, rejected lines and
    numbers, only z/gain null (and no order reason) on those lines, all of them rejected."""
    import dataclasses

    lines = _lines() + [garbage.chinese_word(x, random.Random(1)) for x in _lines()[:10]]
    io.write_text(tmp_path / "in.txt", "".join(x + "\n" for x in lines))
    outs = {}
    for skip in (False, True):
        out = tmp_path / f"out{skip}.txt"
        order = dataclasses.replace(dm.order, skip_settled=skip)
        F.run(tmp_path / "in.txt", out, dm.lm, None, order=order, progress=False)
        rows = [t for _, r, _ in io.iter_jsonl(F.scores_path(out)) for t in r["turns"]]
        rej = {json.loads(x)["position"]: json.loads(x)["reason"]
               for x in io.rejected_path(out).read_text(encoding="utf-8").splitlines()}
        outs[skip] = out.read_bytes(), rows, rej
    (kept0, rows0, rej0), (kept1, rows1, rej1) = outs[False], outs[True]
    assert kept0 == kept1 and rej0.keys() == rej1.keys()
    skipped = [i for i, (a, b) in enumerate(zip(rows0, rows1)) if a != b]
    assert len(skipped) >= 10  # the stutters and Chinese words
    for i in skipped:
        a, b = rows0[i], rows1[i]
        assert not a["ok"] and not b["ok"] and b["order_z"] is None and b["order_gain"] is None
        assert {k: v for k, v in a.items() if not k.startswith("order")} == \
            {k: v for k, v in b.items() if not k.startswith("order")}
    assert all(re.sub(r"; order: [^;|]*", "", r) == rej1[p] for p, r in rej0.items())


def test_throughput_rate_eta_and_timing_line():
    now = [100.0]
    tp = Throughput(1000, "utterance", clock=lambda: now[0])
    now[0] += 2.0
    assert tp.status(250) == "250/1,000 utterances, 125/s, ETA 0:06"
    assert tp.status(0).endswith("ETA ?") and tp.status(10, total=5000).startswith("10/5,000")
    line = timing_line("timing (filter)", 66423, 3600000, 30.0)
    assert line == ("timing (filter): 66,423 lines, 3,600,000 syllables in 30.0 s = 2,214 lines/s, "
                    "120,000 syllables/s")


def test_webui_filter_progress_shows_rate_and_eta():
    from hearme.webui_ext import tibetan_tab

    calls = []
    on_block = tibetan_tab.block_progress(lambda frac, desc: calls.append((frac, desc)), "filter")
    on_block(4000, 8000)
    on_block(8000, 8000)
    assert [f for f, _ in calls] == [0.5, 1.0]
    assert all(d.startswith("filter: ") and "/s, ETA " in d for _, d in calls) and "8,000/8,000 utterances" in calls[1][1]
