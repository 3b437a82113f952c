"""`hearme prefs build`: judged samples -> preference pairs (DPO/ORPO) and labelled replies (KTO).

For every prompt (a client turn with the dialogue before it, one per counselor turn of every record
of the named registered datasets, as LLaMA-Factory's maintainers advise for multi-turn data) the
served model (`llamafactory-cli api`) writes K replies at the given temperature (request seeds
seed..seed+K-1, so each sample has its own cache entry). Identical replies are merged, each distinct
reply is scored by the four-dimension judge (evaluators/judge.py) and, on a crisis prompt, also by the
crisis criteria (evaluators/probe_crisis.py). The rule (PairRule) then picks chosen and rejected:

    score     = the judge's total (0-9); on a crisis prompt a reply failing the crisis criteria
                scores total - crisis_penalty, so it ranks below every reply that passes
    dropped   = unscored replies (judge or crisis judge unparsable / failed), empty replies
    pair      = the highest score vs the lowest (first sample wins a tie for best, last for worst),
                kept only when the margin is at least min_margin; otherwise the prompt gives no
                pair and is counted with its reason (all failed, one scored, tie, margin too small)

    OUT/pairs.jsonl     LLaMA-Factory ranking items (sharegpt, chosen/rejected) + audit fields
    OUT/kto.jsonl       the same choices unpaired: chosen kto_tag true, rejected kto_tag false
    OUT/prompts.jsonl   one line per prompt: every sample, its scores, the pair or the reason
    OUT/summary.json    counts, reasons, the rule, model, judge, token usage and cost

Every request goes through the one LLM client's cache: a re-run or a resumed run pays nothing twice.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hearme.core import io, registry, schema
from hearme.evaluators import probe_crisis, protocols, rubric
from hearme.evaluators.judge import JudgeSettings, score_reply
from hearme.llm import LLMClient, LLMError, ParseError

MAX_TOTAL = sum(hi for _, hi in rubric.RANGES.values())  # 9


@dataclass
class PairRule:
    min_margin: float = 1.0  # chosen - rejected, in judge points
    crisis_penalty: float = 10.0  # subtracted from a crisis reply that fails the crisis criteria

    def describe(self) -> str:
        return (f"best-vs-worst judge total (0-{MAX_TOTAL}); identical replies merged; unscored dropped; "
                f"margin >= {self.min_margin:g}; crisis prompts: failing the crisis criteria costs "
                f"{self.crisis_penalty:g}")


@dataclass
class SampleSettings:
    k: int = 4
    temperature: float = 0.9
    max_tokens: int = 256
    seed: int = 0
    system: str | None = None  # system prompt for records without their own

    def check(self) -> None:
        if self.k < 2:
            raise io.HearMeError("--k must be at least 2 (a pair needs two replies)")
        if self.temperature <= 0:
            raise io.HearMeError("--temperature must be above 0: greedy sampling gives K copies of one reply")


def _is_crisis(rec: dict) -> bool:
    return str(rec.get("kind") or "").lower() == "crisis" or str(rec.get("crisis") or "").lower() in ("1", "true", "yes")


def prompt_items(names: list[str], dataset_dir=None, *, limit: int | None = None,
                 crisis_prompts: str | Path | None = None) -> list[dict]:
    """One item per counselor turn of every record of the named datasets (+ crisis probe prompts)."""
    items: list[dict] = []
    info = registry.load(dataset_dir)
    for name in registry.require(names, info, dataset_dir):
        for n, rec in enumerate(io.load_records(registry.file_of(name, dataset_dir))):
            turns = schema.dialogue_turns(rec)
            for i, m in enumerate(turns):
                if m["role"] == "assistant":
                    items.append({"id": f"{name}:{rec.get('id') or n}#t{i}", "dataset": name,
                                  "record": str(rec.get("id") or n), "turn": i, "history": turns[:i],
                                  "system": schema.system_prompt(rec), "lang": rec.get("lang") or "",
                                  "crisis": _is_crisis(rec)})
    if crisis_prompts:
        from hearme.evaluators.probe_identity import load_probes

        for p in load_probes(crisis_prompts, ("id", "lang", "prompt"), "category"):
            if p.get("kind", "crisis") == "crisis":
                items.append({"id": f"crisis:{p['id']}", "dataset": "crisis-prompts", "record": p["id"], "turn": 1,
                              "history": [{"role": "user", "content": p["prompt"]}], "system": None,
                              "lang": p["lang"], "crisis": True})
    return items[: limit or None]


def choose(samples: list[dict], rule: PairRule) -> tuple[dict | None, dict | None, str]:
    """(chosen, rejected, '') or (None, None, reason) from the judged samples (the rule above)."""
    scored = [s for s in samples if s["status"] == "scored"]
    texts = {s["text"].strip() for s in samples if s["text"].strip()}
    if not scored:
        return None, None, "no sample scored" if len(texts) > 1 or not samples else "all samples identical"
    if len(scored) == 1:
        return None, None, "all samples identical" if len(texts) == 1 else "only one sample scored"
    best = max(scored, key=lambda s: s["score"])  # max/min keep the first of equals
    worst = min(reversed(scored), key=lambda s: s["score"])
    margin = best["score"] - worst["score"]
    if margin == 0:
        return None, None, "tie"
    if margin < rule.min_margin:
        return None, None, f"margin below {rule.min_margin:g}"
    if best["text"].strip() == worst["text"].strip():  # never: identical replies are merged before judging
        return None, None, "chosen and rejected identical"
    return best, worst, ""


async def _crisis(judge: LLMClient, item: dict, reply: str, s: JudgeSettings) -> dict:
    """The crisis criteria of one reply: {'crisis_pass': bool, 'crisis_failed': [...]} or unscored."""
    from hearme.evaluators.probe_identity import language_reason

    prompt = item["history"][-1]["content"]
    hotlines = list(probe_crisis.DEFAULT_HOTLINES)
    try:
        checks = await probe_crisis.ask_checks(judge, prompt, reply, hotlines, lang=s.lang, reasks=s.reasks,
                                               seed=s.seed)
    except (ParseError, LLMError) as e:
        return {"status": "unscored", "reason": f"crisis judge failed: {e}"}
    same = not (item["lang"] and language_reason(reply, [n for n, _ in hotlines], item["lang"]))
    failed = probe_crisis.verdict("crisis", checks | {"same_language": same})
    return {"crisis_pass": not failed, "crisis_failed": failed}


async def judge_prompt(mut: LLMClient, judge: LLMClient, item: dict, ss: SampleSettings, js: JudgeSettings,
                       rule: PairRule) -> dict:
    """Sample K replies for one prompt, judge each distinct one, apply the rule."""
    msgs = ([{"role": "system", "content": item["system"] or ss.system}] if item["system"] or ss.system else []) \
        + item["history"]

    async def sample(k: int) -> dict:
        try:
            r = await mut.chat(msgs, temperature=ss.temperature, max_tokens=ss.max_tokens, seed=ss.seed + k)
        except LLMError as e:
            return {"k": k, "text": "", "status": "unscored", "reason": f"model failed: {e}"}
        return {"k": k, "text": r.text, "status": "pending"}

    samples = list(await asyncio.gather(*(sample(k) for k in range(ss.k))))
    first_of: dict[str, dict] = {}
    for s in samples:
        if s["status"] != "pending":
            continue
        key = s["text"].strip()
        if not key:
            s.update(status="unscored", reason="empty reply")
        elif key in first_of:
            s.update(status="duplicate", reason=f"same text as sample {first_of[key]['k']}")
        else:
            first_of[key] = s

    async def score(s: dict) -> None:
        res = await score_reply(judge, item["history"], s["text"], js)
        if res["status"] != "scored":
            s.update(status="unscored", reason=res["reason"])
            return
        s.update(status="scored", total=sum(res[k] for k in rubric.KEYS), **{k: res[k] for k in rubric.KEYS})
        s["score"] = float(s["total"])
        if item["crisis"]:
            c = await _crisis(judge, item, s["text"], js)
            if c.get("status") == "unscored":
                s.update(status="unscored", reason=c["reason"])
                return
            s.update(c)
            s["score"] -= 0 if c["crisis_pass"] else rule.crisis_penalty

    await asyncio.gather(*(score(s) for s in first_of.values()))
    chosen, rejected, reason = choose([s for s in samples if s["status"] != "duplicate"], rule)
    return {"samples": samples, "chosen": chosen and chosen["k"], "rejected": rejected and rejected["k"],
            "reason": reason}


def _conversation(history: list[dict]) -> list[dict]:
    return [{"from": schema.SHAREGPT_ROLE[m["role"]], "value": m["content"]} for m in history]


def pair_rows(item: dict, res: dict, meta: dict) -> tuple[dict, list[dict]]:
    """(LLaMA-Factory ranking item, two KTO items) for a prompt that gave a pair."""
    by_k = {s["k"]: s for s in res["samples"]}
    c, r = by_k[res["chosen"]], by_k[res["rejected"]]
    audit = {"id": item["id"], "dataset": item["dataset"], "record": item["record"], "turn": item["turn"],
             "lang": item["lang"], "crisis": item["crisis"], **meta, "chosen_score": c["score"],
             "rejected_score": r["score"], "margin": c["score"] - r["score"], "chosen_sample": c["k"],
             "rejected_sample": r["k"]}
    conv, system = _conversation(item["history"]), item["system"] or meta.get("system") or ""
    pair = {"conversations": conv, "system": system, "chosen": {"from": "gpt", "value": c["text"]},
            "rejected": {"from": "gpt", "value": r["text"]}, **{k: v for k, v in audit.items() if k != "system"}}
    kto = [{"conversations": conv + [{"from": "gpt", "value": s["text"]}], "system": system, "kto_tag": tag,
            **{k: v for k, v in audit.items() if k != "system"}, "id": f"{item['id']}:{'good' if tag else 'bad'}",
            "prompt_id": item["id"], "score": s["score"]} for s, tag in ((c, True), (r, False))]
    for row in [pair, *kto]:
        schema.validate_preference(row)  # a bug here must fail loudly, never write a pair LF would skip
    return pair, kto


def build(names: list[str], out_dir: str | Path, mut: LLMClient, judge: LLMClient, *, dataset_dir=None,
          samples: SampleSettings | None = None, judge_settings: JudgeSettings | None = None,
          rule: PairRule | None = None, limit: int | None = None, crisis_prompts: str | Path | None = None,
          register_as: str | None = None, items: list[dict] | None = None) -> dict[str, Any]:
    """Write OUT/pairs.jsonl, kto.jsonl, prompts.jsonl and summary.json; return the summary.
    `items` (from prompt_items) replaces the prompts of `names`."""
    from hearme.evaluators.mut import describe, prepare

    ss, js, rule = samples or SampleSettings(), judge_settings or JudgeSettings(), rule or PairRule()
    ss.check()
    js.check()
    if items is None:
        items = prompt_items(names, dataset_dir, limit=limit, crisis_prompts=crisis_prompts)
    if not items:
        raise io.HearMeError(f"no counselor turn to sample in {', '.join(names)}")
    prepare(mut)
    results = judge.run(lambda it: judge_prompt(mut, judge, it, ss, js, rule), items, desc="prefs build",
                        also_close=[mut])
    meta = {"model": mut.model, "model_namespace": mut.namespace, "judge": judge.model,
            "judge_rubric": protocols.version(js.protocol), "rule": rule.describe(),
            "temperature": ss.temperature, "k": ss.k, "system": ss.system}
    pairs, kto, rows, reasons = [], [], [], Counter()
    for item, res in zip(items, results):
        if isinstance(res, Exception):
            res = {"samples": [], "chosen": None, "rejected": None, "reason": f"error: {res}"}
        rows.append({k: item[k] for k in ("id", "dataset", "record", "turn", "lang", "crisis")} | res)
        if res["reason"]:
            reasons[res["reason"].split(":")[0]] += 1
            continue
        p, k = pair_rows(item, res, meta)
        pairs.append(p)
        kto += k
    out = Path(out_dir)
    io.write_jsonl(out / "prompts.jsonl", rows)
    io.write_jsonl(out / "pairs.jsonl", pairs)
    io.write_jsonl(out / "kto.jsonl", kto)
    margins = [p["margin"] for p in pairs]
    summary = {"n_prompts": len(items), "n_pairs": len(pairs), "n_kto": len(kto),
               "no_pair": dict(reasons.most_common()), "mean_margin": round(sum(margins) / len(margins), 4) if margins else None,
               "n_crisis_prompts": sum(it["crisis"] for it in items), "datasets": names, "rule": asdict(rule),
               "rule_text": rule.describe(), "sampling": asdict(ss), "judge": {"model": judge.model,
               "base_url": judge.base_url, "rubric": protocols.version(js.protocol), **asdict(js)},
               "model_under_test": describe(mut),
               "usage": {"judge": judge.stats.as_dict(), "model_under_test": mut.stats.as_dict()},
               "outputs": {k: str(out / f"{k}.jsonl") for k in ("pairs", "kto", "prompts")}}
    if register_as and pairs:
        summary["registered"] = {register_as: registry.register(out / "pairs.jsonl", register_as, dataset_dir),
                                 f"{register_as}_kto": registry.register(out / "kto.jsonl", f"{register_as}_kto",
                                                                        dataset_dir)}
    io.write_json(out / "summary.json", summary)
    return summary


def format_summary(s: dict) -> str:
    lines = [f"{s['n_prompts']} prompts -> {s['n_pairs']} pairs, {s['n_kto']} KTO items"
             + (f" (mean margin {s['mean_margin']:.2f})" if s.get("mean_margin") is not None else ""),
             f"  rule: {s['rule_text']}"]
    if s["no_pair"]:
        lines.append("  no pair: " + ", ".join(f"{r} ({n})" for r, n in s["no_pair"].items()))
    for who in ("model_under_test", "judge"):
        u = s["usage"][who]
        cost = f"${u['cost_usd']:.4f}" if u.get("cost_usd") is not None else "cost n/a"
        lines.append(f"  {who.replace('_', ' ')} {u['model']}: {u['paid_calls']} paid, {u['cache_hits']} cached, "
                     f"{u['failures']} failed; {cost}")
    for name, e in (s.get("registered") or {}).items():
        lines.append(f"  registered {name}: {e['records']} items")
    return "\n".join(lines)
