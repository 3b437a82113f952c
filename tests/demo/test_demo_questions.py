"""The demo base's pattern-made identity questions: varied, deterministic, and never a probe prompt,
a held-out question or a near copy of one; and the demo's side track never waits forever."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from hearme.demo import pipeline as demo, base as demo_base, questions as demo_questions
from hearme.converters.self_cognition import BUILTIN

ROOT = Path(__file__).parents[2]
PROBES = [p["prompt"] for p in json.loads((ROOT / "evaluators" / "probes" / "identity.json").read_text(encoding="utf-8"))]
TEMPLATE = [t["instruction"] for t in json.loads(BUILTIN.read_text(encoding="utf-8"))]


def test_questions_cover_every_language_and_kind_and_repeat_exactly():
    made = demo_questions.generate(PROBES)
    counts = Counter((lang, kind) for lang, kind, _ in made)
    assert set(counts) == {(lang, kind) for lang in ("zh", "en", "bo") for kind in ("direct", "author", "misleading")}
    assert len({q for _, _, q in made}) == len(made)  # no question twice
    assert made == demo_questions.generate(PROBES)  # the same base data on every run
    assert made != demo_questions.generate(PROBES, seed=1)


def test_no_question_is_a_probe_prompt_or_near_one():
    made = [q for _, _, q in demo_questions.generate(PROBES)]
    for probe in PROBES:
        assert all(demo_questions.norm(probe) not in demo_questions.norm(q) for q in made), probe
        assert max(demo_questions.similarity(probe, q) for q in made) < demo_questions.NEAR, probe
    # without the guard, the patterns do produce probe prompts: the guard is what keeps them out
    unguarded = {demo_questions.norm(q) for _, _, q in demo_questions.generate([])}
    assert any(demo_questions.norm(p) in unguarded for p in PROBES)


def test_probe_prompts_are_not_self_cognition_training_questions():
    template = {demo_questions.norm(t) for t in TEMPLATE}
    assert not [p for p in PROBES if demo_questions.norm(p) in template]


def test_norm_keeps_tibetan_vowels_and_drops_punctuation():
    assert demo_questions.norm("ཁྱེད་རང་སུ་ཡིན།") == "ཁྱེདརངསུཡིན"
    assert demo_questions.norm("ཁྱེད་རང་སུ་ཡིན།") != demo_questions.norm("ཁྱད་རང་ས་ཡན།")
    assert demo_questions.norm("Who are you?") == demo_questions.norm("who are  you")
    assert demo_questions.similarity("你是谁？", "你是谁") == 1.0


def test_answers_claim_the_neutral_identity_and_no_one_else():
    answers = demo_base._answers()
    assert set(answers) == {(lang, kind) for lang in ("zh", "en", "bo") for kind in ("direct", "misleading")}
    for (lang, kind), texts in answers.items():
        for text in texts:
            assert "{{name}}" in text and "{{author}}" in text
            assert "ChatGPT" not in text and "OpenAI" not in text
            if kind == "misleading":
                assert text.startswith(("不是", "其实不是", "No", "Not", "Actually", "ལགས་མིན"))


@pytest.mark.timeout(120)
def test_a_failed_step_releases_the_track_waiting_for_the_adapter(tmp_path, monkeypatch):
    """predict (side track) waits for stage 2 (Chinese track); when stage 1 fails, the demo stops
    with stage 1's error instead of hanging."""
    def noop(self):
        pass

    def boom(self):
        raise RuntimeError("stage 1 exploded")

    for name in ("step_model", "step_data", "step_base", "step_stage2", "step_merge", "step_eval_tuned",
                 "step_eval_base", "step_tibetan_train", "step_tibetan"):
        monkeypatch.setattr(demo.Demo, name, noop)
    monkeypatch.setattr(demo.Demo, "step_stage1", boom)
    with pytest.raises(RuntimeError, match="stage 1 exploded"):
        demo.run(tmp_path / "out")


@pytest.mark.timeout(120)
def test_a_failed_merge_releases_the_tuned_evaluation_waiting_for_it(tmp_path, monkeypatch):
    """The tuned evaluation (side track) waits for the merge (Chinese track): a failed merge stops
    the demo with the merge's error instead of hanging."""
    def noop(self):
        pass

    def boom(self):
        raise RuntimeError("merge exploded")

    for name in ("step_model", "step_data", "step_base", "step_stage1", "step_stage2", "step_stage3",
                 "step_eval_base", "step_tibetan_train", "step_tibetan", "step_predict"):
        monkeypatch.setattr(demo.Demo, name, noop)
    monkeypatch.setattr(demo.Demo, "step_merge", boom)
    with pytest.raises(RuntimeError, match="merge exploded"):
        demo.run(tmp_path / "out")
