"""Deduplication: exact after normalisation, near by MinHash/LSH, across sources, with reasons."""

from __future__ import annotations

import random

import numpy as np

from hearme.core import io
from hearme.converters.dedup import dedup, dedup_files, normalize, signatures

HAN = [chr(c) for c in range(0x4E00, 0x4E00 + 3000)]


def _text(rng, n):
    return "".join(rng.choice(HAN) for _ in range(n))


def _rec(i, text, source="a"):
    return {"messages": [{"role": "user", "content": "我想聊聊"}, {"role": "assistant", "content": text}],
            "id": f"{source}/{i}", "source": source, "lang": "zh", "topic": ""}


def _mutate(rng, text, every):
    chars = list(text)
    for _ in range(max(1, len(chars) // every)):
        chars[rng.randrange(len(chars))] = rng.choice(HAN)
    return "".join(chars)


def test_normalize_ignores_case_space_punctuation_width():
    assert normalize("Hello， World！ 你好。") == normalize("hello,world!你好") == "helloworld你好"
    assert normalize("ＡＢＣ１２３") == "abc123"


def test_exact_and_near_across_sources():
    rng = random.Random(0)
    base = [_text(rng, rng.randint(80, 900)) for _ in range(400)]
    recs = [_rec(i, t) for i, t in enumerate(base)]
    recs += [_rec(i, base[i] + "！！", "b") for i in range(0, 400, 10)]           # exact after normalisation
    recs += [_rec(i, _mutate(rng, base[i], 100), "c") for i in range(5, 400, 10)]  # about 5% of 5-grams changed
    recs += [_rec(i, _text(rng, 300), "d") for i in range(40)]                      # unrelated
    tally = io.Tally()
    kept, removals = dedup(recs, tally=tally)
    by = {r["id"]: r for r in removals}
    exact = [r for r in removals if r["reason"] == "exact"]
    near = [r for r in removals if r["reason"] == "near"]
    assert len(exact) == 40 and all(r["source"] == "b" and r["source_of_kept"] == "a" for r in exact)
    assert len(near) >= 36 and all(r["source"] == "c" for r in near)  # >= 90% of planted near duplicates
    assert all(r["duplicate_of"] == "a/" + r["id"].split("/")[1] for r in near)
    assert all(r["similarity"] >= 0.8 for r in near)
    assert not any(i.startswith(("a/", "d/")) for i in by)                          # originals and unrelated kept
    assert tally.read == len(recs) and tally.balanced and tally.written == len(kept)
    assert "exact duplicate of a/0 (a)" in tally.rejects[0]["reason"]


def test_short_texts_and_threshold():
    recs = [_rec(0, "我很难过"), _rec(1, "我很难过。"), _rec(2, "我很开心"), _rec(3, "")]
    kept, removals = dedup([r for r in recs if r["messages"][1]["content"]])
    assert [r["id"] for r in removals] == ["a/1"] and len(kept) == 2


def test_signature_estimates_match_datasketch():
    """Our vectorised MinHash estimates Jaccard like datasketch's reference MinHash does."""
    from datasketch import MinHash

    rng = random.Random(3)
    a = _text(rng, 250)
    pairs = [(a, _mutate(rng, a, every)) for every in (10, 25, 60, 200)]
    ours, theirs, truth = [], [], []
    for x, y in pairs:
        sig = signatures([x, y], num_perm=256)
        ours.append(float((sig[0] == sig[1]).mean()))
        m = []
        for t in (x, y):
            h = MinHash(num_perm=256)
            h.update_batch([t[i:i + 5].encode() for i in range(len(t) - 4)])
            m.append(h)
        theirs.append(m[0].jaccard(m[1]))
        sx, sy = {x[i:i + 5] for i in range(len(x) - 4)}, {y[i:i + 5] for i in range(len(y) - 4)}
        truth.append(len(sx & sy) / len(sx | sy))
    assert np.allclose(ours, truth, atol=0.1), (ours, truth)
    assert np.allclose(theirs, truth, atol=0.1), (theirs, truth)


def test_dedup_files_side_files(tmp_path):
    a = io.write_records(tmp_path / "a.json", [_rec(0, "今天我又失眠了，整夜都睡不着。")])
    b = io.write_records(tmp_path / "b.json", [_rec(0, "今天我又失眠了，整夜都睡不着！", "b"), _rec(1, "别的内容", "b")])
    kept, removals, tally = dedup_files([a, b], tmp_path / "out.json")
    assert len(kept) == 2 and removals[0]["id"] == "b/0"
    assert (tmp_path / "out.removed.jsonl").exists()
    rej = (tmp_path / "out.rejected.jsonl").read_text()
    assert "b.json" in rej and "exact duplicate of a/0" in rej
