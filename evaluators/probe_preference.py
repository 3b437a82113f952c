"""`hearme probe preference`: better / equal / worse than the reference reply (the Tibetan paper's
human evaluation, done by an LLM judge).

Each prediction is compared with its reference `label` twice, with the positions swapped
(model first, then reference first), to cancel position bias. The two verdicts combine as in
FastChat's pairwise mode: the same winner twice -> that outcome; anything else -> equal. The
shares of better/equal/worse come with 95% bootstrap CIs; the consistency rate of the two
orders is reported as a check on the judge.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hearme.core import io
from hearme.evaluators import stats
from hearme.evaluators.reasons import histogram
from hearme.evaluators.history import render_history
from hearme.llm import LLMClient, LLMError, ParseError, extract_json

PROMPT_VERSION = "hearme-pref-v1"
OUTCOMES = ("better", "equal", "worse")
SCHEMA = {"type": "object", "additionalProperties": False, "required": ["rationale", "verdict"],
          "properties": {"rationale": {"type": "string"}, "verdict": {"type": "string", "enum": ["A", "B", "tie"]}}}

RUBRIC_ZH = """你是一名经验丰富的心理咨询督导。用户消息里有一段心理咨询对话的历史，以及针对来访者最后一次发言的两条候选回复 A 和 B。请判断哪一条更适合作为咨询师此刻的回复。

比较时综合考虑：
- 自然度：读起来是否自然流畅，像真人咨询师在说话；
- 类人程度：是否体现出理解、共情与恰当的分寸，而不是模板化的套话；
- 正确性：内容是否切题、专业上是否站得住，有没有错误、有害或答非所问的地方。

要求：不要因为回复出现的先后位置、篇幅长短或措辞华丽程度而偏向任何一方；两条回复质量相当时判为 tie。对话可能是中文或藏文，按内容本身判断。
先写简短理由，再给结论。只输出一个 JSON 对象：{"rationale": 简短理由, "verdict": "A" 或 "B" 或 "tie"}。"""

RUBRIC_EN = """You are an experienced counseling supervisor. The user message holds the history of a counseling conversation and two candidate replies, A and B, to the client's last message. Decide which one is the better reply for the counselor to give at this point.

Weigh together:
- naturalness: does it read fluently, like a real counselor speaking;
- human-likeness: does it show understanding, empathy and good judgement rather than boilerplate;
- correctness: is it on topic and professionally sound, free of errors, harm and non-answers.

Rules: do not let the order of the replies, their length or flowery wording sway you; if they are of similar quality answer tie. The conversation may be in Chinese or Tibetan; judge the content itself.
Write a short rationale first, then the verdict. Output a single JSON object: {"rationale": short rationale, "verdict": "A" or "B" or "tie"}."""

RUBRICS = {"zh": RUBRIC_ZH, "en": RUBRIC_EN}
LABELS = {"zh": ("来访者", "咨询师", "# 对话历史", "# 回复 A", "# 回复 B"),
          "en": ("Client", "Counselor", "# Conversation history", "# Reply A", "# Reply B")}


def parse_verdict(text: str) -> dict:
    obj = extract_json(text)
    verdict = str(obj.get("verdict", "")).strip().strip("[]\"'").upper()
    verdict = {"TIE": "tie", "C": "tie", "EQUAL": "tie"}.get(verdict, verdict)
    if verdict not in ("A", "B", "tie"):
        raise ValueError(f"verdict {obj.get('verdict')!r} is not A, B or tie")
    return {"verdict": verdict, "rationale": str(obj.get("rationale") or "")}


def messages(history: list[dict], a: str, b: str, lang: str) -> list[dict]:
    client, counselor, h, la, lb = LABELS[lang]
    body = f"{h}\n\n{render_history(history, client, counselor)}\n\n{la}\n<<<\n{a.strip()}\n>>>\n\n{lb}\n<<<\n{b.strip()}\n>>>"
    return [{"role": "system", "content": RUBRICS[lang]}, {"role": "user", "content": body}]


def combine(first: str, second: str) -> tuple[str, bool]:
    """first: model as A; second: model as B. -> (outcome for the model, consistent?)."""
    o1 = {"A": "better", "B": "worse", "tie": "equal"}[first]
    o2 = {"B": "better", "A": "worse", "tie": "equal"}[second]
    return (o1 if o1 == o2 else "equal"), o1 == o2


def run(pred_path: str | Path, out_dir: str | Path, client: LLMClient, *, lang: str = "zh", reasks: int = 2,
        seed: int = 42, limit: int | None = None) -> dict[str, Any]:
    from hearme.evaluators.judge import load_items
    from hearme.evaluators.metrics import load_predictions

    if lang not in RUBRICS:
        raise io.HearMeError(f"--rubric-lang must be one of {', '.join(RUBRICS)}")
    items, tally = load_items(pred_path, limit)
    labels = {r["line"]: r["label"] for r in load_predictions(pred_path)}

    async def ask(history: list[dict], a: str, b: str) -> dict:
        r = await client.chat_json(messages(history, a, b, lang), schema=SCHEMA, name="preference",
                                   check=parse_verdict, reasks=reasks, prompt_version=f"{PROMPT_VERSION}-{lang}",
                                   temperature=0, seed=seed, max_tokens=600)
        return r.data

    async def one(item: dict) -> dict:
        model, ref = item["reply"], labels[item["line"]]
        try:
            g1 = await ask(item["history"], model, ref)
            g2 = await ask(item["history"], ref, model)
        except (ParseError, LLMError) as e:
            return {"status": "unscored", "reason": f"judge failed: {e}"}
        outcome, consistent = combine(g1["verdict"], g2["verdict"])
        return {"status": "scored", "outcome": outcome, "consistent": consistent,
                "verdict_model_first": g1["verdict"], "verdict_reference_first": g2["verdict"],
                "rationale_model_first": g1["rationale"], "rationale_reference_first": g2["rationale"]}

    results = client.run(one, items, desc="probe preference")
    rows = []
    for item, res in zip(items, results):
        if isinstance(res, Exception):
            res = {"status": "unscored", "reason": f"error: {res}"}
        rows.append({"id": item["id"], "line": item["line"], **res, "reply": item["reply"], "reference": labels[item["line"]]})
    scored = [r for r in rows if r["status"] == "scored"]
    summary = {"probe": "preference", "n_items": len(rows), "n_scored": len(scored), "n_unscored": len(rows) - len(scored),
               "unscored_reasons": histogram(rows),
               "shares": stats.shares_ci([r["outcome"] for r in scored], OUTCOMES),
               "consistency": stats.mean_ci([r["consistent"] for r in scored]),
               "judge": {"model": client.model, "base_url": client.base_url, "rubric": PROMPT_VERSION, "lang": lang,
                         "seed": seed},
               "usage": client.stats.as_dict(), "input": {"file": str(pred_path), **tally.as_dict()}}
    out = Path(out_dir)
    io.write_jsonl(out / "items.jsonl", rows)
    io.write_json(out / "summary.json", summary)
    return summary


def format_summary(summary: dict) -> str:
    lines = [f"preference vs reference: {summary['n_scored']} scored, {summary['n_unscored']} unscored"]
    for o, d in summary["shares"].items():
        if d["share"] is not None:
            lines.append(f"  {o:<7} {d['share']:.1%}  95% CI [{d['ci95'][0]:.1%}, {d['ci95'][1]:.1%}]  (n={d['count']})")
    c = summary["consistency"]
    if c["mean"] is not None:
        lines.append(f"  the two orders agreed on {c['mean']:.0%} of items")
    return "\n".join(lines)
