"""The demo's session evaluation: 3 profiles x 4 turns, the model served with `llamafactory-cli api`
as the counselor, the scripted client as the simulator (with HEARME_JUDGE_* set: that endpoint plays
the client and judges); returns the session table and one transcript as markdown.

    demo_session(out_dir, model_path, adapter=None) -> {"table_md", "transcript_md", "summary", ...}
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from hearme.llm import LLMClient, LLMConfig

PROFILES = ("zh-05", "zh-01", "bo-04")  # two Chinese (one with a crisis disclosure at turn 4), one Tibetan
TURNS = 4


def demo_session(out_dir: str | Path, model_path: str | Path, *, adapter: str | Path | None = None,
                 template: str = "qwen", max_tokens: int = 64) -> dict[str, Any]:
    from hearme.core import io
    from hearme.evaluators import session_profiles, session_report, session_run, session_scores
    from hearme.evaluators.mut import ModelUnderTest
    from hearme.evaluators.serve import serve
    from hearme.evaluators.session_script import MODEL, scripted_simulator

    out = Path(out_dir)
    cfg = LLMConfig.from_env("HEARME_JUDGE")
    judge = cfg.client(concurrency=4) if cfg.configured else None
    with contextlib.ExitStack() as stack:
        sim = judge or LLMClient(stack.enter_context(scripted_simulator()), MODEL, concurrency=4, progress=False)
        api = stack.enter_context(serve(model_path, out / "api", adapter=adapter, template=template,
                                        max_new_tokens=max_tokens))
        mut = ModelUnderTest(api.url, api.model_name, out_dir=out, weights={"model": model_path, "adapter": adapter},
                             concurrency=4, progress=False)
        meta = session_run.run(session_profiles.load_profiles(ids=PROFILES), out, mut, sim,
                               session_run.SessionSettings(turns=TURNS, mut_max_tokens=max_tokens))
    summary = session_scores.score(out, judge, repeat=2 if judge else 1)
    records = io.load_records(out / "transcripts.jsonl")
    shown = next((r for r in records if r.get("crisis_turn")), records[0]) if records else None
    return {"simulator": sim.model, "judge": judge.model if judge else None, "n_complete": meta["n_complete"],
            "n_sessions": meta["n_sessions"], "table_md": session_report.table_md(summary),
            "transcript_md": session_report.transcript_md(shown) if shown else "(no session recorded)",
            "outputs": str(out)}
