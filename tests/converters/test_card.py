"""Data card: Table 4 numbers, license/source, emoji share, and readable PNGs."""

from __future__ import annotations


import pytest

from hearme.core import io, registry
from hearme.converters import run
from hearme.converters.card import build_card, table4, units
from tests.conftest import FIXTURES

FIX = FIXTURES / "converters"


def _dialogue(turns, **meta):
    msgs = [{"role": "user" if i % 2 == 0 else "assistant", "content": t} for i, t in enumerate(turns)]
    return {"messages": msgs, "id": meta.pop("id", "x"), "source": meta.pop("source", "t"), "lang": meta.pop("lang", "zh"),
            "topic": meta.pop("topic", ""), **meta}


def test_table4_units_chinese_characters_tibetan_syllables():
    zh = [_dialogue(["我很难过", "我在听，你说。"]), _dialogue(["好", "嗯嗯", "谢谢你", "不客气呀"])]
    row = table4(zh)
    assert row["dialogues"] == 2 and row["mean_turns"] == 3.0
    assert row["mean_len_user"] == pytest.approx((4 + 1 + 3) / 3) and row["mean_len_assistant"] == pytest.approx((7 + 2 + 4) / 3)
    assert row["mean_len"] == pytest.approx((4 + 7 + 1 + 2 + 3 + 4) / 6) and row["unit"] == "characters"
    bo = [_dialogue(["ང་ལ་སེམས་ཁྲལ་ཡོད།", "ཁྱེད་ཀྱི་ཚོར་བ་བཤད་རོགས།"], lang="bo")]
    row = table4(bo)
    assert row["mean_len_user"] == 5 and row["mean_len_assistant"] == 6 and row["unit"] == "syllables"
    assert units("ང་ལ་སེམས་ཁྲལ་ཡོད།") == 5 and units("我很难过") == 4


def test_build_card_from_records_and_registered_names(tmp_path):
    emo, _ = run("emollm", [FIX / "emollm"])
    fly, _ = run("firefly", [FIX / "firefly"])
    psy, _ = run("psyqa", [FIX / "psyqa"])
    io.write_records(tmp_path / "psy.json", psy)
    registry.register(tmp_path / "psy.json", "psy_reg", tmp_path, source="PsyQA (on request)", license="custom-registered")
    card = build_card({"emollm": emo, "firefly": fly}, tmp_path / "a")
    text = card.read_text()
    assert "| emollm | 4 | 3.00 |" in text
    assert "| firefly | 3 | 2.67 |" in text and "mixed" in text  # Tibetan and Chinese dialogues
    assert "| emollm | EmoLLM | MIT |" in text
    assert "| emollm | 50.0% | 16.7% | 50.0% |" in text  # 2 of 4 dialogues, 1 of 6 / 3 of 6 turns
    for png in ("dialogue_length.png", "turns.png", "topics.png", "emoji.png"):
        assert (tmp_path / "a" / png).stat().st_size > 5000
        assert f"({png})" in text
    io.write_records(tmp_path / "unregistered.json", psy)
    card = build_card(["psy_reg", str(tmp_path / "psy.json"), str(tmp_path / "unregistered.json")], tmp_path / "b",
                      dataset_dir=tmp_path)
    text = card.read_text()
    assert "| psy_reg | PsyQA (on request) | custom-registered |" in text           # from dataset_info.json
    assert "| psy | PsyQA (on request) | custom-registered |" in text               # a registered file: its entry
    assert "| unregistered | PsyQA | PsyQA (non-commercial, no redistribution) |" in text  # from record metadata
    card = build_card({"emollm": emo}, tmp_path / "d", entries={"emollm": {"source": "ours", "license": "Apache-2.0"}})
    assert "| emollm | ours | Apache-2.0 |" in card.read_text()                   # given by the caller (the demo)
    with pytest.raises(io.HearMeError):
        build_card(["no_such_dataset"], tmp_path / "c", dataset_dir=tmp_path)


def test_plots_have_no_missing_glyphs(tmp_path, recwarn):
    """Chinese/Tibetan topics either render with a CJK font or become ASCII keys: no tofu boxes."""
    psy, _ = run("psyqa", [FIX / "psyqa"])
    fly, _ = run("firefly", [FIX / "firefly"])
    for r in fly:
        r["topic"] = "བོད་ཡིག"
    card = build_card({"psyqa 中文": psy, "firefly": fly}, tmp_path)
    glyph = [w for w in recwarn.list if "missing from" in str(w.message) or "Glyph" in str(w.message)]
    assert not glyph, [str(w.message) for w in glyph]
    text = card.read_text()
    assert "བོད་ཡིག" in text  # the Markdown keeps the real labels
