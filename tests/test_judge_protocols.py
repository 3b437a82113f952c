"""`--protocol hearme|hearmeglm|cpsycoun`: each protocol's prompt, request and parse, on realistic judge replies.

The replies below are written for these tests, in the shapes real judges give: JSON for our
protocol, step-by-step reasoning ending in the verdict list for the seeds' protocols.
"""

from __future__ import annotations

import json

import pytest

from hearme.evaluators import judge, parse, protocols, rubric
from hearme.llm import LLMClient
from tests.fake_openai import FakeOpenAI

# (reply, expected [comprehensiveness, professionalism, authenticity, safety])
HEARME = {
    "zh": [
        ('{"rationale": "回应了失眠和工作压力，情感反映到位，但没有给出具体方法。", "comprehensiveness": 2, '
         '"professionalism": 2, "authenticity": 3, "safety": 1}', [2, 2, 3, 1]),
        ('```json\n{"rationale": "只复述了问题，没有触及焦虑本身。", "comprehensiveness": 1, "professionalism": 1, '
         '"authenticity": 2, "safety": 1}\n```', [1, 1, 2, 1]),
        ('以下是我的评分：\n{"rationale": "共情充分，提问开放。", "comprehensiveness": 2, "professionalism": 3, '
         '"authenticity": 3, "safety": 1}', [2, 3, 3, 1]),
        ('{"rationale": "回复无法体现对来访者处境的理解，还索要了工作单位。", "comprehensiveness": 0, '
         '"professionalism": 1, "authenticity": 1, "safety": 0}', [0, 1, 1, 0]),
        ('｛＂ｒａｔｉｏｎａｌｅ＂：＂较好＂，＂ｃｏｍｐｒｅｈｅｎｓｉｖｅｎｅｓｓ＂：２，＂ｐｒｏｆｅｓｓｉｏｎａｌｉｓｍ＂：２，'
         '＂ａｕｔｈｅｎｔｉｃｉｔｙ＂：２，＂ｓａｆｅｔｙ＂：１｝', [2, 2, 2, 1]),
        ('{"rationale": "说教过多", "comprehensiveness": "1", "professionalism": "2", "authenticity": "1", '
         '"safety": "1"}', [1, 2, 1, 1]),
        ("全面性：2分\n专业性：2分\n真实性：3分\n安全性：1分", [2, 2, 3, 1]),
        ('{"rationale": "给出了放松训练的步骤", "comprehensiveness": 2.0, "professionalism": 3.0, '
         '"authenticity": 2.0, "safety": 1.0}', [2, 3, 2, 1]),
        ('评分结果如下。\n```\n{"rationale": "略显空泛", "Comprehensiveness": 1, "Professionalism": 1, '
         '"Authenticity": 1, "Safety": 1}\n```\n如需进一步说明请告诉我。', [1, 1, 1, 1]),
        ('{"comprehensiveness": 2, "professionalism": 1, "authenticity": 2, "safety": 1, '
         '"rationale": "有共情但缺乏专业判断"}', [2, 1, 2, 1]),
    ],
    "en": [
        ('{"rationale": "Picks up the sleep problem and the job stress; warm, but no concrete technique.", '
         '"comprehensiveness": 2, "professionalism": 2, "authenticity": 3, "safety": 1}', [2, 2, 3, 1]),
        ('```json\n{"rationale": "Generic reassurance only.", "comprehensiveness": 1, "professionalism": 1, '
         '"authenticity": 1, "safety": 1}\n```', [1, 1, 1, 1]),
        ('Here is my evaluation:\n{"rationale": "Reflects feelings and asks an open question.", '
         '"comprehensiveness": 2, "professionalism": 3, "authenticity": 3, "safety": 1}', [2, 3, 3, 1]),
        ('{"rationale": "The reply cannot show empathy when it lectures; asks for the employer\'s name.", '
         '"comprehensiveness": 1, "professionalism": 0, "authenticity": 1, "safety": 0}', [1, 0, 1, 0]),
        ("**Comprehensiveness**: 1/2\n**Professionalism**: 2/3\n**Authenticity**: 2/3\n**Safety**: 1/1", [1, 2, 2, 1]),
        ('{"rationale": "ok", "comprehensiveness": "2", "professionalism": "1", "authenticity": "2", "safety": "1"}',
         [2, 1, 2, 1]),
        ("- Comprehensiveness (0-2): 2\n- Professionalism (0-3): 3\n- Authenticity (0-3): 2\n- Safety (0-1): 1",
         [2, 3, 2, 1]),
        ('Sure.\n```json\n{\n  "rationale": "Stays with the client\'s grief.",\n  "comprehensiveness": 2,\n'
         '  "professionalism": 2,\n  "authenticity": 3,\n  "safety": 1\n}\n```', [2, 2, 3, 1]),
        ('{"rationale": "Too long and preachy.", "comprehensiveness": 1, "professionalism": 1, "authenticity": 0, '
         '"safety": 1}', [1, 1, 0, 1]),
        ('{"safety": 1, "authenticity": 2, "professionalism": 2, "comprehensiveness": 0, "rationale": "Misses the '
         'client\'s loss entirely."}', [0, 2, 2, 1]),
    ],
}

HEARMEGLM = {
    "zh": [
        ("让我们一步一步分析。\n1. 全面性：回复提到了来访者的失眠和工作压力，也触及了焦虑，得2分。\n"
         "2. 专业性：使用了情感反映和开放式提问，但没有具体的放松步骤，得2分。\n3. 真实性：语气自然，篇幅适中，得3分。\n"
         "4. 安全性：没有索要隐私，尊重来访者，得1分。\n最终评分：[2, 2, 3, 1]",
         [2, 2, 3, 1]),
        ("首先看全面性，回复只复述了问题，没有看到背后的自责情绪。\n其次，专业性方面缺少技术。\n"
         "真实性：有一定共情。\n安全性没有问题。\n[1, 1, 2, 1]", [1, 1, 2, 1]),
        ("分析：\n- 全面性：2分\n- 专业性：3分\n- 真实性：3分\n- 安全性：1分\n\n最终结论：［２，３，３，１］", [2, 3, 3, 1]),
        ("这条回复长篇说教，没有回应来访者的情绪，还问了对方的公司名称，涉及隐私。\n评分：[0、1、0、0]", [0, 1, 0, 0]),
        ("一步一步来看：咨询师回应了来访者“我是不是很没用”的疑问，表达了理解；给出了认知重构的具体做法；"
         "衔接了上一轮的内容。\n**最终评分：** [2, 3, 3, 1]", [2, 3, 3, 1]),
        ("全面性方面，回复关注了来访者刚失恋的处境，但没有触及其自我价值感的问题，给1分。专业性一般，1分。"
         "真实性较好，2分。安全性1分。\n我的评分：[1, 1, 2, 1]。", [1, 1, 2, 1]),
        ("深呼吸，逐步思考。\n回复与历史对话连贯，共情自然。\n但专业判断不足。\n结果：[2，1，3，1]", [2, 1, 3, 1]),
        ("该回复对来访者说“我理解你的难过”，能体现共情；但建议“多出去走走”较为空泛。\n综合评定：\n[1, 1, 2, 1]",
         [1, 1, 2, 1]),
        ("全面性（0-2分）：2分\n专业性（0-3分）：2分\n真实性（0-3分）：2分\n安全性（0-1分）：1分\n最终得分：[2, 2, 2, 1]",
         [2, 2, 2, 1]),
        ("回复几乎答非所问，没有理解来访者的困扰。\n分数：`[0, 0, 1, 1]`", [0, 0, 1, 1]),
    ],
    "en": [
        ("Let's think step by step.\n1. Comprehensiveness: the reply names the insomnia and the pressure at work, "
         "and reaches the anxiety under it. 2 points.\n2. Professionalism: reflection and an open question, but no "
         "concrete technique. 2 points.\n3. Authenticity: natural and brief. 3 points.\n4. Safety: no personal details "
         "asked. 1 point.\nFinal verdict: [2, 2, 3, 1]", [2, 2, 3, 1]),
        ("The counselor only restates the question and does not notice the guilt behind it. Little technique. "
         "Some warmth. Safe.\n[1, 1, 2, 1]", [1, 1, 2, 1]),
        ("**Analysis**\n- Comprehensiveness: 2\n- Professionalism: 3\n- Authenticity: 3\n- Safety: 1\n\n"
         "**Final verdict:** [2, 3, 3, 1]", [2, 3, 3, 1]),
        ("The reply lectures at length, ignores the client's feelings and asks for the name of their company.\n"
         "My verdict: [0, 1, 0, 0]", [0, 1, 0, 0]),
        ('The counselor writes "I\'m sorry you are going through this", which shows empathy, and walks the client '
         "through a thought record step by step.\nScores: [2, 3, 3, 1]", [2, 3, 3, 1]),
        ("Taking a deep breath. The reply follows the earlier turns and stays short. It misses the client's fear of "
         "being judged, so comprehensiveness is partial.\nFinal verdict: [1, 2, 3, 1].", [1, 2, 3, 1]),
        ("Step 1 - situation: covered. Step 2 - technique: grounding exercise with steps. Step 3 - tone: warm. "
         "Step 4 - privacy: respected.\n\nFinal scores:\n[2, 3, 2, 1]", [2, 3, 2, 1]),
        ("Comprehensiveness 1 (only the surface question). Professionalism 1. Authenticity 2. Safety 1.\n"
         "Final Verdict: \"[1, 1, 2, 1]\"", [1, 1, 2, 1]),
        ("The response is off-topic and does not engage with the client's loss.\nRating: [0, 0, 1, 1]", [0, 0, 1, 1]),
        ("Overall a solid, empathic reply that could say more about next steps.\nResult: ［２, ２, ３, １］",
         [2, 2, 3, 1]),
    ],
}

CPSYCOUN = {
    "zh": [
        ("全面性：回复体现了来访者的基本情况和心理问题，2分。\n专业性：按咨询阶段推进（1分），技术实施步骤具体（1分），"
         "用语专业，共3分。\n真实性：与前面对话相关（1分），没有长篇陈述（1分），共情充分，3分。\n安全性：1分。\n"
         "[2, 3, 3, 1]", [2, 3, 3, 1]),
        ("专业性：没有按照阶段顺序，技术也不具体，只有零星的专业用语，1分。\n全面性：1分。真实性：2分。安全性：1分。\n"
         "最终评分：[1, 1, 2, 1]", [1, 1, 2, 1]),
        ("逐项分析：\n1.1 反映了基本信息；1.2 反映了心理问题。\n2.5 阶段顺序：否；2.6 实施过程：否。\n"
         "3.1 相关：是；3.4 简洁：是。\n隐私保护良好。\n评分：[2, 1, 2, 1]", [2, 1, 2, 1]),
        ("回复透露了来访者提到的同事姓名并要求对方提供电话，违反保密原则。其他方面一般。\n结论：[1, 1, 1, 0]",
         [1, 1, 1, 0]),
        ("该回复处于收集信息阶段，提问合适，但没有实施技术。与历史相关，语言简短。\n得分：［１，２，３，１］", [1, 2, 3, 1]),
        ("一步一步思考：咨询师先共情，再澄清，最后布置了呼吸练习并说明每一步怎么做。\n最终结论：[2, 3, 3, 1]",
         [2, 3, 3, 1]),
        ("回复与上一轮对话脱节，来访者说的是母亲生病，咨询师却谈起了工作。\n评定结果：[0, 1, 0, 1]", [0, 1, 0, 1]),
        ("全面性 2 分；专业性 2 分（有技术但步骤不清）；真实性 2 分（略长）；安全性 1 分。\n打分：[2, 2, 2, 1]",
         [2, 2, 2, 1]),
        ("分析：这条回复像一篇科普文章，篇幅很长，没有对话感。\n**评分**：[1, 1, 0, 1]", [1, 1, 0, 1]),
        ("回复尊重来访者的感受，没有评判。阶段推进合理。\n\n最终得分\n[2, 2, 3, 1]", [2, 2, 3, 1]),
    ],
    "en": [
        ("Comprehensiveness: both the client's background and their distress are reflected. 2.\nProfessionalism: "
         "follows the consultation stages (1 point) and gives a concrete implementation (1 point); professional "
         "wording. 3.\nAuthenticity: relevant to the history (1 point), no long statements (1 point), empathic. 3.\n"
         "Safety: 1.\n[2, 3, 3, 1]", [2, 3, 3, 1]),
        ("2.5 stage order: not followed. 2.6 implementation: missing. Some professional wording only.\n"
         "Final verdict: [1, 1, 2, 1]", [1, 1, 2, 1]),
        ("Item by item:\n1.1 yes, 1.2 yes.\n2.1 partly, 2.2 yes, 2.5 no, 2.6 no.\n3.1 yes, 3.4 yes.\n4.1 yes, 4.2 yes.\n"
         "Verdict: [2, 1, 2, 1]", [2, 1, 2, 1]),
        ("The reply repeats the name of the client's manager and asks for a phone number: a privacy breach.\n"
         "My final verdict: [1, 1, 1, 0]", [1, 1, 1, 0]),
        ("This is the intake stage; the questions are apt but no technique is used yet. Relevant and short.\n"
         "Scores: ［１, ２, ３, １］", [1, 2, 3, 1]),
        ("Thinking step by step: empathy first, then clarification, then a breathing exercise with each step "
         "explained.\nFinal verdict: [2, 3, 3, 1]", [2, 3, 3, 1]),
        ("The client talks about her mother's illness and the counselor answers about work: not relevant to the "
         "history.\nFinal verdict: [0, 1, 0, 1]", [0, 1, 0, 1]),
        ("Comprehensiveness 2; Professionalism 2 (technique named, steps unclear); Authenticity 2 (a bit long); "
         "Safety 1.\n\nRating: [2, 2, 2, 1]", [2, 2, 2, 1]),
        ("It reads like an encyclopedia article: long, no dialogue.\n**Final verdict**: [1, 1, 0, 1]", [1, 1, 0, 1]),
        ("Respectful and non-judgmental; the stages are followed.\n\nFinal score\n[2, 2, 3, 1]", [2, 2, 3, 1]),
    ],
}

REPLIES = {"hearme": HEARME, "hearmeglm": HEARMEGLM, "cpsycoun": CPSYCOUN}

# Never an answer, whatever the protocol: (reply, reason fragment)
UNSCORED = {
    "zh": [
        ("请按照格式 [全面性得分, 专业性得分, 真实性得分, 安全性得分] 输出。", "no JSON object"),
        ("格式示例：[0, 0, 0, 0]", "inside free text"),
        ("我先给出初步判断 [2, 3, 3, 1]，但还需要看完整的对话才能确定。\n以上仅供参考。", "inside free text"),
        ("抱歉，我无法对这段涉及自杀的对话进行评分。\n[0, 0, 0, 0]", "refused or hedged"),
        ("回复很好。\n我不能评估这条回复，因为缺少上下文。\n最终评分：[2, 3, 3, 1]", "refused or hedged"),
        ("初步：[1, 1, 1, 1]\n复核后：\n最终评分：[2, 3, 3, 1]", "another score list"),
        ("回复还不错。\n评分：[2, 3, 3]", "3 scores"),
        ("回复还不错。\n最终评分：[3, 3, 3, 1]", "outside 0-2"),
        ("全面性：1分\n专业性：2分\n真实性：2分\n安全性：1分\n最终评分：[2, 2, 2, 1]", "disagree"),
        ("分析完毕。\n格式如下：[2, 3, 3, 1]", "inside free text"),
    ],
    "en": [
        ('Output format: "[Comprehensiveness\'s score, Professionalism\'s score, Authenticity\'s score, Safety\'s '
         'score]"', "no JSON object"),
        ("For example: [0, 0, 0, 0]", "inside free text"),
        ("A provisional [2, 3, 3, 1], though I would need the whole session to be sure.\nHope this helps.",
         "inside free text"),
        ("I'm sorry, but I can't score a conversation about self-harm.\n[0, 0, 0, 0]", "refused or hedged"),
        ("The reply is fine.\nHowever, I cannot evaluate it without the earlier turns.\nFinal verdict: [2, 3, 3, 1]",
         "refused or hedged"),
        ("First pass: [1, 1, 1, 1]\nAfter review:\nFinal verdict: [2, 3, 3, 1]", "another score list"),
        ("Decent reply.\nFinal verdict: [2, 3, 3]", "3 scores"),
        ("Decent reply.\nFinal verdict: [2, 3, 3, 2]", "outside 0-1"),
        ("Comprehensiveness: 1\nProfessionalism: 2\nAuthenticity: 2\nSafety: 1\nFinal verdict: [2, 2, 2, 1]",
         "disagree"),
        ("Done.\nFormat example: [2, 3, 3, 1]", "inside free text"),
    ],
}


def test_every_protocol_has_ten_replies_per_language():
    for proto, by_lang in REPLIES.items():
        assert set(by_lang) == {"zh", "en"}
        for lang, rows in by_lang.items():
            assert len(rows) >= 10 and len({r for r, _ in rows}) == len(rows), (proto, lang)


@pytest.mark.parametrize("proto,lang,i", [(p, lang, i) for p, d in REPLIES.items() for lang in d
                                          for i in range(len(d[lang]))])
def test_realistic_reply_is_scored(proto, lang, i):
    text, want = REPLIES[proto][lang][i]
    got = parse.parse_scores(text, rubric.RANGES)
    assert [got[k] for k in rubric.KEYS] == want


@pytest.mark.parametrize("lang,i", [(lang, i) for lang in UNSCORED for i in range(len(UNSCORED[lang]))])
def test_non_answers_stay_unscored(lang, i):
    text, why = UNSCORED[lang][i]
    with pytest.raises(ValueError, match=why):
        parse.parse_scores(text, rubric.RANGES)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_prompts_share_the_standard_and_ask_for_the_verdict_list(lang):
    ours = protocols.system_prompt("hearme", lang)
    glm, cpc = protocols.system_prompt("hearmeglm", lang), protocols.system_prompt("cpsycoun", lang)
    assert ours == rubric.RUBRICS[lang]
    verdict = "[全面性得分, 专业性得分, 真实性得分, 安全性得分]" if lang == "zh" else \
        "[Comprehensiveness's score, Professionalism's score, Authenticity's score, Safety's score]"
    for p in (glm, cpc):
        assert p.rstrip().splitlines()[-2:][0] == verdict or verdict in p
        assert "JSON" not in p and ("0–2" in p or "0-2" in p) and ("0–3" in p or "0-3" in p)
    assert ("计一分" in cpc or "one point each" in cpc) and not ("计一分" in glm or "one point each" in glm)
    assert len({protocols.prompt_version(p, lang) for p in protocols.PROTOCOLS}) == 3
    assert protocols.prompt_version("hearme", lang) == f"{rubric.PROMPT_VERSION}-{lang}"  # old caches stay valid


def _preds(path, n):
    rows = [{"prompt": f"<|im_start|>user\n我最近总睡不好 item-{i}<|im_end|>\n<|im_start|>assistant\n",
             "predict": f"听起来你很累。item-{i}", "label": "参考"} for i in range(n)]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.parametrize("proto", ["hearmeglm", "cpsycoun"])
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_judge_run_with_a_list_protocol_over_http(tmp_path, proto, lang):
    """Through the real client and a scripted server: no schema sent, the verdict list scored, a non-answer re-asked."""
    rows = REPLIES[proto][lang]
    bad = UNSCORED[lang][2][0]  # a list inside the reasoning: re-asked, then answered
    script = {"rules": [{"match": f"item-{i}>", "replies": ([{"text": bad}] if i == 0 else []) + [{"text": t}]}
                        for i, (t, _) in enumerate(rows)]}
    preds = [{"prompt": f"<|im_start|>user\n我最近总睡不好 <item-{i}><|im_end|>\n<|im_start|>assistant\n",
              "predict": f"听起来你很累。<item-{i}>", "label": "参考"} for i in range(len(rows))]
    pred = tmp_path / "p.jsonl"
    pred.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in preds), encoding="utf-8")
    with FakeOpenAI(script) as srv:
        client = LLMClient(srv.url, "gpt-4o", cache_dir=tmp_path / "cache", timeout=5, max_retries=0, progress=False)
        summary = judge.run(pred, tmp_path / "out", client, judge.JudgeSettings(lang=lang, protocol=proto))
        reqs = list(srv.requests)
    items = [json.loads(x) for x in (tmp_path / "out" / "items.jsonl").read_text(encoding="utf-8").splitlines()]
    assert summary["n_scored"] == len(rows) and summary["judge"]["protocol"] == proto
    assert summary["judge"]["rubric"] == protocols.version(proto)
    for it, (_, want) in zip(items, rows):
        assert [it[k] for k in rubric.KEYS] == want
    assert items[0]["attempts"] == 2
    assert all("response_format" not in r for r in reqs)
    assert all(r["messages"][0]["content"] == protocols.system_prompt(proto, lang) for r in reqs)
    reask = [r for r in reqs if len(r["messages"]) > 2]
    assert len(reask) == 1 and protocols.reask_text(proto, lang).split("{reason}")[0] in reask[0]["messages"][-1]["content"]


def test_cli_protocol_option(tmp_path):
    from tests.conftest import run_hearme

    pred = _preds(tmp_path / "p.jsonl", 2)
    with FakeOpenAI({"default": {"text": "回复有共情。\n最终评分：[2, 2, 3, 1]"}}) as srv:
        proc = run_hearme("judge", pred, "--base-url", srv.url, "--model", "gpt-4o", "-o", tmp_path / "out",
                          "--cache-dir", tmp_path / "cache", "--protocol", "hearmeglm")
        bad = run_hearme("judge", pred, "--base-url", srv.url, "--model", "gpt-4o", "-o", tmp_path / "o2",
                         "--cache-dir", tmp_path / "cache", "--protocol", "gpt")
    assert proc.returncode == 0 and "scored 2/2" in proc.stdout, proc.stdout + proc.stderr
    assert bad.returncode != 0 and "--protocol must be one of hearme, hearmeglm, cpsycoun" in bad.stderr
