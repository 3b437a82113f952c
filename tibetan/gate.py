"""One quality gate for every LLM-written text (issue #25): multiturn, translate, expand, the simulated client, audit.

Text outside the turns (a preamble, a closing remark about the dialogue, a note line after a
translation) is dropped and counted; a fault inside a turn raises RuleError(rule, reason, hint),
so the step re-asks with the rule named and rejects after its bound. The rules, their
thresholds and the phrase lists are in gate_rules.py, gate_phrases.json and docs/gate.md.

Entry points:
  parse_dialogue(text, ...)         a `求助者：/支持者：` reply -> Dialogue (multiturn)
  check_translation(out, source)    one translated utterance (translate; clean_translation drops outside lines)
  check_item(question, answer)      one self-instruct item (expand)
  check_client_reply(text, lang)    one simulated-client reply (the session simulator)
  check_turns(messages, lang)       every finding in an existing record (hearme audit)
GateTally counts, per rule, what was dropped, re-asked, fixed by the re-ask and rejected.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from hearme.tibetan import gate_rules as R
from hearme.tibetan import prompts
from hearme.tibetan import text as T
from hearme.tibetan.reask import Answer, Rejected, RuleError

MIN_TIBETAN = 0.5
MIN_SYLLABLES_PER_HAN = 0.25   # fewer Tibetan syllables per Chinese character: the translation stops short
_LATIN_WORD_RE = re.compile(r"[A-Za-z]+")
_LINE_RE = re.compile(rf"^\s*(?:\d+\s*[.、)）]\s*)?[*#>\-\s]*(?:\*\*)?({prompts.SEEKER}|{prompts.SUPPORTER}|来访者|咨询师)"
                      r"(?:\*\*)?\s*[:：]\s*(?:\*\*)?\s*(.*)$")
_ROLE = {prompts.SEEKER: "user", "来访者": "user", prompts.SUPPORTER: "assistant", "咨询师": "assistant"}
_CLIENT_LABEL = re.compile(r"^\s*(?:\*\*)?(?:求助者|来访者|访客|client|རོགས་རམ་འཚོལ་མཁན)(?:\*\*)?\s*[:：]\s*", re.I)


def _raise(f: tuple[str, str, str] | None) -> None:
    if f:
        raise RuleError(*f)


def _who(role: str) -> str:
    return "help-seeker" if role == "user" else "supporter"


# ---------------------------------------------------------------- one turn, a whole record

def turn_findings(content: str, role: str, *, lang: str = "zh", phrases: R.Phrases | None = None,
                  max_chars: int | None = None, forum: bool = True, strict_labels: bool = True
                  ) -> list[tuple[str, str, str]]:
    """Every rule one utterance breaks, in the order they are checked."""
    phrases = phrases or R.default_phrases()
    out = []
    if not content.strip():
        return [R.finding("empty", reason=f"malformed: an empty {_who(role)} utterance")]
    out.append(R.encoding(content))
    if max_chars and len(content) > max_chars:
        out.append(("too-long", f"malformed: a {len(content)}-character utterance (> {max_chars})",
                    f"有一句话长达 {len(content)} 个字，每句话不要超过 {max_chars} 个字"))
    lab = R.label(content, strict_labels)
    out.append(lab and (lab[0], lab[1].replace("inside a turn", f"inside a {_who(role)} turn"), lab[2]))
    if forum:
        fw = R.forum(content)
        out.append(fw and (fw[0], f"{fw[1]} in a {_who(role)} turn", fw[2]))
    out += [R.meta(content, phrases), R.character(content, role, phrases), R.script_share(content, lang)]
    return [f for f in out if f]


def check_turns(messages: list[dict], *, lang: str = "zh", phrases: R.Phrases | None = None,
                max_chars: int | None = None) -> list[tuple[int, tuple[str, str, str]]]:
    """(message index, finding) for every fault of a record's turns: per turn, then seeker-first and loops.

    Existing text: a speaker label counts only where it starts a sentence (quotes and lists have them)."""
    found = []
    idx = [i for i, m in enumerate(messages) if m.get("role") in ("user", "assistant")]
    for i in idx:
        m = messages[i]
        found += [(i, f) for f in turn_findings(str(m.get("content") or ""), m["role"], lang=lang, phrases=phrases,
                                                 max_chars=max_chars, strict_labels=False)]
    if idx and messages[idx[0]]["role"] != "user":
        found.append((idx[0], R.finding("seeker-first", reason="the dialogue does not start with the help-seeker")))
    lp = R.loop([str(messages[i].get("content") or "") for i in idx], lang)
    if lp:
        j, k, share = lp
        found.append((idx[k], _loop_finding(messages[idx[k]]["content"], j, k, share)))
    return found


def _loop_finding(text: str, j: int, k: int, share: float) -> tuple[str, str, str]:
    piece = text.strip()[:20]
    return ("loop", f"loop: turn {k + 1} repeats turn {j + 1} ({share:.0%} of their n-grams shared, "
                    f"limit {R.LOOP_OVERLAP:.0%})", R.RULES["loop"][1].format(x=piece))


# ---------------------------------------------------------------- multiturn

@dataclass
class Dialogue:
    messages: list[dict]
    notes: list[str]
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (rule, text) outside the turns


def parse_dialogue(text: str, *, min_exchanges: int, max_utterance_chars: int, lang: str = "zh",
                   phrases: R.Phrases | None = None) -> Dialogue:
    """The turns of a `求助者：/支持者：` reply; raises RuleError(rule, reason, hint) on a fault inside one."""
    phrases = phrases or R.default_phrases()
    turns: list[list[str]] = []
    notes: list[str] = []
    dropped: list[tuple[str, str]] = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        m = _LINE_RE.match(line)
        if m:
            turns.append([_ROLE[m.group(1)], m.group(2).strip().strip("*“”\"").strip()])
        elif not turns:
            if "text before the dialogue dropped" not in notes:
                notes.append("text before the dialogue dropped")
            dropped.append(("meta-text", line.strip()))
        elif R.is_meta_line(line, phrases):
            notes.append("meta text outside the turns dropped")
            dropped.append(("meta-text", line.strip()))
        else:
            turns[-1][1] += line.strip()  # a wrapped line continues the utterance
    if not turns:
        raise RuleError("format", "malformed: no `求助者：` / `支持者：` lines", R.RULES["format"][1])
    if turns[0][0] != "user":
        raise RuleError("seeker-first", "malformed: the dialogue does not start with the help-seeker", R.RULES["seeker-first"][1])
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
        found = turn_findings(content, role, lang=lang, phrases=phrases, max_chars=max_utterance_chars)
        _raise(found[0] if found else None)
    lp = R.loop([c for _, c in merged], lang)
    if lp:
        _raise(_loop_finding(merged[lp[1]][1], *lp))
    exchanges = len(merged) // 2
    if exchanges < min_exchanges:
        raise RuleError("too-short", f"too short: {exchanges} exchanges (< {min_exchanges})",
                        f"只有 {exchanges} 轮交流，至少需要 {min_exchanges} 轮")
    return Dialogue([{"role": r, "content": c} for r, c in merged], sorted(set(notes)), dropped)


# ---------------------------------------------------------------- translate

def clean_translation(text: str, phrases: R.Phrases | None = None) -> tuple[str, list[tuple[str, str]]]:
    """Lines before or after the translation that are about it (以下是译文：, （注：…）) dropped."""
    phrases = phrases or R.default_phrases()
    lines = [ln for ln in (text or "").splitlines() if ln.strip()]
    dropped = []
    while len(lines) > 1 and _outside_translation(lines[0], phrases):
        dropped.append(("meta-text", lines.pop(0).strip()))
    while len(lines) > 1 and _outside_translation(lines[-1], phrases):
        dropped.append(("meta-text", lines.pop().strip()))
    return "\n".join(lines) if dropped else (text or ""), dropped


def _outside_translation(line: str, phrases: R.Phrases) -> bool:
    """A whole line that is a note or remark and holds (almost) no Tibetan."""
    return T.tibetan_share(line) < 0.2 and (R.is_meta_line(line, phrases) or bool(R.NOTE_RE.search(line)))


def check_translation(out: str, source: str = "", phrases: R.Phrases | None = None) -> None:
    """Raise RuleError when a translated utterance breaks a rule (source: the Chinese utterance)."""
    phrases = phrases or R.default_phrases()
    if not out.strip():
        raise RuleError("empty", "empty translation", "译文是空的")
    _raise(R.encoding(out))
    note = R.NOTE_RE.search(out)
    if note:
        raise RuleError("note", f"a note or label in the translation ({note.group().strip()!r})",
                        f"译文里有说明、注释或标签（“{note.group().strip()}”）")
    census = T.script_census(out)
    letters = sum(census.values()) or 1
    share = census.get("tibetan", 0) / letters
    if share < MIN_TIBETAN:
        raise RuleError("not-tibetan", f"not Tibetan ({share:.0%} Tibetan letters, looks {T.detect_lang(out)!r})",
                        f"译文不是藏文（藏文字母只占 {share:.0%}）")
    han = census.get("han", 0)
    if han:
        left = "".join(re.findall(rf"[{T.HAN}]+", out))[:20]
        raise RuleError("chinese", f"{han} Han characters left in the translation ({left!r})",
                        f"译文里留下了中文“{left}”")
    src_words = {w.lower() for w in _LATIN_WORD_RE.findall(source)}
    latin = [w for w in _LATIN_WORD_RE.findall(out) if w.lower() not in src_words]
    if latin:
        raise RuleError("latin", f"Latin words not in the source ({' '.join(latin[:5])!r})",
                        f"译文里出现了原文没有的拉丁字母“{' '.join(latin[:5])}”")
    other = sorted(k for k in census if k not in ("tibetan", "latin", "han"))
    if other:
        raise RuleError("script", f"letters of another script ({', '.join(other)})",
                        f"译文里出现了其他文字（{', '.join(other)}）")
    _raise(R.meta(out, phrases))
    _raise(R.character(out, "assistant", phrases) if phrases.find("disclaimer", out) else None)
    n_han = T.script_census(source).get("han", 0) if source else 0
    n_syl = len(T.syllables(out))
    if n_han >= 10 and n_syl < MIN_SYLLABLES_PER_HAN * n_han:
        raise RuleError("incomplete", f"{n_syl} syllables for {n_han} Chinese characters: not all translated",
                        f"译文只有 {n_syl} 个音节，原文有 {n_han} 个汉字，没有译完整")


# ---------------------------------------------------------------- expand, the simulated client

def check_item(question: str, answer: str, *, lang: str = "zh", phrases: R.Phrases | None = None
               ) -> tuple[str, str, str] | None:
    """The first fault of a self-instruct item (question: the seeker's, answer: the counselor's), or None."""
    for text, role in ((question, "user"), (answer, "assistant")):
        found = turn_findings(text, role, lang=lang, phrases=phrases)
        if found:
            return found[0]
    return None


@dataclass
class ClientReply:
    text: str
    dropped: list[tuple[str, str]] = field(default_factory=list)


def check_client_reply(text: str, lang: str, *, history: list[str] = (), phrases: R.Phrases | None = None,
                       max_chars: int = 600) -> ClientReply:
    """A simulated client's reply (zh or bo): a leading `来访者：` label and note lines dropped;
    raises RuleError when it speaks as the counselor, writes the counselor's turn too, disclaims,
    is damaged, drifts into another script or repeats an earlier client utterance (`history`)."""
    phrases = phrases or R.default_phrases()
    dropped: list[tuple[str, str]] = []
    lines = [ln for ln in (text or "").splitlines() if ln.strip()]
    while len(lines) > 1 and R.is_meta_line(lines[0], phrases) and not _CLIENT_LABEL.match(lines[0]):
        dropped.append(("meta-text", lines.pop(0).strip()))
    while len(lines) > 1 and R.is_meta_line(lines[-1], phrases):
        dropped.append(("meta-text", lines.pop().strip()))
    body = "\n".join(lines).strip()
    m = _CLIENT_LABEL.match(body)
    if m:
        dropped.append(("label-inside", m.group().strip()))
        body = body[m.end():].strip()
    for rule, reason, hint in turn_findings(body, "user", lang=lang, phrases=phrases, max_chars=max_chars, forum=False):
        if rule == "breaking-character" or rule == "label-inside":
            reason = reason.replace("inside a help-seeker turn", "in a client reply: it writes the counselor's turn too")
        raise RuleError(rule, reason, hint)
    lp = R.loop(list(history) + [body], lang)
    if lp and lp[1] == len(history):
        raise RuleError("loop", f"loop: the reply repeats client turn {lp[0] + 1} ({lp[2]:.0%} of its n-grams)",
                        R.RULES["loop"][1].format(x=body[:20]))
    return ClientReply(body, dropped)


# ---------------------------------------------------------------- the tally

class GateTally:
    """Per rule: dropped (outside the turns), re-asked, fixed by a re-ask, rejected (after the bound)."""

    FIELDS = ("dropped", "reasked", "fixed", "rejected")

    def __init__(self) -> None:
        self.counts: dict[str, Counter] = {f: Counter() for f in self.FIELDS}

    def dropped(self, items: list[tuple[str, str]]) -> None:
        for rule, _ in items:
            self.counts["dropped"][rule] += 1

    def answer(self, reply) -> None:
        """Count one Answer (fixed: its earlier broken rules) or Rejected (its last rule rejected)."""
        if isinstance(reply, Answer):
            self.counts["reasked"].update(reply.broken)
            self.counts["fixed"].update(set(reply.broken))
        elif isinstance(reply, Rejected):
            broken = getattr(reply, "broken", [reply.rule])
            self.counts["reasked"].update(broken[:-1])
            self.counts["rejected"][reply.rule] += 1

    def reject(self, rule: str) -> None:
        self.counts["rejected"][rule] += 1

    def as_dict(self) -> dict:
        rules = sorted({r for c in self.counts.values() for r in c})
        return {r: {f: self.counts[f][r] for f in self.FIELDS} for r in rules}
