"""The one record schema, the IO layer and the registry."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from hearme.core import io, registry, schema
from tests.conftest import run_hearme

U = {"role": "user", "content": "你好"}
A = {"role": "assistant", "content": "你好，我是Jerry。"}
S = {"role": "system", "content": "你是心理咨询师。"}


def rec(*msgs, **meta):
    return {"messages": list(msgs), "id": "x", "source": "t", "lang": "zh", "topic": "", **meta}


# ------------------------------------------------------------------ schema

@pytest.mark.parametrize("msgs", [(U, A), (S, U, A), (U, A, U, A), (S, U, A, U, A)])
def test_valid_shapes(msgs):
    schema.validate(rec(*msgs))


@pytest.mark.parametrize("msgs, reason", [
    ((), "missing or empty"),
    ((S,), "only a system"),
    ((A, U), "expected user"),
    ((U, U, A, A), "expected assistant"),
    ((U, A, U), "ends on a user turn"),
    ((U, S, A), "expected assistant"),
    ((U, {"role": "assistant", "content": "  "}), "is empty"),
    ((U, {"role": "gpt", "content": "x"}), "has role 'gpt'"),
    ((U, {"role": "assistant", "content": None}), "expected text"),
    ((U, A, S), "expected user"),
])
def test_invalid_shapes_say_why(msgs, reason):
    with pytest.raises(schema.InvalidRecord, match=reason):
        schema.validate(rec(*msgs))


def test_metadata_must_be_flat_strings():
    with pytest.raises(schema.InvalidRecord, match="flat string"):
        schema.validate(rec(U, A, topic=["a", "b"]))


def test_sharegpt_round_trip():
    r = rec(S, U, A, U, A)
    sg = schema.to_sharegpt(r)
    assert sg["system"] == S["content"] and [t["from"] for t in sg["conversations"]] == ["human", "gpt"] * 2
    assert schema.from_sharegpt(sg) == r


# ------------------------------------------------------------------ io

def test_atomic_write_leaves_old_file_on_crash(tmp_path):
    target = tmp_path / "out.json"
    io.write_json(target, {"ok": 1})
    with pytest.raises(RuntimeError):
        with io.atomic_open(target) as fh:
            fh.write('{"half": ')
            raise RuntimeError("boom")
    assert json.loads(target.read_text()) == {"ok": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temp file left behind


def test_killed_writer_never_leaves_half_file(tmp_path):
    target = tmp_path / "big.json"
    code = textwrap.dedent(f"""
        import time
        from hearme.core import io
        with io.atomic_open({str(target)!r}) as fh:
            fh.write("[" + "1," * 100000)
            fh.flush()
            print("writing", flush=True)
            time.sleep(30)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not target.exists()


def test_malformed_json_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('[\n {"messages": []},\n {"messages": [}\n]', encoding="utf-8")
    with pytest.raises(io.InputError, match=r"bad.json: line 3 column \d+: invalid JSON"):
        io.load_records(bad)


def test_malformed_jsonl_names_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(rec(U, A), ensure_ascii=False) + "\n{oops\n", encoding="utf-8")
    with pytest.raises(io.InputError, match="bad.jsonl: line 2: invalid JSON"):
        io.load_records(bad)


def test_invalid_record_names_position(tmp_path):
    f = tmp_path / "r.json"
    io.write_records(f, [rec(U, A), rec(U, A)])
    data = json.loads(f.read_text())
    data[1]["messages"].append(U)
    f.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(io.InputError, match="record 1: dialogue ends on a user turn"):
        io.load_records(f)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_read_text_detects_encodings(tmp_path, encoding):
    f = tmp_path / "t.txt"
    f.write_bytes("来访者：我很焦虑。".encode(encoding))
    text, enc = io.read_text(f)
    assert text == "来访者：我很焦虑。"
    assert enc == {"utf-8": "utf-8", "utf-8-sig": "utf-8-bom", "gb18030": "gb18030"}[encoding]


def test_binary_is_rejected(tmp_path):
    f = tmp_path / "b.json"
    f.write_bytes(b"\x89PNG\x00\x00\x01\x02")
    with pytest.raises(io.InputError, match="binary"):
        io.read_json(f)


def test_tally_balances_and_writes_rejects(tmp_path):
    t = io.Tally()
    t.read, t.written = 3, 2
    t.reject("in.json", "record 2", "dialogue ends on a user turn", raw={"x": "y" * 10000})
    assert t.balanced and t.summary() == "read=3 written=2 rejected=1"
    side = t.write_rejects(tmp_path / "out.json")
    assert side.name == "out.rejected.jsonl"
    row = json.loads(side.read_text())
    assert row["position"] == "record 2" and row["raw_truncated_from"] > len(row["raw"])


def test_sharegpt_writer(tmp_path):
    io.write_records(tmp_path / "s.json", [rec(S, U, A)], sharegpt=True)
    row = json.loads((tmp_path / "s.json").read_text())[0]
    assert "messages" not in row and row["conversations"][0] == {"from": "human", "value": "你好"}


# ------------------------------------------------------------------ registry

def test_register_adds_and_updates(tmp_path):
    io.write_records(tmp_path / "a.json", [rec(U, A)] * 3)
    e = registry.register(tmp_path / "a.json", "a", tmp_path, source="test", license="CC0")
    assert e["formatting"] == "sharegpt" and e["file_name"] == "a.json" and e["records"] == 3
    assert e["tags"]["role_tag"] == "role" and e["license"] == "CC0"
    io.write_records(tmp_path / "a.json", [rec(U, A)] * 5)
    assert registry.register(tmp_path / "a.json", "a", tmp_path)["records"] == 5
    assert list(registry.load(tmp_path)) == ["a"]


def test_register_never_uses_openai_formatting(tmp_path):
    io.write_records(tmp_path / "s.jsonl", [rec(S, U, A)], sharegpt=True)
    e = registry.register(tmp_path / "s.jsonl", "s", tmp_path)
    assert e["formatting"] == "sharegpt" and e["columns"] == {"messages": "conversations", "system": "system"}


def test_register_refuses_invalid_records(tmp_path):
    io.write_json(tmp_path / "bad.json", [rec(U, A), rec(U)])
    with pytest.raises(io.InputError, match="record 1"):
        registry.register(tmp_path / "bad.json", "bad", tmp_path)
    assert not registry.registry_path(tmp_path).exists()


def test_unknown_name_lists_known(tmp_path):
    io.write_records(tmp_path / "a.json", [rec(U, A)])
    registry.register(tmp_path / "a.json", "alpha", tmp_path)
    with pytest.raises(io.HearMeError, match="unknown dataset 'beta'.*known: alpha"):
        registry.require("alpha,beta", dataset_dir=tmp_path)


# ------------------------------------------------------------------ CLI errors are one line

def test_cli_register_and_errors(tmp_path):
    io.write_records(tmp_path / "a.json", [rec(U, A)] * 2)
    ok = run_hearme("register", tmp_path / "a.json", "--name", "a", "--dataset-dir", tmp_path)
    assert ok.returncode == 0 and "registered a: 2 records" in ok.stdout
    (tmp_path / "bad.json").write_text("[{]", encoding="utf-8")
    bad = run_hearme("register", tmp_path / "bad.json", "--name", "b", "--dataset-dir", tmp_path)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip().startswith("error:") and "bad.json: line 1" in bad.stderr
    unk = run_hearme("datasets", "zzz", "--dataset-dir", tmp_path)
    assert unk.returncode == 2 and "known: a" in unk.stderr


def test_help_reads_well():
    out = run_hearme("--help")
    assert out.returncode == 0
    for cmd in ("tiny-model", "register", "demo"):
        assert cmd in out.stdout
