"""Each source format's quirks, on our own fixtures (tests/fixtures/converters/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hearme.core import io, schema
from hearme.converters import run
from hearme.converters.psyqa import forum_clean, topic_of
from hearme.converters.self_cognition import BUILTIN, fill
from hearme.converters.base import Reject
from tests.conftest import FIXTURES, REPO

FIX = FIXTURES / "converters"


def _by_id(records):
    return {r["id"]: r for r in records}


def _rejects(tally):
    return {Path(r["file"]).name: r["reason"] for r in tally.rejects}


def test_cpsycound_encodings_continuations_trailing_and_other_speakers():
    recs, tally = run("cpsycound", [FIX / "cpsycound"], scrub=False)
    assert tally.summary() == "read=4 written=3 rejected=1" and tally.balanced
    by = _by_id(recs)
    # UTF-8, UTF-8 with BOM (and CRLF), GB18030 all decode to the same kind of text.
    assert tally.notes["encoding utf-8"] == 2 and tally.notes["encoding utf-8-bom"] == 1 and tally.notes["encoding gb18030"] == 1
    sleep = by["cpsycound/sleep_gb18030"]
    assert sleep["messages"][0]["content"].startswith("我最近总是凌晨三点醒")
    assert sleep["topic"] == "Emotion&Stress"
    bom = by["cpsycound/roommate_bom"]
    assert not bom["messages"][0]["content"].startswith("\ufeff") and "\r" not in json.dumps(bom, ensure_ascii=False)
    # Stage direction removed; the two counselor blocks around it merged.
    assert all("一周后" not in m["content"] for m in bom["messages"])
    assert tally.notes["stage direction removed"] == 1 and tally.notes["merged repeated role"] == 1
    exam = by["cpsycound/exam_stress"]
    # Continuation lines (a second client line, a numbered list) join the previous speaker.
    assert "我还会一直刷手机" in exam["messages"][2]["content"]
    assert "1. 每学习四十分钟" in exam["messages"][3]["content"] and "你愿意这周先试试" in exam["messages"][3]["content"]
    # （对话结束） stripped; the trailing client turn trimmed and counted.
    assert all("对话结束" not in m["content"] for m in exam["messages"])
    assert exam["messages"][-1]["role"] == "assistant" and "谢谢老师，再见" not in json.dumps(exam, ensure_ascii=False)
    assert tally.notes["trailing client turn trimmed"] == 1
    assert exam["topic"] == "Education" and exam["source"] == "CPsyCounD" and exam["license"] == "CC BY 4.0"
    assert "妈妈" in _rejects(tally)["family_other_speaker.txt"]


def test_cpsycoune_topic_from_folder():
    recs, tally = run("cpsycoune", [FIX / "cpsycoune"], scrub=False)
    assert tally.summary() == "read=2 written=2 rejected=0"
    assert {r["topic"] for r in recs} == {"Career", "Love&Marriage"}
    career = next(r for r in recs if r["topic"] == "Career")
    assert len(career["messages"]) == 4 and tally.notes["trailing client turn trimmed"] == 1
    assert not career["messages"][0]["content"].startswith("求助者")


def test_smile_merges_repeated_roles_and_rejects_no_counselor():
    recs, tally = run("smile", [FIX / "smile"], scrub=False)
    assert tally.summary() == "read=3 written=2 rejected=1"
    lost = _by_id(recs)["smile/102"]
    assert [m["role"] for m in lost["messages"]] == ["user", "assistant", "user", "assistant"]
    assert lost["messages"][0]["content"] == "我失恋了。\n在一起三年，他突然说不合适。"
    assert tally.notes["merged repeated role"] == 2 and tally.notes["trailing client turn trimmed"] == 1
    assert _rejects(tally)["103.json"] == "dialogue has no counselor turn"


def test_emollm_optional_system_and_emoji():
    recs, tally = run("emollm", [FIX / "emollm"], scrub=False)
    assert tally.summary() == "read=4 written=4 rejected=0"
    by = _by_id(recs)
    assert by["emollm/scientist/0"]["messages"][0]["role"] == "system"
    assert by["emollm/scientist/1"]["messages"][0]["role"] == "user"  # no system at all: fine
    assert tally.notes["dialogue without system prompt"] == 1
    assert "🤗" in by["emollm/emoji_roleplay/0"]["messages"][2]["content"]
    assert by["emollm/emoji_roleplay/0"]["subset"] == "emoji_roleplay"


def test_psyqa_one_record_per_answer_forum_cleanup_license():
    recs, tally = run("psyqa", [FIX / "psyqa"], scrub=False)
    assert tally.summary() == "read=3 written=3 rejected=0"  # read counts answers
    by = _by_id(recs)
    a0 = by["psyqa/9001/a0"]["messages"][1]["content"]
    assert a0.startswith("拖延往往不是懒") and "楼主" not in a0 and "你可以先把论文" in a0
    assert by["psyqa/9001/a1"]["messages"][1]["content"].startswith("我也曾经这样")
    assert "lz" not in by["psyqa/9002/a0"]["messages"][1]["content"]
    assert by["psyqa/9001/a0"]["group"] == by["psyqa/9001/a1"]["group"] == "psyqa/9001"
    assert by["psyqa/9001/a0"]["topic"] == "成长" and by["psyqa/9002/a0"]["topic"] == "家庭"
    assert all(r["license"] == "PsyQA (non-commercial, no redistribution)" for r in recs)
    assert by["psyqa/9001/a0"]["messages"][0]["content"] == "总是拖延，怎么办？\n明知道要交论文，还是一直刷视频，到最后一晚才开始写。"


@pytest.mark.parametrize("raw,clean", [
    ("嗨，楼主你好！先别急。", "先别急。"),
    ("楼主，你好。我想说楼主已经很努力了。", "我想说你已经很努力了。"),
    ("亲爱的题主，抱抱你。", "抱抱你。"),
    ("题主能意识到这点很好。", "你能意识到这点很好。"),
    ("楼楼别怕，提问者的感受很正常。", "你别怕，你的感受很正常。"),
    ("Hello~ 楼主好呀，我是答主。", "我是答主。"),
    ("你好，我想分享一个故事。", "我想分享一个故事。"),
    ("你好好照顾自己。", "你好好照顾自己。"),  # not a greeting
])
def test_forum_clean(raw, clean):
    assert forum_clean(raw) == clean


def test_psyqa_topic_from_keywords():
    assert topic_of("恋爱,恋爱经营") == "恋爱" and topic_of("家庭，亲子") == "家庭" and topic_of(None) == ""


def test_firefly_lang_detection_system_and_category():
    recs, tally = run("firefly", [FIX / "firefly"], scrub=False)
    assert tally.summary() == "read=3 written=3 rejected=0"
    by = _by_id(recs)
    assert by["firefly/tibetan/1"]["lang"] == "bo" and by["firefly/tibetan/1"]["messages"][0]["role"] == "system"
    assert by["firefly/tibetan/2"]["lang"] == "zh" and by["firefly/tibetan/3"]["topic"] == "emoji"


@pytest.mark.parametrize("fname", ["identity_angle.json", "identity_bare.json", "identity_braces.json"])
def test_self_cognition_three_placeholder_styles(fname):
    recs, tally = run("self-cognition", [FIX / "self_cognition" / fname], scrub=False, name="小安", author="HearMe团队")
    text = json.dumps(recs, ensure_ascii=False)
    assert "小安" in text and "HearMe团队" in text
    for token in ("<NAME>", "<AUTHOR>", "{{", "}}", "NAME", "AUTHOR"):
        assert token not in text
    if fname == "identity_braces.json":
        assert tally.summary() == "read=4 written=3 rejected=1" and "{{version}}" in tally.rejects[0]["reason"]


def test_self_cognition_fill_keeps_ordinary_words():
    assert fill("What is your name? NAME, by AUTHOR (the author).", "Jerry", "VE") == "What is your name? Jerry, by VE (the author)."
    with pytest.raises(Reject):
        fill("I am {{model_name}}", "Jerry", "VE")
    with pytest.raises(Reject):
        fill("I am [NAME]", "Jerry", "VE")


def test_self_cognition_builtin_template_defaults():
    assert BUILTIN.exists(), "converters/templates/self_cognition.json (the content writers' template) is missing"
    recs, tally = run("self-cognition", [], scrub=False)
    assert tally.rejected == 0 and len(recs) >= 100
    text = json.dumps(recs, ensure_ascii=False)
    assert "Jerry" in text and "VastEpiphany" in text and "{{" not in text
    langs = {r["lang"] for r in recs}
    assert {"zh", "en", "bo"} <= langs
    assert any("OpenAI" in r["messages"][0]["content"] for r in recs)  # misleading questions answered in role


def test_records_pass_the_schema_and_carry_flat_metadata():
    for fmt in ("cpsycound", "cpsycoune", "smile", "emollm", "psyqa", "firefly"):
        recs, tally = run(fmt, [FIX / fmt])
        assert tally.balanced
        for r in recs:
            schema.validate(r)
            assert {"id", "source", "lang", "topic"} <= r.keys()
            assert all(isinstance(v, str) for k, v in r.items() if k != "messages")
        assert len({r["id"] for r in recs}) == len(recs)


def test_shared_samples_convert(tmp_path):
    shared = REPO.parent / "shared" / "samples"
    if not shared.exists():
        pytest.skip("../shared/samples is absent")
    for fmt, rel, n in [("cpsycound", "CPsyCoun/CPsyCounD_Data", 10), ("cpsycoune", "CPsyCoun/CPsyCounE", 45),
                        ("emollm", "EmoLLM", 11), ("self-cognition", "LLaMA-Factory/identity.json", 91)]:
        recs, tally = run(fmt, [shared / rel])
        assert tally.summary() == f"read={n} written={n} rejected=0", (fmt, tally.rejects[:3])
        io.write_records(tmp_path / f"{fmt}.json", recs)
        assert len(io.load_records(tmp_path / f"{fmt}.json")) == n
