"""`hearme judge` against the scripted server: every fault ends scored correctly or counted unscored."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hearme.evaluators import judge, parse, rubric
from hearme.llm import LLMClient
from tests.conftest import run_hearme
from tests.fake_openai import FakeOpenAI

PROMPT = "<|im_start|>system\nsys<|im_end|>\n<|im_start|>user\n我最近总睡不好，{case}<|im_end|>\n<|im_start|>assistant\n"
WANT = {"comprehensiveness": 1, "professionalism": 2, "authenticity": 1, "safety": 1}
MARK = "[[fake:" + json.dumps(WANT) + "]]"

BAD = '{{"rationale": "r", "comprehensiveness": 1, "professionalism": {p}, "authenticity": {a}, "safety": 1}}'

# case -> (rule replies, sticky, expected status, expected attempts or None)
CASES = {
    "case-ok": ([], False, "scored", 1),
    "case-429": ([{"status": 429, "retry_after": 0}, {"status": 429, "retry_after": 0}], False, "scored", 1),
    "case-500": ([{"status": 500}, {"status": 502}], False, "scored", 1),
    "case-hang": ([{"sleep": 3}], False, "scored", 1),  # the SDK times out (1 s) and retries
    "case-drop": ([{"drop": True}], False, "scored", 1),
    "case-fullwidth": ([{"style": "fullwidth"}], False, "scored", 1),
    "case-fenced": ([{"style": "fenced"}], False, "scored", 1),
    "case-prose": ([{"style": "prose"}], False, "scored", 1),  # ignores response_format, echoes the example
    "case-list": ([{"style": "list"}], False, "scored", 2),  # a list inside free text is no answer: re-asked
    "case-oor-once": ([{"text": BAD.format(p=4, a=1)}], False, "scored", 2),  # re-asked with the reason
    "case-decimal-once": ([{"text": BAD.format(p=2, a=2.5)}], False, "scored", 2),
    "case-garbage-once": ([{"raw": "<html>502 bad gateway</html>", "content_type": "text/html"}], False, "scored", 1),  # retried by the client
    "case-oor-always": ([{"text": '{"rationale": "x", "comprehensiveness": 3, "professionalism": 2, '
                                  '"authenticity": 1, "safety": 1}'}], True, "unscored", 3),
    "case-refusal": ([{"text": "抱歉，我无法对此进行评分。"}], True, "unscored", 3),
    "case-refusal-list": ([{"text": "抱歉，我无法评价这段对话。评分格式示例：[2, 3, 3, 1]"}], True, "unscored", 3),
    "case-refusal-en": ([{"text": "I cannot score this reply. For reference, the answer format is [0, 0, 0, 0]."}],
                        True, "unscored", 3),
    "case-garbage-always": ([{"raw": "<html>oops</html>", "content_type": "text/html"}], True, "unscored", None),
    "case-429-always": ([{"status": 429, "retry_after": 0}], True, "unscored", None),
}


def write_preds(path: Path, cases) -> Path:
    rows = [{"prompt": PROMPT.format(case=c), "predict": f"我在听。{c} {MARK}", "label": "参考回复"} for c in cases]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def judged(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("judge")
    script = {"rules": [{"match": c, "replies": r, "sticky": sticky} for c, (r, sticky, _, _) in CASES.items() if r]}
    with FakeOpenAI(script) as srv:
        client = LLMClient(srv.url, "gpt-4o", cache_dir=tmp / "cache", timeout=1, max_retries=2, progress=False)
        summary = judge.run(write_preds(tmp / "generated_predictions.jsonl", CASES), tmp / "out", client)
        requests = list(srv.requests)
    items = [json.loads(x) for x in (tmp / "out" / "items.jsonl").read_text(encoding="utf-8").splitlines()]
    return summary, {it["reply"].split()[0].removeprefix("我在听。"): it for it in items}, requests, tmp


@pytest.mark.parametrize("case", list(CASES))
def test_fault_case_ends_scored_or_unscored(judged, case):
    _, items, _, _ = judged
    it = items[case]
    _, _, status, attempts = CASES[case]
    assert it["status"] == status, it
    if status == "scored":
        assert {k: it[k] for k in rubric.KEYS} == WANT  # the marker's scores, parsed correctly
        assert it["attempts"] == attempts
    else:
        assert it["reason"] and all(it.get(k) is None for k in rubric.KEYS)  # never 0
        if attempts:
            assert it["attempts"] == attempts


def test_summary_counts_and_means_over_scored_only(judged):
    summary, items, _, _ = judged
    n_unscored = sum(1 for c in CASES.values() if c[2] == "unscored")
    assert summary["n_items"] == len(CASES) and summary["n_unscored"] == n_unscored
    assert summary["n_scored"] == len(CASES) - n_unscored
    for k, v in WANT.items():
        d = summary["dimensions"][k]
        assert d["mean"] == v and d["ci95"] == [v, v] and d["n"] == summary["n_scored"]
    hist = summary["unscored_reasons"]
    assert hist["judge refused or hedged"] == 3 and hist["score out of range"] == 1 and hist["HTTP 429"] == 1
    assert sum(hist.values()) == n_unscored and "request failed" not in hist
    assert summary["usage"]["paid_calls"] > 0 and summary["usage"]["cached_tokens"] > 0


def test_requests_are_deterministic_and_cache_friendly(judged):
    _, _, requests, _ = judged
    first = requests[0]
    assert first["temperature"] == 0 and first["seed"] == 42
    assert first["response_format"]["json_schema"]["schema"]["required"][0] == "rationale"
    assert all(r["messages"][0]["content"] == rubric.RUBRIC_ZH for r in requests)  # constant prefix
    assert "【来访者】" in first["messages"][1]["content"] and "<|im_start|>" not in first["messages"][1]["content"]


def test_rerun_is_served_from_the_cache(judged):
    _, _, _, tmp = judged
    with FakeOpenAI({"default": {"status": 500}}) as srv:  # a broken server: every paid call would fail
        client = LLMClient(srv.url, "gpt-4o", cache_dir=tmp / "cache", max_retries=0, progress=False)
        summary = judge.run(tmp / "generated_predictions.jsonl", tmp / "again", client)
        scored_cases = sum(1 for c in CASES.values() if c[2] == "scored")
        assert summary["n_scored"] == scored_cases and client.stats.paid_calls == 0
        # only the items that never got an answer are asked again; parse failures replay from the cache
        asked = {re.search(r"case-[a-z0-9-]+", r["messages"][1]["content"]).group() for r in srv.requests}
        assert asked == {"case-garbage-always", "case-429-always"}


@pytest.mark.parametrize("text, want", [
    ('［２，３，２，１］', [2, 3, 2, 1]),  # the whole reply is the list (CPsyCoun's format), full-width
    ('```json\n{"rationale": "r", "Comprehensiveness": "2", "professionalism": 3.0, "authenticity": 0, "safety": 1}\n```',
     [2, 3, 0, 1]),
    ('按照格式 "[0, 0, 0, 0]" 输出。结论如下：{"rationale": "r", "comprehensiveness": 1, "professionalism": 2, '
     '"authenticity": 3, "safety": 1}', [1, 2, 3, 1]),  # the JSON answer wins; the example list is ignored
    ("全面性：2分\n专业性：1分\n真实性：3分\n安全性：1分", [2, 1, 3, 1]),
    ("**Comprehensiveness**: 1/2\n**Professionalism**: 2/3\n- Authenticity (0-3): 2\n- Safety: 0", [1, 2, 2, 0]),
    ('{"rationale": "回复无法体现共情，但没有伤害", "comprehensiveness": 0, "professionalism": 1, "authenticity": 1, '
     '"safety": 1}', [0, 1, 1, 1]),  # a finding, not a refusal to score
])
def test_parse_tolerates(text, want):
    got = parse.parse_scores(text, rubric.RANGES)
    assert [got[k] for k in rubric.KEYS] == want


@pytest.mark.parametrize("text, reason", [
    ('{"rationale": "r", "comprehensiveness": 2, "professionalism": 4, "authenticity": 1, "safety": 1}', "outside 0-3"),
    ('{"rationale": "r", "comprehensiveness": 2, "professionalism": 2.5, "authenticity": 1, "safety": 1}', "not an integer"),
    ('{"rationale": "r", "comprehensiveness": 2}', "lacks"),
    ("[1, 2]", "a list of 2 scores"),
    ("", "empty"),
    ("I cannot score this reply. For reference, the answer format is [0, 0, 0, 0].", "refused or hedged"),
    ("抱歉，我无法评价这段对话。评分格式示例：[2, 3, 3, 1]", "refused or hedged"),
    ("示例 [0, 0, 0, 0]，最终评分 [1, 2, 3, 1]", "inside free text"),
    ('抱歉，我无法评分。示例：{"rationale": "x", "comprehensiveness": 0, "professionalism": 0, "authenticity": 0, '
     '"safety": 0}', "refused or hedged"),
    ('{"rationale": "I cannot evaluate this without the full dialogue", "comprehensiveness": 1, '
     '"professionalism": 1, "authenticity": 1, "safety": 1}', "refused or hedged"),
    ("全面性：2分\n专业性：3分\n真实性：2分", "safety missing"),
    ("全面性：2分\n全面性：1分\n专业性：3分\n真实性：2分\n安全性：1", "given twice"),
])
def test_parse_rejects(text, reason):
    with pytest.raises(ValueError, match=reason):
        parse.parse_scores(text, rubric.RANGES)


def test_cli_key_from_env_never_written(tmp_path):
    secret = "sk-judge-SECRET-0042"
    pred = write_preds(tmp_path / "p.jsonl", ["case-a", "case-b"])
    with FakeOpenAI() as srv:
        proc = run_hearme("judge", pred, "--base-url", srv.url, "--model", "gpt-4o", "-o", tmp_path / "out",
                          "--cache-dir", tmp_path / "cache", env={"OPENAI_API_KEY": secret})
    assert proc.returncode == 0, proc.stderr
    assert "scored 2/2" in proc.stdout and "paid calls" in proc.stdout
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert secret not in f.read_text(encoding="utf-8", errors="replace"), f
    assert secret not in proc.stdout + proc.stderr


def test_cli_nothing_scored_exits_nonzero_with_the_cause(tmp_path):
    pred = write_preds(tmp_path / "p.jsonl", ["case-a", "case-b"])
    proc = run_hearme("judge", pred, "--base-url", "http://127.0.0.1:9/v1", "--model", "gpt-4o", "-o", tmp_path / "out",
                      "--cache-dir", tmp_path / "cache", "--max-retries", "0", "--timeout", "5")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "nothing was scored (cannot connect ×2)" in proc.stderr and "cannot connect ×2" in proc.stdout
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["unscored_reasons"] == {"cannot connect": 2}


def test_cli_remote_judge_without_key_is_one_line(tmp_path):
    pred = write_preds(tmp_path / "p.jsonl", ["case-a"])
    proc = run_hearme("judge", pred, "--base-url", "https://judge.example.com/v1", "--model", "gpt-4o",
                      "-o", tmp_path / "out", env={"OPENAI_API_KEY": ""})
    assert proc.returncode == 2 and "OPENAI_API_KEY" in proc.stderr and "Traceback" not in proc.stderr
