"""The fast paths of the data pipeline keep the slow paths' results: parallel writes of split
parts, and the folder walk (sorted like Path objects, symbolic links followed once)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from hearme.core import io, schema
from hearme.core.io import many
from hearme.converters.inputs import _walk, expand_inputs


def _records(n: int, tag: str) -> list[schema.Record]:
    return [schema.make([{"role": "user", "content": f"{tag} 问题 {i}"}, {"role": "assistant", "content": f"回答 {i} 🙂"}],
                        id=f"{tag}-{i}", source="test", lang="zh") for i in range(n)]


@pytest.fixture
def parallel(monkeypatch):
    monkeypatch.setattr(many, "PARALLEL_WRITE_FROM", 0)  # small sets take the two-process path too
    monkeypatch.setattr(many, "_threads_running", lambda: False)


def test_parallel_writes_equal_sequential_ones(tmp_path, parallel):
    parts = [("train", _records(70, "a")), ("val", _records(15, "b")), ("test", _records(15, "c")), ("x", [])]
    seq = [io.write_records(tmp_path / f"seq_{n}.json", r) for n, r in parts]
    par = io.write_records_many([(tmp_path / f"par_{n}.json", r) for n, r in parts])
    assert [p.name for p in par] == [f"par_{n}.json" for n, _ in parts]
    for s, p in zip(seq, par):
        assert s.read_bytes() == p.read_bytes()
    assert len(json.loads(par[0].read_text(encoding="utf-8"))) == 70
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".")]  # no temp file left


def test_a_failure_in_the_child_is_raised_with_its_reason(tmp_path, parallel):
    (tmp_path / "small.json").mkdir()  # the smaller share goes to the child; it cannot write there
    with pytest.raises(io.HearMeError, match="small.json"):
        io.write_records_many([(tmp_path / "big.json", _records(30, "a")), (tmp_path / "small.json", _records(3, "b"))])
    assert len(json.loads((tmp_path / "big.json").read_text(encoding="utf-8"))) == 30  # each file is its own unit


def test_walk_sorts_like_paths_and_reports_problems(tmp_path):
    root = tmp_path / "in"
    for rel in ("b/2.json", "b/10.json", "a.json", "a/x.json", "a b/y.json", "b/.hidden.json", "c/d/e.json",
                "b/out.rejected.json", "notes.txt"):
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text("[]", encoding="utf-8")
    (root / "loop").symlink_to(root)
    (root / "gone.json").symlink_to(root / "missing.json")
    got = _walk(root, (".json",), set())
    files = [p for p, problem in got if problem is None]
    assert files == sorted(files, key=lambda p: p.parts)
    assert [p.relative_to(root).as_posix() for p in files] == ["a/x.json", "a b/y.json", "a.json", "b/10.json",
                                                                  "b/2.json", "c/d/e.json"]
    problems = {p.relative_to(root).as_posix(): why for p, why in got if why}
    assert problems["loop"].startswith("symbolic link loop") and problems["gone.json"].startswith("broken symbolic link")
    assert all(isinstance(p, Path) and p == Path(str(p)) for p, _ in got)
    assert [f for f, _, _ in expand_inputs([root], (".json",))] == [p for p, _ in got]


def test_gc_pause_leaves_nothing_frozen_and_cycles_still_collected():
    import gc
    import weakref

    from hearme.core.progress import gc_paused

    class Node:
        pass

    with gc_paused():
        assert not gc.isenabled()
        a, b = Node(), Node()
        a.other, b.other = b, a  # a cycle built during the pause
        alive = weakref.ref(a)
    assert gc.isenabled() and gc.get_freeze_count() == 0
    del a, b
    gc.collect()
    assert alive() is None  # collected as usual afterwards


def test_no_collection_runs_while_the_inputs_are_walked(tmp_path, monkeypatch):
    # a collection during the walk would walk every record of the sources converted before it
    import gc

    from hearme.converters import convert, run

    seen = []
    walk = convert.expand_inputs
    monkeypatch.setattr(convert, "expand_inputs", lambda *a, **k: (seen.append(gc.isenabled()), walk(*a, **k))[1])
    (tmp_path / "d.json").write_text(json.dumps([{"role": "client", "content": "你好，我最近睡不好。"},
                                                 {"role": "counselor", "content": "能多说说吗？"}]), encoding="utf-8")
    records, _ = run("smile", [tmp_path])
    assert seen == [False] and len(records) == 1 and gc.isenabled()


def test_rows_already_made_are_written_by_a_thread_per_file(tmp_path, monkeypatch):
    parts = [("train", _records(70, "a")), ("val", _records(15, "b")), ("test", _records(15, "c"))]
    encoded = io.EncodedRows()
    for _, recs in parts:
        encoded.add(recs, [io.encode_row(r) for r in recs])
    threads = []
    real = many._in_threads
    monkeypatch.setattr(many, "_threads_running", lambda: True)  # e.g. the WebUI: threads are still fine
    monkeypatch.setattr(many, "_in_threads", lambda jobs: threads.append(len(jobs)) or real(jobs))
    seq = [io.write_records(tmp_path / f"seq_{n}.json", r) for n, r in parts]
    par = io.write_records_many([(tmp_path / f"par_{n}.json", r) for n, r in parts], encoded=encoded)
    assert threads == [3]  # the threaded path was the one taken
    assert [s.read_bytes() for s in seq] == [p.read_bytes() for p in par]


def test_a_failure_in_one_thread_is_raised_and_the_other_files_are_written(tmp_path):
    big, small = _records(30, "a"), _records(3, "b")
    encoded = io.EncodedRows(big + small, [io.encode_row(r) for r in big + small])
    (tmp_path / "small.json").mkdir()  # cannot be written
    with pytest.raises(io.HearMeError, match="small.json"):
        io.write_records_many([(tmp_path / "big.json", big), (tmp_path / "small.json", small)], encoded=encoded)
    assert len(json.loads((tmp_path / "big.json").read_text(encoding="utf-8"))) == 30
