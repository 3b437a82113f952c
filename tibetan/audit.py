"""`hearme audit FILE`: the gate (hearme.tibetan.gate) over records that already exist.

Converted releases, earlier runs, the user's own data: every record's turns go through the same
rules as the LLM steps' output (`check_turns`: per turn encoding, labels, forum words, meta text,
breaking character, script share; then seeker first and loops). Length limits are the rewriting
step's and are not applied here. The report counts records and findings per rule, with examples
(file position, record id, message index, reason, excerpt); `--fix` writes the records without a
finding and a `.rejected.jsonl` side file with the rules each rejected record broke. Self-cognition
records (`source: self-cognition`) say on purpose that the assistant is an AI: no disclaimer finding.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from hearme.core import io, schema
from hearme.tibetan import gate, gate_rules
from hearme.tibetan import text as T

EXCERPT = 80


def record_lang(rec: dict) -> str:
    lang = str(rec.get("lang") or "")
    if lang in ("zh", "bo", "en"):
        return lang
    got = T.detect_lang(" ".join(str(m.get("content") or "") for m in rec.get("messages", [])[:6]))
    return got if got in ("zh", "bo", "en") else "zh"


def audit(path: str | Path, *, fix: str | Path | None = None, phrases: str | Path | None = None,
          examples: int = 5, progress: bool = False) -> dict:
    """Findings per rule over a records file; with `fix`, the clean records there (+ side file)."""
    path = Path(path)
    return audit_items(io.read_items(path), path, fix=fix, phrases=phrases, examples=examples, progress=progress)


def audit_items(items: list[tuple[str, object]], path: str | Path = "", *, fix: str | Path | None = None,
                phrases: str | Path | None = None, examples: int = 5, progress: bool = False) -> dict:
    """audit() over (position, record) pairs already read (the data card passes its records)."""
    from hearme.core.progress import bar

    words = gate_rules.load_phrases(phrases) if phrases else gate_rules.default_phrases()
    tally = io.Tally()
    records_hit: Counter = Counter()
    findings: Counter = Counter()
    shown: dict[str, list[dict]] = {}
    kept = []
    pbar = bar(len(items), desc="audit", unit="record", enabled=progress)
    for where, obj in items:
        if pbar:
            pbar.update()
        tally.read += 1
        try:
            rec = schema.from_sharegpt(obj) if isinstance(obj, dict) and "conversations" in obj \
                and "messages" not in obj else obj
            schema.validate(rec)
        except schema.InvalidRecord as e:
            records_hit["invalid-record"] += 1
            tally.reject(path, where, f"invalid record: {e}", obj)
            continue
        found = gate.check_turns(rec["messages"], lang=record_lang(rec), phrases=words)
        if rec.get("source") == "self-cognition":  # the assistant's identity data says it is an AI on purpose
            found = [(i, f) for i, f in found if "disclaimer" not in f[1]]
        if not found:
            kept.append(rec)
            tally.written += 1
            continue
        for rule in {f[0] for _, f in found}:
            records_hit[rule] += 1
        for i, (rule, reason, _) in found:
            findings[rule] += 1
            ex = shown.setdefault(rule, [])
            if len(ex) < examples:
                text = str(rec["messages"][i].get("content") or "")
                ex.append({"where": where, "id": rec.get("id"), "message": i, "role": rec["messages"][i]["role"],
                           "reason": reason, "excerpt": _excerpt(text, reason)})
        tally.reject(path, where, "; ".join(f"rule {r}: {why} (message {i})" for i, (r, why, _) in found[:5]), rec)
    if pbar:
        pbar.close()
    report = {"input": str(path), "records": tally.read, "clean": tally.written, "flagged": tally.rejected,
              "per_rule": {r: {"records": records_hit[r], "findings": findings[r],
                               "share": round(records_hit[r] / tally.read, 5) if tally.read else 0.0,
                               "examples": shown.get(r, [])} for r in sorted(records_hit)},
              "rules": {r: gate_rules.RULES[r][0] for r in sorted(records_hit) if r in gate_rules.RULES},
              "thresholds": {"foreign_limit": _limit(), "loop_overlap": gate_rules.LOOP_OVERLAP}}
    if fix:
        fix = Path(fix)
        io.write_output(fix, kept, tally)
        report["fixed"] = {"output": str(fix), "rejected": str(io.rejected_path(fix))}
    assert tally.balanced
    return report


def _limit() -> float:
    from hearme.evaluators.reply_noise import FOREIGN_LIMIT

    return FOREIGN_LIMIT


def _excerpt(text: str, reason: str) -> str:
    """Around the quoted piece of the reason when there is one, else the start."""
    start = 0
    if "'" in reason:
        piece = reason.split("'")[1]
        k = text.lower().find(piece[:10].lower()) if piece else -1
        start = max(0, k - 20) if k >= 0 else 0
    out = text[start:start + EXCERPT]
    return ("…" if start else "") + out + ("…" if start + EXCERPT < len(text) else "")


def table(report: dict) -> str:
    """The per-rule counts as a Markdown table."""
    rows = ["| rule | records | findings | share of records |", "|---|---:|---:|---:|"]
    for r, v in report["per_rule"].items():
        rows.append(f"| {r} | {v['records']:,} | {v['findings']:,} | {v['share']:.3%} |")
    return "\n".join(rows)
