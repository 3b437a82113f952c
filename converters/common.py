"""Helpers shared by the source converters: turn lists -> alternating messages, text clean-up,
and speech-only text (inline speaker labels split into turns, stage directions and narration removed)."""

from __future__ import annotations

import re
from typing import Any, Iterable

from hearme.converters.base import Reject
from hearme.core.schema import needs_normalizing as schema_odd, normalize_text

USER, ASSISTANT = "user", "assistant"

_SPACES = re.compile(r"[ \t\u3000]+")
_BLANKS = re.compile(r"\n{3,}")


_NEEDS_CLEAN = re.compile(r"[\r\t\u3000\ufeff]| [ \n]|\n[ \n]")


def _needs_clean(text: str) -> bool:
    """_NEEDS_CLEAN.search, with fast substring tests first (most text has none of these)."""
    return ("\r" in text or "\t" in text or "\u3000" in text or "\ufeff" in text or "\n\n" in text
            or (" " in text and ("  " in text or " \n" in text or "\n " in text)))


def clean(text: Any) -> str:
    """Normalise line ends and runs of spaces, NFC, no zero-width or bidi characters (so that text
    made only of those is empty); keep the text otherwise as written."""
    if not isinstance(text, str):
        return ""
    text = normalize_text(text)
    if not _needs_clean(text):  # the common case: nothing to normalise
        return text.strip()
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def need_texts(values: list[Any], what: str) -> list[str]:
    """need_text for every field of one dialogue (`what` has a {} for the index), with one check of
    the whole dialogue for the common case of text that needs no clean-up."""
    if all([type(v) is str for v in values]):
        joined = "\n".join(values)
        if not _needs_clean(joined) and not schema_odd(joined):
            texts = [v.strip() for v in values]
            if all(texts):
                return texts
    return [need_text(v, what.format(i)) for i, v in enumerate(values)]


def plain_messages(roles: list[str], contents: list[Any], note=None) -> list[dict] | None:
    """A dialogue's messages at once in the common case: text that needs no clean-up or normalising,
    nothing but speech (no parentheses, no speaker labels) and turns that already alternate from a
    user turn (to an assistant turn; a last user turn is trimmed and counted). There need_texts +
    speech_turns + to_messages give the same messages and count the same; None: anything else, for
    that general path."""
    n = len(roles)
    if n < 2 or roles[::2].count(USER) != (n + 1) // 2 or roles[1::2].count(ASSISTANT) != n // 2:
        return None
    if not all([type(c) is str for c in contents]):
        return None
    joined = "\n".join(contents)
    if _needs_clean(joined) or schema_odd(joined) or "（" in joined or "(" in joined or (
            ("：" in joined or ":" in joined) and _LABEL_GATE.search(joined)):
        return None
    texts = [c.strip() for c in contents]
    if not all(texts):
        return None
    if n % 2:  # the client spoke last, with no reply
        texts.pop()
        if note:
            note("trailing client turn trimmed")
    return [{"role": r, "content": t} for r, t in zip(roles, texts)]


def need_text(value: Any, what: str) -> str:
    """A required text field: reject wrong types and empty text with a reason naming the field."""
    if value is None:
        raise Reject(f"{what} is missing")
    if not isinstance(value, str):
        raise Reject(f"{what} is {type(value).__name__}, expected text")
    text = clean(value)
    if not text:
        raise Reject(f"{what} is empty")
    return text


def conversation_of(raw: Any, item: str, turn_keys: str) -> list[dict]:
    """The `conversation` list of an xtuner/Firefly-style item, every turn an object, or a Reject."""
    if isinstance(raw, Reject):
        raise raw
    if not isinstance(raw, dict):
        raise Reject(f"{item} is {type(raw).__name__}, expected an object with `conversation`")
    conv = raw.get("conversation")
    if conv is None:
        raise Reject("`conversation` is missing")
    if not isinstance(conv, list) or not conv:
        raise Reject(f"`conversation` must be a non-empty list of {{{turn_keys}}} turns")
    for i, turn in enumerate(conv):
        if not isinstance(turn, dict):
            raise Reject(f"turn {i} is {type(turn).__name__}, expected an object")
    return conv


def merge_turns(turns: Iterable[tuple[str, str]], note=None) -> list[tuple[str, str]]:
    """Join consecutive turns of the same role (blank line between); count merges via note()."""
    out: list[tuple[str, str]] = []
    for role, text in turns:
        if out and out[-1][0] == role:
            out[-1] = (role, out[-1][1] + "\n" + text)
            if note:
                note("merged repeated role")
        else:
            out.append((role, text))
    return out


def to_messages(turns: list[tuple[str, str]], *, note=None, trim_trailing_user: bool = True,
                what: str = "dialogue") -> list[dict]:
    """Alternating user/assistant messages from (role, text) turns.

    A leading assistant turn (a greeting before the client speaks) is dropped and counted;
    a trailing user turn is trimmed and counted. No assistant turn at all is a rejection.
    """
    turns = [(r, t) for r, t in turns if t and not t.isspace()]
    roles = [r for r, _ in turns]
    half = len(roles) // 2
    if not (len(roles) % 2 == 0 and roles[::2].count(USER) == half
            and roles[1::2].count(ASSISTANT) == half):  # not already user/assistant pairs
        turns = merge_turns(turns, note)
        roles = [r for r, _ in turns]
    if ASSISTANT not in roles:
        raise Reject(f"{what} has no counselor/assistant turn")
    if USER not in roles:
        raise Reject(f"{what} has no client/user turn")
    while turns and turns[0][0] == ASSISTANT:
        turns.pop(0)
        if note:
            note("leading assistant turn dropped")
    if trim_trailing_user:
        while turns and turns[-1][0] == USER:
            turns.pop()
            if note:
                note("trailing client turn trimmed")
    if not turns:
        raise Reject(f"{what} has no client turn followed by a counselor reply")
    return [{"role": r, "content": t} for r, t in turns]


# ---------------------------------------------------------------- speech only

LABEL_ROLE = {"来访者": USER, "求助者": USER, "用户": USER, "病人": USER,
              "心理咨询师": ASSISTANT, "咨询师": ASSISTANT, "支持者": ASSISTANT, "医生": ASSISTANT, "助手": ASSISTANT}
# A role name and a colon at the start, or after whitespace, punctuation or an emoji; never inside a
# word (我的咨询师：... is speech).
INLINE_LABEL = re.compile(r"(?<!\w)(心理咨询师|来访者|求助者|咨询师|支持者|医生|用户|助手|病人)[ \t\u3000]*[：:]")
_LABEL_GATE = re.compile(r"(?:心理咨询师|来访者|求助者|咨询师|支持者|医生|用户|助手|病人)[ \t\u3000]*[：:]")  # no look-behind: fast

_PAREN = re.compile(r"[（(]([^（）()\n]{1,400})[）)]")
# Narration: the transcript describing itself or the session from outside ...
_META = re.compile(r"以上(?:的)?(?:对话|内容|咨询|回复)|此(?:段)?对话|对话(?:继续|结束|仅|将|内容|以|并未)|此处省略|省略"
                   r"|接下来的?(?:对话|几次咨询|几轮|咨询)|(?:后续|此后|之后|接下来)的?(?:对话|咨询|时间|治疗|几次)"
                   r"|在此(?:对话|过程|后|基础)|经过.{0,8}(?:咨询|治疗)|咨询(?:报告|笔记|结束)|^注[：:]|心理辅导知识"
                   r"|待(?:病人|来访者)|仅为示例|仅供参考|多次咨询|以下为|具体内容略|以此类推|^此后|^[^，,。]{1,8}过程中[，,]")
# ... or the client and counselor in the third person, with no one speaking (no 你/您/我):
# （来访者沉默了一会儿。） but not （医生说是焦虑症）.
_THIRD = re.compile(r"心理咨询师|来访者|求助者|^(?:在|此时|随后|然后|之后)?咨询师"
                    r"|(?:咨询师|医生|支持者).*(?:病人|患者)|(?:病人|患者).*(?:咨询师|医生|支持者)")
_PERSON = re.compile(r"[你您我咱]")
_YOU = re.compile(r"[你您]")
TRANSCRIPT_ASIDE = 30  # in transcripts (CPsyCounD), a parenthetical this long with no 你/您/我 is narration
# Stage directions: a short action or expression with no digits, e.g. （微笑）（继续引导）（表情：🙏）.
_ACTION = re.compile(r"微笑|笑|点头|摇头|沉默|停顿|叹气|皱眉|哭|流泪|拥抱|安抚|引导|思考|低头|抬头|低着头|抬起头|轻声|温柔|语气"
                     r"|表情|鼓励|握|看着|沉思|眨眼|挥手|耸肩|激动|紧张地|小声|哽咽|犹豫|停了")
_NOT_STAGE = re.compile(r"[0-9０-９、，,；;]|比如|例如|如：|即|包括|也就是")
_EMOJI = re.compile("[\u2600-\u27bf\U0001f000-\U0001faff\u200d\ufe0f]+")


def _parenthetical(m: re.Match, note, transcript: bool = False) -> str:
    inner = m.group(1).strip()
    if (_META.search(inner) and not _YOU.search(inner)) or (
            (_THIRD.search(inner) or (transcript and len(inner) >= TRANSCRIPT_ASIDE)) and not _PERSON.search(inner)):
        if note:
            note("narration removed")
            note("narration characters removed", len(m.group()))
        return ""
    if len(inner) <= 12 and _ACTION.search(inner) and not _NOT_STAGE.search(inner):
        if note:
            note("stage direction removed")
        return "".join(_EMOJI.findall(inner))  # （表情：🙏） keeps its emoji
    return m.group()


def strip_narration(text: str, note=None, transcript: bool = False) -> str:
    """Remove parentheticals that describe rather than speak: narration and stage directions.
    `transcript`: the source is a written-up session (CPsyCounD), where long asides are narration."""
    if "（" not in text and "(" not in text:
        return text
    out = _PAREN.sub(lambda m: _parenthetical(m, note, transcript), text)
    return clean(out) if out != text else text


def split_speakers(role: str, text: str, note=None) -> list[tuple[str, str]]:
    """One message -> (role, text) turns at inline speaker labels (来访者：, 医生：...).

    A label naming the message's own speaker is removed; one naming the other speaker starts
    a new turn. Same-role neighbours are merged later by merge_turns/to_messages."""
    if "：" not in text and ":" not in text:
        return [(role, text)]
    out: list[tuple[str, str]] = []
    current, last = role, 0
    for m in INLINE_LABEL.finditer(text):
        piece = text[last:m.start()].strip()
        if piece:
            out.append((current, piece))
        new = LABEL_ROLE[m.group(1)]
        if note:
            note("speaker label removed" if new == current else "speaker label split into a new turn")
        current, last = new, m.end()
    if last == 0:
        return [(role, text)]
    piece = text[last:].strip()
    if piece:
        out.append((current, piece))
    return out


def speech_turns(turns: list[tuple[str, str]], note=None, transcript: bool = False) -> list[tuple[str, str]]:
    """speech() for every turn of a dialogue; one check of the whole dialogue first (most need nothing)."""
    joined = "\n".join([t for _, t in turns])
    if "（" not in joined and "(" not in joined and (
            ("：" not in joined and ":" not in joined) or not _LABEL_GATE.search(joined)):
        return [(r, t) for r, t in turns if t]
    return [piece for r, t in turns for piece in speech(r, t, note, transcript)]


def speech(role: str, text: str, note=None, transcript: bool = False) -> list[tuple[str, str]]:
    """What was said: narration and stage directions removed, inline speaker labels split into turns."""
    return [(r, t) for r, t in split_speakers(role, strip_narration(text, note, transcript), note) if t.strip()]


def lang_of(text: str, sample: int = 2000) -> str:
    """bo / zh / en / mixed from the script census of the text's start and end (bounded work)."""
    from hearme.tibetan.text import detect_lang

    return detect_lang(text if len(text) <= 2 * sample else text[:sample] + text[-sample:])
