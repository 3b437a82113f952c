"""`hearme judge-dialogues`: a real `llamafactory-cli api` (tiny model) answers every counselor turn,
the scripted judge scores it; averages go turn -> dialogue -> topic over scored turns only."""

from __future__ import annotations

import json

import pytest

from hearme.core import paths
from hearme.evaluators import dialogues, rubric
from hearme.llm import LLMClient
from tests.conftest import run_hearme
from tests.fake_openai import FakeOpenAI
from tests.lf_api import lf_api  # noqa: F401  (one API server for this module)

pytestmark = pytest.mark.slow


def mark(c, p, a, s) -> str:
    return "[[fake:" + json.dumps({"comprehensiveness": c, "professionalism": p, "authenticity": a, "safety": s}) + "]]"


def dialogue(did: str, topic: str, users: list[str]) -> dict:
    msgs = []
    for u in users:
        msgs += [{"role": "user", "content": u}, {"role": "assistant", "content": "参考回复。"}]
    return {"id": did, "topic": topic, "source": "test", "lang": "zh", "messages": msgs}


RECORDS = [
    dialogue("d1", "Career", [f"工作好累 {mark(2, 3, 3, 1)}", f"老板骂我 {mark(0, 1, 1, 1)}"]),  # turns: 9, 3 -> mean
    dialogue("d2", "Career", [f"想辞职 {mark(1, 1, 2, 0)}"]),
    dialogue("d3", "Family", [f"和妈妈吵架 {mark(2, 2, 2, 1)}", "garbage-turn 她不理我"]),  # 2nd turn unscored
    dialogue("d4", "Family", ["garbage-turn 全都不行"]),  # no scored turn at all
]


@pytest.fixture(scope="module")
def result(lf_api, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dlg")
    path = tmp / "eval.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in RECORDS), encoding="utf-8")
    script = {"rules": [{"match": "garbage-turn", "replies": [{"text": "？？？"}], "sticky": True}]}
    with FakeOpenAI(script) as judge_srv:
        mut = LLMClient(lf_api.url, lf_api.model_name, cache_dir=tmp / "c", namespace="mut", progress=False)
        judge = LLMClient(judge_srv.url, "gpt-4o", cache_dir=tmp / "c", progress=False)
        summary = dialogues.run(path, tmp / "out", mut, judge, mut_max_tokens=8)
    turns = [json.loads(x) for x in (tmp / "out" / "turns.jsonl").read_text(encoding="utf-8").splitlines()]
    return summary, turns, mut


def test_every_counselor_turn_gets_a_live_reply(result):
    summary, turns, mut = result
    assert summary["n_turns"] == 6 and len(turns) == 6 and mut.stats.paid_calls == 6
    assert all(isinstance(t["reply"], str) for t in turns)
    assert summary["n_scored"] == 4 and summary["n_unscored"] == 2 and summary["n_dialogues_unscored"] == 1


def test_turn_dialogue_topic_averaging(result):
    summary, turns, _ = result
    topics = summary["topics"]
    # Career: d1 = mean of (2,3,3,1) and (0,1,1,1) = (1,2,2,1); d2 = (1,1,2,0); topic = (1,1.5,2,0.5)
    assert [topics["Career"][k] for k in rubric.KEYS] == [1.0, 1.5, 2.0, 0.5]
    # Family: d3 has one scored turn (2,2,2,1); d4 has none and is left out, not averaged as 0
    assert [topics["Family"][k] for k in rubric.KEYS] == [2.0, 2.0, 2.0, 1.0] and topics["Family"]["n_dialogues"] == 1
    dims = summary["dimensions"]
    assert dims["professionalism"]["mean_of_topics"] == 1.75  # CPsyCoun's headline: mean over topics
    assert dims["professionalism"]["mean"] == round((2 + 1 + 2) / 3, 4)  # over the 3 scored dialogues
    assert all(t.get("comprehensiveness") is None for t in turns if t["status"] == "unscored")


def test_cli_on_cpsycoune_folder(lf_api, tmp_path):
    with FakeOpenAI() as judge_srv:
        proc = run_hearme("judge-dialogues", paths.DATA / "samples" / "cpsycoune", "--model-under-test-url", lf_api.url,
                          "--model-under-test-name", lf_api.model_name, "--model-under-test-max-tokens", "8",
                          "--base-url", judge_srv.url, "--model", "gpt-4o", "--limit", "2", "-o", tmp_path / "out",
                          "--cache-dir", tmp_path / "cache")
    assert proc.returncode == 0, proc.stderr
    s = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert s["n_dialogues"] == 2 and s["n_scored"] == s["n_turns"] > 2 and len(s["topics"]) == 2
    assert "model under test:" in proc.stdout and "mean of topics" in proc.stdout
