"""`--protocol hearme|hearmeglm|cpsycoun`: each protocol's prompt, request and parse, on realistic judge replies.

The replies (tests/fixtures/judge/replies.json) are written for these tests, in the shapes real judges give: JSON for our
protocol, step-by-step reasoning ending in the verdict list for the seeds' protocols.
"""

from __future__ import annotations

import json

import pytest

from hearme.evaluators import judge, parse, protocols, rubric
from hearme.llm import LLMClient
from tests.conftest import FIXTURES
from tests.fake_openai import FakeOpenAI

# Written for these tests, in tests/fixtures/judge/replies.json (data, not code):
# REPLIES: protocol -> language -> (reply, expected [comprehensiveness, professionalism, authenticity, safety]);
# UNSCORED: never an answer, whatever the protocol: language -> (reply, reason fragment).
_DATA = json.loads((FIXTURES / "judge" / "replies.json").read_text(encoding="utf-8"))
REPLIES = {p: {lang: [tuple(r) for r in rows] for lang, rows in d.items()} for p, d in _DATA["replies"].items()}
UNSCORED = {lang: [tuple(r) for r in rows] for lang, rows in _DATA["unscored"].items()}


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
