"""`hearme judge-dialogues`: CPsyCounE's turn-based protocol against a live model under test.

For every counselor turn of every evaluation dialogue, the model under test receives the
reference history up to that turn (as chat messages, so the API's template separates the
speakers) and writes its own reply; the judge scores that reply against the same history.
Turns are independent, so they run concurrently. Scores are averaged turn -> dialogue ->
topic (only scored turns count; a dialogue with none is reported, never averaged as 0).

    OUT/turns.jsonl      one line per counselor turn: reply, scores or unscored reason
    OUT/dialogues.jsonl  per-dialogue means
    OUT/summary.json     per-dimension mean + 95% bootstrap CI over dialogues, per-topic means,
                         the mean of topic means (CPsyCoun's headline number), usage
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hearme.core import io, schema
from hearme.evaluators import protocols, rubric, stats
from hearme.evaluators.reasons import histogram
from hearme.evaluators.judge import JudgeSettings, score_reply
from hearme.llm import LLMClient, LLMError


def load_dialogues(path: str | Path, limit: int | None = None) -> list[dict]:
    """CPsyCounE folders/files (lists of 求助者/支持者 strings) or records with messages (+ topic)."""
    path = Path(path)
    if not path.exists():
        raise io.InputError(path, "", "no such file or directory")
    if path.is_dir() or (path.suffix == ".json" and isinstance(io.read_json(path), list)
                         and all(isinstance(x, str) for x in io.read_json(path))):
        import hearme.converters  # noqa: F401  (registers the converters)
        from hearme.converters.convert import run as convert

        records, tally = convert("cpsycoune", [path], scrub=False)
        if tally.rejects and not records:
            r = tally.rejects[0]
            raise io.InputError(r["file"] or path, str(r["position"]), r["reason"])
    else:
        records = io.load_records(path)
    records = [r for r in records if any(m["role"] == "assistant" for m in r["messages"])][: limit or None]
    if not records:
        raise io.InputError(path, "", "no dialogue with a counselor turn to evaluate")
    return records


def turn_items(records: list[dict]) -> list[dict]:
    items = []
    for k, rec in enumerate(records):
        turns = schema.dialogue_turns(rec)
        for i, m in enumerate(turns):
            if m["role"] == "assistant" and i > 0:
                items.append({"dialogue": rec.get("id") or f"dialogue-{k}", "topic": rec.get("topic") or "",
                              "turn": i, "history": turns[:i], "reference": m["content"]})
    return items


def aggregate(rows: list[dict]) -> tuple[list[dict], dict[str, Any]]:
    """turn -> dialogue -> topic means over scored turns."""
    by_dialogue: dict[str, list[dict]] = {}
    for r in rows:
        by_dialogue.setdefault(r["dialogue"], []).append(r)
    dialogues = []
    for did, turns in by_dialogue.items():
        scored = [t for t in turns if t["status"] == "scored"]
        d = {"dialogue": did, "topic": turns[0]["topic"], "n_turns": len(turns), "n_scored": len(scored)}
        d.update({k: (sum(t[k] for t in scored) / len(scored) if scored else None) for k in rubric.KEYS})
        dialogues.append(d)
    usable = [d for d in dialogues if d["n_scored"]]
    topics: dict[str, dict] = {}
    for d in usable:
        topics.setdefault(d["topic"], {"n_dialogues": 0, **{k: [] for k in rubric.KEYS}})
        topics[d["topic"]]["n_dialogues"] += 1
        for k in rubric.KEYS:
            topics[d["topic"]][k].append(d[k])
    topic_means = {t: {"n_dialogues": v["n_dialogues"], **{k: round(sum(v[k]) / len(v[k]), 4) for k in rubric.KEYS}}
                   for t, v in sorted(topics.items())}
    summary = {
        "dimensions": {key: {**stats.mean_ci([d[key] for d in usable]), "range": [lo, hi], "zh": zh, "en": en,
                             "mean_of_topics": round(sum(t[key] for t in topic_means.values()) / len(topic_means), 4)
                             if topic_means else None}
                       for key, lo, hi, zh, en in rubric.DIMENSIONS},
        "topics": topic_means,
        "n_dialogues_unscored": len(dialogues) - len(usable),
    }
    return dialogues, summary


def run(eval_path: str | Path, out_dir: str | Path, mut: LLMClient, judge_client: LLMClient,
        settings: JudgeSettings | None = None, *, system: str | None = None, mut_max_tokens: int = 512,
        limit: int | None = None) -> dict[str, Any]:
    s = settings or JudgeSettings()
    s.check()
    from hearme.evaluators.mut import describe, prepare

    records = load_dialogues(eval_path, limit)
    items = turn_items(records)
    prepare(mut)

    async def one(item: dict) -> dict:
        msgs = ([{"role": "system", "content": system}] if system else []) + item["history"]
        try:
            reply = await mut.chat(msgs, temperature=0, max_tokens=mut_max_tokens)
        except LLMError as e:
            return {"reply": None, "status": "unscored", "reason": f"model under test failed: {e}"}
        return {"reply": reply.text, **await score_reply(judge_client, item["history"], reply.text, s)}

    results = judge_client.run(one, items, desc="judge-dialogues")
    rows = []
    for item, res in zip(items, results):
        if isinstance(res, Exception):
            res = {"reply": None, "status": "unscored", "reason": f"error: {res}"}
        rows.append({k: v for k, v in item.items() if k != "history"} | res)
    dialogues, agg = aggregate(rows)
    scored = sum(r["status"] == "scored" for r in rows)
    summary = {"n_dialogues": len(records), "n_turns": len(rows), "n_scored": scored, "n_unscored": len(rows) - scored,
               "unscored_reasons": histogram(rows),
               **agg,
               "judge": {"model": judge_client.model, "base_url": judge_client.base_url,
                         "rubric": protocols.version(s.protocol), "protocol": s.protocol, "lang": s.lang, "seed": s.seed},
               "model_under_test": describe(mut, max_tokens=mut_max_tokens),
               "usage": {"judge": judge_client.stats.as_dict(), "model_under_test": mut.stats.as_dict()},
               "input": str(Path(eval_path).resolve()), "items": {"n_dialogues": len(records), "n_turns": len(items),
                                                                  "ids": [r.get("id") for r in records][:1000]}}
    out = Path(out_dir)
    io.write_jsonl(out / "turns.jsonl", rows)
    io.write_jsonl(out / "dialogues.jsonl", dialogues)
    io.write_json(out / "summary.json", summary)
    return summary


def format_summary(summary: dict) -> str:
    lines = [f"{summary['n_dialogues']} dialogues, {summary['n_turns']} counselor turns: "
             f"scored {summary['n_scored']}, unscored {summary['n_unscored']}"]
    for key, d in summary["dimensions"].items():
        if d["mean"] is None:
            lines.append(f"  {d['en']:<18} n/a")
            continue
        ci = d["ci95"]
        lines.append(f"  {d['en']:<18} {d['zh']}  {d['mean']:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]  "
                     f"mean of topics {d['mean_of_topics']:.3f}")
    for topic, t in summary["topics"].items():
        lines.append(f"  {topic or '(no topic)'}: " + " ".join(f"{k[:4]}={t[k]:.2f}" for k in rubric.KEYS)
                     + f" ({t['n_dialogues']} dialogues)")
    return "\n".join(lines)
