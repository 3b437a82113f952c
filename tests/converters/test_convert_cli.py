"""The `hearme convert / select / dedup / split / stats` contract, through the real CLI."""

from __future__ import annotations

import json

import pytest

from hearme.core import io, registry
from tests.conftest import FIXTURES, run_hearme

FIX = FIXTURES / "converters"

CASES = [("cpsycound", "cpsycound", (4, 3, 1)), ("cpsycoune", "cpsycoune", (2, 2, 0)), ("smile", "smile", (3, 2, 1)),
         ("emollm", "emollm", (4, 4, 0)), ("psyqa", "psyqa/questions.json", (3, 3, 0)),
         ("firefly", "firefly/tibetan.jsonl", (3, 3, 0))]


@pytest.mark.parametrize("fmt,rel,counts", CASES, ids=[c[0] for c in CASES])
def test_convert_contract(tmp_path, fmt, rel, counts):
    out = tmp_path / f"{fmt}.json"
    proc = run_hearme("convert", fmt, FIX / rel, "-o", out)
    assert proc.returncode == 0, proc.stderr
    read, written, rejected = counts
    assert proc.stdout.strip().splitlines()[-1] == f"read={read} written={written} rejected={rejected}"
    data = json.loads(out.read_text(encoding="utf-8"))
    assert isinstance(data, list) and all("messages" in r for r in data)
    rej = [json.loads(line) for line in io.rejected_path(out).read_text().splitlines()]
    assert len(rej) == rejected
    for row in rej:
        assert row["file"] and row["position"] and row["reason"]
    assert "Traceback" not in proc.stderr


def test_convert_sharegpt_and_register(tmp_path):
    out = tmp_path / "data" / "smile.json"
    proc = run_hearme("convert", "smile", FIX / "smile", "-o", out, "--sharegpt", "--register", "smile_fx",
                      "--dataset-dir", tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    assert data[0]["conversations"][0]["from"] == "human" and "messages" not in data[0]
    entry = registry.load(tmp_path)["smile_fx"]
    assert entry["file_name"] == "data/smile.json" and entry["records"] == 2
    assert entry["columns"]["messages"] == "conversations" and entry["source"] == "SMILE"


def test_self_cognition_cli_options(tmp_path):
    proc = run_hearme("convert", "self-cognition", "-o", tmp_path / "s.json", "--name", "小安", "--author", "心语实验室",
                      "--template", FIX / "self_cognition" / "identity_angle.json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "read=2 written=2 rejected=0"
    text = (tmp_path / "s.json").read_text()
    assert "小安" in text and "心语实验室" in text and "<NAME>" not in text
    # An identity file given as INPUT works the same as --template.
    proc = run_hearme("convert", "self-cognition", FIX / "self_cognition", "-o", tmp_path / "all.json")
    assert proc.stdout.strip().splitlines()[-1] == "read=8 written=7 rejected=1"


@pytest.mark.parametrize("args,needle", [
    (["convert", "psyqa", "/no/such/file.json"], "no such file"),
    (["convert", "nosuchformat", "x"], "unknown format"),
    (["convert", "smile"], "at least one INPUT"),
])
def test_convert_fails_with_one_line(tmp_path, args, needle):
    proc = run_hearme(*args, "-o", tmp_path / "o.json")
    assert proc.returncode != 0
    err = proc.stderr.strip().splitlines()
    assert needle in err[-1] and "Traceback" not in proc.stderr


def test_unreadable_named_file_fails_but_unreadable_file_in_folder_is_a_rejection(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.json").write_text(json.dumps([{"role": "client", "content": "你好"},
                                                  {"role": "counselor", "content": "你好，想聊点什么？"}]), encoding="utf-8")
    (folder / "broken.json").write_text('[{"role": "client", "content": "你', encoding="utf-8")
    proc = run_hearme("convert", "smile", folder / "broken.json", "-o", tmp_path / "a.json")
    assert proc.returncode == 2 and "broken.json" in proc.stderr and "invalid JSON" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = run_hearme("convert", "smile", folder, "-o", tmp_path / "b.json")
    assert proc.returncode == 0
    assert proc.stdout.strip().splitlines()[-1] == "read=2 written=1 rejected=1"
    row = json.loads(io.rejected_path(tmp_path / "b.json").read_text())
    assert row["file"].endswith("broken.json") and "invalid JSON" in row["reason"]


def test_select_emoji_and_per_topic(tmp_path):
    run_hearme("convert", "emollm", FIX / "emollm", "-o", tmp_path / "e.json", check=True)
    proc = run_hearme("select", tmp_path / "e.json", "--emoji", "-o", tmp_path / "emoji.json")
    assert proc.returncode == 0, proc.stderr
    chosen = json.loads((tmp_path / "emoji.json").read_text())
    assert [r["id"] for r in chosen] == ["emollm/emoji_roleplay/0", "emollm/emoji_roleplay/1"]
    run_hearme("convert", "cpsycoune", FIX / "cpsycoune", "-o", tmp_path / "c.json", check=True)
    proc = run_hearme("select", tmp_path / "c.json", "--per-topic", "1", "--seed", "3", "-o", tmp_path / "seed.json")
    assert proc.returncode == 0 and len(json.loads((tmp_path / "seed.json").read_text())) == 2


def test_dedup_split_stats_chain(tmp_path):
    run_hearme("convert", "psyqa", FIX / "psyqa", "-o", tmp_path / "p.json", check=True)
    run_hearme("convert", "smile", FIX / "smile", "-o", tmp_path / "s.json", check=True)
    proc = run_hearme("dedup", tmp_path / "p.json", tmp_path / "s.json", tmp_path / "p.json", "-o", tmp_path / "all.json")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "read=8 written=5 rejected=3"
    removed = [json.loads(x) for x in (tmp_path / "all.removed.jsonl").read_text().splitlines()]
    assert {r["reason"] for r in removed} == {"exact"} and removed[0]["duplicate_of"] == "psyqa/9001/a0"
    proc = run_hearme("split", tmp_path / "all.json", "--ratios", "60/40", "--name", "mix", "--dataset-dir", tmp_path)
    assert proc.returncode == 0, proc.stderr
    info = registry.load(tmp_path)
    assert {"mix_train", "mix_test"} <= info.keys()
    assert info["mix_train"]["records"] + info["mix_test"]["records"] == 5
    proc = run_hearme("split", tmp_path / "all.json", "--kfold", "2", "--name", "mix", "--out-dir", tmp_path / "cv",
                      "--dataset-dir", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert {"mix_fold0_train", "mix_fold0_test", "mix_fold1_train", "mix_fold1_test"} <= registry.load(tmp_path).keys()
    proc = run_hearme("stats", tmp_path / "p.json", "mix_train", "-o", tmp_path / "card", "--dataset-dir", tmp_path)
    assert proc.returncode == 0, proc.stderr
    card = (tmp_path / "card" / "card.md").read_text()
    assert "| p |" in card and "| mix_train |" in card and "PsyQA (non-commercial, no redistribution)" in card
    assert len(list((tmp_path / "card").glob("*.png"))) == 4
