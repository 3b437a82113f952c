"""Session rows for `hearme compare`: sessions paired by profile and seed (the session id).

Per language, the four dimensions (session means) and the session properties of every run's
`hearme session score` output (RUN/.../session_summary.json + session_scores.jsonl). The item key of
a session is `<profile>-seed<seed>`, so base and tuned are compared on the same client and seed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hearme.core import io
from hearme.evaluators import rubric

PROPS = (("language_consistency", (0, 1)), ("repetition", (0, 1)), ("question_rate", (0, 1)),
         ("crisis_followed", (0, 1)), ("means_given", (0, 1)))


def rows(runs: list) -> list[dict[str, Any]]:
    """Table rows (section "sessions") with per-run values and CIs; compare._pair fills the deltas."""
    if not any(r.sessions for r in runs):
        return []
    langs = list(dict.fromkeys(lang for r in runs for _, s in r.sessions for lang in s.get("by_lang", {})))
    out = []
    for lang in langs:
        blocks = [next((s["by_lang"][lang] for _, s in r.sessions if lang in s.get("by_lang", {})), None) for r in runs]
        keys = [(k, f"{en} {zh} (0-{hi})", "session", (lo, hi)) for k, lo, hi, zh, en in rubric.DIMENSIONS]
        keys += [(k, k.replace("_", " "), "session_properties", scale) for k, scale in PROPS]
        for key, label, part, scale in keys:
            ds = [((b or {}).get(part) or {}).get(key) or {} for b in blocks]
            if any(d.get("mean") is not None for d in ds):
                out.append({"section": "sessions", "lang": lang, "metric": label, "key": key, "scale": scale,
                            "comparable": True, "values": [d.get("mean") for d in ds], "ci95": [d.get("ci95") for d in ds],
                            "n_unscored": [d.get("n_unscored") for d in ds]})
    return out


def items(run) -> dict[tuple[str, str], dict[str, float]]:
    """(lang, key) -> {session id: value} over complete sessions with a value."""
    out: dict[tuple[str, str], dict[str, float]] = {}
    for d, _ in run.sessions:
        f = Path(d) / "session_scores.jsonl"
        if not f.exists():
            continue
        for _, row, err in io.iter_jsonl(f):
            if err or not isinstance(row, dict) or row.get("status") != "complete":
                continue
            for key in (*rubric.KEYS, *(k for k, _ in PROPS)):
                if row.get(key) is not None:
                    out.setdefault((row["lang"], key), {})[str(row["session"])] = float(row[key])
    return out
