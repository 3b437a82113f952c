"""The second planted PII set (issue #21 item 6) and `--pii surrogate`."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict

import pytest

from hearme.converters.pii_rules import luhn_ok
from hearme.converters.scrub import evaluate, scrub_records, scrub_text
from hearme.core import io
from tests.conftest import FIXTURES, run_hearme

ROWS = [json.loads(line) for line in (FIXTURES / "pii" / "planted_v2.jsonl").read_text(encoding="utf-8").splitlines()]


def _cases(rows):
    return [(r["text"], [tuple(p) for p in r["pii"]]) for r in rows]


def _totals(result):
    found = sum(round(r["recall"] * r["planted"]) for r in result.values())
    right = sum(round(r["precision"] * r["flagged"]) for r in result.values())
    return found / sum(r["planted"] for r in result.values()), right / max(1, sum(r["flagged"] for r in result.values()))


def test_planted_v2_recall_and_precision():
    """>= 95% recall and precision overall on the set written from the issue's miss descriptions;
    every miss category mostly found, every kind precise (benchmarks/bench_scrub.py prints the table)."""
    cats = Counter(r["cat"] for r in ROWS)
    assert sum(not r["pii"] for r in ROWS) >= 60 and all(n >= 10 for c, n in cats.items() if not c.startswith(("neg_", "mixed")))
    result = evaluate(_cases(ROWS))
    misses = result.pop("_misses")
    recall, precision = _totals(result)
    assert recall >= 0.95 and precision >= 0.95, misses
    assert all(r["precision"] >= 0.95 for r in result.values()), misses
    by_cat = defaultdict(list)
    for r in ROWS:
        by_cat[r["cat"]].append(r)
    for cat, rows in by_cat.items():
        res = evaluate(_cases(rows))
        res.pop("_misses")
        if not cat.startswith(("neg_", "mixed")):  # mixed: 3 rows, too few for a rate
            assert _totals(res)[0] >= 0.85, cat
        elif cat != "mixed":
            assert not any(r["flagged"] for r in res.values()), (cat, res)


def _dialogue(i: int, turns: list[str]) -> dict:
    msgs = []
    for t in turns:
        msgs += [{"role": "user", "content": t}, {"role": "assistant", "content": "嗯，我在听。"}]
    return {"messages": msgs, "id": f"d{i}", "source": "t", "lang": "zh", "topic": ""}


DIALOGUES = [
    _dialogue(0, ["我叫李国强，电话13912345678。", "我婆婆王桂兰总说我。", "李国强这个名字是我爸取的，王桂兰不喜欢。"]),
    _dialogue(1, ["我的卡号 6222 0212 3456 7898，邮箱 lily.wang at gmail dot com", "q号 384756291，微信叫 sunny_1998",
                  "身份证 110101199003071237，我住在海淀区清河小区5号楼2门301。"]),
    _dialogue(2, ["我叫 Kevin，我同事张伟老欺负我。", "张伟昨天又骂我了。", "没有别的了。"]),
]
ORIGINALS = ["李国强", "13912345678", "王桂兰", "6222 0212 3456 7898", "lily.wang at gmail dot com", "384756291",
             "sunny_1998", "110101199003071237", "海淀区清河小区5号楼2门301", "Kevin", "张伟"]


@pytest.fixture(scope="module")
def fakes():
    tally = io.Tally()
    return scrub_records(DIALOGUES, tally, mode="surrogate", seed=3), tally


def test_surrogates_consistent_across_turns_and_no_original_leaks(fakes):
    out, tally = fakes
    text = json.dumps(out, ensure_ascii=False)
    assert not [o for o in ORIGINALS if o in text]
    assert "[" not in "".join(m["content"] for r in out for m in r["messages"])  # no tags
    u0 = [m["content"] for m in out[0]["messages"] if m["role"] == "user"]
    name, mother = u0[0][2:5], u0[1][3:6]  # the fakes of 李国强 and 王桂兰
    assert u0[2] == f"{name}这个名字是我爸取的，{mother}不喜欢。" and name != mother
    u2 = [m["content"] for m in out[2]["messages"] if m["role"] == "user"]
    colleague = re.search(r"同事(.+?)老欺负", u2[0]).group(1)
    assert u2[1].startswith(colleague + "昨天") and len(colleague) == 2
    assert all(r["pii"] == "surrogate" for r in out) and tally.notes["pii NAME"] >= 5


def test_surrogates_keep_the_kind(fakes):
    out, _ = fakes
    u0 = "".join(m["content"] for m in out[0]["messages"])
    assert re.search(r"电话1[3-9]\d0000\d{4}", u0)
    u1 = "".join(m["content"] for m in out[1]["messages"])
    card = re.search(r"卡号 (\d{4} \d{4} \d{4} \d{4})", u1).group(1)
    assert luhn_ok(card.replace(" ", "")) and card.startswith("4000")
    assert re.search(r"邮箱 [a-z]+\.[a-z]+\d\d@example\.(com|org|net)", u1)
    assert re.search(r"q号 [1-9]\d{8}", u1) and re.search(r"微信叫 [a-z]+_[a-z]+\d+", u1)
    ident = re.search(r"身份证 (\d{17}[\dX])", u1).group(1)
    assert ident.startswith("99") and 1960 <= int(ident[6:10]) <= 2005
    assert re.search(r"住在\w+区\w+\d+号楼\d单元\d+室", u1)
    u2 = "".join(m["content"] for m in out[2]["messages"])
    assert re.search(r"我叫 [A-Z][a-z]+，", u2)


def test_surrogates_deterministic_and_tags_unchanged(fakes):
    out, _ = fakes
    assert scrub_records(DIALOGUES, mode="surrogate", seed=3) == out
    assert scrub_records(DIALOGUES, mode="surrogate", seed=4) != out
    tags = scrub_records(DIALOGUES)
    assert tags == scrub_records(DIALOGUES, mode="tags")
    assert [m["content"] for r in tags for m in r["messages"]] == [scrub_text(m["content"])[0] for r in DIALOGUES
                                                                   for m in r["messages"]]
    assert all("pii" not in r for r in tags)
    with pytest.raises(ValueError, match="tags, surrogate"):
        scrub_records(DIALOGUES, mode="fake")


def test_cli_pii_surrogate_scrub_convert_and_card(tmp_path):
    from hearme.converters import card
    from hearme.converters.cli import _pii_mode

    src = io.write_json(tmp_path / "in.json", DIALOGUES)
    run_hearme("scrub", src, "-o", tmp_path / "s.json", "--pii", "surrogate", "--seed", "3", check=True)
    assert json.loads((tmp_path / "s.json").read_text()) == scrub_records(DIALOGUES, mode="surrogate", seed=3)
    run_hearme("convert", "records", src, "-o", tmp_path / "c.json", "--pii", "surrogate", check=True)
    conv = json.loads((tmp_path / "c.json").read_text())
    assert all(r["pii"] == "surrogate" for r in conv) and "李国强" not in json.dumps(conv, ensure_ascii=False)
    with pytest.raises(io.HearMeError, match="expected tags or surrogate"):
        _pii_mode("fake")
    assert card._pii_mode(conv) == "surrogates (3 records)"
    assert card._pii_mode(scrub_records(DIALOGUES)) == "tags (3 records hold one)"


def test_batch_gate_finds_what_the_patterns_find_on_v2():
    """The vectorised gate (new rules: sentence starts, 我叫 + Latin, Q + digits) hides nothing."""
    texts = [r["text"] for r in ROWS] + ["好的。" + r["text"] for r in ROWS if r["cat"] == "name_sentence_start"]
    records = [{"messages": [{"role": "user", "content": t}, {"role": "assistant", "content": "嗯。"}], "id": str(i)}
               for i, t in enumerate(texts)]
    assert [r["messages"][0]["content"] for r in scrub_records(records)] == [scrub_text(t)[0] for t in texts]


@pytest.mark.parametrize("mode", ["tags", "surrogate"])
def test_identity_items_keep_the_configured_name_while_a_client_s_is_scrubbed(tmp_path, mode):
    """我叫Kevin from a client is personal data; 我叫Jerry in a self-cognition item is the identity."""
    from hearme import converters

    assert scrub_text("你好，我叫Kevin，最近总是失眠。")[0] != "你好，我叫Kevin，最近总是失眠。"
    items = tmp_path / "identity.json"
    items.write_text(json.dumps([{"instruction": "你叫什么名字", "input": "", "output": "我叫<NAME>，由<AUTHOR>开发。"}],
                                ensure_ascii=False), encoding="utf-8")
    records, tally = converters.run("self-cognition", [items], scrub=mode, name="Jerry", author="Kevin Zhang")
    assert records[0]["messages"][1]["content"] == "我叫Jerry，由Kevin Zhang开发。"
    assert tally.read == tally.written == 1
