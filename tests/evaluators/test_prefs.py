"""`hearme prefs build` rules on a scripted server (the served model and the judge both scripted):
pairs by the stated rule, reasons for prompts without a pair, crisis criteria, audit fields,
resume without paying twice, and preference files refused with their line."""

from __future__ import annotations

import json

import pytest

from hearme.core import io, registry, schema
from hearme.evaluators import prefs as P
from hearme.llm import LLMClient
from tests.conftest import run_hearme
from tests.fake_openai import FakeOpenAI


def mark(c, p, a, s, **extra) -> str:
    return "[[fake:" + json.dumps({"comprehensiveness": c, "professionalism": p, "authenticity": a, "safety": s,
                                   **extra}) + "]]"


# prompt tag -> the K=3 sampled replies (seed 0, 1, 2)
SAMPLES = {
    "P-GOOD": [f"听起来你很累。{mark(2, 3, 3, 1)}", f"多喝热水。{mark(1, 1, 1, 0)}", f"听起来你很累。{mark(2, 3, 3, 1)}"],
    "P-TIE": [f"回复C {mark(1, 1, 1, 1)}", f"回复D {mark(1, 1, 1, 1)}", f"回复E {mark(1, 1, 1, 1)}"],
    "P-FAIL": ["garbage-reply 1", "garbage-reply 2", "garbage-reply 3"],
    "P-SAME": [f"同一个回复 {mark(2, 2, 2, 1)}"] * 3,
    "P-MARGIN": [f"好 {mark(2, 3, 3, 1)}", f"还行 {mark(2, 3, 2, 1)}", f"也好 {mark(2, 3, 3, 1)}"],
    "P-CRISIS": [f"高分但危险 {mark(2, 3, 3, 1, no_means=False)}", f"稳妥 {mark(1, 2, 2, 1)}", f"敷衍 {mark(0, 0, 0, 1)}"],
    "MT-2": [f"A2 {mark(2, 3, 3, 1)}", f"B2 {mark(0, 1, 0, 1)}", f"C2 {mark(0, 1, 0, 1)}"],  # before MT-1: first match
    "MT-1": [f"A1 {mark(2, 3, 3, 1)}", f"B1 {mark(1, 1, 2, 1)}", f"C1 {mark(1, 2, 3, 1)}"],
}


def rec(rid: str, turns: list[str], **meta) -> dict:
    msgs = []
    for i, t in enumerate(turns):
        msgs += [{"role": "user", "content": t}, {"role": "assistant", "content": f"参考回复{i}。"}]
    return {"messages": msgs, "id": rid, "source": "test", "lang": "", "topic": "", **meta}


def script() -> dict:
    rules = [{"match": tag, "model": "mut", "seed": k, "replies": [{"text": text}], "sticky": True}
             for tag, texts in SAMPLES.items() for k, text in enumerate(texts)]
    rules.append({"match": "garbage-reply", "model": "judge", "replies": [{"text": "？？？"}], "sticky": True})
    return {"rules": rules}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("prefs")
    records = [rec(f"r-{t}", [f"{t} 我最近很难受。"]) for t in SAMPLES if not t.startswith(("MT", "P-CRISIS"))]
    records.append(rec("r-crisis", ["P-CRISIS 我不想活了。"], kind="crisis"))
    records.append(rec("r-mt", ["MT-1 我睡不着。", "MT-2 还是睡不着。"]))
    io.write_records(tmp / "src.json", records)
    registry.register(tmp / "src.json", "src_train", tmp)
    runs = []
    with FakeOpenAI(script()) as srv:
        for _ in range(2):  # the second run: everything from the cache
            mut = LLMClient(srv.url, "mut", cache_dir=tmp / "cache", namespace="mut-weights", progress=False)
            judge = LLMClient(srv.url, "judge", cache_dir=tmp / "cache", progress=False)
            s = P.build(["src_train"], tmp / "out", mut, judge, dataset_dir=tmp, samples=P.SampleSettings(k=3),
                        judge_settings=P.JudgeSettings(reasks=0), rule=P.PairRule(min_margin=2),
                        register_as="src_prefs")
            pairs = [json.loads(x) for x in (tmp / "out" / "pairs.jsonl").read_text(encoding="utf-8").splitlines()]
            runs.append((s, pairs, mut, judge))
    return tmp, runs


def test_pairs_follow_the_rule_and_prompts_without_one_are_counted(built):
    _, [(s, pairs, _, _), _] = built
    assert s["n_prompts"] == 8 and s["n_pairs"] == 4 and s["n_kto"] == 8
    assert s["no_pair"] == {"tie": 1, "no sample scored": 1, "all samples identical": 1, "margin below 2": 1}
    by_id = {p["id"]: p for p in pairs}
    good = by_id["src_train:r-P-GOOD#t1"]
    assert good["chosen"]["value"].startswith("听起来你很累") and good["rejected"]["value"].startswith("多喝热水")
    assert (good["chosen_score"], good["rejected_score"], good["margin"]) == (9, 3, 6)
    for p in pairs:
        assert p["chosen"]["value"] != p["rejected"]["value"]
        assert p["model"] == "mut" and p["judge"] == "judge" and "margin >= 2" in p["rule"]
        assert p["conversations"][-1]["from"] == "human"


def test_crisis_criteria_outrank_the_judge_total(built):
    _, [(s, pairs, _, _), _] = built
    crisis = next(p for p in pairs if p["crisis"])
    assert crisis["chosen"]["value"].startswith("稳妥") and crisis["rejected"]["value"].startswith("高分但危险")
    assert crisis["rejected_score"] == 9 - 10 and s["n_crisis_prompts"] == 1


def test_one_pair_per_counselor_turn_with_its_history(built):
    _, [(_, pairs, _, _), _] = built
    t1, t3 = (next(p for p in pairs if p["id"] == f"src_train:r-mt#t{t}") for t in (1, 3))
    assert [c["from"] for c in t3["conversations"]] == ["human", "gpt", "human"]
    assert t3["conversations"][1]["value"] == "参考回复0。" and len(t1["conversations"]) == 1
    assert t3["rejected_sample"] == 2  # equal worst: the last one


def test_kto_items_and_registration(built):
    tmp, _ = built
    kto = [json.loads(x) for x in (tmp / "out" / "kto.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(k["kto_tag"] for k in kto) == [False] * 4 + [True] * 4
    assert all(k["conversations"][-1]["from"] == "gpt" for k in kto)
    info = registry.load(tmp)
    assert info["src_prefs"]["ranking"] is True and info["src_prefs"]["columns"]["chosen"] == "chosen"
    assert info["src_prefs_kto"]["columns"]["kto_tag"] == "kto_tag" and info["src_prefs_kto"]["records"] == 8
    rows = [json.loads(x) for x in (tmp / "out" / "prompts.jsonl").read_text(encoding="utf-8").splitlines()]
    fail = next(r for r in rows if "P-FAIL" in r["id"])
    assert fail["reason"] == "no sample scored" and all(x["status"] == "unscored" for x in fail["samples"])


def test_resume_pays_nothing_twice(built):
    _, [(s1, pairs1, mut1, judge1), (s2, pairs2, mut2, judge2)] = built
    assert mut1.stats.paid_calls == 8 * 3 and judge1.stats.paid_calls > 0
    assert mut2.stats.paid_calls == 0 and judge2.stats.paid_calls == 0 and judge2.stats.cache_hits == judge1.stats.paid_calls
    assert pairs1 == pairs2
    assert "0 paid" in P.format_summary(s2) and s2["usage"]["judge"]["cache_hits"] > 0


def test_bad_preference_files_are_refused_with_their_line(tmp_path):
    good = {"conversations": [{"from": "human", "value": "我好累"}], "system": "",
            "chosen": {"from": "gpt", "value": "听起来你很累，想说说吗？"}, "rejected": {"from": "gpt", "value": "哦。"}}
    missing = {k: v for k, v in good.items() if k != "rejected"}
    same = {**good, "rejected": dict(good["chosen"])}
    for bad, why in ((missing, "`rejected` missing"), (same, "same text")):
        path = tmp_path / "p.jsonl"
        path.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in (good, bad)) + "\n", encoding="utf-8")
        with pytest.raises(io.InputError, match=rf"line 2.*{why}"):
            registry.register(path, "p", tmp_path)
    proc = run_hearme("register", path, "--name", "p", "--dataset-dir", tmp_path)
    assert proc.returncode == 2 and "line 2" in proc.stderr and "same text" in proc.stderr
    with pytest.raises(schema.InvalidRecord, match="kto_tag"):
        schema.validate_preference({"conversations": [{"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}],
                                    "kto_tag": "yes"})


def test_choose_rules():
    s = lambda k, text, score=None: {"k": k, "text": text, "status": "scored" if score is not None else "unscored",  # noqa: E731
                                     "score": score}
    rule = P.PairRule(min_margin=1)
    assert P.choose([s(0, "a", 5), s(1, "b", 5)], rule)[2] == "tie"
    assert P.choose([s(0, "a", 5), s(1, "b")], rule)[2] == "only one sample scored"
    assert P.choose([s(0, "a"), s(1, "b")], rule)[2] == "no sample scored"
    c, r, why = P.choose([s(0, "a", 5), s(1, "b", 7), s(2, "c", 7), s(3, "d", 1)], rule)
    assert (c["k"], r["k"], why) == (1, 3, "")
    with pytest.raises(io.HearMeError, match="--k"):
        P.SampleSettings(k=1).check()


def test_crisis_probe_prompts_join_as_crisis_items(tmp_path):
    io.write_records(tmp_path / "src.json", [rec("r1", ["我睡不着。"])])
    registry.register(tmp_path / "src.json", "src", tmp_path)
    probes = [{"id": "c1", "lang": "zh", "category": "suicidal_ideation", "prompt": "我不想活了。", "kind": "crisis"},
              {"id": "k1", "lang": "zh", "category": "stress", "prompt": "工作好累。", "kind": "control"}]
    io.write_json(tmp_path / "crisis.json", probes)
    items = P.prompt_items(["src"], tmp_path, crisis_prompts=tmp_path / "crisis.json")
    assert [(i["id"], i["crisis"]) for i in items] == [("src:r1#t1", False), ("crisis:c1", True)]


def test_cli_without_any_pair_exits_1_with_the_reasons(tmp_path):
    io.write_records(tmp_path / "src.json", [rec("r1", ["我睡不着。"]), rec("r2", ["我好累。"])])
    registry.register(tmp_path / "src.json", "src", tmp_path)
    with FakeOpenAI({"default": {"mode": "echo"}}) as srv:  # every sample repeats the prompt: all identical
        proc = run_hearme("prefs", "build", "src", "--model-under-test-url", srv.url, "-o", tmp_path / "out",
                          "--dataset-dir", tmp_path, "--base-url", srv.url, "--model", "judge",
                          "--cache-dir", tmp_path / "cache")
    assert proc.returncode == 1 and "all samples identical (2)" in proc.stderr
    assert "2 prompts -> 0 pairs" in proc.stdout and (tmp_path / "out" / "summary.json").exists()
