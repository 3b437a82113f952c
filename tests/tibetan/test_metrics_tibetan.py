"""Tibetan-aware metrics on the measured cases (shared/notes/tibetan-and-judge.md §3.3)."""

from __future__ import annotations

import json
import random

from hearme.evaluators import lf_similarity, metrics, tibetan_metrics
from hearme.tibetan import text as bo

REF = "ཁྱེད་ཀྱིས་སེམས་ཁྲལ་ཆེན་པོ་བྱེད་ཀྱི་འདུག ང་ཚོས་མཉམ་དུ་ཐབས་ལམ་འཚོལ་ཐུབ།"
UNRELATED = "དེ་རིང་གནམ་གཤིས་ཡག་པོ་འདུག་ང་ཚོ་ཉིན་གུང་ཁ་ལག་ཟ་བར་འགྲོ་གི་ཡིན།"


def shuffled(text: str, seed: int) -> str:
    syl = bo.syllables(text)
    random.Random(seed).shuffle(syl)
    return "་".join(syl) + "།"


def test_identical_scores_100():
    s = tibetan_metrics.score_pair(REF, REF)
    assert all(s[k] == 100 for k in ("syllable_bleu", "syllable_rouge-1", "syllable_rouge-2", "syllable_rouge-l", "chrf++"))


def test_shuffled_syllables_do_not_score_high_syllable_bleu():
    for seed in range(5):
        hyp = shuffled(REF, seed)
        lf = lf_similarity.score_pair(hyp, REF)
        s = tibetan_metrics.score_pair(hyp, REF)
        assert lf["rouge-1"] == 100 and lf["bleu-4"] > 50  # the sub-syllabic numbers are fooled
        assert s["syllable_rouge-1"] == 100  # same bag of syllables...
        assert s["syllable_bleu"] < 15 and s["syllable_rouge-2"] < 20  # ...but no order


def test_unrelated_sentence_scores_low():
    lf = lf_similarity.score_pair(UNRELATED, REF)
    s = tibetan_metrics.score_pair(UNRELATED, REF)
    assert lf["rouge-1"] > 50  # code-point ROUGE-1 is inflated
    assert s["syllable_bleu"] < 10 and s["syllable_rouge-1"] < 30 and s["chrf++"] < 25


def test_non_breaking_tsheg_spelling_scores_100():
    hyp = REF.replace("་", "\u0f0c")
    assert lf_similarity.score_pair(hyp, REF)["bleu-4"] < 50  # measured 37.4 in the notes
    s = tibetan_metrics.score_pair(hyp, REF)
    assert s["syllable_bleu"] == 100 and s["syllable_rouge-l"] == 100 and s["chrf++"] == 100


def test_foreign_script_garbage_scores_low():
    s = tibetan_metrics.score_pair("ཁྱེད་ ჩემი ກັບ ଓଡ଼ିଆ སེམས་ ཁྲལ", REF)
    assert s["syllable_bleu"] < 10


def test_auto_lang_splits_mixed_files_and_records_signatures(tmp_path):
    rows = [{"predict": REF, "label": REF + "\n"}, {"predict": UNRELATED, "label": REF},
            {"predict": "你好，我在听。", "label": "你好，请说。"}]
    pred = tmp_path / "p.jsonl"
    pred.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    m = metrics.compute(pred, "auto")
    assert m["lang"] == "mixed" and m["n"] == 3 and m["n_bo"] == 2
    assert set(m["by_lang"]) == {"bo", "zh"} and "syllable_bleu" not in m["by_lang"]["zh"]
    assert "tok:none" in m["syllable_bleu_signature"] and "nw:2" in m["chrf++_signature"]
    assert "syllable_bleu" not in metrics.compute(pred, "zh")
    assert metrics.compute(pred, "bo")["n_syllables_label"] > 0
    by = metrics.compute_by_lang(pred)
    assert set(by) == {"all", "bo", "zh"} and by["bo"]["syllable_rouge-l"] > 0
