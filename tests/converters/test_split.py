"""Splits: deterministic, grouped (no group in two parts), stratified by source and topic."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from hearme.core import io, registry
from hearme.converters.split import parse_ratios, split_file, split_records


def _records(n_groups: int = 300, seed: int = 0) -> list[dict]:
    """Dialogues (one record each) and PsyQA-like groups (several answers to one question)."""
    rng = random.Random(seed)
    recs = []
    for g in range(n_groups):
        source = rng.choice(["CPsyCounD", "SMILE", "PsyQA"])
        topic = rng.choice(["家庭", "学业", "恋爱", "职场"])
        size = rng.randint(1, 4) if source == "PsyQA" else 1
        for k in range(size):
            rec = {"messages": [{"role": "user", "content": f"q{g}"}, {"role": "assistant", "content": f"a{g}.{k}"}],
                   "id": f"{source}/{g}/{k}" if size > 1 else f"{source}/{g}", "source": source, "lang": "zh", "topic": topic}
            if source == "PsyQA":
                rec["group"] = f"psyqa/{g}"
            recs.append(rec)
    return recs


def _groups(recs):
    return {r.get("group") or r["id"] for r in recs}


@pytest.mark.parametrize("ratios,names", [("70/15/15", ["train", "val", "test"]), ("80/20", ["train", "test"])])
def test_ratios_grouped_stratified_deterministic(ratios, names):
    recs = _records()
    parts = split_records(recs, ratios=ratios, seed=7)
    assert list(parts) == names
    assert sum(len(p) for p in parts.values()) == len(recs)
    # grouped: no group in two parts
    seen = [_groups(p) for p in parts.values()]
    for i in range(len(seen)):
        for j in range(i + 1, len(seen)):
            assert not seen[i] & seen[j]
    # sizes follow the ratios
    fr = parse_ratios(ratios)
    for name, f in zip(names, fr):
        assert abs(len(parts[name]) / len(recs) - f) < 0.03, (name, len(parts[name]))
    # stratified: every (source, topic) stratum follows the ratios too
    strata = Counter((r["source"], r["topic"]) for r in recs)
    for key, total in strata.items():
        got = sum(1 for r in parts["train"] if (r["source"], r["topic"]) == key)
        assert abs(got / total - fr[0]) < 0.2, key
    # deterministic, and the seed matters
    assert split_records(recs, ratios=ratios, seed=7) == parts
    assert split_records(recs, ratios=ratios, seed=8) != parts


def test_kfold_partitions_every_record_once():
    recs = _records(200)
    parts = split_records(recs, kfold=5, seed=1)
    assert len(parts) == 10
    tests = [parts[f"fold{f}_test"] for f in range(5)]
    assert sorted(r["id"] for t in tests for r in t) == sorted(r["id"] for r in recs)
    for f in range(5):
        train_ids = {r["id"] for r in parts[f"fold{f}_train"]}
        assert not train_ids & {r["id"] for r in tests[f]}
        assert len(train_ids) + len(tests[f]) == len(recs)
        assert not _groups(parts[f"fold{f}_train"]) & _groups(tests[f])
        assert abs(len(tests[f]) - len(recs) / 5) <= 0.06 * len(recs)


def test_singleton_strata_still_fill_every_part():
    recs = [{"messages": [{"role": "user", "content": f"x{i}"}, {"role": "assistant", "content": "y"}], "id": f"r{i}",
             "source": "s", "lang": "zh", "topic": f"topic{i}"} for i in range(40)]
    parts = split_records(recs, ratios="70/15/15")
    assert [len(p) for p in parts.values()] == [28, 6, 6]


def test_bad_arguments():
    with pytest.raises(io.HearMeError):
        parse_ratios("70/30/0")
    with pytest.raises(io.HearMeError):
        parse_ratios("a/b")
    with pytest.raises(io.HearMeError):
        split_records([], ratios="80/20", kfold=5)


def test_split_file_writes_and_registers(tmp_path):
    recs = _records(60)
    src = io.write_records(tmp_path / "mix.json", recs)
    written = split_file(src, ratios="70/15/15", dataset_dir=tmp_path)
    info = registry.load(tmp_path)
    for part in ("train", "val", "test"):
        path, n = written[part]
        assert info[f"mix_{part}"]["records"] == n == len(io.load_records(path))
    assert sum(n for _, n in written.values()) == len(recs)
    with pytest.raises(io.HearMeError, match="too few"):
        split_file(io.write_records(tmp_path / "one.json", recs[:1]), ratios="80/20", dataset_dir=tmp_path)
