"""run_many_with_corpus (the few-file sources in a process of their own) gives what one call per
source gives (#23 item 2)."""

from __future__ import annotations

import json
import random

import numpy as np
from hearme.converters import convert, run_many_with_corpus, run_with_corpus


def _write(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False), encoding="utf-8")
    return path


def test_run_many_equals_one_run_per_source(tmp_path, monkeypatch):
    rng = random.Random(3)
    folder = tmp_path / "smile"
    for i in range(30):
        _write(folder / f"{i}.json", [{"role": "client" if k % 2 == 0 else "counselor",
                                       "content": f"第{i}段第{k}句，我叫李明{rng.random():.6f}"} for k in range(4)])
    _write(folder / "broken.json", "[{\"role\": ")
    emo = _write(tmp_path / "emo.json", [{"conversation": [{"system": "你是心理咨询师", "input": f"我很焦虑{i}",
                                                             "output": f"能多说说吗{i}"}]} for i in range(5)])
    monkeypatch.setattr(convert, "PARALLEL_FROM", 10)  # the 30 files count as a big folder, emo.json as small
    jobs = [("smile", [folder]), ("emollm", [emo])]
    many = run_many_with_corpus(jobs, workers=2)
    one = [run_with_corpus(fmt, paths, workers=1) for fmt, paths in jobs]
    for (r1, t1, c1), (r2, t2, c2) in zip(many, one):
        assert r1 == r2 and t1.as_dict() == t2.as_dict() and c1.openings == c2.openings
        assert np.array_equal(c1.signatures(), c2.signatures()) and np.array_equal(c1.lengths, c2.lengths)
    assert many[0][1].summary() == "read=31 written=30 rejected=1" and many[1][1].summary() == "read=5 written=5 rejected=0"
    assert any(k.startswith("pii") for k in many[0][1].notes)  # scrubbed in both processes
