"""Single-turn Q&A -> multi-turn counseling dialogue by an LLM (the SMILE method's facts).

SMILE: the source is truncated near 1,800 characters, the dialogue starts with the
help-seeker, has at least 10 exchanges, and supporter replies stay a sensible length. The
reply is parsed from `求助者：/支持者：` lines and checked against the rules (seeker first, at
least `min_exchanges` exchanges, no forum words such as 楼主/题主, no speaker label inside a
turn, no empty or overlong utterance). A reply that breaks one is re-asked with the rule
named (`reasks` times), and only then rejected with the rule as its reason. Requests go
through hearme.llm (cached, re-asks too), so a killed job resumes without paying twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from hearme.core import io, schema
from hearme.tibetan import prompts
from hearme.tibetan import text as T
from hearme.tibetan.reask import Rejected, RuleError, ask
from hearme.tibetan.translate import fail_if_all_failed

_LINE_RE = re.compile(rf"^\s*(?:\d+\s*[.、)）]\s*)?[*#>\-\s]*(?:\*\*)?({prompts.SEEKER}|{prompts.SUPPORTER}|来访者|咨询师)"
                      r"(?:\*\*)?\s*[:：]\s*(?:\*\*)?\s*(.*)$")
_ROLE = {prompts.SEEKER: "user", "来访者": "user", prompts.SUPPORTER: "assistant", "咨询师": "assistant"}
# Forum words PsyQA answers carry (楼上/楼下 only where they mean a post, not a floor).
FORUM_RE = re.compile(r"楼主|题主|层主|贴主|帖主|答主|本帖|回帖|发帖|(?<![A-Za-z])[Ll][Zz](?![A-Za-z])"
                      r"|(?:同意|赞同|支持|顶)楼[上下]|楼[上下](?=说|讲|所说|的回答|的回复|的朋友|的网友|那位)")
# A speaker label inside a turn: two turns written on one line.
_INNER_LABEL_RE = re.compile(rf"(?:{prompts.SEEKER}|{prompts.SUPPORTER}|来访者|咨询师)\s*[:：]")


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
    turns: list[list[str]] = []
    notes: list[str] = []
    preamble = False
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        m = _LINE_RE.match(line)
        if m:
            turns.append([_ROLE[m.group(1)], m.group(2).strip().strip("*“”\"").strip()])
        elif turns:
            turns[-1][1] += line.strip()  # a wrapped line continues the utterance
        else:
            preamble = True
    if not turns:
        raise RuleError("format", "malformed: no `求助者：` / `支持者：` lines",
                        "没有找到以“求助者：”或“支持者：”开头的话轮")
    if preamble:
        notes.append("text before the dialogue dropped")
    if turns[0][0] != "user":
        raise RuleError("seeker-first", "malformed: the dialogue does not start with the help-seeker",
                        "对话没有由求助者先开口")
    merged: list[list[str]] = []
    for role, content in turns:
        if merged and merged[-1][0] == role:
            merged[-1][1] += content
            notes.append("consecutive same-speaker lines merged")
        else:
            merged.append([role, content])
    if merged[-1][0] == "user":
        merged.pop()
        notes.append("trailing help-seeker turn without a reply dropped")
    for role, content in merged:
        who = "help-seeker" if role == "user" else "supporter"
        if not content:
            raise RuleError("empty", f"malformed: an empty {who} utterance", "有空的话轮")
        if len(content) > rules.max_utterance_chars:
            raise RuleError("too-long", f"malformed: a {len(content)}-character utterance (> {rules.max_utterance_chars})",
                            f"有一句话长达 {len(content)} 个字，每句话不要超过 {rules.max_utterance_chars} 个字")
        label = _INNER_LABEL_RE.search(content)
        if label:
            raise RuleError("label-inside", f"speaker label {label.group()!r} inside a {who} turn",
                            f"话轮内部出现了说话人标签“{label.group()}”，每行只能写一个人的一句话轮")
        forum = FORUM_RE.search(content)
        if forum:
            raise RuleError("forum-words", f"forum word {forum.group()!r} in a {who} turn",
                            f"出现了论坛用语“{forum.group()}”，对话里不能出现“楼主”“题主”等论坛用语")
    exchanges = len(merged) // 2
    if exchanges < rules.min_exchanges:
        raise RuleError("too-short", f"too short: {exchanges} exchanges (< {rules.min_exchanges})",
                        f"只有 {exchanges} 轮交流，至少需要 {rules.min_exchanges} 轮")
    return [{"role": r, "content": c} for r, c in merged], sorted(set(notes))


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
        return await ask(client, req, lambda text: parse_dialogue(text, rules), prompts.MULTITURN_REASK,
                         rules.reasks, min_exchanges=rules.min_exchanges)

    replies = client.run(one, reqs, desc="multiturn") if reqs else []
    kept = []
    for i, reply in zip(todo, replies):
        rec = records[i]
        tally.read += 1
        where = rec.get("id") or f"record {i}"
        if isinstance(reply, Rejected):
            tally.reject(inp, where, str(reply), {"source": rec, "replies": reply.texts})
            continue
        if isinstance(reply, Exception):
            tally.reject(inp, where, f"endpoint error: {reply}", rec)
            continue
        msgs, notes = reply.value
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
              "mean_exchanges": round(sum(exch) / len(exch), 3) if exch else None, "rules": vars(rules)}
    io.write_json(out.with_name(out.name.rsplit(".", 1)[0] + ".multiturn.json"), report)
    fail_if_all_failed(replies)
    return report
