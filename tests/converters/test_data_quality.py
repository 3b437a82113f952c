"""Issue 10: what the converters write is speech only, with unique ids, and splits do not leak.

Every fixture here is our own writing, shaped like the quirks found in the full upstream releases.
"""

from __future__ import annotations

import json
import random

import pytest

from hearme.core import io, schema
from hearme.converters import run
from hearme.converters.common import INLINE_LABEL, speech
from hearme.converters.dedup import Corpus, dedup
from hearme.converters.split import openings, split_records

from tests.conftest import run_hearme


def _write(path, obj):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def _texts(records):
    return [m["content"] for r in records for m in r["messages"]]


# ---------------------------------------------------------------- speech only

def test_inline_labels_split_and_counted(tmp_path):
    emo = _write(tmp_path / "emo.json", [{"conversation": [
        {"input": "我最近总睡不着。", "output": "听起来你很累💖。 医生：我们先从作息聊起。\n\n医生：你几点上床？"},
        {"input": "十二点。", "output": "好的。病人：那我该怎么办？医生：先固定起床时间。"}]}])
    recs, tally = run("emollm", [emo], scrub=False)
    msgs = recs[0]["messages"]
    assert [m["role"] for m in msgs] == ["user", "assistant", "user", "assistant", "user", "assistant"]
    assert msgs[1]["content"] == "听起来你很累💖。\n我们先从作息聊起。\n你几点上床？"
    assert msgs[4]["content"] == "那我该怎么办？" and msgs[5]["content"] == "先固定起床时间。"
    assert tally.notes["speaker label removed"] == 2 and tally.notes["speaker label split into a new turn"] == 2
    assert not any(INLINE_LABEL.search(t) for t in _texts(recs))
    # a role word inside a sentence is speech, not a label
    assert speech("user", "我的咨询师：她说得对。") == [("user", "我的咨询师：她说得对。")]


def test_smile_rest_of_dialogue_in_one_message_and_empty_last_turn(tmp_path):
    folder = tmp_path / "smile"
    _write(folder / "1.json", [{"role": "client", "content": "我和室友闹翻了。支持者：发生了什么？求助者：她翻我东西。"
                                                              "支持者：这让你觉得被冒犯了。"}])
    _write(folder / "2.json", [{"role": "client", "content": "考试又没考好。"},
                               {"role": "counselor", "content": "你一定很失落。"},
                               {"role": "client", "content": " "}])
    recs, tally = run("smile", [folder], scrub=False)
    assert tally.summary() == "read=2 written=2 rejected=0"
    by = {r["id"]: r["messages"] for r in recs}
    assert [m["role"] for m in by["smile/1"]] == ["user", "assistant", "user", "assistant"]
    assert by["smile/1"][3]["content"] == "这让你觉得被冒犯了。"
    assert len(by["smile/2"]) == 2 and tally.notes["trailing client turn trimmed"] == 1


def test_narration_and_stage_directions_removed_from_every_format(tmp_path):
    narration = "（在后续的咨询中，心理咨询师引导来访者逐步面对内心的恐惧，并布置了每天记录情绪的作业，来访者的状态慢慢好转。）"
    cps = _write(tmp_path / "cps" / "case_1.txt",
                 f"来访者：我总是害怕见人。\n心理咨询师：我们慢慢来。\n{narration}\n心理咨询师：下次见。\n")
    recs, tally = run("cpsycound", [cps.parent], scrub=False)
    assert "后续" not in "".join(_texts(recs)) and recs[0]["messages"][-1]["content"] == "我们慢慢来。\n下次见。"
    assert tally.notes["narration removed"] == 1 and tally.notes["narration characters removed"] == len(narration)
    emo = _write(tmp_path / "emo.json", [{"conversation": [
        {"input": "（低着头）医生，我好难受。", "output": "（微笑）我在这里（表情：🤗）。（以上对话中，医生始终保持温和，引导病人表达。）"
                                                  "你可以说说（比如最近一周）发生了什么。"}]}])
    recs, tally = run("emollm", [emo], scrub=False)
    user, reply = recs[0]["messages"][0]["content"], recs[0]["messages"][1]["content"]
    assert user == "医生，我好难受。"
    assert reply == "我在这里🤗。你可以说说（比如最近一周）发生了什么。"  # the example aside is speech: kept
    assert tally.notes["stage direction removed"] == 3 and tally.notes["narration removed"] == 1


# ---------------------------------------------------------------- content rules

@pytest.mark.parametrize("invisible", ["\u200b", "\u200b\u200d\ufeff", "\u202e\u2066\u2069", " \u2060 \u061c ", "\u3164"])
def test_invisible_only_text_is_empty(invisible):
    rec = {"messages": [{"role": "user", "content": "你好"}, {"role": "assistant", "content": invisible}]}
    with pytest.raises(schema.InvalidRecord, match="empty"):
        schema.validate(rec)


def test_text_is_normalised_before_validation(tmp_path):
    fly = _write(tmp_path / "f.jsonl", "\n".join(json.dumps(x, ensure_ascii=False) for x in [
        {"conversation": [{"human": "我\u200b很\u200e难过\ufeff", "assistant": "cafe\u0301，我在。家人👨\u200d👩\u200d👧都在。"}]},
        {"conversation": [{"human": "你好", "assistant": "在的"}, {"human": "\u200b\u200c\u2066", "assistant": "嗯"}]}]))
    recs, tally = run("firefly", [fly], scrub=False)
    assert tally.summary() == "read=2 written=1 rejected=1"
    user, reply = recs[0]["messages"][0]["content"], recs[0]["messages"][1]["content"]
    assert user == "我很难过" and reply == "café，我在。家人👨\u200d👩\u200d👧都在。"  # NFC; emoji joiners kept
    assert tally.rejects[0]["reason"] == "turn 1 human is empty"


# ---------------------------------------------------------------- ids and formats

def test_ids_unique_across_same_stem_files_and_stable(tmp_path):
    item = {"conversation": [{"input": "你好", "output": "你好，想聊点什么？"}]}
    for folder in ("a", "b"):
        _write(tmp_path / folder / "data.json", [item, item])
    first, _ = run("emollm", [tmp_path / "a" / "data.json", tmp_path / "b" / "data.json"], scrub=False)
    ids = [r["id"] for r in first]
    assert len(set(ids)) == 4 and ids == ["emollm/a/data/0", "emollm/a/data/1", "emollm/b/data/0", "emollm/b/data/1"]
    again, _ = run("emollm", [tmp_path / "a" / "data.json", tmp_path / "b" / "data.json"], scrub=False)
    assert [r["id"] for r in again] == ids
    twice, tally = run("emollm", [tmp_path / "a" / "data.json", tmp_path / "a" / "data.json"], scrub=False)
    assert len({r["id"] for r in twice}) == 4 and tally.notes["duplicate id made unique"] == 2


def test_format_by_content_and_zero_written_fails(tmp_path):
    items = [{"conversation": [{"input": f"问题{i}", "output": f"回答{i}"}]} for i in range(3)]
    array_named_jsonl = _write(tmp_path / "array.jsonl", items)  # pretty-printed array, .jsonl name
    lines_named_json = _write(tmp_path / "lines.json", "\n".join(json.dumps(i, ensure_ascii=False) for i in items))
    for path in (array_named_jsonl, lines_named_json):
        recs, tally = run("emollm", [path], scrub=False)
        assert tally.summary() == "read=3 written=3 rejected=0", path
    bad = _write(tmp_path / "bad.json", [{"conversation": [{"input": "只有问题"}]}] * 2)
    proc = run_hearme("convert", "emollm", bad, "-o", tmp_path / "out.json")
    assert proc.returncode != 0
    assert f"{bad}: convert emollm wrote 0 of 2 records; 2 rejected because: turn 0 output is missing" in proc.stderr
    assert io.rejected_path(tmp_path / "out.json").exists()  # the reasons are kept


def test_parallel_conversion_equals_serial_and_skips_broken_files(tmp_path):
    folder = tmp_path / "smile"
    rng = random.Random(1)
    for i in range(40):
        turns = [{"role": "client" if k % 2 == 0 else "counselor", "content": f"第{i}段第{k}句{rng.random():.6f}"}
                 for k in range(4)]
        _write(folder / f"{i}.json", turns)
    _write(folder / "broken.json", "[{\"role\": ")
    serial, t1 = run("smile", [folder], scrub=True, workers=1)
    parallel, t2 = run("smile", [folder], scrub=True, workers=2)
    assert serial == parallel and t1.as_dict() == t2.as_dict()
    assert t2.summary() == "read=41 written=40 rejected=1" and "unreadable" in t2.rejects[0]["reason"]



def test_default_workers_count_other_processes_not_this_one(monkeypatch):
    """The load average still holds this process's own last minute; what runs now besides it decides."""
    from hearme.converters import convert

    monkeypatch.setattr(convert.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(convert.os, "getloadavg", lambda: (1.3, 0.9, 0.4))  # this run's previous source
    monkeypatch.setattr(convert, "_running_now", lambda: 1)  # only this process
    assert convert.default_workers(50_000) == 2
    monkeypatch.setattr(convert.os, "getloadavg", lambda: (7.0, 7.0, 7.0))  # a busy machine
    monkeypatch.setattr(convert, "_running_now", lambda: 8)
    assert convert.default_workers(50_000) == 1
    monkeypatch.setattr(convert, "_running_now", lambda: None)  # no /proc: the load average alone
    assert convert.default_workers(50_000) == 1
    assert convert.default_workers(10) == 1  # few files: one process
    monkeypatch.setattr(convert, "_running_now", lambda: 1)
    monkeypatch.setattr(convert.os, "getloadavg", lambda: (0.2, 0.2, 0.2))
    assert convert.default_workers(3, 9 << 20) == 2  # ... unless they are big (EmoLLM's three files)
    assert convert.default_workers(1, 900 << 20) == 1  # one file is one unit


# ---------------------------------------------------------------- self-cognition

def test_self_cognition_name_without_placeholders_is_refused_or_replaced(tmp_path):
    src = _write(tmp_path / "identity.json", [
        {"instruction": "你是谁", "input": "", "output": "我是小北，由北辰团队开发的心理助手。"},
        {"instruction": "你好", "input": "", "output": "你好，我是小北。"}])
    proc = run_hearme("convert", "self-cognition", src, "-o", tmp_path / "a.json", "--name", "Jerry")
    assert proc.returncode == 2 and "no name placeholders" in proc.stderr and "'小北'" in proc.stderr
    proc = run_hearme("convert", "self-cognition", src, "-o", tmp_path / "b.json", "--name", "Jerry",
                      "--replace-name", "小北", "--author", "VE", "--replace-author", "北辰团队")
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "b.json").read_text(encoding="utf-8")
    assert "小北" not in text and "北辰" not in text and "我是Jerry，由VE开发" in text


def test_self_cognition_accepts_the_xtuner_layout(tmp_path):
    src = _write(tmp_path / "processed.json", [{"conversation": [
        {"system": "你是心理助手小北，由北辰团队打造。", "input": "你是谁", "output": "我是小北。"}]}])
    recs, tally = run("self-cognition", [src], scrub=False, name="Jerry", replace_name="小北")
    assert tally.summary() == "read=1 written=1 rejected=0"
    assert schema.system_prompt(recs[0]) == "你是心理助手Jerry，由北辰团队打造。"
    assert recs[0]["messages"][-1]["content"] == "我是Jerry。"
    odd = _write(tmp_path / "odd.json", [{"question": "你是谁", "answer": "我是小北"}])
    _, tally = run("self-cognition", [odd], scrub=False)
    assert "no `instruction`/`input`/`output`" in tally.rejects[0]["reason"] and "question" in tally.rejects[0]["reason"]


# ---------------------------------------------------------------- dedup precision, leak-free split

def _rec(i, user, reply, source="s", topic=""):
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": reply}],
            "id": f"{source}/{i}", "source": source, "lang": "zh", "topic": topic}


def _grams(text, k=5):
    from hearme.converters.dedup import normalize

    t = normalize(text)
    return {t[i:i + k] for i in range(len(t) - k + 1)} or {t}


def test_dedup_removes_nothing_under_the_threshold():
    rng = random.Random(5)
    han = [chr(c) for c in range(0x4E00, 0x4E00 + 2000)]
    base = ["".join(rng.choice(han) for _ in range(300)) for _ in range(60)]
    recs = [_rec(i, "我想聊聊", t) for i, t in enumerate(base)]
    for i, t in enumerate(base):  # copies with 2% to 12% of the characters changed: Jaccard about 0.5 to 0.9
        chars = list(t)
        for _ in range(int(len(chars) * (0.02 + 0.1 * (i % 6) / 5))):
            chars[rng.randrange(len(chars))] = rng.choice(han)
        recs.append(_rec(100 + i, "我想聊聊", "".join(chars)))
    stats: dict = {}
    kept, removals = dedup(recs, stats=stats)
    by_id = {r["id"]: r for r in recs}
    for row in removals:
        a, b = by_id[row["id"]], by_id[row["duplicate_of"]]
        ga, gb = _grams("␞".join(m["content"] for m in a["messages"])), _grams("␞".join(m["content"] for m in b["messages"]))
        assert len(ga & gb) / len(ga | gb) >= 0.8 and abs(len(ga & gb) / len(ga | gb) - row["similarity"]) < 0.002
    assert stats["removed_below_threshold"] == 0 and stats["candidates_below_threshold"] > 0
    assert 10 <= len(removals) < 60


def test_split_groups_rewrites_and_near_duplicates_and_checks_leaks():
    recs = []
    for q in range(40):  # several rewrites of one question: same opening, different bodies
        for k in range(3):
            recs.append(_rec(len(recs), f"第{q}个问题：我该不该辞职？", f"回答{q}-{k}：" + "先想清楚你在意什么。" * (k + 1)))
    long = "".join(chr(0x4E00 + (i * 7) % 500) for i in range(400))
    recs.append(_rec(len(recs), "我想说说我的家。", long))
    recs.append(_rec(len(recs), "换个开头说说家里。", long + "谢谢"))  # a near duplicate with another opening
    recs += [_rec(len(recs) + i, f"单独的问题{i}", f"单独的回答{i}") for i in range(60)]
    report: dict = {}
    parts = split_records(recs, ratios="70/15/15", seed=3, report=report)
    where = {r["id"]: name for name, rs in parts.items() for r in rs}
    for q in range(40):
        assert len({where[f"s/{q * 3 + k}"] for k in range(3)}) == 1
    assert where["s/120"] == where["s/121"]
    assert report["leaks"] == {"identical openings": 0, "Jaccard >= 0.8": 0}
    assert report["joined"]["opening"] == 80 and report["joined"]["near duplicate"] == 1
    assert "topic stratification was impossible" in report["stratified"]
    folds: dict = {}
    split_records(recs, kfold=5, seed=3, report=folds)
    assert folds["leaks"] == {"identical openings": 0, "Jaccard >= 0.8": 0}
    topical = [dict(r, topic=("家庭" if i % 2 else "学业")) for i, r in enumerate(recs)]
    report = {}
    split_records(topical, ratios="80/20", report=report)
    assert report["stratified"].startswith("by source and topic (2 topics")


def test_leak_check_counts_every_cross_part_pair():
    # parts assigned by hand, so that the check has leaks to find; counted against all pairs
    from hearme.converters.split import leak_check

    rng = random.Random(5)
    keys = [rng.choice(["", "我失眠了", "我想辞职", "我和父母吵架"]) for _ in range(200)]
    parts = [rng.randrange(3) for _ in keys]
    near = [(0, 1, 0.9), (2, 3, 0.85), (4, 5, 0.8)]
    parts[0], parts[1], parts[2], parts[3] = 0, 1, 2, 2
    want = sum(1 for i in range(len(keys)) for j in range(i + 1, len(keys))
               if keys[i] and keys[i] == keys[j] and parts[i] != parts[j])
    got = leak_check([], parts, near, keys)
    assert got == {"identical openings": want, "Jaccard >= 0.8": 1 + (parts[4] != parts[5])} and want > 0


def test_split_reuses_a_shared_corpus():
    recs = [_rec(i, f"开头{i}", f"内容{i}" * 20) for i in range(30)]
    corpus = Corpus.of_records(recs)
    assert split_records(recs, ratios="80/20", corpus=corpus) == split_records(recs, ratios="80/20")
    with_openings = Corpus(records=recs, openings=openings(recs))  # as the conversion workers make it
    assert split_records(recs, ratios="80/20", corpus=with_openings) == split_records(recs, ratios="80/20")


def test_split_cli_prints_the_leak_check(tmp_path):
    recs = [_rec(i, f"问题{i // 2}", f"回答{i}") for i in range(40)]
    src = io.write_records(tmp_path / "mix.json", recs)
    proc = run_hearme("split", src, "--ratios", "80/20", "--no-register")
    assert proc.returncode == 0, proc.stderr
    assert "leak check, cross-part pairs: identical openings: 0, Jaccard >= 0.8: 0" in proc.stdout
    assert "40 records in 20 groups" in proc.stdout and "topic stratification was impossible" in proc.stdout


def test_smile_topics_and_groups_from_its_psyqa_origin(tmp_path):
    psyqa = _write(tmp_path / "psyqa.json", [
        {"questionID": 7, "question": "总是失眠怎么办？", "description": "每晚都醒。", "keywords": "睡眠,焦虑", "answers": []},
        {"questionID": 9, "question": "和父母沟通很难", "description": "", "keywords": "家庭,沟通", "answers": []}])
    folder = tmp_path / "smile"
    _write(folder / "0.json", [{"role": "client", "content": "总是失眠，怎么办？每晚都醒。"}, {"role": "counselor", "content": "多久了？"}])
    _write(folder / "1.json", [{"role": "client", "content": "总是失眠怎么办"}, {"role": "counselor", "content": "先说说作息。"}])
    _write(folder / "2.json", [{"role": "client", "content": "我想换工作。"}, {"role": "counselor", "content": "为什么？"}])
    recs, tally = run("smile", [folder], scrub=False, psyqa=str(psyqa))
    assert [(r.get("group"), r["topic"]) for r in recs] == [("psyqa/7", "睡眠"), ("psyqa/7", "睡眠"), (None, "")]
    assert tally.notes["PsyQA origin found"] == 2 and tally.notes["PsyQA origin not found"] == 1

