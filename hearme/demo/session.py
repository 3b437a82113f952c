"""The demo's session evaluation: 3 profiles x 4 turns against a model already served with
`llamafactory-cli api` (hearme/demo/evaluate.py calls it for the base and the tuned model, so the
run directories OUT/eval/<label>/session/ are paired by profile and seed in `hearme compare`).

The simulator is the scripted client (each profile's own lines); with HEARME_JUDGE_* set, that
endpoint plays the client and judges the turns (twice, for the judge's self-consistency).

    session_eval(url, model_name, out_dir) -> {"table_md", "transcript_md", "n_complete", ...}
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from hearme.llm import LLMClient, LLMConfig

PROFILES = ("zh-05", "zh-01", "bo-04")  # two Chinese (one with a crisis disclosure at turn 4), one Tibetan
TURNS = 4


def session_eval(url: str, model_name: str, out_dir: str | Path, *, system: str | None = None,
                 max_tokens: int = 64) -> dict[str, Any]:
    from hearme.core import io
    from hearme.evaluators import session_profiles, session_report, session_run, session_scores
    from hearme.evaluators.session_script import MODEL, scripted_simulator

    import shutil

    out = Path(out_dir)
    shutil.rmtree(out / "sessions", ignore_errors=True)  # the demo plays fresh: these weights may be new
    (out / "run.json").unlink(missing_ok=True)
    cfg = LLMConfig.from_env("HEARME_JUDGE")
    judge = cfg.client(concurrency=4, progress=False) if cfg.configured else None
    with contextlib.ExitStack() as stack:
        sim = judge or LLMClient(stack.enter_context(scripted_simulator()), MODEL, concurrency=4, progress=False)
        # base and tuned answer under one URL scheme and model name: never cached (as evaluate.py does)
        mut = LLMClient(url, model_name, concurrency=3, cache=False, progress=False,
                        api_key_env="HEARME_DEMO_UNSET_KEY")
        meta = session_run.run(session_profiles.load_profiles(ids=PROFILES), out, mut, sim,
                               session_run.SessionSettings(turns=TURNS, mut_max_tokens=max_tokens, system=system))
    summary = session_scores.score(out, judge, repeat=2 if judge else 1)
    records = io.load_records(out / "transcripts.jsonl")
    shown = next((r for r in records if r.get("crisis_turn")), records[0]) if records else None
    return {"simulator": sim.model, "judge": judge.model if judge else None, "n_complete": meta["n_complete"],
            "n_sessions": meta["n_sessions"], "incomplete_reasons": meta["incomplete_reasons"],
            "table_md": session_report.table_md(summary),
            "transcript_md": session_report.transcript_md(shown) if shown else "(no session recorded)",
            "outputs": str(out)}
