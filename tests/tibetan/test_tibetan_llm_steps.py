"""multiturn, expand and translate (LLM backend) against the scripted fake server; local seq2seq translation."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from hearme.core import io, paths
from hearme.llm import LLMClient
from hearme.tibetan import expand, multiturn, prompts, topics
from hearme.tibetan import translate as tr
from hearme.tibetan.reask import RuleError
from tests.fake_openai import FakeOpenAI

GLOSSARY = paths.DATA / "samples" / "tibetan" / "glossary_zh_bo.tsv"


def client(srv: FakeOpenAI, tmp_path, **kw) -> LLMClient:
    return LLMClient(srv.url, "fake-gpt", cache_dir=tmp_path / "cache", progress=False, timeout=5, max_retries=1, **kw)


def single(i: int, q: str, a: str, topic: str = "情绪") -> dict:
    return {"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}],
            "id": f"s{i}", "source": "test", "lang": "zh", "topic": topic}


def dialogue_text(n: int, preamble: str = "") -> str:
    lines = [preamble] if preamble else []
    for k in range(n):
        lines += [f"求助者：我第{k + 1}次说起我的烦恼。", f"支持者：谢谢你愿意说出来，第{k + 1}次我也在认真听。"]
    return "\n".join(lines)


# ---------------------------------------------------------------- multiturn: parsing

RULES = multiturn.Rules()


def test_parse_good_dialogue_with_decorations():
    text = "好的，以下是改写后的对话：\n" + "\n".join([
        "1. **求助者**：我最近睡不好。", "**支持者：** 听起来你很辛苦，", "  能说说发生了什么吗？",
        "求助者: 工作压力大。", "求助者：还有家里的事。", "支持者：两件事压在一起确实很累。"] +
        dialogue_text(4).splitlines() + ["求助者：谢谢你。"])
    msgs, notes = multiturn.parse_dialogue(text, RULES)
    assert len(msgs) == 12 and msgs[0] == {"role": "user", "content": "我最近睡不好。"}
    assert msgs[1]["content"] == "听起来你很辛苦，能说说发生了什么吗？"
    assert msgs[2]["content"] == "工作压力大。还有家里的事。"
    assert set(notes) == {"text before the dialogue dropped", "consecutive same-speaker lines merged",
                          "trailing help-seeker turn without a reply dropped"}


@pytest.mark.parametrize("text, reason", [
    ("我不能完成这个任务。", "no `求助者：`"),
    ("支持者：你好。\n求助者：你好。\n" + dialogue_text(6), "does not start with the help-seeker"),
    (dialogue_text(4), "too short: 4 exchanges (< 5)"),
    (dialogue_text(5) + "\n求助者：" + "很长" * 400 + "\n支持者：好的。", "800-character utterance"),
    ("求助者：\n支持者：你好。\n" + dialogue_text(6), "empty help-seeker utterance"),
])
def test_parse_rejections(text, reason):
    with pytest.raises(RuleError, match=re.escape(reason)):
        multiturn.parse_dialogue(text, RULES)


@pytest.mark.parametrize("text, rule", [
    (dialogue_text(6).replace("我第1次说起", "楼主你好，我第1次说起"), "forum-words"),
    (dialogue_text(6).replace("第2次我也", "题主，第2次我也"), "forum-words"),
    (dialogue_text(6).replace("我第3次说起", "同意楼上，我第3次说起"), "forum-words"),
    (dialogue_text(6).replace("我第1次说起", "LZ我第1次说起"), "forum-words"),
    (dialogue_text(6).replace("我第4次说起我的烦恼。", "我第4次说起我的烦恼。支持者：我在听。"), "label-inside"),
])
def test_parse_rule_violations(text, rule):
    with pytest.raises(RuleError) as e:
        multiturn.parse_dialogue(text, RULES)
    assert e.value.rule == rule and e.value.hint


def test_forum_words_spare_floors():
    msgs, _ = multiturn.parse_dialogue(dialogue_text(6).replace("我第1次说起", "楼上的邻居很吵，我第1次说起"), RULES)
    assert "楼上的邻居" in msgs[0]["content"]


def test_source_truncated_near_1800_characters():
    q = "我很焦虑。" * 10
    a = "这是一句建议。" * 400
    q2, a2, cut = multiturn.truncate_source(q, a, 1800)
    assert cut and len(q2) + len(a2) <= 1800 and len(q2) + len(a2) > 1750 and a2.endswith("。")
    assert multiturn.truncate_source("短", "也短", 1800) == ("短", "也短", False)


# ---------------------------------------------------------------- multiturn: runs

def test_multiturn_run(tmp_path):
    recs = [single(0, "q-good 我失眠了", "试试规律作息。"), single(1, "q-short 我很烦", "慢慢来。"),
            single(2, "q-broken 我很累", "休息一下。"), single(3, "q-long " + "我很焦虑。" * 100, "建议。" * 700),
            {"messages": recs_multi(), "id": "m", "source": "t", "lang": "zh", "topic": ""}] \
        if (recs_multi := lambda: [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}] * 2) else []
    script = {"rules": [{"match": "q-good", "replies": [{"text": dialogue_text(10)}]},
                        {"match": "q-short", "replies": [{"text": dialogue_text(3)}], "sticky": True},
                        {"match": "q-broken", "replies": [{"status": 500}], "sticky": True},
                        {"match": "q-long", "replies": [{"text": dialogue_text(7)}]}]}
    io.write_records(tmp_path / "in.json", recs)
    with FakeOpenAI(script) as srv:
        rep = multiturn.run(tmp_path / "in.json", tmp_path / "out.jsonl", client(srv, tmp_path), progress=False)
        prompt = srv.requests[0]["messages"][1]["content"]
        long_prompt = next(r for r in srv.requests if "q-long" in json.dumps(r, ensure_ascii=False))
    assert "至少进行 10 轮" in prompt and prompt.startswith("请把下面这段单轮心理咨询问答")
    assert len(long_prompt["messages"][1]["content"]) < 1800 + len(prompts.MULTITURN_USER)
    assert rep["read"] == 5 and rep["written"] == 2 and rep["rejected"] == 3
    assert rep["notes"]["source truncated"] == 1
    out = io.load_records(tmp_path / "out.jsonl")
    assert [len(r["messages"]) for r in out] == [20, 14] and out[0]["id"] == "s0/multiturn"
    assert out[0]["rewritten_by"] == "fake-gpt" and out[0]["topic"] == "情绪"
    reasons = {json.loads(x)["position"]: json.loads(x)["reason"]
               for x in io.rejected_path(tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()}
    assert reasons["s1"].startswith("rule too-short: too short: 3 exchanges (< 5) (after 2 re-asks)")
    assert reasons["s2"].startswith("endpoint error: HTTP 500")
    assert reasons["m"].startswith("not single-turn")


def test_multiturn_reasks_each_broken_rule_naming_it(tmp_path):
    good = dialogue_text(6)
    broken = {  # case -> (first reply, words the re-ask must contain)
        "rule-seeker": ("支持者：你好，想聊什么？\n" + good, "求助者先开口"),
        "rule-short": (dialogue_text(3), "至少需要 5 轮"),
        "rule-forum": (good.replace("我第2次说起", "楼主你好，我第2次说起"), "论坛用语“楼主”"),
        "rule-label": (good.replace("我第3次说起我的烦恼。", "我第3次说起我的烦恼。支持者：嗯。"), "说话人标签"),
        "rule-format": ("好的，我会按要求改写。", "没有找到"),
        "rule-empty": (good.replace("我第2次说起我的烦恼。", ""), "空的话轮"),
        "rule-long": (good.replace("我第2次说起我的烦恼。", "我很烦。" * 200), "不要超过 600 个字"),
    }
    recs = [single(i, f"{case} 我最近很烦。", "慢慢来。") for i, case in enumerate([*broken, "rule-always"])]
    script = {"rules": [{"match": "rule-always", "replies": [{"text": broken["rule-forum"][0]}], "sticky": True},
                        {"match": "不符合要求", "replies": [{"text": good}], "sticky": True}] +
              [{"match": case, "replies": [{"text": first}], "sticky": True} for case, (first, _) in broken.items()]}
    io.write_records(tmp_path / "in.json", recs)
    with FakeOpenAI(script) as srv:
        rep = multiturn.run(tmp_path / "in.json", tmp_path / "out.json", client(srv, tmp_path), progress=False)
        requests = list(srv.requests)
    assert rep["written"] == len(broken) and rep["rejected"] == 1
    for case, (_, words) in broken.items():
        asked = [r for r in requests if case in json.dumps(r, ensure_ascii=False)]
        assert len(asked) == 2, case                                  # the reply, then one re-ask
        reask = asked[1]["messages"]
        assert reask[-2]["role"] == "assistant" and words in reask[-1]["content"], (case, reask[-1]["content"])
    assert {k for k in rep["notes"] if k.startswith("re-asked")} == {
        "re-asked: seeker-first", "re-asked: too-short", "re-asked: forum-words", "re-asked: label-inside",
        "re-asked: format", "re-asked: empty", "re-asked: too-long"}
    assert all(len(r["messages"]) == 12 and "楼主" not in json.dumps(r, ensure_ascii=False)
               for r in io.load_records(tmp_path / "out.json"))
    rej = json.loads(io.rejected_path(tmp_path / "out.json").read_text(encoding="utf-8"))
    assert rej["reason"] == "rule forum-words: forum word '楼主' in a help-seeker turn (after 2 re-asks)"
    assert len(json.loads(rej["raw"])["replies"]) == 3                 # every reply kept for inspection
    assert sum("rule-always" in json.dumps(r, ensure_ascii=False) for r in requests) == 3  # bounded


# ---------------------------------------------------------------- expand

def _expand_reply(topic: str, n: int, start: int = 0) -> str:
    items = [{"question": f"{topic}问题{k}：我遇到了第{k}种完全不同的具体处境{k * 7}，该怎么办？",
              "answer": f"关于{topic}的第{k}个回答。"} for k in range(start, start + n)]
    return "```json\n" + json.dumps(items, ensure_ascii=False) + "\n```"


def test_expand_dedups_against_the_pool(tmp_path):
    seeds = [single(i, f"职业种子问题{i}：工作让我很累，每天都不想上班{i}", "先照顾好自己。", "职场") for i in range(3)]
    seeds += [single(9, "家庭种子：父母总是吵架怎么办", "你可以和他们聊聊。", "家庭")]
    dup = {"question": seeds[0]["messages"][0]["content"] + "呢", "answer": "重复"}
    bad = {"question": "", "answer": "没有问题"}
    career = [dup] + json.loads(_expand_reply("职业", 3)[8:-4]) + [bad]
    script = {"rules": [{"match": "“职业”主题", "replies": [{"text": json.dumps(career, ensure_ascii=False)}],
                         "sticky": True},
                        {"match": "“家庭”主题", "replies": [{"text": "抱歉，我无法生成。"},
                                                          {"text": _expand_reply("家庭", 2)}]}]}
    io.write_records(tmp_path / "seeds.json", seeds)
    cfg = expand.Config(per_topic=3, batch=5, max_rounds=2, topics=["职业", "家庭", "婚姻"])
    with FakeOpenAI(script) as srv:
        rep = expand.run(tmp_path / "seeds.json", tmp_path / "new.json", client(srv, tmp_path), cfg, progress=False)
        n_requests = len(srv.requests)
    out = io.load_records(tmp_path / "new.json")
    assert rep["new"] == {"职业": 3, "家庭": 2, "婚姻": 0} and rep["topics_without_seeds"] == ["婚姻"]
    assert len(out) == 5 and {r["topic"] for r in out} == {"职业", "家庭"}
    assert out[0]["id"] == "expand/career/0001" and out[0]["source"] == "self-instruct"
    assert rep["read"] == rep["written"] + rep["rejected"]
    reasons = [json.loads(x)["reason"] for x in io.rejected_path(tmp_path / "new.json").read_text(encoding="utf-8").splitlines()]
    assert any(r.startswith("duplicate: question") for r in reasons)
    assert any(r.startswith("malformed item") for r in reasons)
    assert any(r.startswith("malformed reply: no JSON array") for r in reasons)
    assert n_requests == 1 + 2  # career: 1 request filled the quota; family: round 1 failed, round 2 asked again
    # a re-run is answered from the cache
    with FakeOpenAI(script) as srv:
        expand.run(tmp_path / "seeds.json", tmp_path / "new2.json", client(srv, tmp_path), cfg, progress=False)
        assert len(srv.requests) == 0
    assert io.load_records(tmp_path / "new2.json") == out


def test_expand_needs_seeds(tmp_path):
    io.write_records(tmp_path / "s.json", [single(0, "q", "a", topic="unknown")])
    with FakeOpenAI() as srv, pytest.raises(io.InputError, match="no seed items"):
        expand.run(tmp_path / "s.json", tmp_path / "o.json", client(srv, tmp_path), progress=False)
    assert topics.canonical("职场") == "职业" and topics.canonical("家庭矛盾") == "家庭" and topics.canonical("") == "其他"


# ---------------------------------------------------------------- translate: LLM backend

ZH = ["我最近很焦虑，晚上失眠。", "听起来你压力很大。", "谢谢你。", "坏掉的句子", "回声句子"]
BO = {"我最近很焦虑": "ཉེ་ཆར་ང་ལ་སེམས་འཚབ་ཆེན་པོ་ཡོད། མཚན་མོ་གཉིད་ཡག་པོ་མི་ཁུག",
      "听起来你压力很大": "ཁྱེད་ལ་གནོན་ཤུགས་ཆེན་པོ་ཡོད་པ་འདྲ།", "谢谢你": "Translation: \"ཐུགས་རྗེ་ཆེ།\""}


def test_translate_llm_backend(tmp_path):
    recs = [{"messages": [{"role": "system", "content": "你是一名心理咨询师。"},
                          {"role": "user", "content": ZH[0]}, {"role": "assistant", "content": ZH[1]},
                          {"role": "user", "content": ZH[2]}, {"role": "assistant", "content": ZH[1]}],
             "id": "a", "source": "t", "lang": "zh", "topic": "情绪"},
            {"messages": [{"role": "user", "content": ZH[3]}, {"role": "assistant", "content": ZH[1]}], "id": "b"},
            {"messages": [{"role": "user", "content": ZH[4]}, {"role": "assistant", "content": ZH[1]}], "id": "c"}]
    script = {"rules": [{"match": k, "replies": [{"text": v}], "sticky": True} for k, v in BO.items()] +
              [{"match": "坏掉", "replies": [{"status": 500}], "sticky": True},
               {"match": "回声", "replies": [{"mode": "echo"}], "sticky": True},
               {"match": "心理咨询师。", "replies": [{"text": "ཁྱེད་ནི་སེམས་ཁམས་གྲོས་སྟོན་པ་ཡིན།"}], "sticky": True}]}
    io.write_records(tmp_path / "zh.json", recs)
    gloss = tr.Glossary.load(GLOSSARY)
    with FakeOpenAI(script) as srv:
        b = tr.LLMBackend(client(srv, tmp_path), gloss)
        rep = tr.run(tmp_path / "zh.json", tmp_path / "bo.json", b, glossary=gloss, progress=False)
        systems = {r["messages"][1]["content"]: r["messages"][0]["content"] for r in srv.requests}
        n = len(srv.requests)
    assert n == 9  # 6 distinct utterances once, the SDK's one retry of the HTTP 500, 2 re-asks of the echo
    assert "焦虑 → སེམས་འཚབ" in systems[ZH[0]] and "失眠 → གཉིད་མི་ཁུག་པ" in systems[ZH[0]]
    assert "术语表" not in systems[ZH[2]]
    out = io.load_records(tmp_path / "bo.json")
    assert len(out) == 1 and out[0]["lang"] == "bo" and out[0]["translated_by"] == "llm:fake-gpt"
    assert [m["role"] for m in out[0]["messages"]] == ["system", "user", "assistant", "user", "assistant"]
    assert out[0]["messages"][3]["content"] == "ཐུགས་རྗེ་ཆེ།"  # label and quotes stripped
    reasons = {json.loads(x)["position"]: json.loads(x)["reason"]
               for x in io.rejected_path(tmp_path / "bo.json").read_text(encoding="utf-8").splitlines()}
    assert reasons["b"].startswith("message 0 (user): endpoint error: HTTP 500")
    assert reasons["c"].startswith("message 0 (user): rule not-tibetan: not Tibetan (0% Tibetan letters")
    assert reasons["c"].endswith("(after 2 re-asks)")
    g = rep["glossary"]
    assert g["per_term"]["焦虑"] == {"bo": "སེམས་འཚབ", "in_source": 1, "in_translation": 1}
    assert g["per_term"]["失眠"]["in_translation"] == 0 and "失眠" in g["missed"]  # the term was not used
    assert g["per_term"]["压力"]["in_translation"] == 2
    # resumed / re-run: nothing is paid twice
    with FakeOpenAI(script) as srv:
        tr.run(tmp_path / "zh.json", tmp_path / "bo2.json", tr.LLMBackend(client(srv, tmp_path), gloss), progress=False)
        assert len(srv.requests) == 2  # only the HTTP 500 (never cached) is asked again, with its SDK retry


GOOD_BO = "ང་ལ་སེམས་ཁྲལ་ཆེན་པོ་ཡོད། ཁྱེད་ཀྱིས་རོགས་རམ་གནང་རོགས།"
BROKEN_BO = {  # source marker (words no prompt contains) -> (first reply, rule)
    "测例一": (GOOD_BO + " 我很担心", "chinese"),
    "测例二": (GOOD_BO + " (I am worried)", "latin"),
    "测例三": (GOOD_BO + "（注：以上为译文）", "note"),
    "测例四": (GOOD_BO + " Note: this is the Tibetan translation", "note"),  # on a line of its own: dropped (gate)
    "测例五": (GOOD_BO + " ასა და ჰუთისა", "script"),
    "测例六": ("ང་ལ།", "incomplete"),
    "测例七": ("我没有翻译这句话。", "not-tibetan"),
    "测例八": ("   ", "empty"),
}


def test_translate_reasks_each_broken_rule_per_utterance(tmp_path):
    src = {k: f"{k}：我最近压力很大，晚上总是睡不着，白天也没有精神，不知道该怎么办才好。" for k in BROKEN_BO}
    recs = [{"messages": [{"role": "user", "content": src[k]}, {"role": "assistant", "content": "好的，我们慢慢说。"}],
             "id": k} for k in BROKEN_BO]
    recs.append({"messages": [{"role": "user", "content": "始终坏掉：我很难过。"}, {"role": "assistant", "content": "好的，我们慢慢说。"},
                              {"role": "user", "content": "谢谢你听我说。"}, {"role": "assistant", "content": "不客气。"}],
                 "id": "always"})
    script = {"rules": [{"match": "始终坏掉", "replies": [{"text": GOOD_BO + " 我很难过"}], "sticky": True},
                        {"match": "不符合要求", "replies": [{"text": GOOD_BO}], "sticky": True}] +
              [{"match": k, "replies": [{"text": first}], "sticky": True} for k, (first, _) in BROKEN_BO.items()] +
              [{"match": "", "replies": [{"text": GOOD_BO}], "sticky": True}]}
    io.write_records(tmp_path / "zh.json", recs)
    with FakeOpenAI(script) as srv:
        b = tr.LLMBackend(client(srv, tmp_path))
        rep = tr.run(tmp_path / "zh.json", tmp_path / "bo.json", b, progress=False)
        requests = list(srv.requests)
    assert b.reasked == dict(Counter(rule for _, rule in BROKEN_BO.values()))
    for k, (_, rule) in BROKEN_BO.items():
        asked = [r for r in requests if r["messages"][1]["content"] == src[k]]
        assert len(asked) == 2 and "不符合要求" in asked[1]["messages"][-1]["content"], k
    assert rep["written"] == len(BROKEN_BO) and rep["rejected"] == 1
    assert all(m["content"] == GOOD_BO for r in io.load_records(tmp_path / "bo.json") for m in r["messages"])
    rej = json.loads(io.rejected_path(tmp_path / "bo.json").read_text(encoding="utf-8"))
    assert rej["position"] == "always"
    assert rej["reason"] == "message 0 (user): rule chinese: 4 Han characters left in the translation ('我很难过') (after 2 re-asks)"
    # truncate keeps the exchanges before the untranslatable utterance... none here, so still rejected;
    # a dialogue whose second exchange fails keeps its first
    recs2 = [dict(recs[-1], messages=[recs[-1]["messages"][i] for i in (2, 3, 0, 1)], id="late")]
    io.write_records(tmp_path / "zh2.json", recs2)
    with FakeOpenAI(script) as srv:
        rep2 = tr.run(tmp_path / "zh2.json", tmp_path / "bo2.json", tr.LLMBackend(client(srv, tmp_path)),
                      progress=False, on_fail="truncate")
    assert rep2["written"] == 1 and rep2["notes"] == {"truncated before an untranslatable utterance": 1}
    assert len(io.load_records(tmp_path / "bo2.json")[0]["messages"]) == 2


def test_translation_rules_accept_clean_tibetan():
    tr.check_translation(GOOD_BO, "我很焦虑。")
    tr.check_translation(GOOD_BO + " QQ", "你可以加我QQ。")  # a Latin word the source has is fine
    assert tr.translation_problem(GOOD_BO + " QQ", "你可以加我。").startswith("rule latin:")


def test_glossary_errors_and_affix_matching(tmp_path):
    bad = tmp_path / "g.tsv"
    for body, msg in (("zh\tbo\n焦虑\n", "line 2"), ("焦虑\tanxiety\n", "not Tibetan"),
                      ("焦虑\tསེམས་འཚབ\n焦虑\tསེམས་འཚབ\n", "duplicate"), ("zh\tbo\n", "no terms")):
        bad.write_text(body, encoding="utf-8")
        with pytest.raises(io.InputError, match=msg):
            tr.Glossary.load(bad)
    term = tr.Glossary.load(GLOSSARY).relevant("医生")[0]
    assert tr.Glossary.found(term, "སྨན་པའི་བསམ་ཚུལ།") and not tr.Glossary.found(term, "སྨན་ཁང་ལ་སོང་།")


def test_translate_refuses_tibetan_input(tmp_path):
    io.write_records(tmp_path / "bo.json", [{"messages": [{"role": "user", "content": "ང་ལ་སེམས་ཁྲལ་ཡོད།"},
                                                          {"role": "assistant", "content": "ཐུགས་རྗེ་ཆེ།"}]}])
    with FakeOpenAI() as srv, pytest.raises(io.InputError, match="Tibetan already"):
        tr.run(tmp_path / "bo.json", tmp_path / "o.json", tr.LLMBackend(client(srv, tmp_path)), progress=False)


def test_clean_reply():
    assert tr.clean_reply("```\nཀ།\n```") == "ཀ།"
    assert tr.clean_reply("译文：「ཁ།」") == "ཁ།"
    assert tr.clean_reply("  ག།  ") == "ག།"


# ---------------------------------------------------------------- translate: local seq2seq backend

@pytest.fixture(scope="module", params=["madlad", "nllb"])
def tiny_mt(request, tmp_path_factory):
    from hearme.tibetan import mt_local

    return mt_local.build_tiny(tmp_path_factory.mktemp("mt") / request.param, request.param)


def test_translate_local_backend_keeps_turns_and_resumes(tmp_path, tiny_mt):
    from hearme.tibetan.mt_local import LocalTranslator

    recs = [{"messages": [{"role": "user", "content": "我最近很焦虑。晚上总是失眠！"},
                          {"role": "assistant", "content": "听起来你压力很大，能说说吗？"}], "id": "a", "lang": "zh"}]
    io.write_records(tmp_path / "zh.json", recs)
    mt = LocalTranslator(tiny_mt, num_beams=1, max_new_tokens=12, cache_dir=tmp_path / "c")
    rep = tr.run(tmp_path / "zh.json", tmp_path / "bo.json", tr.LocalBackend(mt), progress=False)
    assert rep["backend_stats"]["style"] == tiny_mt.name and rep["backend_stats"]["sentences"] == 3
    assert rep["read"] == rep["written"] + rep["rejected"] == 1
    mt2 = LocalTranslator(tiny_mt, num_beams=1, max_new_tokens=12, cache_dir=tmp_path / "c")
    rep2 = tr.run(tmp_path / "zh.json", tmp_path / "bo2.json", tr.LocalBackend(mt2), progress=False)
    assert rep2["backend_stats"]["cache_hits"] == 3
    assert (tmp_path / "bo.json").read_text() == (tmp_path / "bo2.json").read_text()


def test_long_sentences_are_split_under_the_input_limit(tiny_mt):
    from hearme.tibetan.mt_local import LocalTranslator

    mt = LocalTranslator(tiny_mt, num_beams=1, max_new_tokens=8, max_input_tokens=12, cache=False)
    long = "我最近很焦虑，晚上总是失眠，白天也没有精神，工作的时候总是出错，" * 3 + "我该怎么办"
    pieces = mt.pieces(long)
    assert len(pieces) > 3 and "".join(pieces) == long
    assert all(mt._ntok(p) <= 10 for p in pieces)
    assert mt.translate([long])[0] and mt.stats["split_long"] == 2  # once above, once inside translate


def test_local_model_errors(tmp_path):
    from hearme.tibetan.mt_local import LocalTranslator

    with pytest.raises(io.InputError, match="no config.json"):
        LocalTranslator(tmp_path)


def test_dead_endpoint_is_one_clear_line(tmp_path):
    from tests.conftest import run_hearme

    io.write_records(tmp_path / "in.json", [single(0, "我失眠了", "试试规律作息。")])
    for cmd in ("multiturn", "translate", "expand"):
        p = run_hearme("tibetan", cmd, tmp_path / "in.json", "-o", tmp_path / f"{cmd}.json",
                       "--base-url", "http://127.0.0.1:9/v1", "--model", "m", "--max-retries", "0",
                       "--cache-dir", tmp_path / "c")
        assert p.returncode == 2, (cmd, p.stderr)
        errors = [ln for ln in p.stderr.splitlines() if ln.startswith("error:")]  # the rest is the progress bar
        assert len(errors) == 1 and errors[0].startswith("error: every request failed") and "cannot connect" in errors[0]
        assert "Traceback" not in p.stderr


@pytest.mark.slow
def test_cli_tiny_mt_and_local_translate(tmp_path):
    from tests.conftest import run_hearme

    p = run_hearme("tibetan", "tiny-mt", tmp_path / "mt", "--style", "nllb")
    assert p.returncode == 0 and (tmp_path / "mt" / "config.json").exists()
    io.write_records(tmp_path / "zh.json", [single(0, "我最近很焦虑，晚上失眠。", "听起来你压力很大。")])
    p = run_hearme("tibetan", "translate", tmp_path / "zh.json", "-o", tmp_path / "bo.json", "--mt-model",
                   tmp_path / "mt", "--num-beams", "1", "--glossary", GLOSSARY, "--cache-dir", tmp_path / "c")
    assert p.returncode == 0, p.stderr
    assert "read=1 written=1 rejected=0" in p.stdout and "glossary: 0/3 term occurrences" in p.stdout
    assert p.stdout.strip().splitlines()[-1].startswith("timing (translate, written): 2 lines, ")  # and a rate
    assert io.load_records(tmp_path / "bo.json")[0]["translated_by"] == "local:mt"
    p = run_hearme("tibetan", "translate", tmp_path / "zh.json", "-o", tmp_path / "x.json")
    assert p.returncode == 2 and "needs --base-url and --model" in p.stderr
