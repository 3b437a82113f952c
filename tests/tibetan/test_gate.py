"""The LLM-text gate (hearme.tibetan.gate, #25): every fault class in zh and bo, dropped versus rejected, audit.

Faulty replies are our own, written the way real models fail; the multiturn and translate runs get
them from the scripted OpenAI server on 127.0.0.1 (first reply faulty, the re-ask answered well).
"""

from __future__ import annotations

import json

import pytest

from hearme.core import io
from hearme.llm import LLMClient
from hearme.tibetan import gate, gate_rules, multiturn
from hearme.tibetan import translate as tr
from hearme.tibetan.reask import RuleError
from tests.conftest import run_hearme
from tests.fake_openai import FakeOpenAI

RULES = multiturn.Rules()
ZH_SEEKER = ["我最近总是睡不好，晚上翻来覆去。", "工作上压力很大，领导总是批评我。", "我不知道该跟谁说这些事情。",
             "家里人也不太理解我的感受。", "有时候觉得自己什么都做不好。", "谢谢你，我想试着改变一下。"]
ZH_SUPPORTER = ["听起来这段时间你真的很辛苦，愿意多说说吗？", "被批评的时候，你心里是什么感受呢？", "你愿意把这些说出来，已经很勇敢了。",
                "不被家人理解，一定让你觉得很孤单。", "这种自我怀疑很常见，我们可以一起看看它从哪里来。", "不客气，我们下次再一起聊聊进展。"]


def zh_lines() -> list[str]:
    return [x for s, a in zip(ZH_SEEKER, ZH_SUPPORTER) for x in (f"求助者：{s}", f"支持者：{a}")]


def zh_dialogue(replace: dict[int, str] | None = None, extra: list[str] = ()) -> str:
    lines = zh_lines()
    for i, v in (replace or {}).items():
        lines[i] = v
    return "\n".join(lines + list(extra))


GOOD_ZH = zh_dialogue()
# rule -> 5+ faulty replies (a fault inside a turn: re-asked, then rejected)
ZH_INSIDE = {
    "meta-text": [zh_dialogue({11: "支持者：不客气。以上是改写后的对话。"}),
                  zh_dialogue({1: "支持者：以下是改写的多轮对话，听起来你很辛苦。"}),
                  zh_dialogue({0: "求助者：（根据单轮问答改写）我最近总是睡不好。"}),
                  zh_dialogue({9: "支持者：这段对话展示了共情的技巧，不被理解一定很孤单。"}),
                  zh_dialogue({11: "支持者：以上为改写，祝你一切顺利。"}),
                  zh_dialogue({11: "支持者：不客气！希望这个改写符合您的需要。"})],
    "breaking-character": [zh_dialogue({1: "支持者：作为一个AI语言模型，我无法真正体会你的感受，但我理解你。"}),
                           zh_dialogue({3: "支持者：我是一个语言模型，不过我会尽力帮助你。"}),
                           zh_dialogue({5: "支持者：作为AI助手，我建议你多休息。"}),
                           zh_dialogue({7: "支持者：作为求助者，我也常常这样觉得孤单。"}),
                           zh_dialogue({2: "求助者：作为你的咨询师，我建议你先深呼吸。"}),
                           zh_dialogue({9: "支持者：我只是一个人工智能，没有真实的情感，但我在听。"})],
    "encoding": [zh_dialogue({1: "支持者：听起来这段时间你真的很辛\ufffd，愿意多说说吗？"}),
                 zh_dialogue({3: "支持者：被批评的时候，你心里\x07是什么感受呢？"}),
                 zh_dialogue({5: "支持者：你愿意把这些说出来\x90，已经很勇敢了。"}),
                 zh_dialogue({7: "支持者：æˆ‘ç†è§£ä½ 的感受。"}),
                 zh_dialogue({0: "求助者：我最近总是睡不好\ufffd\ufffd\ufffd"}),
                 zh_dialogue({9: "支持者：这种自我怀疑\x1b[0m很常见。"})],
    "script-share": [zh_dialogue({1: "支持者：I understand how you feel, it is really hard for you."}),
                     zh_dialogue({3: "支持者：我理解你，but you should really try to sleep earlier every night。"}),
                     zh_dialogue({5: "支持者：听起来很辛苦 я понимаю тебя очень хорошо"}),
                     zh_dialogue({7: "支持者：你可以试试 deep breathing exercises before going to bed。"}),
                     zh_dialogue({2: "求助者：我最近 feel so tired and lonely all the time。"})],
    "loop": [zh_dialogue({5: "支持者：" + ZH_SUPPORTER[1]}),
             zh_dialogue({4: "求助者：" + ZH_SEEKER[1]}),
             zh_dialogue({4: "求助者：" + ZH_SEEKER[0], 5: "支持者：" + ZH_SUPPORTER[0]}),
             zh_dialogue({7: "支持者：" + ZH_SUPPORTER[5] + "好吗"}),
             zh_dialogue({9: "支持者：" + ZH_SUPPORTER[2].replace("，", "！")})],
    "forum-words": [zh_dialogue({1: "支持者：楼主你好，听起来你很辛苦。"}), zh_dialogue({3: "支持者：题主，被批评时你什么感受？"}),
                    zh_dialogue({0: "求助者：LZ最近总是睡不好。"}), zh_dialogue({5: "支持者：同意楼上，你很勇敢。"}),
                    zh_dialogue({7: "支持者：看了本帖，我很心疼你。"})],
}
# outside the turns: dropped and counted, never re-asked
ZH_OUTSIDE = ["以上是改写后的多轮对话。", "（对话结束）", "---\n希望这个改写符合您的要求。", "以上对话共六轮，展示了支持者的共情。",
              "注：对话中的人名均为虚构。", "Here is the rewritten dialogue above."]

BO_A = ["ང་ལ་ཉིན་ཤས་རིང་གཉིད་མི་ཁུག་པས་སེམས་ཁྲལ་ཆེན་པོ་ཡོད།", "ལས་ཀའི་ཐོག་གི་ཁུར་པོ་ལྗིད་པོ་ཡོད་པས་ཉིན་མོ་ཡང་ངལ་བ་ཚོར།",
        "ཁྱེད་ཀྱིས་དེ་སྐད་བཤད་པར་བཀའ་དྲིན་ཆེ། ཁྱེད་ཀྱི་སེམས་ཚོར་ང་ལ་གོ་ཐུབ།", "ཁྱེད་ཀྱིས་ཉིན་རེར་དུས་ཚོད་ཅུང་ཙམ་ལ་ངལ་གསོ་བྱས་ན་ཕན་ཐོགས་ཡོང་།"]
GOOD_BO = "ང་ལ་སེམས་ཁྲལ་ཆེན་པོ་ཡོད། ཁྱེད་ཀྱིས་རོགས་རམ་གནང་རོགས།"
BO_INSIDE = {  # a translated utterance with a fault inside: re-asked
    "encoding": [GOOD_BO.replace("ཆེན", "ཆེ\ufffd"), GOOD_BO + "\ufffd", GOOD_BO.replace("ཡོད", "ཡོ\x0bད"),
                 GOOD_BO.replace("། ", "།\x9f "), "à½\x80à½²" + GOOD_BO, "\ufffd\ufffd" + GOOD_BO],
    "breaking-character": ["ང་ནི་མི་བཟོས་རིག་ནུས་ཤིག་ཡིན། " + GOOD_BO, GOOD_BO + " ང་ནི་སྐད་ཡིག་དཔེ་དབྱིབས་ཤིག་ཡིན།",
                           "མི་བཟོས་རིག་ནུས་ཡིན་པའི་ཆ་ནས། " + GOOD_BO, GOOD_BO + " ང་ལ་རང་གི་ཚོར་བ་མེད།",
                           "ང་ནི་གློག་ཀླད་ཀྱི་བྱ་རིམ་ཡིན། " + GOOD_BO],
    "meta-text": [GOOD_BO + " གོང་གི་ཁ་བརྡ་འདི་བསྐྱར་བཟོས་ཡིན།", "བསྐྱར་བཟོས་པའི་ཁ་བརྡ། " + GOOD_BO,
                  GOOD_BO + " ཡིག་སྒྱུར་འདི་ནི་ཚིག་ལ་བརྟེན་ཡོད།", "གཤམ་གསལ་ནི་ཡིག་སྒྱུར་ཡིན། " + GOOD_BO,
                  GOOD_BO + " ཁ་བརྡ་མཇུག་རྫོགས།"],
}
BO_OUTSIDE = ["以下是藏文译文：\n" + GOOD_BO, GOOD_BO + "\n（注：这是直译）", "Here is the Tibetan translation:\n" + GOOD_BO,
              GOOD_BO + "\n---", "译文如下：\n" + GOOD_BO]


def client(srv: FakeOpenAI, tmp_path) -> LLMClient:
    return LLMClient(srv.url, "fake-gpt", cache_dir=tmp_path / "cache", progress=False, timeout=5, max_retries=1)


def single(i: int, marker: str) -> dict:
    return {"messages": [{"role": "user", "content": f"{marker} 我最近很难过。"}, {"role": "assistant", "content": "慢慢来。"}],
            "id": marker, "source": "test", "lang": "zh", "topic": "情绪"}


# ---------------------------------------------------------------- the good replies pass

def test_good_replies_pass():
    msgs, notes = multiturn.parse_dialogue(GOOD_ZH, RULES)
    assert len(msgs) == 12 and notes == []
    assert gate.check_turns(msgs) == []
    gate.check_translation(GOOD_BO, "我很焦虑。")
    assert gate.check_client_reply(BO_A[0], "bo", history=BO_A[1:]).text == BO_A[0]
    for text in ("我是AI吗？你能像朋友一样听我说话吗？", "作为心理咨询师，我能理解你的担心。", "楼上的邻居很吵。", "我的问题主要在于睡眠。",
                 "根据您提供的信息，我们一起看看。", "我叫Jerry，最近用app记录心情。", "作为咨询师，我该如何处理来访者的情绪？", "我对a和b都一样。",
                 "询问求助者：“你能具体描述一下吗？”", "每次发帖子都没人回。", "我们的对话结束后我还是很难过。", "你现在面临的难题主要是缺乏目标感。",
                 "结婚kpi又很重，情场loser？"):
        role = "user" if any(w in text for w in "吗叫该帖b") else "assistant"
        turns = [{"role": "user", "content": "你好。"}] * (role == "assistant") + [{"role": role, "content": text}]
        assert gate.check_turns(turns) == [], text


def test_bundled_data_passes():
    from hearme.core import paths
    from hearme.tibetan import audit

    files = sorted(paths.DATA.glob("*.json"))
    assert len(files) >= 10
    for f in files:  # self-cognition records say "作为AI" on purpose: no finding
        rep = audit.audit(f)
        assert rep["flagged"] == 0, (f.name, rep["per_rule"])


# ---------------------------------------------------------------- zh: parse rules, one by one

@pytest.mark.parametrize("rule, text", [(r, t) for r, ts in ZH_INSIDE.items() for t in ts])
def test_zh_fault_inside_a_turn_is_rejected(rule, text):
    with pytest.raises(RuleError) as e:
        multiturn.parse_dialogue(text, RULES)
    assert e.value.rule == rule and e.value.hint and e.value.reason


ZH_EXISTING = {  # the rules multiturn had before the gate, five replies each
    "seeker-first": ["\n".join(zh_lines()[1:]), "支持者：你好。\n" + GOOD_ZH, "**支持者**：欢迎。\n" + GOOD_ZH,
                     "咨询师：请坐。\n" + GOOD_ZH, "1. 支持者：你好。\n" + GOOD_ZH],
    "too-short": ["\n".join(zh_lines()[:k]) for k in (2, 4, 6, 8, 9)],
    "too-long": [zh_dialogue({1: "支持者：" + "我理解你。" * 130}), zh_dialogue({0: "求助者：" + "很难受" * 201}),
                 zh_dialogue({5: "支持者：" + "嗯" * 601}), zh_dialogue({11: "支持者：" + "谢谢。" * 250}),
                 zh_dialogue({2: "求助者：" + "我不知道" * 151})],
    "label-inside": [zh_dialogue({1: "支持者：我在听。求助者：谢谢。"}), zh_dialogue({3: "支持者：嗯。支持者：继续说。"}),
                     zh_dialogue({0: "求助者：我很累。咨询师：怎么了？"}), zh_dialogue({5: "支持者：好的 来访者: 嗯"}),
                     zh_dialogue({7: "支持者：没事的。求助者 ：好。"})],
    "empty": [zh_dialogue({1: "支持者："}), zh_dialogue({0: "求助者：“”"}), zh_dialogue({3: "支持者：**"}),
              zh_dialogue({5: "支持者：  "}), zh_dialogue({7: "支持者：\"\""})],
    "format": ["我不能完成这个任务。", "抱歉，我无法改写。", "", "对话：\n你好。\n你好。", "Sorry, I cannot help with that."],
}


@pytest.mark.parametrize("rule, text", [(r, t) for r, ts in ZH_EXISTING.items() for t in ts])
def test_zh_existing_rules(rule, text):
    with pytest.raises(RuleError) as e:
        multiturn.parse_dialogue(text, RULES)
    assert e.value.rule == rule


@pytest.mark.parametrize("tail", ZH_OUTSIDE)
def test_zh_closing_remark_is_dropped_not_glued(tail):
    d = gate.parse_dialogue(GOOD_ZH + "\n" + tail, min_exchanges=5, max_utterance_chars=600)
    assert d.messages[-1]["content"] == ZH_SUPPORTER[-1]
    assert d.dropped and all(r == "meta-text" for r, _ in d.dropped)
    assert "meta text outside the turns dropped" in d.notes


def test_wrapped_line_still_continues_the_utterance():
    d = gate.parse_dialogue(GOOD_ZH + "\n我们下周同一时间见。", min_exchanges=5, max_utterance_chars=600)
    assert d.messages[-1]["content"].endswith("我们下周同一时间见。") and not d.dropped


# ---------------------------------------------------------------- zh: the multiturn run, tally per rule

def test_multiturn_run_dropped_reasked_fixed_rejected(tmp_path):
    cases = [(f"例{r}{k}", t) for r, ts in ZH_INSIDE.items() for k, t in enumerate(ts)]
    outside = [(f"外{k}", GOOD_ZH + "\n" + t) for k, t in enumerate(ZH_OUTSIDE)]
    stuck = ("总是坏", ZH_INSIDE["breaking-character"][0])
    script = {"rules": [{"match": "总是坏", "replies": [{"text": stuck[1]}], "sticky": True},
                        {"match": "不符合要求", "replies": [{"text": GOOD_ZH}], "sticky": True}] +
              [{"match": m, "replies": [{"text": t}], "sticky": True} for m, t in cases + outside]}
    recs = [single(i, m) for i, (m, _) in enumerate(cases + outside + [stuck])]
    io.write_records(tmp_path / "in.json", recs)
    with FakeOpenAI(script) as srv:
        rep = multiturn.run(tmp_path / "in.json", tmp_path / "out.jsonl", client(srv, tmp_path), progress=False)
    assert rep["read"] == len(recs) and rep["written"] == len(recs) - 1 and rep["rejected"] == 1
    g = rep["gate"]
    for rule, texts in ZH_INSIDE.items():
        n = len(texts) + (3 if rule == "breaking-character" else 0)  # the stuck record: 3 attempts
        assert g[rule]["reasked"] == n - (1 if rule == "breaking-character" else 0), rule
        assert g[rule]["fixed"] == len(texts), rule
    assert g["breaking-character"]["rejected"] == 1
    assert g["meta-text"]["dropped"] == len(ZH_OUTSIDE) + 1  # "---" and its line are two
    out = io.load_records(tmp_path / "out.jsonl")
    assert all(m["content"] in ZH_SEEKER + ZH_SUPPORTER for r in out for m in r["messages"])
    rej = [json.loads(x) for x in io.rejected_path(tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rej[0]["reason"].startswith("rule breaking-character: breaking character: an AI disclaimer")


# ---------------------------------------------------------------- bo: translate run, tally per rule

def test_translate_bo_faults_reasked_and_outside_notes_dropped(tmp_path):
    cases = [(f"测{r}{k}", t) for r, ts in BO_INSIDE.items() for k, t in enumerate(ts)]
    outside = [(f"外{k}", t) for k, t in enumerate(BO_OUTSIDE)]
    script = {"rules": [{"match": "不符合要求", "replies": [{"text": GOOD_BO}], "sticky": True}] +
              [{"match": m, "replies": [{"text": t}], "sticky": True} for m, t in cases + outside]}
    recs = [{"messages": [{"role": "user", "content": f"{m}：我最近很焦虑。"}, {"role": "assistant", "content": "我们慢慢说。"}],
             "id": m, "lang": "zh"} for m, _ in cases + outside]
    script["rules"].append({"match": "我们慢慢说", "replies": [{"text": BO_A[2]}], "sticky": True})
    io.write_records(tmp_path / "zh.json", recs)
    with FakeOpenAI(script) as srv:
        b = tr.LLMBackend(client(srv, tmp_path))
        rep = tr.run(tmp_path / "zh.json", tmp_path / "bo.json", b, progress=False)
    assert rep["written"] == len(recs) and rep["rejected"] == 0
    g = rep["backend_stats"]["gate"]
    for rule, texts in BO_INSIDE.items():
        assert g[rule]["reasked"] == g[rule]["fixed"] == len(texts), rule
    assert g["meta-text"]["dropped"] == len(BO_OUTSIDE)
    out = io.load_records(tmp_path / "bo.json")
    assert all(r["messages"][0]["content"] == GOOD_BO for r in out)


@pytest.mark.parametrize("rule, text", [(r, t) for r, ts in BO_INSIDE.items() for t in ts])
def test_bo_translation_fault_is_named(rule, text):
    with pytest.raises(RuleError) as e:
        gate.check_translation(gate.clean_translation(text)[0], "我很焦虑。")
    assert e.value.rule == rule


# ---------------------------------------------------------------- bo dialogues and the simulated client

BO_TURN_FAULTS = {
    "script-share": [BO_A[0] + " 我最近很难过，不知道怎么办", BO_A[1] + " I feel so tired every day", "我很累。" + BO_A[1][:12],
                     BO_A[2] + " я очень устал", BO_A[3] + " but it does not help me at all"],
    "encoding": [BO_A[0] + "\ufffd", BO_A[1].replace("ལས", "ལ\x01ས"), BO_A[2] + "\x9d", "à½\x80à½²" + BO_A[3],
                 BO_A[0].replace("།", "\ufffd")],
    "breaking-character": ["ང་ནི་མི་བཟོས་རིག་ནུས་ཤིག་ཡིན། " + BO_A[0], BO_A[1] + " ང་ནི་སྐད་ཡིག་དཔེ་དབྱིབས་ཤིག་ཡིན།",
                           "ང་ནི་ཁྱེད་ཀྱི་སེམས་ཁམས་བློ་འདྲི་བ་ཡིན། " + BO_A[1], "ང་ནི་ཁྱེད་ཀྱི་བློ་འདྲི་བ་ཡིན་པས། " + BO_A[3],
                           "ང་ནི་ཁྱེད་ཀྱི་སེམས་གསོ་བ་ཡིན། " + BO_A[0]],
    "meta-text": [BO_A[0] + " གོང་གི་ཁ་བརྡ་འདི་བསྐྱར་བཟོས་ཡིན།", "བསྐྱར་བཟོས་པའི་ཁ་བརྡ། " + BO_A[1], BO_A[2] + " ཁ་བརྡ་མཇུག་རྫོགས།",
                  "གོང་གསལ་གྱི་ཁ་བརྡ། " + BO_A[3], BO_A[1] + " ཁ་བརྡ་འདི་ཚར་སོང་།"],
}


@pytest.mark.parametrize("rule, text", [(r, t) for r, ts in BO_TURN_FAULTS.items() for t in ts])
def test_bo_client_reply_faults(rule, text):
    with pytest.raises(RuleError) as e:
        gate.check_client_reply(text, "bo")
    assert e.value.rule == rule


@pytest.mark.parametrize("k", range(5))
def test_bo_loops(k):
    history = [BO_A[0], BO_A[1]]
    reply = [BO_A[0], BO_A[1], BO_A[0] + " ཁྱེད་ཀྱིས།", BO_A[1].replace("།", ""), " " + BO_A[0]][k]
    with pytest.raises(RuleError) as e:
        gate.check_client_reply(reply, "bo", history=history)
    assert e.value.rule == "loop"
    turns = [{"role": "user", "content": BO_A[0]}, {"role": "assistant", "content": BO_A[2]},
             {"role": "user", "content": reply}, {"role": "assistant", "content": BO_A[3]}]
    assert [f[0] for _, f in gate.check_turns(turns, lang="bo")] == (["loop"] if k != 1 and k != 3 else [])


ZH_CLIENT = {
    "breaking-character": ["作为你的咨询师，我建议你先深呼吸。", "我是你的心理咨询师，我们来聊聊你的情况。", "我来扮演咨询师，最近睡得好吗？",
                           "作为一个AI，我没有真正的烦恼。", "我是一个语言模型，无法扮演来访者。"],
    "label-inside": ["我最近很累。\n咨询师：听起来你很辛苦。", "好的。咨询师：那我们继续。", "我不想说。支持者：没关系。",
                     "嗯。求助者：我还是很难过。", "我也不知道。来访者：真的吗？"],
    "encoding": ["我最近很\ufffd累。", "我\x07不想说。", "æˆ‘å¾ˆç´¯", "我很难过\x1b。", "\ufffd\ufffd\ufffd"],
    "meta-text": ["以上是改写后的对话，我最近很累。", "（根据单轮问答）我睡不好。", "我很难过，这段对话展示了我的焦虑。",
                  "以上为对话，谢谢你。", "我最近很烦。多轮对话里我应该说什么？"],
    "script-share": ["I am so tired of everything.", "我最近 feel so bad about my work and life。", "我很累 я очень устал сегодня",
                     "my boss keeps yelling at me 我很烦", "最近 I can't sleep at night 怎么办"],
}


@pytest.mark.parametrize("rule, text", [(r, t) for r, ts in ZH_CLIENT.items() for t in ts])
def test_zh_client_reply_faults(rule, text):
    with pytest.raises(RuleError) as e:
        gate.check_client_reply(text, "zh")
    assert e.value.rule == rule and e.value.hint


@pytest.mark.parametrize("text, kept", [("来访者：我最近很累。", "我最近很累。"), ("**来访者**：我睡不好。", "我睡不好。"),
                                        ("我不想说了。\n（以上是来访者的回复）", "我不想说了。"), ("---\n我很难过。", "我很难过。"),
                                        ("好的，以下是改写：\n我还是很焦虑。", "我还是很焦虑。")])
def test_zh_client_outside_text_dropped(text, kept):
    r = gate.check_client_reply(text, "zh")
    assert r.text == kept and r.dropped


def test_zh_client_loop():
    hist = ["我最近总是睡不好，晚上翻来覆去的。", "工作上压力很大，领导总是批评我。"]
    for reply in (hist[0], hist[1], hist[0] + "嗯", hist[1].replace("，", "！"), "  " + hist[0]):
        with pytest.raises(RuleError) as e:
            gate.check_client_reply(reply, "zh", history=hist)
        assert e.value.rule == "loop"


def test_user_phrases_extend_the_lists(tmp_path, monkeypatch):
    p = tmp_path / "extra.json"
    p.write_text(json.dumps({"disclaimer": {"zh": ["我是机器人小助手"]}}, ensure_ascii=False), encoding="utf-8")
    words = gate_rules.load_phrases(p)
    assert gate.turn_findings("我是机器人小助手，有什么可以帮你？", "assistant", phrases=words)[0][0] == "breaking-character"
    assert gate.turn_findings("我是机器人小助手，有什么可以帮你？", "assistant") == []
    monkeypatch.setenv("HEARME_GATE_PHRASES", str(p))  # every LLM step's default lists
    with pytest.raises(RuleError, match="AI disclaimer"):
        multiturn.parse_dialogue(zh_dialogue({1: "支持者：我是机器人小助手，听起来你很辛苦。"}), RULES)
    d = gate.parse_dialogue("求助者：我也不知道（叹气）\n（停顿）我在想。\n支持者：没关系。\n（沉默）", min_exchanges=1,
                            max_utterance_chars=600)
    assert [m["content"] for m in d.messages] == ["我也不知道（叹气）（停顿）我在想。", "没关系。"]
    assert d.dropped == [("meta-text", "（沉默）")]
    p.write_text(json.dumps({"bogus": {"zh": ["x"]}}), encoding="utf-8")
    with pytest.raises(io.InputError, match="expected one of"):
        gate_rules.load_phrases(p)


# ---------------------------------------------------------------- hearme audit

def test_audit_cli_report_and_fix(tmp_path):
    good = [{"role": "user", "content": s} for s in ZH_SEEKER[:2]]
    good = [good[0], {"role": "assistant", "content": ZH_SUPPORTER[0]}, good[1], {"role": "assistant", "content": ZH_SUPPORTER[1]}]
    bad = json.loads(json.dumps(good))
    bad[1]["content"] = "作为一个AI语言模型，" + bad[1]["content"]
    enc = json.loads(json.dumps(good))
    enc[3]["content"] += "\ufffd"
    loopy = good + [{"role": "user", "content": ZH_SEEKER[0]}, {"role": "assistant", "content": ZH_SUPPORTER[0]}]
    rows = [{"messages": m, "id": f"r{i}", "lang": "zh"} for i, m in enumerate([good, bad, good, enc, loopy])]
    f = tmp_path / "recs.jsonl"
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    p = run_hearme("audit", f, "--fix", tmp_path / "clean.jsonl", check=True)
    assert "5 records: 2 clean, 3 flagged" in p.stdout
    rep = json.loads((tmp_path / "recs.audit.json").read_text(encoding="utf-8"))
    assert {r: v["records"] for r, v in rep["per_rule"].items()} == {"breaking-character": 1, "encoding": 1, "loop": 1}
    assert rep["per_rule"]["breaking-character"]["examples"][0]["where"] == "line 2"
    assert rep["per_rule"]["encoding"]["examples"][0]["message"] == 3
    assert [r["id"] for r in io.load_records(tmp_path / "clean.jsonl")] == ["r0", "r2"]
    side = [json.loads(x) for x in io.rejected_path(tmp_path / "clean.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [s["position"] for s in side] == ["line 2", "line 4", "line 5"] and "rule loop" in side[2]["reason"]


def test_data_card_audit_section():
    from hearme.converters.card import _audit_section  # build_card(..., audit=True) appends it; off by default

    good = [{"role": "user", "content": ZH_SEEKER[0]}, {"role": "assistant", "content": ZH_SUPPORTER[0]}]
    bad = [good[0], {"role": "assistant", "content": "作为一个AI语言模型，我理解你。"}]
    data = {"mine": [{"messages": m, "id": f"r{i}", "lang": "zh", "source": "t"} for i, m in enumerate([good, bad, good])]}
    md = _audit_section(data)
    assert "## Gate audit" in md and "| mine | 3 | 1 | breaking-character | 1 | 33.333% |" in md


# ---------------------------------------------------------------- expand: items through the gate

def test_expand_items_through_the_gate(tmp_path):
    from hearme.tibetan import expand

    seeds = [{"messages": [{"role": "user", "content": "种子：我总是很焦虑，不知道该怎么办。"}, {"role": "assistant", "content": "先照顾好自己。"}],
              "id": "seed", "source": "t", "lang": "zh", "topic": "情绪"}]
    ok = {"question": "我刚换了工作，每天都睡不着，该怎么调整？", "answer": "新环境需要时间适应，可以先规律作息，再慢慢调整。"}
    bad = [{"question": "我和室友总吵架，心里很烦。", "answer": "作为一个AI语言模型，我建议你们坐下来谈谈。"},
           {"question": "考试前我总紧张得发抖。", "answer": "以上是改写后的对话。紧张很正常。"},
           {"question": "我最近很\ufffd难过。", "answer": "愿意多说说吗？"},
           {"question": "我失恋了，很痛苦。", "answer": "I am so sorry to hear that, breakups are really hard for everyone."},
           {"question": "楼主你好，我很孤单。", "answer": "孤单的感觉确实难受。"}]
    reply = "好的，以下是5个全新的单轮问答：\n" + json.dumps([ok] + bad, ensure_ascii=False) + "\n希望这些问答对你有帮助。"
    io.write_records(tmp_path / "seeds.json", seeds)
    cfg = expand.Config(per_topic=6, batch=6, max_rounds=1, topics=["情绪"])
    with FakeOpenAI({"rules": [{"match": "“情绪”主题", "replies": [{"text": reply}], "sticky": True}]}) as srv:
        rep = expand.run(tmp_path / "seeds.json", tmp_path / "new.json", client(srv, tmp_path), cfg, progress=False)
    assert rep["written"] == 1 and rep["rejected"] == 5
    assert rep["gate"] == {"breaking-character": {"dropped": 0, "reasked": 0, "fixed": 0, "rejected": 1},
                           "encoding": {"dropped": 0, "reasked": 0, "fixed": 0, "rejected": 1},
                           "forum-words": {"dropped": 0, "reasked": 0, "fixed": 0, "rejected": 1},
                           "meta-text": {"dropped": 1, "reasked": 0, "fixed": 0, "rejected": 1},
                           "script-share": {"dropped": 0, "reasked": 0, "fixed": 0, "rejected": 1}}
    assert rep["notes"] == {"text outside the JSON array dropped": 1}


def test_lone_surrogates_are_encoding_damage():
    for text, lang in (("我很难过\ud83d。", "zh"), (BO_A[0] + "\udc80", "bo")):
        with pytest.raises(RuleError) as e:
            gate.check_client_reply(text, lang)
        assert e.value.rule == "encoding"
    with pytest.raises(RuleError) as e:
        gate.check_translation(GOOD_BO + "\ud800", "我很焦虑。")
    assert e.value.rule == "encoding"
