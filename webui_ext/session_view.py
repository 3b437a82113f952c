"""The Evaluate tab's session evaluation: run `hearme session` on base and tuned, transcripts side by side.

The simulator is the judge endpoint entered above the section when one is given (it also scores the
turns), else the scripted client. Runs land in WORK/saves/hearme_sessions/<time>/{base,tuned}/.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

from hearme.core import io

DEFAULT_PROFILES = ["zh-05", "bo-04"]


def profile_choices() -> list[str]:
    from hearme.evaluators.session_profiles import load_profiles

    return [p["id"] for p in load_profiles()]


def side_by_side(runs: dict[str, Path]) -> str:
    """Markdown: per session id, one table of turn | client | counselor per run."""
    recs = {label: {r["id"]: r for r in io.load_records(d / "transcripts.jsonl")} if (d / "transcripts.jsonl").exists()
            else {} for label, d in runs.items()}
    ids = list(dict.fromkeys(i for rs in recs.values() for i in rs))
    labels = list(runs)
    out = []
    for sid in ids:
        per = {lab: recs[lab].get(sid) for lab in labels}
        status = ", ".join(f"{lab}: {r['status'] if r else 'not run'}" for lab, r in per.items())
        out += [f"#### {sid} ({status})", "",
                "| turn | client | " + " | ".join(f"{lab} counselor" for lab in labels) + " |",
                "|---|---|" + "---|" * len(labels)]
        n = max((len(r["messages"]) // 2 for r in per.values() if r), default=0)
        first = next(r for r in per.values() if r)
        for k in range(n):
            client = first["messages"][2 * k]["content"] if 2 * k < len(first["messages"]) else ""
            cells = [(r["messages"][2 * k + 1]["content"] if r and 2 * k + 1 < len(r["messages"]) else "–")
                     for r in per.values()]
            esc = lambda t: io.safe_text(" ".join(t.split())).replace("|", "\\|")[:400]  # noqa: E731
            out.append(f"| {k + 1} | {esc(client)} | " + " | ".join(esc(c) for c in cells) + " |")
        out.append("")
    return "\n".join(out) or "(no transcripts)"


def run_sessions(base_url: str, tuned_url: str, model: str, key: str, profiles: list[str], turns: int,
                 judge_url: str, judge_model: str, judge_key: str, work_dir: Path) -> tuple[str, str, Path]:
    """(status line, session tables + side-by-side transcripts, output folder)."""
    from hearme.evaluators import session_profiles, session_report, session_run, session_scores
    from hearme.evaluators.session_script import MODEL, scripted_simulator
    from hearme.llm import LLMClient
    from hearme.webui_ext import keys

    if not (base_url or "").strip():
        raise io.HearMeError("enter the base model's endpoint (e.g. llamafactory-cli api on http://127.0.0.1:8000/v1)")
    profs = session_profiles.load_profiles(ids=profiles or DEFAULT_PROFILES)
    tag = time.strftime("%Y%m%d-%H%M%S")
    root = Path(work_dir) / "saves" / "hearme_sessions" / tag
    urls = {"base": base_url.strip(), **({"tuned": tuned_url.strip()} if (tuned_url or "").strip() else {})}
    judge = keys.client(judge_url, judge_model, judge_key, concurrency=4) \
        if (judge_url or "").strip() and (judge_model or "").strip() else None
    s = session_run.SessionSettings(turns=int(turns or 4), mut_max_tokens=256)
    tables, lines = [], []
    with contextlib.ExitStack() as stack:
        sim = judge or LLMClient(stack.enter_context(scripted_simulator()), MODEL, progress=False)
        for label, url in urls.items():
            mut = keys.client(url, model or "gpt-3.5-turbo", key, concurrency=4,
                              namespace=f"model-under-test|{url.rstrip('/')}|{model}|webui-{tag}-{label}")
            meta = session_run.run(profs, root / label, mut, sim, s)
            summary = session_scores.score(root / label, judge)
            lines.append(f"{label}: {meta['n_complete']}/{meta['n_sessions']} complete")
            tables += [f"### {label}", "", session_report.table_md(summary), ""]
    io.write_json(root / "webui.json", {"urls": urls, "profiles": [p["id"] for p in profs], "turns": s.turns,
                                        "judge": judge.model if judge else None})
    md = "### Transcripts\n\n" + side_by_side({k: root / k for k in urls}) + "\n" + "\n".join(tables)
    return "; ".join(lines) + f" → {root}", md, root


def create(ctx: "Any", judge_inputs: list) -> dict[str, Any]:
    """The section's components (below the probes); judge_inputs = [judge url, model, key] boxes."""
    import gradio as gr

    from hearme.webui_ext import ui

    head = gr.Markdown()
    with gr.Row():
        base = gr.Textbox(placeholder="http://127.0.0.1:8000/v1", scale=3, elem_id="hm-eval-session-base")
        tuned = gr.Textbox(placeholder="http://127.0.0.1:8001/v1", scale=3, elem_id="hm-eval-session-tuned")
        model = gr.Textbox(value="gpt-3.5-turbo", scale=2, elem_id="hm-eval-session-model")
        key = gr.Textbox(type="password", scale=2, elem_id="hm-eval-session-key")
    with gr.Row():
        profiles = gr.Dropdown(choices=profile_choices(), value=DEFAULT_PROFILES, multiselect=True, scale=4,
                               elem_id="hm-eval-session-profiles")
        turns = gr.Number(value=4, precision=0, minimum=1, maximum=20, scale=1, elem_id="hm-eval-session-turns")
    btn = gr.Button(elem_id="hm-eval-session-btn")
    status = gr.Markdown(elem_id="hm-eval-session-status")
    view = gr.Markdown(elem_id="hm-eval-session-view")

    def on_run(lang, b, t, m, k, ps, n, ju, jm, jk, progress=gr.Progress(track_tqdm=True)):
        progress(0, desc="sessions")
        try:
            line, md, _ = run_sessions(b, t, m, k, ps, n, ju, jm, jk, ctx.work_dir)
        except Exception as e:  # noqa: BLE001
            return ui.fail(lang, e, secrets=[k, jk]), ""
        return ui.ok(line), md

    btn.click(on_run, [ctx.lang, base, tuned, model, key, profiles, turns, *judge_inputs], [status, view])
    return {"eval.session_head": head, "eval.session_base": base, "eval.session_tuned": tuned,
            "eval.session_model": model, "eval.session_key": key, "eval.session_profiles": profiles,
            "eval.session_turns": turns, "eval.session_btn": btn, "eval.session_view": view}

