"""stats (Tables 3-4, Figure 2), segment and lm-train/lm-score from the real CLI, and the demo leg."""

from __future__ import annotations

import json

import pytest

from hearme.core import io, paths
from hearme.tibetan import stats
from tests.conftest import HEARME, REPO, run_hearme

SAMPLES = paths.DATA / "samples" / "tibetan"


def rec(topic: str, pairs: list[tuple[str, str]]) -> dict:
    msgs = []
    for u, a in pairs:
        msgs += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
    return {"messages": msgs, "id": topic, "topic": topic}


def test_table3_table4_figure2(tmp_path):
    recs = [rec("情绪", [("ང་ལ་སེམས་ཁྲལ་ཡོད།", "ཁྱེད་ཀྱི་ཚོར་བ་ང་ལ་བཤད་པར་ཐུགས་རྗེ་ཆེ།")] * 3),  # 5 + 11 syllables
            rec("职场", [("ཀ་ཁ།", "ག་ང་ཅ་ཆ།")]),
            rec("unknown", [("ཀ།", "ཁ།")] * 3)]
    s = stats.compute(recs)
    t4 = s["table4"]
    assert t4["dialogues"] == 3 and t4["mean_turns"] == pytest.approx(7 / 3, abs=1e-3)
    assert t4["mean_len_seeker"] == pytest.approx((3 * 5 + 2 + 3) / 7, abs=1e-3)
    assert t4["mean_len_supporter"] == pytest.approx((3 * 11 + 4 + 3) / 7, abs=1e-3)
    assert t4["mean_len"] == pytest.approx((20 + 40) / 14, abs=1e-3)
    assert s["units"] == "syllables" and s["figure2"] == {1: 1, 3: 2}
    shares = {r["topic"]: r["share"] for r in s["table3"]}
    assert shares["情绪"] == pytest.approx(1 / 3, abs=1e-4) and shares["职业"] == pytest.approx(1 / 3, abs=1e-4)
    assert shares["其他"] == pytest.approx(1 / 3, abs=1e-4) and len(s["table3"]) == 10
    assert stats.compute([rec("情绪", [("我很好", "那太好了")])])["units"] == "characters"


def test_stats_cli_writes_card_and_pngs(tmp_path):
    from hearme.converters.convert import run as convert

    recs, _ = convert("firefly", [paths.DATA / "samples" / "firefly" / "tibetan_dialogues.jsonl"], scrub=False)
    io.write_records(tmp_path / "bo.jsonl", recs)
    p = run_hearme("tibetan", "stats", tmp_path / "bo.jsonl", "-o", tmp_path)
    assert p.returncode == 0, p.stderr
    assert "dialogues=14" in p.stdout and "(syllables)" in p.stdout
    md = (tmp_path / "stats.md").read_text(encoding="utf-8")
    assert "| mean turns |" in md and "6.34926" in md and "figure2_turns.png" in md
    for png in ("figure2_turns.png", "table3_topics.png"):
        data = (tmp_path / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert json.loads((tmp_path / "stats.json").read_text())["table4"]["dialogues"] == 14


def test_segment_cli():
    import subprocess

    p = subprocess.run(HEARME + ["tibetan", "segment"], input="ང་ལ་སེམས་ཁྲལ་ཡོད། OK 2024\nཨོཾ་མ་ཎི་པདྨེ་ཧཱུྃ༔\n",
                       capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 0 and p.stdout == "ང ལ སེམས ཁྲལ ཡོད OK 2024\nཨོཾ མ ཎི པདྨེ ཧཱུྃ\n"
    p = subprocess.run(HEARME + ["tibetan", "segment"], input="我最近总是失眠。\n", capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 2 and "no Tibetan text" in p.stderr and p.stderr.count("\n") == 1
    p = subprocess.run(HEARME + ["tibetan", "segment"], input="", capture_output=True, text=True, cwd=REPO)
    assert p.returncode == 2 and "no input" in p.stderr


def test_lm_train_and_score_cli(tmp_path):
    p = run_hearme("tibetan", "lm-train", SAMPLES / "corpus_bo.txt", "-o", tmp_path / "lm.npz")
    assert p.returncode == 0 and "trigrams" in p.stdout
    (tmp_path / "t.txt").write_text("ང་ལ་སེམས་ཁྲལ་ཡོད།\nასა და ჰუთისა\n", encoding="utf-8")
    p = run_hearme("tibetan", "lm-score", "--lm", tmp_path / "lm.npz", tmp_path / "t.txt")
    rows = [ln.split("\t") for ln in p.stdout.splitlines()]
    assert p.returncode == 0 and len(rows) == 2 and float(rows[0][0]) > float(rows[1][0]) and rows[1][2] == "3"


def test_lm_train_words_flag_matches_filter_corpus(tmp_path):
    """lm-train adds the shipped word list by default, as `filter --corpus` does; --no-words leaves it out."""
    from hearme.tibetan import ngram, text

    with_words = run_hearme("tibetan", "lm-train", SAMPLES / "corpus_bo.txt", "-o", tmp_path / "w.npz")
    without = run_hearme("tibetan", "lm-train", SAMPLES / "corpus_bo.txt", "--no-words", "-o", tmp_path / "n.npz")
    assert with_words.returncode == 0 and without.returncode == 0
    assert f"({len(text.words())} of them words of bo_words.txt)" in with_words.stdout
    assert "(0 of them words" in without.stdout
    w, n = ngram.KNTrigram.load(tmp_path / "w.npz"), ngram.KNTrigram.load(tmp_path / "n.npz")
    assert w.meta["vocab"] > n.meta["vocab"]
    lines = ngram.read_corpus(SAMPLES / "corpus_bo.txt")
    assert w.meta == ngram.KNTrigram.fit(lines + list(text.words()), progress=False).meta


@pytest.mark.slow
def test_demo_leg(tmp_path, tiny_model):
    from hearme.demo.tibetan import demo_leg

    res = demo_leg(tmp_path / "leg", tiny_model, tmp_path / "data")
    f = res["filter"]
    assert f["clean_kept"] == f["clean"] == 14 and f["planted_rejected"] == f["planted"] == 20
    assert res["registered"]["records"] > 0
    info = json.loads((tmp_path / "data" / "dataset_info.json").read_text())
    assert info["hearme_tibetan_bo_selected"]["lang"] == "bo"
    assert res["translate"]["read"] == 2 and res["ifd"]["read"] == 14
    json.dumps(res)  # the lead's demo stores it in metrics.json
    assert io.load_records(tmp_path / "leg" / "selected.jsonl")
