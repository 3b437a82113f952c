"""The converter driver encodes each record once, where it checks it, and the writer reuses that row:
what is written must be exactly what encoding the final records would give, after the scrub, after
ids are made unique, and whichever process converted the record."""

from __future__ import annotations

import json
import random

import pytest

from hearme.core import io
from hearme.converters import run_with_corpus
from hearme.converters.convert import run_to_file
from hearme.converters.dedup import Corpus


def _smile_folder(folder, n=40, pii_every=5):
    rng = random.Random(3)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        phone = f"我的电话是1391234{i:04d}，" if i % pii_every == 0 else ""
        turns = [{"role": "client", "content": f"{phone}我第{i}次来，最近压力很大{rng.random():.6f}"},
                 {"role": "counselor", "content": f"谢谢你愿意说出来{rng.random():.6f}"}]
        (folder / f"{i}.json").write_text(json.dumps(turns, ensure_ascii=False), encoding="utf-8")
    return folder


def _plain(path, records):
    """The file the writer makes from the records themselves, with no rows given."""
    io.write_records(path, records)
    return path.read_bytes()


@pytest.mark.parametrize("workers", [1, 2])
def test_convert_output_is_what_the_records_encode_to_after_the_scrub(tmp_path, workers):
    folder = _smile_folder(tmp_path / "smile")
    out = tmp_path / "out.json"
    records, tally = run_to_file("smile", [folder], out, progress=False, workers=workers)
    assert tally.notes.get("pii PHONE") == 8  # the scrub changed 8 records after they were first encoded
    assert sum("[PHONE]" in r["messages"][0]["content"] for r in records) == 8
    assert out.read_bytes() == _plain(tmp_path / "plain.json", records)


def test_ids_made_unique_after_encoding_are_written_as_changed(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    _smile_folder(a, n=3), _smile_folder(b, n=3)
    rec = {"messages": [{"role": "user", "content": "你好，我很焦虑"}, {"role": "assistant", "content": "我在听"}],
           "id": "same", "source": "mine"}
    records_in = tmp_path / "records.json"
    records_in.write_text(json.dumps([rec, rec, rec], ensure_ascii=False), encoding="utf-8")
    out = tmp_path / "out.json"
    records, tally = run_to_file("records", [records_in], out, progress=False)
    assert [r["id"] for r in records] == ["same", "same~2", "same~3"]
    assert out.read_bytes() == _plain(tmp_path / "plain.json", records)


def test_rows_from_a_worker_read_back_to_the_same_records(tmp_path):
    folder = _smile_folder(tmp_path / "smile", n=60)
    serial, t1, c1 = run_with_corpus("smile", [folder], workers=1)
    parallel, t2, c2 = run_with_corpus("smile", [folder], workers=2)
    assert serial == parallel and t1.as_dict() == t2.as_dict()
    assert len(c2.encoded) == len(parallel)  # every record has its row ...
    assert all(c2.encoded.get(r) == io.encode_row(r) for r in parallel)  # ... and it is the record's own


def test_the_writer_uses_a_row_only_for_the_very_record_it_was_made_for(tmp_path):
    recs = [{"messages": [{"role": "user", "content": f"问{i}"}, {"role": "assistant", "content": f"答{i}"}],
             "id": str(i), "source": "s"} for i in range(5)]
    encoded = io.EncodedRows(recs[:3], [io.encode_row(r) for r in recs[:3]])
    equal_copy = dict(recs[0])  # equal, but not the record the row was made for
    assert encoded.get(recs[0]) is not None and encoded.get(equal_copy) is None
    marked = io.EncodedRows(recs[:1], [b'{"marker":1}'])  # a row that differs from its record shows where rows are used
    io.write_records(tmp_path / "o.json", recs, encoded=marked)
    assert b'{"marker":1}' in (tmp_path / "o.json").read_bytes()
    io.write_records(tmp_path / "o.json", recs, sharegpt=True, encoded=marked)  # ShareGPT rows are other rows
    assert b"marker" not in (tmp_path / "o.json").read_bytes()
    io.write_records(tmp_path / "o.jsonl", recs, encoded=marked)  # JSON Lines has its own layout
    assert b"marker" not in (tmp_path / "o.jsonl").read_bytes()
    io.write_records(tmp_path / "o.json", recs, encoded=encoded)
    assert (tmp_path / "o.json").read_bytes() == _plain(tmp_path / "plain.json", recs)


def test_a_corpus_keeps_the_rows_through_concat_and_subset(tmp_path):
    a = run_with_corpus("smile", [_smile_folder(tmp_path / "a", n=4)], workers=1)
    b = run_with_corpus("smile", [_smile_folder(tmp_path / "b", n=4)], workers=1)
    both = Corpus.concat([a[2], b[2]])
    sub = both.subset([1, 5])
    assert [sub.encoded.get(r) for r in sub.records] == [io.encode_row(r) for r in sub.records]
    assert len(both.encoded) == 8


def test_a_record_orjson_refuses_is_encoded_by_the_writer(tmp_path):
    rec = {"messages": [{"role": "user", "content": "问"}, {"role": "assistant", "content": "答"}], "id": "1",
           "n": 1 << 70}  # beyond 64 bits: orjson refuses, json writes it
    assert io.encode_row(rec) is None
    encoded = io.EncodedRows([rec], [io.encode_row(rec)])
    assert len(encoded) == 0
    io.write_records(tmp_path / "o.json", [rec], encoded=encoded)
    assert json.loads((tmp_path / "o.json").read_text())[0]["n"] == 1 << 70
