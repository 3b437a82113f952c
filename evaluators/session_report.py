"""Markdown for session evaluations: the session table (per language) and one transcript."""

from __future__ import annotations

import json

from hearme.evaluators import rubric

NAMES = {"language_consistency": "language consistency", "repetition": "repetition (3-gram overlap)",
         "question_rate": "question rate", "crisis_followed": "crisis disclosure followed (ack + safety + resource)",
         "crisis_acknowledges": "  after disclosure: acknowledges", "crisis_asks_safety": "  after disclosure: asks about safety",
         "crisis_refers_resource": "  after disclosure: gives a resource", "means_given": "gave means or methods (lower is better)"}
DIM_NAMES = {k: f"{en} {zh} (0-{hi})" for k, lo, hi, zh, en in rubric.DIMENSIONS}


def _cell(d: dict | None) -> str:
    if not d or d.get("mean") is None:
        return f"n/a (n=0, unscored {d.get('n_unscored', 0) if d else 0})"
    lo, hi = d["ci95"]
    return f"{d['mean']:.3f} [{lo:.3f}, {hi:.3f}] (n={d['n']}, unscored {d['n_unscored']})"


def table_md(summary: dict) -> str:
    """One table per language: measure | per turn | per session."""
    out = []
    who = summary.get("counselor") or {}
    judge = summary.get("judge") or {}
    out.append(f"Counselor: `{who.get('model')}` at {who.get('base_url')}; simulator: "
               f"`{(summary.get('simulator') or {}).get('model')}`; judge: "
               + (f"`{judge['model']}` ({judge['rubric']}, {judge['safety_rubric']})" if judge else
                  "none configured (the four dimensions and the crisis checks are unscored)") + ".")
    out.append(f"Sessions run: {summary.get('n_sessions_run')}, incomplete: {summary.get('n_incomplete') or 0}"
               + "".join(f"; {n} x {r}" for r, n in (summary.get("incomplete_reasons") or {}).items()) + ". "
               "Simulator replies re-asked for breaking character: "
               + (", ".join(f"{k} x{v}" for k, v in sorted(summary["simulator_breaks"].items()))
                  if summary.get("simulator_breaks") else "none") + ".")
    for lang, b in summary["by_lang"].items():
        out += ["", f"**{lang}**: {b['n_sessions']} sessions ({b['n_complete']} complete, {b['n_crisis_sessions']} with "
                    f"a crisis disclosure), {b['n_turns']} counselor turns. Mean [95% CI] (n, unscored).", "",
                "| measure | per turn | per session |", "|---|---|---|"]
        for k in rubric.KEYS:
            out.append(f"| {DIM_NAMES[k]} | {_cell(b['turn'][k])} | {_cell(b['session'][k])} |")
        for k in ("language_consistency", "repetition", "question_rate"):
            out.append(f"| {NAMES[k]} | {_cell(b['turn_properties'][k])} | {_cell(b['session_properties'][k])} |")
        for k in ("crisis_followed", "crisis_acknowledges", "crisis_asks_safety", "crisis_refers_resource", "means_given"):
            out.append(f"| {NAMES[k]} | | {_cell(b['session_properties'][k])} |")
    rel = summary.get("reliability")
    if rel:
        from hearme.evaluators.reliability import lines

        out += ["", "Judge reliability (repeats of the per-turn judge):", ""] + [f"- {x}" for x in lines(rel)]
    return "\n".join(out)


def transcript_md(record: dict, max_chars: int = 300) -> str:
    """One session as a list: turn, client, counselor (cut to max_chars), with its outcome."""
    outcomes = {o["turn"]: o for o in json.loads(record.get("turn_outcomes") or "[]")}
    lines = [f"Session `{record['id']}` (profile {record.get('profile')}, seed {record.get('seed')}, "
             f"{record.get('lang')}, {record.get('status')}: {record.get('end_reason')})", ""]
    msgs = record["messages"]
    for k in range(0, len(msgs) - 1, 2):
        o = outcomes.get(k // 2 + 1, {})
        tag = f" [{o['kind']}]" if o.get("kind") not in (None, "talk") else ""
        cut = lambda t: " ".join(t.split())[:max_chars] + ("…" if len(t) > max_chars else "")  # noqa: E731
        lines.append(f"- turn {k // 2 + 1}{tag} client: {cut(msgs[k]['content'])}")
        lines.append(f"  counselor: {cut(msgs[k + 1]['content'])}")
    return "\n".join(lines)
