"""hearme.core.io reads JSON with orjson when it can and with json otherwise: whatever a file holds, the
result (or the error) is json's."""

from __future__ import annotations

import json

import pytest

from hearme.core import io
from hearme.core.io import atomic, read

SAME = [
    b'{"a": 1, "a": 2}',  # duplicate keys: the last wins
    b'["\\ud800 lone surrogate escape"]',  # orjson refuses, json reads it (the converters then reject it)
    b"[NaN, Infinity]",
    b"[1e400]",
    b"[123456789012345678901234567890, -9223372036854775809, 18446744073709551616]",  # beyond 64 bits
    b'{"phone": 13812345678, "id": "110101199003074514", "card": 6222021234567890128}',
    b"[1.5, -0.0, 1e-7, 0.1, 5e-324]",
    b'["\\u0000", "\\u00e9\\ud83d\\ude00", "\xe4\xbd\xa0\xe5\xa5\xbd"]',
    b"\xef\xbb\xbf[1, 2]",  # UTF-8 BOM
    '[{"content": "你好，我叫小雨"}]'.encode("gb18030"),
    b" \n[1] \n",
]


@pytest.mark.parametrize("raw", SAME)
def test_read_json_gives_what_json_gives(tmp_path, raw):
    path = tmp_path / "f.json"
    path.write_bytes(raw)
    text, _ = io.read_text(path)
    want = json.loads(text)
    got = io.read_json(path)
    assert json.dumps(got) == json.dumps(want)  # same values and the same types (int stays int)
    kind, doc = io.read_json_or_lines(path)
    assert kind == "json" and json.dumps(doc) == json.dumps(want)


def test_the_fast_path_is_taken_for_plain_utf8(tmp_path, monkeypatch):
    path = tmp_path / "f.json"
    path.write_text('[{"role": "client", "content": "最近压力很大"}]', encoding="utf-8")
    calls = []
    monkeypatch.setattr(read, "_fast_loads", lambda raw: calls.append(raw) or json.loads(raw))
    assert io.read_json(path) == [{"role": "client", "content": "最近压力很大"}]
    assert len(calls) == 1
    path.write_text('[{"n": 12345678901234567890}]', encoding="utf-8")  # a 20-digit number: json only
    assert io.read_json(path) == [{"n": 12345678901234567890}] and len(calls) == 1


@pytest.mark.parametrize("raw, reason", [
    (b'{"a": 1,}', "invalid JSON"),
    (b"[" * 5000 + b"]" * 5000, "nested too deeply"),
    (b"[" + b"9" * 5000 + b"]", "more than 4300 digits"),
    (b'"tab\tinside"', "invalid JSON"),
])
def test_errors_are_jsons(tmp_path, raw, reason):
    path = tmp_path / "f.json"
    path.write_bytes(raw)
    with pytest.raises(io.InputError, match=reason):
        io.read_json(path)


def test_lines_saved_as_json_and_an_array_saved_as_jsonl(tmp_path):
    lines = tmp_path / "lines.json"
    lines.write_text('{"a": 1}\n{"a": 2}\n', encoding="utf-8")
    kind, rows = io.read_json_or_lines(lines)
    assert kind == "jsonl" and [r for _, r, _ in rows] == [{"a": 1}, {"a": 2}]
    array = tmp_path / "array.jsonl"
    array.write_text('[{"a": 1}, {"a": 2}]', encoding="utf-8")
    assert io.read_json_or_lines(array) == ("json", [{"a": 1}, {"a": 2}])


RECORDS = [
    {"messages": [{"role": "user", "content": "你好 \"引号\" \\ \x01\n换行"}, {"role": "assistant", "content": "😀 ok"}],
     "id": "a", "score": 0.1},
    {"messages": [{"role": "user", "content": "x"}], "id": "b", "big": 123456789012345678901234567890},
]


def test_records_are_written_compact_one_per_line_by_either_encoder(tmp_path, monkeypatch):
    fast = io.write_records(tmp_path / "fast.json", RECORDS)
    fast1 = io.write_records(tmp_path / "fast1.json", RECORDS[:1])  # orjson writes this batch
    monkeypatch.setattr(atomic, "_fast_dumps", None)
    slow = io.write_records(tmp_path / "slow.json", RECORDS)
    assert fast1.read_bytes() == io.write_records(tmp_path / "slow1.json", RECORDS[:1]).read_bytes()
    lines = fast.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "[" and lines[-1] == "]" and len(lines) == 4
    assert lines[1].startswith('{"messages":[{"role":"user","content":"你好')  # UTF-8, not \u escapes
    assert json.loads(fast.read_text(encoding="utf-8")) == RECORDS == json.loads(slow.read_text(encoding="utf-8"))
    assert fast.read_bytes() == slow.read_bytes()  # the big integer's batch fell back to json: same layout
    assert (io.write_records(tmp_path / "empty.json", [])).read_text() == "[\n\n]\n"


def test_a_lone_surrogate_is_an_output_error_naming_it(tmp_path):
    with pytest.raises(io.OutputError, match="U\\+D800"):
        io.write_records(tmp_path / "bad.json", [{"messages": [{"role": "user", "content": "a\ud800"}]}])
    assert not list(tmp_path.iterdir())  # no output, no temp file


@pytest.mark.parametrize("size", [0, 1, read.SMALL_READ - 1, read.SMALL_READ, read.SMALL_READ + 1, 5 * read.SMALL_READ + 7])
def test_a_file_is_read_whole_at_any_size(tmp_path, size):
    path = tmp_path / "f.bin"
    data = bytes(range(256)) * (size // 256 + 1)
    path.write_bytes(data[:size])
    assert read._read_all(path) == data[:size]


def test_a_fifo_that_reads_short_is_read_to_its_end(tmp_path):
    """A pipe returns what has been written so far: a short first read is not the end of it."""
    import os
    import threading

    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    pieces = [b"[1, ", b"2, ", b"3]"]
    sent = threading.Event()

    def write() -> None:
        with open(fifo, "wb", buffering=0) as fh:
            for i, piece in enumerate(pieces):
                fh.write(piece)
                if i == 0:
                    sent.wait(timeout=30)  # the reader's first read has returned the first piece only

    writer = threading.Thread(target=write)
    writer.start()
    real_read = os.read
    calls = []

    def read_then_release(fd, n):
        out = real_read(fd, n)
        calls.append(out)
        sent.set()
        return out

    try:
        os.read = read_then_release
        assert read._read_all(fifo) == b"".join(pieces)
    finally:
        os.read = real_read
        writer.join()
    assert calls[0] == pieces[0]  # the case under test happened: the first read was short


def test_a_proc_file_of_size_zero_is_read(tmp_path):
    import os

    if not os.path.exists("/proc/self/status"):
        pytest.skip("no /proc here")
    assert b"Name:" in read._read_all("/proc/self/status")
