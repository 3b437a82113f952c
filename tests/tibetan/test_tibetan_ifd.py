"""Multi-turn IFD on the tiny model against a direct computation with the model's own loss."""

from __future__ import annotations

import json
import math

import pytest

from hearme.core import io
from hearme.tibetan import ifd
from tests.conftest import run_hearme

DIALOGUES = [
    ["ང་ལ་སེམས་ཁྲལ་ཆེན་པོ་ཡོད།", "ཁྱེད་ཀྱི་ཚོར་བ་ང་ལ་བཤད་པར་ཐུགས་རྗེ་ཆེ།", "མཚན་མོ་གཉིད་མི་ཁུག", "ང་ཚོས་མཉམ་དུ་ཐབས་ལམ་འཚོལ་ཐུབ།"],
    ["我最近总是失眠，心里很烦。", "听起来你最近很辛苦。能说说是什么让你睡不着吗？"],
    ["考试快到了，我很紧张。", "考前紧张很常见，说明你很在乎。", "可是我怕考砸。", "我们先试试深呼吸，慢慢来。",
     "好的，谢谢你。", "不客气，随时可以再来聊。"],
]


def records() -> list[dict]:
    out = []
    for i, utts in enumerate(DIALOGUES):
        msgs = [{"role": "user" if k % 2 == 0 else "assistant", "content": u} for k, u in enumerate(utts)]
        if i == 2:
            msgs.insert(0, {"role": "system", "content": "你是一名心理咨询师。"})
        out.append({"messages": msgs, "id": f"d{i}", "source": "test", "lang": "zh", "topic": ""})
    return out


@pytest.fixture(scope="module")
def scorer(tiny_model):
    return ifd.Scorer(tiny_model, device="cpu")


def direct(scorer: ifd.Scorer, rec: dict, template: bool, max_length: int) -> list[tuple[float, float]]:
    """(CAS, DAS) per assistant turn, one model call each, with HF's own label-shifted loss."""
    import torch

    tok, model = scorer.tok, scorer.model
    msgs = rec["messages"]
    text = tok.apply_chat_template(msgs, tokenize=False) if template else "\n".join(m["content"] for m in msgs)
    out, cursor = [], 0
    for m in msgs:
        if m["role"] != "assistant":
            continue
        at = text.find(m["content"], cursor)
        cursor = at + len(m["content"])
        prefix = [tok.bos_token_id] + tok(text[:at], add_special_tokens=False)["input_ids"]
        answer = tok(m["content"], add_special_tokens=False)["input_ids"]
        ids = (prefix + answer)[-max_length:]
        labels = [-100] * (len(ids) - len(answer)) + answer[-len(ids):] if len(answer) < len(ids) else list(ids)
        with torch.no_grad():
            cas = model(input_ids=torch.tensor([ids]), labels=torch.tensor([labels])).loss.item()
            d_ids = [tok.bos_token_id] + answer[-(max_length - 1):]
            das = model(input_ids=torch.tensor([d_ids]), labels=torch.tensor([[-100] + d_ids[1:]])).loss.item()
        out.append((cas, das))
    return out


@pytest.mark.parametrize("template", [True, False])
def test_values_match_direct_computation(tiny_model, template):
    sc = ifd.Scorer(tiny_model, device="cpu", template=template)
    for rec, got in zip(records(), sc.score(records())):
        want = direct(sc, rec, template, sc.max_length)
        assert len(got["turns"]) == len(want)
        for t, (cas, das) in zip(got["turns"], want):
            assert t["cas"] == pytest.approx(cas, abs=1e-5) and t["das"] == pytest.approx(das, abs=1e-5)
            assert t["ifd"] == pytest.approx(cas / das, abs=1e-5)
        assert got["ifd"] == pytest.approx(sum(c / d for c, d in want) / len(want), abs=1e-5)


def test_history_cut_from_the_left_beyond_the_limit(tiny_model):
    sc = ifd.Scorer(tiny_model, device="cpu", max_length=48)
    rec = records()[2]
    got = sc.score([rec])[0]
    want = direct(sc, rec, True, 48)
    assert sc.encode(rec).turns[-1].end > 48  # the last turns really needed a window
    for t, (cas, das) in zip(got["turns"], want):
        assert t["cas"] == pytest.approx(cas, abs=1e-5) and t["das"] == pytest.approx(das, abs=1e-5)


def test_batched_equals_one_at_a_time(scorer):
    recs = records() * 3
    a = scorer.score(recs, batched=True)
    b = scorer.score(recs, batched=False)
    for x, y in zip(a, b):
        for tx, ty in zip(x["turns"], y["turns"]):
            assert abs(tx["ifd"] - ty["ifd"]) < 1e-4 and abs(tx["cas"] - ty["cas"]) < 1e-4
    # the shared-history trick: one CAS pass per dialogue instead of one per answer
    assert len(scorer.passes(recs, shared=True)[0]) < len(scorer.passes(recs, shared=False)[0])


def test_token_weighted_aggregate(scorer):
    got = scorer.score(records()[:1], aggregate="tokens")[0]
    n = sum(t["tokens"] for t in got["turns"])
    cas = sum(t["cas"] * t["tokens"] for t in got["turns"]) / n
    das = sum(t["das"] * t["tokens"] for t in got["turns"]) / n
    assert got["ifd"] == pytest.approx(cas / das)
    with pytest.raises(io.HearMeError, match="aggregate"):
        scorer.score(records(), aggregate="median")


def _fake_scores(values):
    return [{"id": f"r{i}", "ifd": v} for i, v in enumerate(values)]


def test_selection_drops_ifd_above_one_then_keeps_the_top():
    recs = [{"messages": [], "id": f"r{i}"} for i in range(6)]
    scores = _fake_scores([0.5, 1.2, 0.9, math.nan, 0.7, 1.0])
    kept, tally = ifd.select(recs, scores, top_fraction=0.5)
    assert [r["id"] for r in kept] == ["r2", "r5"]  # 4 eligible (<= 1), top half = 0.9 and 1.0, original order
    assert kept[0]["ifd"] == "0.900000"
    assert tally.read == 6 and tally.written == 2 and tally.rejected == 4 and tally.balanced
    reasons = {r["position"]: r["reason"] for r in tally.rejects}
    assert "the history does not help" in reasons["r1"] and "no scorable" in reasons["r3"]
    assert "below the selection cut" in reasons["r0"]
    kept, _ = ifd.select(recs, scores, top_n=10)
    assert len(kept) == 4
    kept, _ = ifd.select(recs, scores, max_ifd=2.0)
    assert len(kept) == 5
    with pytest.raises(io.HearMeError, match="not both"):
        ifd.select(recs, scores, top_fraction=0.5, top_n=1)


def test_run_writes_selection_scores_and_rejects(tmp_path, tiny_model):
    io.write_records(tmp_path / "in.json", records())
    rep = ifd.run(tmp_path / "in.json", tmp_path / "out.json", tiny_model, max_ifd=10, top_n=2, progress=False)
    assert rep["read"] == 3 and rep["written"] == 2 and rep["rejected"] == 1
    scores = [json.loads(x) for x in ifd.scores_path(tmp_path / "out.json").read_text(encoding="utf-8").splitlines()]
    assert [len(s["turns"]) for s in scores] == [2, 1, 3]
    assert all({"cas", "das", "ifd", "tokens"} <= set(t) for s in scores for t in s["turns"])
    assert len(io.load_records(tmp_path / "out.json")) == 2


@pytest.mark.slow
def test_cli_ifd(tmp_path, tiny_model):
    io.write_records(tmp_path / "in.jsonl", records())
    p = run_hearme("tibetan", "ifd", tmp_path / "in.jsonl", "-o", tmp_path / "out.jsonl", "--model", tiny_model,
                   "--max-ifd", "10", "--top-fraction", "0.5", "--no-template")
    assert p.returncode == 0, p.stderr
    assert "read=3 written=2 rejected=1" in p.stdout
    assert "timing (ifd, dialogues scored): " in p.stdout and " lines/s, " in p.stdout
    p = run_hearme("tibetan", "ifd", tmp_path / "in.jsonl", "-o", tmp_path / "o.jsonl", "--model", tmp_path / "nope")
    assert p.returncode == 2 and "no such model directory" in p.stderr
