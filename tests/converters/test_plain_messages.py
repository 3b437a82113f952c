"""The common-case fast path (common.plain_messages) must give what the general path gives: the same
records and the same tally, for every dialogue shape, including the ones it hands back."""

from __future__ import annotations

import json
import random

import pytest

from hearme.converters import common, run
from hearme.converters import smile as smile_module

PIECES = ["我最近睡不好。", "谢谢你告诉我", "  前后有空格  ", "（微笑）", "(沉默)", "咨询师：你好", "来访者:我在",
          "e\u0301", "\u0301开头", "零\u200b宽", "全角\u3000空格", "换行\n\n\n多", "\r\n回车", "", "   ", "😊🙏",
          "我叫李明", "电话13912345678", "。张伟说", "ok", "求助者：后面的话"]
CLEAN = [" 我在想", "好的 ", "嗯\n", "我最近睡不好。", "谢谢你告诉我", "我在：这里", "我叫李明", "电话13912345678", "。张伟说", "😊🙏", "ok"]
ROLES = ["client", "counselor", "user", "assistant", "seeker", "supporter"]


def _dialogue(rng: random.Random) -> list:
    n = rng.choice([0, 1, 2, 2, 4, 4, 6, 7, 8])
    turns = []
    for k in range(n):
        role = rng.choice(ROLES) if rng.random() < 0.1 else ("client" if k % 2 == 0 else "counselor")
        content = "".join(rng.choice(PIECES if rng.random() < 0.15 else CLEAN) for _ in range(rng.randint(1, 3)))
        if rng.random() < 0.03:
            content = rng.choice([None, 5, ["list"]])
        turns.append({"role": role, "content": content})
    return turns


def _convert(folder, fast: bool, monkeypatch):
    if not fast:
        monkeypatch.setattr(smile_module, "plain_messages", lambda roles, contents, note: None)
    try:
        return run("smile", [folder], scrub=True, workers=1)
    finally:
        monkeypatch.undo()


def test_the_fast_path_gives_what_the_general_path_gives(tmp_path, monkeypatch):
    rng = random.Random(7)
    folder = tmp_path / "smile"
    folder.mkdir()
    for i in range(600):
        (folder / f"{i}.json").write_text(json.dumps(_dialogue(rng), ensure_ascii=False), encoding="utf-8")
    taken = []
    real = common.plain_messages
    monkeypatch.setattr(smile_module, "plain_messages", lambda r, c, note: taken.append(real(r, c, note)) or taken[-1])
    fast, fast_tally = run("smile", [folder], scrub=True, workers=1)
    monkeypatch.undo()
    slow, slow_tally = _convert(folder, False, monkeypatch)
    assert fast == slow
    assert fast_tally.as_dict() == slow_tally.as_dict()
    used = sum(m is not None for m in taken)
    assert 50 < used < len(taken) - 50  # both paths were really taken, many times each


@pytest.mark.parametrize("contents,plain", [
    (["你好", "我在"], True),
    ([" 你好", "我在 "], True),  # stripped: the general path strips too
    (["你好（微笑）", "我在"], False),  # a stage direction: speech_turns decides
    (["你好", "咨询师：我在"], False),  # a speaker label
    (["你好", "我在：这里"], True),  # a colon that is no label
    (["e\u0301", "我在"], False),  # not NFC
    (["零\u200b宽", "我在"], False),  # a zero-width character
    (["你好", "   "], False),  # an empty turn
    (["你好", None], False),
    (["你好", "我在", "还有"], True),  # ends on the client: trimmed and counted
    (["你好", "我在", "还有（哭）"], False),  # ... but a stage direction, even there, is the general path's
    (["你好"], False),  # no counselor turn
])
def test_what_the_fast_path_takes(contents, plain):
    roles = [common.USER if k % 2 == 0 else common.ASSISTANT for k in range(len(contents))]
    assert (common.plain_messages(roles, contents) is not None) is plain
