"""A mutator for hostile-input tests: our own small source files of every format, and mutated copies.

    for case in cases("smile"):          # >= 50 per format, deterministic
        case.build(folder)               # writes the mutated file(s); returns the path to convert

Categories: truncation, invalid UTF-8, GBK, BOM, NUL bytes, zero-width and RTL characters, control
characters, lone surrogates, wrong JSON types, duplicate keys, deep nesting, huge numbers, huge
fields, empty files, wrong top levels, and mixed folders (hidden files, other suffixes, sub-folders,
broken/looping symbolic links, FIFOs, folders named like files, file names that are not UTF-8).
The sentences are ours. `tests/converters/test_hostile_inputs.py` runs them; `benchmarks/mutation_matrix.py`
runs the same categories over copies of the real upstream files.
"""

from __future__ import annotations

import contextlib
import copy
import io as sysio
import json
import os
import random
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

# ---------------------------------------------------------------- base documents (our own sentences)

TXT = "来访者：我最近总是失眠。\n\n心理咨询师：失眠多久了？能说说吗？\n\n来访者：大概两周，工作压力很大。\n\n心理咨询师：我们一起看看压力从哪里来。\n"
BASE = {
    "cpsycound": TXT,
    "cpsycoune": ["求助者：我和室友相处不好。", "支持者：听起来你很困扰。", "求助者：她总是很晚回来。", "支持者：我们想想怎么沟通。"],
    "smile": [{"role": "client", "content": "我考试没考好。"}, {"role": "counselor", "content": "你一定很失落。"},
              {"role": "client", "content": "是的，很难过。"}, {"role": "counselor", "content": "愿意说说吗？"}],
    "emollm": [{"conversation": [{"system": "你是一位心理咨询师。", "input": "我压力好大。", "output": "我听到了你的压力。"},
                                 {"input": "该怎么办？", "output": "我们先一起列出让你有压力的事。"}]},
               {"conversation": [{"input": "最近心情很差。", "output": "能说说发生了什么吗？"}]}],
    "psyqa": [{"questionID": 7, "question": "怎样才能不再焦虑", "description": "每天都担心很多事", "keywords": "情绪,焦虑",
               "answers": [{"answer_text": "楼主你好，可以先试试深呼吸。"}, {"answer_text": "写下担心的事会有帮助。"}]}],
    "firefly": [{"conversation_id": 1, "category": "情绪", "conversation": [{"human": "我很孤单。", "assistant": "我在这里陪你。"}]},
                {"conversation_id": 2, "conversation": [{"human": "ང་སེམས་སྡུག་ཡོད།", "assistant": "ང་ཁྱེད་ལ་ཉན་གྱི་ཡོད།"}]}],
    "self-cognition": [{"instruction": "你是谁？", "input": "", "output": "我是<NAME>，由<AUTHOR>开发的心理支持助手。"},
                       {"instruction": "Who built you?", "input": "", "output": "{{author}} built me; I am {{name}}."}],
    "records": [{"messages": [{"role": "user", "content": "我睡不着。"}, {"role": "assistant", "content": "我们聊聊吧。"}],
                 "id": "m1", "source": "mine", "lang": "zh", "topic": ""},
                {"messages": [{"role": "user", "content": "谢谢你。", "weight": 1},
                              {"role": "assistant", "content": "不客气。", "weight": "high"}], "id": "m2"}],
}
SUFFIX = {"cpsycound": ".txt", "firefly": ".jsonl"}
JSONL = {"firefly"}
FORMATS = sorted(BASE)


def suffix(fmt: str) -> str:
    return SUFFIX.get(fmt, ".json")


def encode(fmt: str, obj) -> bytes:
    """A document as the bytes of its format (JSONL: one object per line)."""
    if isinstance(obj, str) and fmt == "cpsycound":
        return obj.encode("utf-8")
    if fmt in JSONL and isinstance(obj, list):
        return "".join(json.dumps(o, ensure_ascii=False) + "\n" for o in obj).encode("utf-8")
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


# ---------------------------------------------------------------- cases

@dataclass
class Case:
    fmt: str
    name: str
    make: Callable[[Path], Path]  # writes into a fresh folder, returns what to convert (a file or the folder)
    folder_only: bool = False  # a folder case: only converted as a folder

    def build(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        return self.make(folder)

    @property
    def id(self) -> str:
        return f"{self.fmt}:{self.name}"


def _file(fmt: str, data: bytes) -> Callable[[Path], Path]:
    def make(folder: Path) -> Path:
        path = folder / f"case{suffix(fmt)}"
        path.write_bytes(data)
        return path
    return make


def _strings(obj, path=()):
    """Paths to every string value in a JSON document."""
    if isinstance(obj, str):
        yield path
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _strings(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _strings(v, path + (i,))


def _leaves(obj, path=()):
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield path + (k,)
            yield from _leaves(v, path + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield path + (i,)
            yield from _leaves(v, path + (i,))


def _set(obj, path, value):
    obj = copy.deepcopy(obj)
    if not path:
        return value
    parent = obj
    for p in path[:-1]:
        parent = parent[p]
    parent[path[-1]] = value
    return obj


def _get(obj, path):
    for p in path:
        obj = obj[p]
    return obj


def _bytes_cases(fmt: str, good: bytes, rng: random.Random) -> list[tuple[str, bytes]]:
    text = good.decode("utf-8")
    out = [(f"truncated {k}/8", good[: len(good) * k // 8]) for k in range(1, 8)]
    cut = next(i for i in range(len(good)) if good[i] >= 0x80) + 1  # inside a multi-byte character
    out += [("truncated mid-character", good[:cut]), ("last byte missing", good[:-1])]
    for k in range(3):
        at = rng.randrange(1, len(good) - 1)
        out.append((f"invalid UTF-8 byte at {at}", good[:at] + bytes([rng.choice([0xff, 0xfe, 0xc0, 0x80])]) + good[at:]))
    out += [("CESU-8 surrogate bytes", good[:5] + b"\xed\xa0\x80" + good[5:]),
            ("GBK", text.encode("gbk", "replace")), ("GB18030 with a flipped byte", _flip(text.encode("gb18030"), rng)),
            ("UTF-8 BOM", b"\xef\xbb\xbf" + good), ("BOM and CRLF", b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode()),
            ("double BOM", b"\xef\xbb\xbf\xef\xbb\xbf" + good), ("UTF-16 LE with BOM", text.encode("utf-16")),
            ("UTF-16 BE without BOM", text.encode("utf-16-be")),
            ("NUL first", b"\x00" + good), ("NUL inside", good[:len(good) // 2] + b"\x00" + good[len(good) // 2:]),
            ("NUL last", good + b"\x00"), ("empty file", b""), ("whitespace only", b"  \n\t\n"),
            ("BOM only", b"\xef\xbb\xbf"), ("binary garbage", bytes(rng.randrange(256) for _ in range(1500))),
            ("gzip header", b"\x1f\x8b\x08\x00" + bytes(rng.randrange(256) for _ in range(200)))]
    return out


def _flip(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data))
    return data[:at] + bytes([data[at] ^ 0x80]) + data[at:]


INVISIBLE = {"zero-width space": "\u200b", "zero-width joiner": "\u200d", "BOM inside text": "\ufeff",
             "RTL override": "\u202e", "RTL mark": "\u200f", "soft hyphen": "\u00ad"}
CONTROLS = {"bell and escape": "\x07\x1b[31m", "form feed and vertical tab": "\x0c\x0b", "DEL": "\x7f",
            "line separator": "\u2028", "C1 control": "\u0085"}


def _text_cases(fmt: str, base, rng: random.Random) -> list[tuple[str, bytes]]:
    """Invisible characters, controls and escapes inside the texts."""
    out = []
    if fmt == "cpsycound":
        for name, ch in {**INVISIBLE, **CONTROLS}.items():
            out.append((name, base.replace("压力", f"压{ch}力").replace("心理咨询师：", f"{ch}心理咨询师：", 1).encode()))
        out.append(("text made only of invisible characters", "来访者：\u200b\u200b\n\n心理咨询师：\u200d\n".encode()))
        out.append(("speaker label with zero-width space", base.replace("来访者：", "来\u200b访者：", 1).encode()))
        return out
    strings = list(_strings(base))
    for name, ch in {**INVISIBLE, **CONTROLS}.items():
        path = rng.choice(strings)
        value = _get(base, path)
        out.append((f"{name} in {'/'.join(map(str, path))}", encode(fmt, _set(base, path, value[:2] + ch + value[2:]))))
    path = strings[0]
    out.append(("a text of only zero-width characters", encode(fmt, _set(base, path, "\u200b\u200d\ufeff"))))
    # Lone surrogates can only come from JSON escapes: splice the escape into the encoded text.
    raw = encode(fmt, base).decode("utf-8")
    first_text = _get(base, strings[0])
    for name, esc in [("lone high surrogate", "\\ud800"), ("lone low surrogate", "\\udfff"),
                      ("reversed surrogate pair", "\\ude00\\ud83d")]:
        out.append((name, raw.replace(first_text, first_text[:1] + esc + first_text[1:], 1).encode()))
    last_text = _get(base, strings[-1])
    out.append(("lone surrogate in the last text", raw.replace(last_text, "\\udbff" + last_text, 1).encode()))
    out.append(("valid surrogate pair escape", raw.replace(first_text, first_text + "\\ud83d\\ude00", 1).encode()))
    key = next(iter(base[0])) if isinstance(base, list) and isinstance(base[0], dict) else None
    if key:
        out.append(("lone surrogate in a key", raw.replace(f'"{key}"', '"x\\ud800"', 1).encode()))
    return out


def _json_cases(fmt: str, base, rng: random.Random) -> list[tuple[str, bytes]]:
    """Wrong types, duplicate keys, nesting, numbers, huge fields, wrong top levels."""
    out = []
    wrong = [None, 0, -1, 2.5, True, [], {}, ["x"], {"k": "v"}]
    leaves = list(_leaves(base))
    for path in rng.sample(leaves, min(8, len(leaves))):
        out.append((f"wrong type at {'/'.join(map(str, path))}", encode(fmt, _set(base, path, rng.choice(wrong)))))
    raw = encode(fmt, base).decode("utf-8")
    first_obj = raw.find("{")
    if first_obj >= 0:
        k = next(iter(_first_dict(base)))
        out.append(("duplicate key (later wins)", (raw[:first_obj + 1] + f'"{k}": 12, ' + raw[first_obj + 1:]).encode()))
        out.append(("duplicate key with another type", (raw[:first_obj + 1] + f'"{k}": ["a"], ' + raw[first_obj + 1:]).encode()))
    deep = "[" * 100_000 + "]" * 100_000
    out += [("nesting 100000 deep", deep.encode()),
            ("nesting 100000 deep in a field", raw.replace(json.dumps(_get(base, list(_strings(base))[0]), ensure_ascii=False), deep, 1).encode()),
            ("nesting 800 deep in a field", raw.replace(json.dumps(_get(base, list(_strings(base))[0]), ensure_ascii=False),
                                                        "[" * 800 + "]" * 800, 1).encode()),
            ("integer of 5000 digits", raw.replace(json.dumps(_get(base, list(_strings(base))[0]), ensure_ascii=False), "9" * 5000, 1).encode()),
            ("top-level integer of 5000 digits", ("7" * 5000).encode()),
            ("float 1e400", raw.replace(json.dumps(_get(base, list(_strings(base))[0]), ensure_ascii=False), "1e400", 1).encode()),
            ("NaN and Infinity", raw.replace(json.dumps(_get(base, list(_strings(base))[-1]), ensure_ascii=False), "NaN", 1)
             .replace(json.dumps(_get(base, list(_strings(base))[0]), ensure_ascii=False), "-Infinity", 1).encode()),
            ("2 MB field", encode(fmt, _set(base, list(_strings(base))[-1], "长" * (2 * 1024 * 1024 // 3)))),
            ("2000 copies", encode(fmt, (base if isinstance(base, list) else [base]) * 1000)),
            ("trailing comma", _trailing_comma(fmt, raw).encode()),
            ("a comment line", ("// my data\n" + raw).encode()),
            ("single quotes", raw.replace('"', "'").encode())]
    for top in ({}, "text", 42, None, [], [[]], [None], {"data": base}):
        out.append((f"top level {json.dumps(top)[:12]}", json.dumps(top).encode()))
    if fmt in JSONL:
        out.append(("a JSON array in a .jsonl file", json.dumps(base, ensure_ascii=False).encode()))
    else:
        out.append(("JSON Lines in a .json file", "".join(json.dumps(o, ensure_ascii=False) + "\n"
                                                         for o in (base if isinstance(base, list) else [base])).encode()))
    return out


def _trailing_comma(fmt: str, raw: str) -> str:
    if fmt in JSONL:
        return raw + "{},\n"
    raw = raw.rstrip()
    return raw[:-1] + "," + raw[-1]


def _first_dict(obj):
    if isinstance(obj, dict):
        return obj
    for v in obj:
        if isinstance(v, (dict, list)):
            found = _first_dict(v)
            if found:
                return found
    return {}


def _speaker_cases(base: str) -> list[tuple[str, bytes]]:
    return [("other speaker", (base + "\n妈妈：早点睡。\n").encode()), ("only stage directions", "（沉默）\n".encode()),
            ("counselor only", "心理咨询师：你好。\n".encode()), ("half-width colons", base.replace("：", ":").encode()),
            ("one 1 MB line", ("来访者：" + "累" * 350_000 + "\n\n心理咨询师：嗯。\n").encode()),
            ("100000 blank lines", ("\n" * 100_000 + base).encode()), ("CR line ends", base.replace("\n", "\r").encode())]


# ---------------------------------------------------------------- mixed folders

def _folder_cases(fmt: str, good: bytes) -> list[Case]:
    sfx = suffix(fmt)

    def mixed(folder: Path) -> Path:
        (folder / f"a{sfx}").write_bytes(good)
        (folder / f"b{sfx}").write_bytes(good[: len(good) // 2])
        (folder / "notes.md").write_text("not data", encoding="utf-8")
        (folder / f".hidden{sfx}").write_bytes(b"{")
        (folder / "sub" / "deeper").mkdir(parents=True)
        (folder / "sub" / "deeper" / f"c{sfx}").write_bytes(good)
        (folder / f"empty{sfx}").write_bytes(b"")
        return folder

    def links(folder: Path) -> Path:
        (folder / f"a{sfx}").write_bytes(good)
        os.symlink(folder / f"missing{sfx}", folder / f"dangling{sfx}")
        os.symlink(folder / f"self{sfx}", folder / f"self{sfx}")
        os.symlink(folder / f"a{sfx}", folder / f"alias{sfx}")
        os.symlink(folder, folder / "loop")
        os.symlink("nowhere", folder / "broken_dir")
        return folder

    def odd_entries(folder: Path) -> Path:
        (folder / f"a{sfx}").write_bytes(good)
        os.mkfifo(folder / f"pipe{sfx}")
        (folder / f"dir_named_like_a_file{sfx}").mkdir()
        (folder / f"dir_named_like_a_file{sfx}" / f"inner{sfx}").write_bytes(good)
        return folder

    def undecodable_name(folder: Path) -> Path:
        os.close(os.open(os.fsencode(folder) + b"/bad\xff\xfename" + sfx.encode(), os.O_CREAT | os.O_WRONLY, 0o644))
        with open(os.fsencode(folder) + b"/bad\xff\xfename" + sfx.encode(), "wb") as fh:
            fh.write(good)
        return folder

    def many_formats(folder: Path) -> Path:
        for other, base in BASE.items():
            (folder / f"from_{other.replace('-', '_')}{sfx}").write_bytes(encode(other, base))
        return folder

    def surrogate_named_twin(folder: Path) -> Path:
        (folder / "x").mkdir()
        (folder / "y").mkdir()
        (folder / "x" / f"same{sfx}").write_bytes(good)
        (folder / "y" / f"same{sfx}").write_bytes(good)
        return folder

    return [Case(fmt, name, make, folder_only=True) for name, make in
            [("mixed folder", mixed), ("symbolic links", links), ("FIFO and folder named like a file", odd_entries),
             ("file name not UTF-8", undecodable_name), ("every format in one folder", many_formats),
             ("same file name in two sub-folders", surrogate_named_twin)]]


def cases(fmt: str, seed: int = 13, base=None) -> list[Case]:
    """Every mutation of `base` (default: our own small document of the format)."""
    rng = random.Random(f"{fmt}-{seed}")
    base = BASE[fmt] if base is None else base
    good = encode(fmt, base)
    raw = [("unchanged", good)] + _bytes_cases(fmt, good, rng) + _text_cases(fmt, base, rng)
    raw += _speaker_cases(base) if fmt == "cpsycound" else _json_cases(fmt, base, rng)
    return [Case(fmt, name, _file(fmt, data)) for name, data in raw] + _folder_cases(fmt, good)


def run_cli(*args, catch: bool = False) -> tuple[int, str, str, str | None]:
    """`hearme ARGS` in this process: (exit code, stdout, stderr, traceback). With `catch`, an
    exception escaping main is exit -1 with its traceback; otherwise it propagates."""
    from hearme.cli import main

    out, err = sysio.StringIO(), sysio.StringIO()
    tb = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:  # noqa: BLE001 - what the mutation matrix counts
            if not catch:
                raise
            code, tb = -1, traceback.format_exc()
    return code, out.getvalue(), err.getvalue(), tb
