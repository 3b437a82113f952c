"""Self-instruct expansion per topic (the paper's §3.2, after Wang et al. 2023).

Each of the nine PsyQA topics has a seed pool (the input's single-turn items of that topic).
Every request shows a few seed examples and asks for new Q&A items as a JSON array; new
items whose question is too similar to anything in the pool (character 3-gram Jaccard) are
rejected as duplicates, items that fail the gate (hearme.tibetan.gate: meta text, disclaimers,
encoding, script share, forum words) are rejected with the rule, accepted ones join the pool. Rounds repeat until every topic has its
quota or the request budget is spent. The output feeds `hearme tibetan multiturn`.

Resume never pays twice: a request's prompt depends only on the seeds, the topic, the round
and the slot (examples are drawn from the seeds, never from earlier replies), so after a
transient failure or a kill every reply already paid for is asked with the same prompt and
served from the cache; a round also takes the cached replies of its slots beyond what it
needs (free candidates an interrupted run paid for).
"""

from __future__ import annotations

import json
import math
import random
import re
from dataclasses import dataclass, field
from pathlib import Path

from hearme.core import io, schema
from hearme.tibetan import gate, prompts, topics
from hearme.tibetan.translate import fail_if_all_failed

_SPACE_PUNCT = re.compile(r"[\s\W_]+")


@dataclass
class Config:
    per_topic: int = 20                 # new items wanted per topic
    batch: int = 5                      # items asked for per request
    examples: int = 3                   # pool examples shown per request
    max_rounds: int = 4
    similarity: float = 0.5             # Jaccard of question 3-grams at or above which it is a duplicate
    temperature: float = 1.0
    seed: int = 0
    topics: list[str] = field(default_factory=lambda: list(topics.TOPICS))


def shingles(text: str, n: int = 3) -> frozenset[str]:
    t = _SPACE_PUNCT.sub("", text)
    return frozenset(t[i:i + n] for i in range(max(len(t) - n + 1, 1)))


def jaccard(a: frozenset, b: frozenset) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


@dataclass
class PoolItem:
    id: str
    question: str
    answer: str
    grams: frozenset


def parse_items(text: str) -> list[dict]:
    """The JSON array of {question, answer} in a reply; raises ValueError(reason)."""
    t = re.sub(r"```(?:json)?", "", text or "")
    start, end = t.find("["), t.rfind("]")
    if start < 0 or end <= start:
        raise ValueError("malformed reply: no JSON array")
    try:
        data = json.loads(t[start:end + 1])
    except json.JSONDecodeError as e:
        raise ValueError(f"malformed reply: invalid JSON ({e.msg})") from None
    if not isinstance(data, list):
        raise ValueError("malformed reply: not a JSON array")
    return data


def _example_block(items: list[PoolItem]) -> str:
    return "\n\n".join(f"示例{k}：\n问：{it.question}\n答：{it.answer}" for k, it in enumerate(items, 1))


def run(inp: str | Path, out: str | Path, client, cfg: Config | None = None, *, with_seeds: bool = False,
        progress: bool = True) -> dict:
    inp, out = Path(inp), Path(out)
    cfg = cfg or Config()
    unknown = [t for t in cfg.topics if t not in topics.TOPICS]
    if unknown:
        raise io.HearMeError(f"unknown topic(s) {', '.join(unknown)}; the nine are {', '.join(topics.TOPICS)}")
    records = io.load_records(inp)
    pools: dict[str, list[PoolItem]] = {t: [] for t in cfg.topics}
    for i, rec in enumerate(records):
        turns = schema.dialogue_turns(rec)
        topic = topics.canonical(rec.get("topic"))
        if topic in pools:
            q, a = turns[0]["content"].strip(), turns[1]["content"].strip()
            pools[topic].append(PoolItem(rec.get("id") or f"record {i}", q, a, shingles(q)))
    empty = [t for t, p in pools.items() if not p]
    if len(empty) == len(pools):
        raise io.InputError(inp, "", f"no seed items in any of the topics {', '.join(cfg.topics)} "
                                     f"(record `topic` must be one of the nine PsyQA topics or an alias)")
    seeds = {t: list(p) for t, p in pools.items()}  # examples come from here only (stable prompts)
    tally = io.Tally()
    new: dict[str, list[PoolItem]] = {t: [] for t in pools}
    checks = gate.GateTally()
    client.progress = progress
    requests_sent = 0
    for rnd in range(cfg.max_rounds):
        reqs, whose = [], []
        for topic, pool in pools.items():
            need = cfg.per_topic - len(new[topic])
            if not pool or need <= 0:
                continue
            k = 0
            # the slots this round needs, then any later slot of it an earlier (interrupted) run paid for
            while k < math.ceil(need / cfg.batch) or (k < 100 and _cached(client, _request(cfg, topic, rnd, k, seeds))):
                reqs.append(_request(cfg, topic, rnd, k, seeds))
                whose.append(topic)
                k += 1
        if not reqs:
            break
        requests_sent += len(reqs)
        replies = client.map(reqs, desc=f"expand round {rnd + 1}")
        if rnd == 0:
            fail_if_all_failed(replies)
        for topic, reply in zip(whose, replies):
            _absorb(topic, reply, pools[topic], new[topic], cfg, tally, inp, checks)
    kept = []
    if with_seeds:
        for rec in records:
            tally.read += 1
            tally.written += 1
            kept.append(rec)
    for topic, items in new.items():
        for it in items:
            kept.append(schema.make([{"role": "user", "content": it.question}, {"role": "assistant", "content": it.answer}],
                                    id=it.id, source="self-instruct", lang="zh", topic=topic, generated_by=client.model))
    io.write_records(out, kept)
    tally.write_rejects(out)
    assert tally.balanced
    report = {"input": str(inp), "output": str(out), **tally.as_dict(), "requests": requests_sent,
              "seeds": {t: len(p) - len(new[t]) for t, p in pools.items()},
              "new": {t: len(v) for t, v in new.items()}, "topics_without_seeds": empty,
              "llm": client.stats.as_dict(), "gate": checks.as_dict()}
    io.write_json(out.with_name(out.name.rsplit(".", 1)[0] + ".expand.json"), report)
    return report


def _request(cfg: Config, topic: str, rnd: int, k: int, seeds: dict[str, list[PoolItem]]) -> dict:
    """Slot k of round rnd for a topic: a function of the seeds and these numbers only."""
    rng = random.Random(f"{cfg.seed}|{topic}|{rnd}|{k}")
    shown = rng.sample(seeds[topic], min(cfg.examples, len(seeds[topic])))
    user = prompts.EXPAND_USER.format(topic=topic, examples=_example_block(shown), n=cfg.batch)
    return {"messages": [{"role": "system", "content": prompts.EXPAND_SYSTEM}, {"role": "user", "content": user}],
            "temperature": cfg.temperature, "prompt_version": prompts.EXPAND_VERSION,
            # distinct per round and slot: a repeated prompt must not replay a cached answer
            "seed": cfg.seed * 10000 + rnd * 100 + k}


def _cached(client, req: dict) -> bool:
    """Whether the client's cache already holds this request's answer (paid for by an earlier run)."""
    from hearme.llm import request_key

    if getattr(client, "cache", None) is None:
        return False
    params = {k: v for k, v in req.items() if k not in ("messages", "prompt_version")}
    key = request_key(client.model, req["messages"], params, req.get("prompt_version", ""), client.namespace)
    return client.cache.get(key) is not None


def outside_text(text: str) -> str:
    """What a reply holds before and after its JSON array (a preamble, a closing remark), if it has letters."""
    t = re.sub(r"```(?:json)?", "", text or "")
    start, end = t.find("["), t.rfind("]")
    rest = (t[:start] + " " + t[end + 1:]) if 0 <= start < end else ""
    return rest.strip() if re.search(r"[^\W\d_]", rest) else ""


def _absorb(topic: str, reply, pool: list[PoolItem], new: list[PoolItem], cfg: Config, tally: io.Tally, inp,
            checks: gate.GateTally) -> None:
    """Count, check (the gate) and deduplicate one reply's items into the pool."""
    if isinstance(reply, Exception):
        tally.read += 1
        tally.reject(inp, f"topic {topic}", f"endpoint error: {reply}")
        return
    try:
        items = parse_items(reply.text)
    except ValueError as e:
        tally.read += 1
        tally.reject(inp, f"topic {topic}", str(e), reply.text)
        return
    if outside_text(reply.text):
        checks.dropped([("meta-text", outside_text(reply.text))])
        tally.note("text outside the JSON array dropped")
    for k, item in enumerate(items):
        tally.read += 1
        where = f"topic {topic} reply item {k}"
        q = item.get("question") if isinstance(item, dict) else None
        a = item.get("answer") if isinstance(item, dict) else None
        if not isinstance(q, str) or not isinstance(a, str) or not q.strip() or not a.strip():
            tally.reject(inp, where, "malformed item: needs non-empty `question` and `answer`", item)
            continue
        fault = gate.check_item(q, a)
        if fault:
            checks.reject(fault[0])
            tally.reject(inp, where, f"rule {fault[0]}: {fault[1]}", item)
            continue
        if len(new) >= cfg.per_topic:
            tally.reject(inp, where, f"over the quota of {cfg.per_topic} for {topic}", item)
            continue
        grams = shingles(q)
        best = max(pool, key=lambda p: jaccard(grams, p.grams))
        sim = jaccard(grams, best.grams)
        if sim >= cfg.similarity:
            tally.reject(inp, where, f"duplicate: question {sim:.2f} similar to {best.id}", item)
            continue
        it = PoolItem(f"expand/{topics.TOPICS[topic][0]}/{len(new) + 1:04d}", q.strip(), a.strip(), grams)
        pool.append(it)
        new.append(it)
        tally.written += 1
