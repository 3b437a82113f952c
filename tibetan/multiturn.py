"""Single-turn Q&A -> multi-turn counseling dialogue by an LLM (the SMILE method's facts).

SMILE: the source is truncated near 1,800 characters, the dialogue starts with the
help-seeker, has at least 10 exchanges, and supporter replies stay a sensible length. The
reply is parsed from `求助者：/支持者：` lines and checked against the rules (seeker first, at
least `min_exchanges` exchanges, no forum words such as 楼主/题主, no speaker label inside a
turn, no empty or overlong utterance, and the gate's rules: meta text, breaking character,
encoding, script share, loops; hearme.tibetan.gate). A reply that breaks one is re-asked with the rule
named (`reasks` times), and only then rejected with the rule as its reason. Requests go
through hearme.llm (cached, re-asks too), so a killed job resumes without paying twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hearme.core import io, schema
from hearme.tibetan import gate, gate_rules, prompts
from hearme.tibetan import text as T
from hearme.tibetan.reask import Rejected, ask
from hearme.tibetan.translate import fail_if_all_failed

# The dialogue's rules live in the gate (hearme.tibetan.gate), shared with every LLM step.
FORUM_RE = gate_rules.FORUM_RE


@dataclass
class Rules:
    source_chars: int = 1800        # SMILE: truncate the single-turn source near this length
    ask_exchanges: int = 10         # asked for in the prompt (SMILE: 10 or more)
    max_exchanges: int = 16
    min_exchanges: int = 5          # fewer is rejected
    max_utterance_chars: int = 600  # a longer utterance is not a sensible turn
    temperature: float = 0.7
    max_tokens: int = 4096
    reasks: int = 2                 # a reply that breaks a rule is asked again this many times


def truncate_source(question: str, answer: str, limit: int) -> tuple[str, str, bool]:
    """Keep question + answer within `limit` characters, cutting the answer at a sentence end."""
    if len(question) + len(answer) <= limit:
        return question, answer, False
    question = question[: max(limit // 3, limit - len(answer))]
    budget = limit - len(question)
    kept = ""
    for s in T.sentences(answer):
        if len(kept) + len(s) > budget:
            break
        kept += s
    return question, kept or answer[:budget], True


def request(rec: dict, rules: Rules) -> tuple[dict, bool]:
    turns = schema.dialogue_turns(rec)
    q, a, cut = truncate_source(turns[0]["content"].strip(), turns[1]["content"].strip(), rules.source_chars)
    user = prompts.MULTITURN_USER.format(question=q, answer=a, min_exchanges=rules.ask_exchanges,
                                         max_exchanges=rules.max_exchanges)
    return {"messages": [{"role": "system", "content": prompts.MULTITURN_SYSTEM}, {"role": "user", "content": user}],
            "temperature": rules.temperature, "max_tokens": rules.max_tokens,
            "prompt_version": prompts.MULTITURN_VERSION}, cut


def parse_dialogue(text: str, rules: Rules) -> tuple[list[dict], list[str]]:
    """(messages, notes) from the LLM's reply; raises RuleError(rule, reason, hint) when it breaks a rule."""
    d = gate.parse_dialogue(text, min_exchanges=rules.min_exchanges, max_utterance_chars=rules.max_utterance_chars)
    return d.messages, d.notes


def run(inp: str | Path, out: str | Path, client, rules: Rules | None = None, *, progress: bool = True) -> dict:
    inp, out = Path(inp), Path(out)
    rules = rules or Rules()
    records = io.load_records(inp)
    if not records:
        raise io.InputError(inp, "", "no records")
    tally = io.Tally()
    todo, reqs = [], []
    for i, rec in enumerate(records):
        turns = schema.dialogue_turns(rec)
        if len(turns) != 2:
            tally.read += 1
            tally.reject(inp, rec.get("id") or f"record {i}",
                         f"not single-turn ({len(turns) // 2} exchanges); multiturn rewrites Q&A pairs", rec)
            continue
        req, cut = request(rec, rules)
        if cut:
            tally.note("source truncated")
        todo.append(i)
        reqs.append(req)
    client.progress = progress

    async def one(req: dict):
        return await ask(client, req, lambda text: gate.parse_dialogue(
            text, min_exchanges=rules.min_exchanges, max_utterance_chars=rules.max_utterance_chars),
            prompts.MULTITURN_REASK,
                         rules.reasks, min_exchanges=rules.min_exchanges)

    replies = client.run(one, reqs, desc="multiturn") if reqs else []
    kept = []
    checks = gate.GateTally()
    for i, reply in zip(todo, replies):
        rec = records[i]
        tally.read += 1
        where = rec.get("id") or f"record {i}"
        checks.answer(reply)
        if isinstance(reply, Rejected):
            tally.reject(inp, where, str(reply), {"source": rec, "replies": reply.texts})
            continue
        if isinstance(reply, Exception):
            tally.reject(inp, where, f"endpoint error: {reply}", rec)
            continue
        msgs, notes = reply.value.messages, reply.value.notes
        checks.dropped(reply.value.dropped)
        for n in notes:
            tally.note(n)
        for rule in reply.broken:
            tally.note(f"re-asked: {rule}")
        new = {k: v for k, v in rec.items() if k != "messages"}
        new.update(messages=([{"role": "system", "content": schema.system_prompt(rec)}]
                             if schema.system_prompt(rec) else []) + msgs,
                   id=f"{rec.get('id') or f'record-{i}'}/multiturn", rewritten_by=client.model)
        schema.validate(new)
        kept.append(new)
        tally.written += 1
    io.write_records(out, kept)
    tally.write_rejects(out)
    assert tally.balanced
    exch = [len(schema.dialogue_turns(r)) // 2 for r in kept]
    report = {"input": str(inp), "output": str(out), **tally.as_dict(), "llm": client.stats.as_dict(),
              "mean_exchanges": round(sum(exch) / len(exch), 3) if exch else None, "rules": vars(rules),
              "gate": checks.as_dict()}
    io.write_json(out.with_name(out.name.rsplit(".", 1)[0] + ".multiturn.json"), report)
    fail_if_all_failed(replies)
    return report
