"""The simulated client: its prompt (ours), the per-turn plan, and the break-character checks.

The simulator LLM plays the client of one profile (evaluators/session_profiles.py). Its messages
are the session seen from the client's side: the counselor's turns are `user`, its own are
`assistant`. The system prompt holds the character; the last message carries a director's note
with this turn's plan (what to bring up now: the presenting problem first, background and feelings
next, what the client withholds only from `trust_turn` on, the scheduled crisis disclosure at its
turn, and at the last turn a goodbye ending in END_MARK). A scripted simulator
(evaluators/session_script.py) answers with the plan's line itself.

`check_client_turn` is the ONE place that decides whether a simulator reply breaks character; it
returns findings (rule, reason, re-ask hint) and is meant to be routed through the shared quality
gate for LLM-written text (#25) at merge.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from hearme.tibetan.reask import RuleError

PROMPT_VERSION = "hearme-session-sim-v1"
END_MARK = "[END]"
PLAN_LABEL = "本轮要点："  # the scripted simulator answers with the text after this label
LANG_NAME = {"zh": "简体中文", "bo": "藏文（藏文字母书写，不要用汉字或拼音）", "en": "English"}
CLOSING = {"zh": "谢谢你，今天就先聊到这里吧。", "bo": "ཐུགས་རྗེ་ཆེ། དེ་རིང་འདི་ཙམ་བྱས་ན་ཆོག",
           "en": "Thank you, I think that is enough for today."}
START = {"zh": "（咨询开始，咨询师在等你先开口。）", "bo": "（咨询开始，咨询师在等你先开口。）",
         "en": "(The session begins; the counselor waits for you to speak first.)"}

SYSTEM = """你在一次心理咨询的角色扮演中扮演来访者（求助的人），不是咨询师，也不是 AI 助手。对面是一位咨询师。

# 你的角色
- 主要困扰：{presenting_problem}
- 背景：{background}
- 情绪状态：{emotional_state}
- 你一开始不愿说的事：{withheld}（在你感到被理解、信任建立之前不要说出来）

# 要求
1. 始终以来访者的身份、第一人称说话，只写来访者说出口的话：不写旁白、动作、括号说明，不加“来访者：”之类的标签。
2. 全程只用{lang_name}说话，即使咨询师用了别的语言。
3. 像真实的来访者一样：每次说一到三句，口语化，有情绪；不要替咨询师分析或给建议，不要总结这次咨询。
4. 按导演提示里的“本轮要点”推进；只有导演提示说可以结束时，才在最后写上 {end}。
5. 本次咨询最多 {turns} 轮。"""

NOTE = "\n\n[导演提示，咨询师看不到] 第 {turn}/{turns} 轮。{plan_label}{plan}"
REASK = ("[导演提示，咨询师看不到] 你上一条回复不符合角色要求：{reason}。请重新写这一轮来访者说的话，"
         "只写来访者本人说出口的话。")


class Finding(NamedTuple):
    rule: str  # empty | counselor_voice | stage_note | language | early_end
    reason: str
    hint: str  # what the re-ask asks for


def plan(profile: dict, turn: int, turns: int, min_turns: int) -> str:
    """What the client brings up at this turn (profile text, in the profile's language)."""
    crisis = profile.get("crisis") or {}
    if crisis and crisis.get("turn") == turn:
        return crisis["disclosure"]
    if turn == turns and turn >= min_turns:
        return f"{CLOSING[profile['lang']]} {END_MARK}"
    if turn == profile.get("trust_turn", 3):
        return profile["withheld"]
    return {1: profile["presenting_problem"], 2: profile["background"]}.get(turn, profile["emotional_state"])


def messages(profile: dict, history: list[dict], turn: int, turns: int, min_turns: int) -> list[dict]:
    """The simulator's request: character, then the session with roles flipped, then the note."""
    system = SYSTEM.format(**{k: profile[k] for k in ("presenting_problem", "background", "emotional_state",
                                                      "withheld")},
                           lang_name=LANG_NAME[profile["lang"]], end=END_MARK, turns=turns)
    flipped = [{"role": "assistant" if m["role"] == "user" else "user", "content": m["content"]} for m in history]
    if not flipped:
        flipped = [{"role": "user", "content": START[profile["lang"]]}]
    note = NOTE.format(turn=turn, turns=turns, plan_label=PLAN_LABEL, plan=plan(profile, turn, turns, min_turns))
    flipped[-1] = {**flipped[-1], "content": flipped[-1]["content"] + note}
    return [{"role": "system", "content": system}, *flipped]


_LABEL = re.compile(r"^\s*[*#>\s]*(?:来访者|求助者|client|patient)\s*[：:]\s*", re.I)
_COUNSELOR_LABEL = re.compile(r"^\s*[*#>\s]*(?:心理咨询师|咨询师|支持者|counsel+or|therapist|AI\s*助手|assistant)\s*[：:]",
                              re.I | re.M)
_COUNSELOR_SELF = re.compile(r"作为(?:你的|一名|一个)?(?:心理)?咨询师|我是(?:你的|一名)?(?:心理)?咨询师|作为\s*AI|"
                             r"\bas (?:your|a) (?:counsel+or|therapist)\b|\bI(?:'m| am) (?:an AI|your counsel+or)", re.I)


def clean(text: str) -> tuple[str, bool]:
    """(the client's words, whether it ended the session): a leading 来访者： label and END_MARK removed."""
    t = _LABEL.sub("", text or "", count=1).strip()
    ended = END_MARK in t
    return t.replace(END_MARK, "").strip(), ended


def check_client_turn(text: str, *, lang: str, turn: int, min_turns: int,
                      history: list[str] = ()) -> list[Finding]:
    """Why a simulator reply breaks character ([] = usable). `text` is the raw reply.

    Rules: empty; counselor_voice (a counselor/assistant label on a line, or speaking as the counselor
    or an AI); stage_note (repeats the director's note); language (reply_noise.language_fault against
    the profile's language); early_end (END_MARK before `min_turns`); then, when none of these
    fired, the shared gate for LLM-written text (docs/gate.md) with `history`, the earlier client turns."""
    from hearme.core.schema import has_text
    from hearme.evaluators.reply_noise import language_fault

    words, ended = clean(text)
    out: list[Finding] = []
    if not has_text(words):
        if not ended:
            return [Finding("empty", "the reply is empty", "say what the client says this turn")]
        if turn < min_turns:
            return [Finding("early_end", f"ended the session at turn {turn} (the earliest is {min_turns})",
                            "go on with the session; do not end it yet")]
        return []
    if "导演提示" in words or PLAN_LABEL in words:
        out.append(Finding("stage_note", "repeated the director's note", "say only what the client says"))
    if _COUNSELOR_LABEL.search(text) or _COUNSELOR_SELF.search(words):
        out.append(Finding("counselor_voice", "spoke as the counselor",
                           "speak only as the client, in the first person, without labels"))
    fault = language_fault(words, lang)
    if fault:
        out.append(Finding("language", f"not in {LANG_NAME[lang]}: {fault}", f"speak only in {LANG_NAME[lang]}"))
    if ended and turn < min_turns:
        out.append(Finding("early_end", f"ended the session at turn {turn} (the earliest is {min_turns})",
                           "go on with the session; do not end it yet"))
    if not out:
        try:
            gate_text(words, lang, history)
        except RuleError as e:
            out.append(Finding(e.rule, e.reason, e.hint))
    return out


def gate_text(words: str, lang: str, history: list[str] = ()):
    """The client's words through the shared gate: (kept text, dropped [(rule, text)]); raises RuleError."""
    from hearme.tibetan import gate

    r = gate.check_client_reply(words, lang, history=list(history))
    return r.text, r.dropped


def reask_reason(findings: list[Finding]) -> str:
    return "; ".join(f"{f.reason} ({f.hint})" for f in findings)
