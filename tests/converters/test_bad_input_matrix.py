"""Bad-input matrix: the record-level cases the mutation suite (tests/mutate.py) does not make.

The mutation suite owns the byte level (truncation, encodings, BOM, NUL, garbage), wrong top
levels, huge fields and the speaker cases it names. This matrix keeps what only it makes: every
key of every format missing, emptied and given a wrong type; lists duplicated, reversed, cut and
padded with junk; speaker layouts the suite lacks; a few format-specific breakages. For each file,
converting it either fails with one HearMeError line naming the file, or converts with
read == written + rejected and every rejection naming this file, the record and the reason.
Never a traceback. The same file inside a folder never fails the run. The bulk runs through the
Python API; a subset runs through the real CLI in a subprocess.
"""

from __future__ import annotations

import copy
import json
import random
from pathlib import Path

import pytest

from hearme.core import io, schema
from hearme.converters import run
from tests import mutate
from tests.conftest import run_hearme

BASE_TEXT = {
    "cpsycound": "来访者：我最近睡不好。\n\n心理咨询师：能说说睡不好的样子吗？\n\n来访者：总是半夜醒。\n继续想工作。\n\n心理咨询师：我们一起看看。\n",
}
BASE_JSON = {
    "cpsycoune": ["求助者：我很焦虑。", "支持者：我在听。", "求助者：工作太多了。", "支持者：我们一起理一理。"],
    "smile": [{"role": "client", "content": "我失恋了。"}, {"role": "counselor", "content": "一定很难受。"},
              {"role": "client", "content": "是的。"}, {"role": "counselor", "content": "想聊聊吗？"}],
    "emollm": [{"conversation": [{"system": "你是心理专家。", "input": "我很累。", "output": "辛苦了。"},
                                 {"input": "怎么办？", "output": "先休息一下。"}]},
               {"conversation": [{"input": "你好", "output": "你好呀"}]}],
    "psyqa": [{"questionID": 1, "question": "总是拖延怎么办", "description": "论文写不完", "keywords": "成长,拖延",
               "answers": [{"answer_text": "楼主你好，先拆小任务。", "has_label": False, "labels_sequence": []},
                           {"answer_text": "嗨，试试番茄钟。", "has_label": False, "labels_sequence": []}]}],
    "self-cognition": [{"instruction": "你是谁？", "input": "", "output": "我是{{name}}，由{{author}}开发。"},
                       {"instruction": "Who made you?", "input": "", "output": "<AUTHOR> made me, <NAME>."}],
    "records": [{"messages": [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好，想聊什么？"}],
                 "id": "r1", "source": "t", "lang": "zh", "topic": ""}],
}
BASE_JSONL = {
    "firefly": [{"conversation_id": 1, "category": "c", "conversation": [{"human": "我难过。", "assistant": "我在。"}]},
                {"conversation_id": 2, "conversation": [{"human": "ང་སྐྱིད་པོ་མེད།", "assistant": "ང་ཉན་གྱི་ཡོད།"}], "system": "s"}],
}
SUFFIX = {"cpsycound": ".txt", "firefly": ".jsonl"}
WRONG = [None, 7, 3.5, True, [], {}, ["x"], {"a": 1}]


def _keys(obj) -> list[tuple]:
    """Paths to every dict key in a JSON object (the mutation suite's leaves, list items left out)."""
    return [p for p in mutate._leaves(obj) if isinstance(p[-1], str)]


def _get_parent(obj, path):
    return mutate._get(obj, path[:-1])


def _structural(fmt, base, rng) -> list[tuple[str, object]]:
    """Missing keys, wrong types, empty turns, non-alternating roles."""
    cases = []
    for path in _keys(base):
        name = "/".join(map(str, path))
        m = copy.deepcopy(base)
        del _get_parent(m, path)[path[-1]]
        cases.append((f"missing {name}", m))
        m = copy.deepcopy(base)
        _get_parent(m, path)[path[-1]] = rng.choice(WRONG)
        cases.append((f"wrong type {name}", m))
        if isinstance(_get_parent(base, path)[path[-1]], str):
            m = copy.deepcopy(base)
            _get_parent(m, path)[path[-1]] = rng.choice(["", "   ", "\n\t"])
            cases.append((f"empty {name}", m))
    if isinstance(base, list) and base:
        cases.append(("non-alternating (duplicated item)", [base[0]] + copy.deepcopy(base)))
        cases.append(("reversed order", list(reversed(copy.deepcopy(base)))))
        cases.append(("list with junk items", copy.deepcopy(base) + [None, 5, "text", [1]]))
        cases.append(("only first item", copy.deepcopy(base[:1])))
    return cases


def _encode(fmt, obj) -> bytes:
    if fmt in BASE_JSONL:
        if isinstance(obj, list):
            return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in obj).encode()
        return (json.dumps(obj, ensure_ascii=False) + "\n").encode()
    return json.dumps(obj, ensure_ascii=False).encode()


def build_matrix() -> list[tuple[str, str, bytes]]:
    rng = random.Random(2024)
    cases = []
    for fmt, text in BASE_TEXT.items():
        lines = text.splitlines()
        for n, t in [("no speakers at all", "今天天气很好。\n我们去散步。\n"), ("only a client turn", "来访者：有人吗？\n"),
                     ("empty turns", "来访者：\n\n心理咨询师：\n"), ("A/B speakers", "A：你好\nB：你好\nA：再见\n"),
                     ("counselor first", "\n".join(lines[2:] + lines[:2])), ("preamble", "案例记录\n" + text),
                     ("tabs and spaces", text.replace("：", "：\t  "))]:
            cases.append((fmt, n, t.encode()))
    for fmt, base in {**BASE_JSON, **BASE_JSONL}.items():
        cases += [(fmt, n, _encode(fmt, m)) for n, m in _structural(fmt, base, rng)]
    cases += [("smile", "non-alternating roles", _encode("smile", [{"role": "counselor", "content": "你好"}] * 3)),
              ("smile", "unknown role", _encode("smile", [{"role": "doctor", "content": "你好"}])),
              ("firefly", "bad JSON line among good ones", _encode("firefly", BASE_JSONL["firefly"]) + b"{not json\n"),
              ("emollm", "system in a later turn", _encode("emollm", [{"conversation": [{"input": "a", "output": "b"},
                                                                                     {"system": "s", "input": "c", "output": "d"}]}]))]
    return cases


MATRIX = build_matrix()


def _check_ok(path: Path, records, tally) -> None:
    assert tally.balanced, tally.as_dict()
    for row in tally.rejects:
        assert row["file"] and Path(row["file"]).name == path.name
        assert row["position"] not in (None, "") and row["reason"]
    for rec in records:
        schema.validate(rec)


def test_matrix_size():
    assert len(MATRIX) >= 150
    assert {f for f, _, _ in MATRIX} >= {"cpsycound", "cpsycoune", "smile", "emollm", "psyqa", "firefly", "self-cognition"}


@pytest.mark.parametrize("fmt,name,data", MATRIX, ids=[f"{f}:{n}" for f, n, _ in MATRIX])
def test_mutated_input(tmp_path, fmt, name, data):
    folder = tmp_path / "in"
    folder.mkdir()
    path = folder / f"case{SUFFIX.get(fmt, '.json')}"
    path.write_bytes(data)
    # A named file: converts with balanced accounting, or fails with one line naming it.
    try:
        records, tally = run(fmt, [path], progress=False)
    except io.HearMeError as e:
        msg = str(e)
        assert str(path) in msg and "\n" not in msg
    else:
        _check_ok(path, records, tally)
    # The same file found in a folder never stops the run.
    records, tally = run(fmt, [folder], progress=False)
    _check_ok(path, records, tally)
    assert tally.read >= 1 or tally.notes["files with no records"] == 1


CLI_SUBSET = [c for c in MATRIX if c[1] in ("no speakers at all", "list with junk items", "reversed order", "unknown role",
                                             "bad JSON line among good ones", "system in a later turn")]


@pytest.mark.parametrize("fmt,name,data", CLI_SUBSET, ids=[f"{f}:{n}" for f, n, _ in CLI_SUBSET])
def test_mutated_input_cli(tmp_path, fmt, name, data):
    path = tmp_path / f"case{SUFFIX.get(fmt, '.json')}"
    path.write_bytes(data)
    out = tmp_path / "out.json"
    proc = run_hearme("convert", fmt, path, "-o", out)
    assert "Traceback" not in proc.stderr
    if proc.returncode == 0:
        last = proc.stdout.strip().splitlines()[-1]
        read, written, rejected = (int(x.split("=")[1]) for x in last.split())
        assert read == written + rejected
        assert len(json.loads(out.read_text())) >= written
        assert len(io.rejected_path(out).read_text().splitlines()) == rejected
    else:
        assert proc.returncode == 2
        lines = [x for x in proc.stderr.strip().splitlines() if not x.startswith(("convert", "\r"))]
        assert len(lines) == 1 and str(path) in lines[0], proc.stderr
