"""The Evaluate tab's session section without a browser: base and tuned (two scripted counselors on
127.0.0.1) against the scripted client; transcripts side by side, tables per run."""

from __future__ import annotations

from hearme.webui_ext import labels, session_view
from tests.fake_openai import FakeOpenAI


def test_sessions_run_for_base_and_tuned_and_show_side_by_side(tmp_path):
    with FakeOpenAI({"default": {"text": "嗯。"}}) as base, FakeOpenAI({"default": {"text": "听起来你很难受，能说说吗？"}}) as tuned:
        line, md, root = session_view.run_sessions(base.url, tuned.url, "m", "", ["zh-05", "bo-04"], 3, "", "", "",
                                                   tmp_path)
    assert "base: 2/2 complete" in line and "tuned: 2/2 complete" in line
    assert (root / "base" / "transcripts.jsonl").exists() and (root / "tuned" / "session_summary.json").exists()
    assert "| turn | client | base counselor | tuned counselor |" in md
    assert "| 1 | 最近总是莫名其妙想哭，什么都提不起兴趣。 | 嗯。 | 听起来你很难受，能说说吗？ |" in md
    assert "#### bo-04-seed0" in md and "### tuned" in md and "question rate" in md


def test_session_section_is_labelled_in_both_languages():
    for key in ("eval.session_head", "eval.session_base", "eval.session_btn", "eval.session_profiles"):
        assert labels.props(key, "zh") and labels.props(key, "en")
