"""`hearme judge`: the four-dimension LLM judge over LLaMA-Factory predictions.

Each item: the dialogue recovered from `prompt`, the model's `predict` as the reply. The judge
sees the constant rubric then the item, answers JSON at temperature 0 with a seed; replies
that cannot be parsed or fall out of range are re-asked a bounded number of times and then
recorded as `unscored` with the reason. Nothing is ever scored 0 for being unreadable.

    OUT/items.jsonl    one line per item: status scored|unscored, four scores, rationale, reason
    OUT/summary.json   n_scored, n_unscored, per-dimension mean + 95% bootstrap CI (scored only),
                       token usage, cost, cache hits, the judge's settings

With `repeat` > 1 or other judges, every item is also asked again (seed + r for repeat r) and of
each other judge; OUT/ratings.jsonl holds every rating and summary.json["reliability"] the
self-consistency and agreement (evaluators/reliability.py). The scores above stay those of the
first judge's first ask, so a run with reliability scores items.jsonl as a run without does.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from hearme.core import io
from hearme.evaluators import protocols, reasons, rubric, stats
from hearme.evaluators.parse import parse_scores
from hearme.llm import LLMClient, LLMError, ParseError


@dataclass
class JudgeSettings:
    lang: str = "zh"  # rubric language
    reasks: int = 2
    seed: int = 42
    temperature: float = 0.0
    max_tokens: int = 1024
    protocol: str = "hearme"  # hearme (JSON) | hearmeglm | cpsycoun (reasoning, then the verdict list)

    def check(self) -> None:
        protocols.check(self.protocol)
        if self.lang not in rubric.RUBRICS:
            raise io.HearMeError(f"--rubric-lang must be one of {', '.join(rubric.RUBRICS)}, got {self.lang!r}")
        if self.reasks < 0:
            raise io.HearMeError("--reasks must be 0 or more")


def _check(text: str) -> dict:
    return parse_scores(text, rubric.RANGES)


async def score_reply(client: LLMClient, history: list[dict], reply: str, s: JudgeSettings) -> dict[str, Any]:
    """One judged reply: {"status": "scored", <dims>, "rationale", ...} or {"status": "unscored", "reason"}."""
    msgs = protocols.messages(s.protocol, history, reply, s.lang)
    try:
        r = await client.chat_json(msgs, schema=protocols.schema(s.protocol), name="counseling_scores", check=_check,
                                   reasks=s.reasks, prompt_version=protocols.prompt_version(s.protocol, s.lang),
                                   reask_text=protocols.reask_text(s.protocol, s.lang), temperature=s.temperature, seed=s.seed,
                                   max_tokens=s.max_tokens)
    except ParseError as e:
        return {"status": "unscored", "reason": f"unparsable: {e}", "attempts": len(e.texts),
                "last_reply": (e.texts[-1] if e.texts else "")[:1000]}
    except LLMError as e:
        return {"status": "unscored", "reason": f"request failed: {e}"}
    return {"status": "scored", **{k: r.data[k] for k in rubric.KEYS}, "rationale": r.data["rationale"],
            "attempts": r.attempts, "cached": r.cached}


def summarize(items: list[dict], client: LLMClient | None, s: JudgeSettings, **extra: Any) -> dict[str, Any]:
    scored = [it for it in items if it.get("status") == "scored"]
    dims = {}
    for key, lo, hi, zh, en in rubric.DIMENSIONS:
        dims[key] = {**stats.mean_ci([it[key] for it in scored]), "range": [lo, hi], "zh": zh, "en": en}
    total = stats.mean_ci([sum(it[k] for k in rubric.KEYS) for it in scored])
    langs = Counter(it["lang"] for it in items if it.get("lang"))
    out = {"n_items": len(items), "n_scored": len(scored), "n_unscored": len(items) - len(scored),
           "unscored_reasons": reasons.histogram(items), "dimensions": dims, "total": {**total, "range": [0, 9]},
           "lang": (langs.most_common(1)[0][0] if len(langs) == 1 else "mixed") if langs else None,
           "langs": dict(langs),
           "judge": {"model": client.model if client else None, "base_url": client.base_url if client else None,
                     "rubric": protocols.version(s.protocol), **asdict(s)},
           "bootstrap": {"resamples": stats.RESAMPLES, "seed": stats.SEED, "level": 0.95}}
    if client is not None:
        out["usage"] = client.stats.as_dict()
    out.update(extra)
    return out


def load_items(pred_path: str | Path, limit: int | None = None) -> tuple[list[dict], io.Tally]:
    from hearme.evaluators.history import parse_prompt
    from hearme.evaluators.metrics import load_predictions

    from hearme.evaluators.metrics import item_lang

    tally = io.Tally()
    rows = load_predictions(pred_path, tally)[: limit or None]
    return [{"id": f"line-{r['line']}", "line": r["line"], "lang": item_lang(r["label"]),
             "history": parse_prompt(r.get("prompt", "")), "reply": r["predict"]} for r in rows], tally


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run(pred_path: str | Path, out_dir: str | Path, client: LLMClient, settings: JudgeSettings | None = None,
        limit: int | None = None, repeat: int = 1, others: Sequence[LLMClient] = ()) -> dict[str, Any]:
    """Judge every prediction; write OUT/items.jsonl and OUT/summary.json; return the summary.

    REPEAT asks and OTHERS judges add OUT/ratings.jsonl and summary["reliability"]."""
    s = settings or JudgeSettings()
    s.check()
    if repeat < 1:
        raise io.HearMeError("--repeat must be 1 or more")
    items, tally = load_items(pred_path, limit)
    judges = [client, *others]
    asks = [(c, r) for c in judges for r in range(repeat)]

    async def one(item: dict) -> list[dict]:
        out = []
        for c, r in asks:  # in order: the first is the plain run's request, so its cache entry is shared
            try:
                out.append(await score_reply(c, item["history"], item["reply"], replace(s, seed=s.seed + r)))
            except Exception as e:  # a bug-level failure still ends unscored, with its reason
                out.append({"status": "unscored", "reason": f"error: {e}"})
        return out

    results = client.run(one, items, desc="judge", also_close=others)
    rows, ratings = [], []
    for item, res in zip(items, results):
        if isinstance(res, Exception):
            res = [{"status": "unscored", "reason": f"error: {res}"}] * len(asks)
        rows.append({"id": item["id"], "line": item["line"], "lang": item["lang"], **res[0], "reply": item["reply"]})
        ratings += [{"id": item["id"], "judge": c.model, "repeat": r, "seed": s.seed + r,
                     **{k: v for k, v in one_res.items() if k in ("status", "reason", *rubric.KEYS)}}
                    for (c, r), one_res in zip(asks, res)]
    out = Path(out_dir)
    io.write_jsonl(out / "items.jsonl", rows)
    extra: dict[str, Any] = {"input": {"file": str(Path(pred_path).resolve()), "sha256": file_sha256(pred_path),
                                       **tally.as_dict()}}
    if len(asks) > 1:
        from hearme.evaluators.reliability import summarize_ratings

        io.write_jsonl(out / "ratings.jsonl", ratings)
        extra["reliability"] = summarize_ratings(ratings, [c.model for c in judges], repeat)
        extra["reliability"]["usage"] = {c.model: c.stats.as_dict() for c in others}
    summary = summarize(rows, client, s, **extra)
    io.write_json(out / "summary.json", summary)
    if tally.rejects:
        tally.write_rejects(out / "items.jsonl")
    return summary


def format_summary(summary: dict) -> str:
    lines = [f"scored {summary['n_scored']}/{summary['n_items']} (unscored {summary['n_unscored']})"
             + (f", language {summary['lang']}" if summary.get("lang") else "")]
    for key, d in summary["dimensions"].items():
        ci = d["ci95"]
        val = "n/a" if d["mean"] is None else f"{d['mean']:.3f}  95% CI [{ci[0]:.3f}, {ci[1]:.3f}]"
        lines.append(f"  {d['en']:<18} {d['zh']}  (0-{d['range'][1]})  {val}")
    if summary.get("unscored_reasons"):
        lines.append("  unscored: " + reasons.line(summary["unscored_reasons"]))
    return "\n".join(lines)
