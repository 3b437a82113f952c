"""The Tibetan filter: every check, the LM thresholds, accounting, and the paper's Figure 3 garbage."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hearme.core import io, paths
from hearme.tibetan import filter as F, filter_lm as FL
from hearme.tibetan import ngram
from tests.conftest import run_hearme

SAMPLES = paths.DATA / "samples" / "tibetan"
CLEAN = "ཁྱེད་ཀྱིས་སེམས་ཁྲལ་ཆེན་པོ་བྱེད་ཀྱི་འདུག ང་ཚོས་མཉམ་དུ་ཐབས་ལམ་འཚོལ་ཐུབ།"
# The paper's Figure 3: "Tibetan" replies that are Georgian, Lao or Oriya.
FIGURE3 = [
    "ასა და ჰუთისა ერთა გვერდზე ერთ დროში აცი სხვა კალა საჭიროება",
    "ລາຍເນີນວ່າ ແລ້ວ ສະແດງວ່າ ມີສາຂະແໜງໃຫຍ່ຢູ່ທີ່ບໍ່ໄດ້ຮັບຮັດ",
    "ତୁମ୍ଭୁଷାନକୁଇଏଖିଏ'ଗାଟ-ର୍ଯୁ'ଲିଖାହୁର୍ବୁ'ପୁନଃକ'କ୍ଷଣା'ଶାସ୍ତ୍ରୀ'",
    "ལྷ རྒྱྱନ୍ འମ୍ବାଦୁର୍ବଳ କାହାରେ ପ୍ରତିକାର କରିବାକୁ ଆଶା କରିବାକୁ ଅବଶ୍ୟକ ନାହିଁ ।",
    "གོན་ງຸང་དྲྟା ཡྲྟା དྲྟା དྲྟା དྲྟା དྲྟା དྲྟା དྲྟା དྲྟା དྲྟା",
]


def reasons(text: str, **kw) -> list[str]:
    return F.measure(text, F.Checks(**kw))[1]


# ---------------------------------------------------------------- the cheap checks

def test_clean_tibetan_passes():
    m, r = F.measure(CLEAN, F.Checks())
    assert r == [] and m["syllables"] == 17 and m["foreign"] == 0 and m["malformed"] == 0


@pytest.mark.parametrize("line", FIGURE3)
def test_figure3_garbage_fails_script_purity(line):
    assert any(r.startswith("script:") for r in reasons(line))


def test_script_purity_thresholds():
    one_latin = CLEAN + " OK"
    assert reasons(one_latin) == []                        # 2 Latin letters of 46: under 5 %
    assert any("script" in r for r in reasons(one_latin, max_foreign=0.01))
    one_georgian = CLEAN + " ა"
    assert any("georgian" in r for r in reasons(one_georgian))  # an unexpected script fails at any share
    assert reasons(one_georgian, allow_scripts=("tibetan", "georgian")) == []
    assert any("no letters" in r for r in reasons("་་།། ༄༅ 123"))


def test_malformed_syllables():
    r = reasons("ིིཀ་ེབ་ོོང་ུསེམ་ྱར་ིཁྲལ།")
    assert any(x.startswith("malformed: 100%") for x in r)
    twenty = "ཀ་ཁ་ག་ང་ཅ་ཆ་ཇ་ཉ་ཏ་ཐ་ད་ན་པ་ཕ་བ་མ་ཙ་ཚ་ཛ་ཝ"
    assert reasons(twenty + "་ིཀ།") == []                   # 1 of 21 = 4.8 %: passes at 5 %
    assert reasons(twenty[:-2] + "་ིཀ།") == ["malformed: 5% of 20 syllables"]  # 1 of 20 = 5.0 %: passes
    assert reasons(twenty[:-4] + "་ིཀ།") == ["malformed: 5% of 19 syllables"]  # 1 of 19 = 5.3 %: fails


def test_repetition_run_and_ngrams():
    assert any("12 times in a row" in r for r in reasons("་".join(["སེམས"] * 12) + "།"))
    assert reasons("ཡག་ཡག་ཡོད།") == []                    # a doubled syllable is normal Tibetan
    loop = "ཁྱེད་རང་" + "ཡག་པོ་འདུག་" * 8
    assert any("3-grams repeat" in r for r in reasons(loop))
    assert reasons(loop, max_repeat=0.95) == []


def test_length_bounds():
    assert any(r.startswith("length:") for r in reasons(CLEAN, max_syllables=10))
    assert any(r.startswith("length:") for r in reasons("ཀ།", min_syllables=2))
    assert any(r.startswith("length:") for r in reasons("我很焦虑"))  # no Tibetan syllables at all


def test_bundled_garbage_all_fail_and_clean_samples_all_pass():
    garbage = [ln for ln in (SAMPLES / "garbage_bo.txt").read_text(encoding="utf-8").splitlines() if ln.strip()]
    assert len(garbage) == 20
    assert all(reasons(g) for g in garbage)
    for name in ("corpus_bo.txt", "heldout_bo.txt"):
        lines = [ln for ln in (SAMPLES / name).read_text(encoding="utf-8").splitlines() if ln.strip()]
        assert not [ln for ln in lines if reasons(ln)], name


# ---------------------------------------------------------------- thresholds

def test_threshold_modes():
    held = np.array([-1.0, -1.5, -2.0, -2.5, -3.0])
    assert FL.Threshold("absolute", -2.2).resolve(None).cutoff == -2.2
    assert FL.Threshold("percentile", 50).resolve(held).cutoff == -2.0
    assert FL.Threshold("relative", 0.8).resolve(held).cutoff == pytest.approx(-2.0 / 0.8)
    t = FL.Threshold("relative", 0.85).resolve(held)
    assert t.reference["median"] == -2.0 and "relative 0.85" in t.describe()
    with pytest.raises(io.HearMeError, match="held-out"):
        FL.Threshold("percentile", 5).resolve(None)
    with pytest.raises(io.HearMeError, match="0..100"):
        FL.Threshold("percentile", 500).resolve(held)


def test_heldout_split():
    lines = [f"ཀ་{i}།" for i in range(30)]
    train, held = FL.heldout_split(lines)
    assert len(held) == 3 and len(train) == 27 and not set(train) & set(held)
    with pytest.raises(io.HearMeError, match="--heldout"):
        FL.heldout_split(lines[:5])


# ---------------------------------------------------------------- runs

@pytest.fixture(scope="module")
def lm():
    return ngram.KNTrigram.fit(ngram.read_corpus(SAMPLES / "corpus_bo.txt"))


@pytest.fixture(scope="module")
def heldout_threshold(lm):
    held = ngram.read_corpus(SAMPLES / "heldout_bo.txt")
    return FL.Threshold("relative", 0.7).resolve(FL.lm_score(lm, held))


def _dialogue(i: int, utterances: list[str]) -> dict:
    msgs = [{"role": "user" if k % 2 == 0 else "assistant", "content": u} for k, u in enumerate(utterances)]
    return {"messages": msgs, "id": f"d{i}", "source": "test", "lang": "bo", "topic": ""}


def _clean_dialogues() -> list[dict]:
    from hearme.converters.convert import run as convert

    recs, _ = convert("firefly", [paths.DATA / "samples" / "firefly" / "tibetan_dialogues.jsonl"], scrub=False)
    return recs


def test_planted_garbage_rejected_clean_kept(tmp_path, lm, heldout_threshold):
    clean = _clean_dialogues()
    planted = []
    for k, bad in enumerate(FIGURE3):
        msgs = [dict(m) for m in clean[k]["messages"]]
        next(m for m in msgs if m["role"] == "assistant")["content"] = bad
        planted.append(dict(clean[k], messages=msgs, id=f"planted-{k}"))
    inp = tmp_path / "in.jsonl"
    io.write_records(inp, clean + planted)
    rep = F.run(inp, tmp_path / "out.jsonl", lm, heldout_threshold, progress=False)
    kept = {r["id"] for r in io.load_records(tmp_path / "out.jsonl")}
    assert kept == {r["id"] for r in clean}
    assert rep["read"] == rep["written"] + rep["rejected"] == len(clean) + len(planted)
    rejects = [json.loads(x) for x in io.rejected_path(tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert {r["position"] for r in rejects} == {p["id"] for p in planted}
    assert all(r["reason"].startswith("turn 2 assistant: script:") for r in rejects)
    scores = [json.loads(x) for x in F.scores_path(tmp_path / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(scores) == len(clean) + len(planted) and all("lm" in t for s in scores for t in s["turns"])
    assert json.loads(F.report_path(tmp_path / "out.jsonl").read_text())["threshold"]["mode"] == "relative"


def test_lm_alone_separates_figure3(lm, heldout_threshold):
    garbage = FL.lm_score(lm, FIGURE3[:4])
    clean = FL.lm_score(lm, ngram.read_corpus(SAMPLES / "heldout_bo.txt"))
    assert garbage.max() < heldout_threshold.cutoff <= clean.min()


def test_truncate_keeps_clean_leading_exchanges(tmp_path):
    rec = _dialogue(0, [CLEAN, CLEAN, CLEAN, CLEAN, CLEAN, FIGURE3[0], CLEAN, CLEAN])
    short = _dialogue(1, [CLEAN, FIGURE3[1]])
    io.write_records(tmp_path / "in.json", [rec, short])
    rep = F.run(tmp_path / "in.json", tmp_path / "out.json", None, None, on_fail="truncate", progress=False)
    out = io.load_records(tmp_path / "out.json")
    assert len(out) == 1 and len(out[0]["messages"]) == 4
    assert rep["notes"] == {"truncated": 1} and rep["rejected"] == 1


def test_text_lines_mode(tmp_path):
    lines = [CLEAN, FIGURE3[0], "", CLEAN + " ཡག"]
    io.write_text(tmp_path / "in.txt", "\n".join(lines) + "\n")
    rep = F.run(tmp_path / "in.txt", tmp_path / "out.txt", None, None, progress=False)
    assert rep["kind"] == "lines" and rep["read"] == 3 and rep["written"] == 2
    assert (tmp_path / "out.txt").read_text(encoding="utf-8").splitlines() == [CLEAN, CLEAN + " ཡག"]
    rej = json.loads(io.rejected_path(tmp_path / "out.txt").read_text(encoding="utf-8"))
    assert rej["position"] == "line 2" and rej["reason"].startswith("line: script:")


def test_chinese_input_is_a_clear_error(tmp_path):
    io.write_records(tmp_path / "zh.json", [_dialogue(0, ["我最近总是失眠。", "听起来你很辛苦。"])])
    with pytest.raises(io.InputError, match="does not look like Tibetan"):
        F.run(tmp_path / "zh.json", tmp_path / "out.json", None, None, progress=False)


def test_cli_filter_and_errors(tmp_path):
    io.write_records(tmp_path / "in.jsonl", _clean_dialogues()[:3] + [_dialogue(9, [CLEAN, FIGURE3[2]])])
    p = run_hearme("tibetan", "filter", tmp_path / "in.jsonl", "-o", tmp_path / "out.jsonl",
                   "--corpus", SAMPLES / "corpus_bo.txt", "--heldout", SAMPLES / "heldout_bo.txt", "--lm-relative", "0.7")
    assert p.returncode == 0, p.stderr
    assert "read=4 written=3 rejected=1" in p.stdout and "relative 0.7" in p.stdout
    io.write_records(tmp_path / "zh.json", [_dialogue(0, ["我最近总是失眠。", "听起来你很辛苦。"])])
    p = run_hearme("tibetan", "filter", tmp_path / "zh.json", "-o", tmp_path / "o.json", "--no-lm")
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "does not look like Tibetan" in p.stderr
    empty = tmp_path / "empty.txt"
    empty.write_text("\n", encoding="utf-8")
    p = run_hearme("tibetan", "filter", tmp_path / "in.jsonl", "-o", tmp_path / "o.json", "--corpus", empty)
    assert p.returncode == 2 and "the LM corpus is empty" in p.stderr and "Traceback" not in p.stderr


# ---------------------------------------------------------------- stutters, Chinese, merged syllables

def test_stutter_chinese_and_merged_syllables():
    stutter = "".join(f"{s}་{s}་" for s in CLEAN.replace("།", "་").replace(" ", "").split("་") if s) + "།"
    assert any(r.startswith("stutter:") for r in reasons(stutter))
    assert reasons("ཡག་ཡག་ཡོད།") == [] and reasons("ང་ཚོ་ཡང་ཡང་ཐུག་གི་ཡོད། ཁྱེད་ཀྱིས་དལ་དལ་བྱོས།") == []
    assert reasons(CLEAN.replace("སེམས་ཁྲལ", "焦虑")) == ["chinese: 2 Han characters left in a Tibetan utterance"]
    assert any(r.startswith("chinese:") for r in reasons(CLEAN + "我们一起想想办法。"))
    assert reasons(CLEAN.replace("སེམས་ཁྲལ", "焦虑"), max_han=2) == []
    merged = "ང་ལ་སེམས\u200bཁྲལ་ཡོད།"  # a zero-width space where the tsheg belonged
    m, r = F.measure(merged, F.Checks())
    assert m["zero_width"] == 1 and r == ["malformed: 25% of 4 syllables"]


# ---------------------------------------------------------------- the shipped default model

def _our_lines() -> list[str]:
    """Utterances of the bundled dialogues: our own writing, not among the default model's training lines."""
    return [m["content"] for r in _clean_dialogues() for m in r["messages"] if m["role"] != "system"]


@pytest.fixture(scope="module")
def default():
    return FL.default_checks()


def test_default_model_is_calibrated_on_held_out_lines(default):
    dm, threshold, order = default
    assert threshold is None and order is dm.order
    assert dm.lines == 543 and dm.words > 30000
    ref = order.reference
    assert ref["heldout_lines"] > 500 and ref["percentile_z"] == pytest.approx(ref["p1"], abs=1e-3)  # percentile 1
    assert order.cutoff == min(ref["p1"], FL.ORDER_MAX_CUTOFF) and ref["garbage_pass_rate"] <= 0.01
    assert FL.default_model() is dm  # built once per process
    corpus = set(ngram.read_corpus(SAMPLES / "corpus_bo.txt"))
    assert not corpus & set(_our_lines())


def test_order_z_separates_order_from_shuffles(default):
    from hearme.tibetan import garbage

    dm, _, order = default
    lines = [ln for ln in _our_lines() if len(ngram.lm_tokens(ln)) >= 12]
    z, gain = order.scores(dm.lm, lines)
    zs, _ = order.scores(dm.lm, [garbage.shuffled(ln, __import__("random").Random(1)) for ln in lines])
    assert np.median(z) > 5 and np.median(zs) < 1 and (gain > 0).mean() > 0.95
    assert np.isnan(order.scores(dm.lm, ["ང་ལ་སེམས་ཁྲལ་ཡོད།"])[0][0])  # too short to judge


def test_default_filter_keeps_clean_and_rejects_every_garbage_class(tmp_path, default):
    from hearme.tibetan import garbage

    dm, threshold, order = default
    clean = _our_lines()
    classes = {"clean": clean, **garbage.build(clean, per_line=1, seed=3), "figure 3": FIGURE3}
    lines, labels = [], []
    for cls, ls in classes.items():
        lines += ls
        labels += [cls] * len(ls)
    io.write_text(tmp_path / "in.txt", "".join(ln + "\n" for ln in lines))
    rep = F.run(tmp_path / "in.txt", tmp_path / "out.txt", dm.lm, threshold, order=order, progress=False)
    rejected = {int(json.loads(x)["position"].split()[-1]): json.loads(x)["reason"]
                for x in io.rejected_path(tmp_path / "out.txt").read_text(encoding="utf-8").splitlines()}
    assert rep["read"] == rep["written"] + rep["rejected"] == len(lines)
    rate = {c: sum(i in rejected for i, lab in enumerate(labels, 1) if lab == c) / len(ls) for c, ls in classes.items()}
    assert rate["clean"] <= 0.05, rate
    assert all(rate[c] >= 0.9 for c in classes if c != "clean"), rate
    by = {c: " ".join(rejected[i] for i, lab in enumerate(labels, 1) if lab == c and i in rejected) for c in classes}
    for cls, check in (("shuffled", "order:"), ("reversed", "order:"), ("random", "order:"), ("stutter", "stutter:"),
                       ("chinese word", "chinese:"), ("chinese clause", "chinese:"), ("other script", "script:"),
                       ("figure 3", "script:")):
        assert check in by[cls], cls
    assert set(rep["rejected_by_check"]) >= {"order", "stutter", "chinese", "script"}


def test_cli_default_filter_needs_no_lm_flags(tmp_path):
    from hearme.tibetan import garbage

    good = [r for r in _clean_dialogues()[:4]]
    bad = dict(good[0], id="shuffled", messages=[dict(m) for m in good[0]["messages"]])
    turn = next(m for m in bad["messages"] if m["role"] == "assistant" and len(ngram.lm_tokens(m["content"])) >= 12)
    turn["content"] = garbage.reversed_order(turn["content"], None)
    io.write_records(tmp_path / "in.jsonl", good + [bad])
    p = run_hearme("tibetan", "filter", tmp_path / "in.jsonl", "-o", tmp_path / "out.jsonl")
    assert p.returncode == 0, p.stderr
    assert "default model: syllable-trigram KN LM on the 543 bundled Tibetan lines" in p.stdout
    assert "order check: percentile 1 of clean held-out z" in p.stdout
    assert "read=5 written=4 rejected=1" in p.stdout and "failing utterances by check: order 1" in p.stdout
    assert p.stdout.strip().splitlines()[-1].startswith("timing (filter): ") and "syllables/s" in p.stdout
    report = json.loads(F.report_path(tmp_path / "out.jsonl").read_text())
    assert report["model"].startswith("default model") and report["order"]["cutoff"] > 1.5
    p = run_hearme("tibetan", "filter", tmp_path / "in.jsonl", "-o", tmp_path / "o.jsonl", "--heldout",
                   SAMPLES / "heldout_bo.txt")
    assert p.returncode == 2 and "--heldout goes with --corpus or --lm" in p.stderr
