"""The one record type: an OpenAI-style `messages` list plus flat string metadata.

    {"messages": [{"role": "system"?, ...}, {"role": "user", "content": ...},
                  {"role": "assistant", "content": ...}, ...],
     "id": "...", "source": "...", "lang": "zh|bo|en|mixed", "topic": "..."}

`validate` enforces exactly what LLaMA-Factory's sharegpt converter needs; a
record it rejects would otherwise be skipped silently at training time.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

Record = dict[str, Any]

ROLES = ("system", "user", "assistant")
SHAREGPT_ROLE = {"system": "system", "user": "human", "assistant": "gpt"}
FROM_SHAREGPT = {v: k for k, v in SHAREGPT_ROLE.items()}


# Characters that draw nothing: format controls (zero-width, bidi, BOM, soft hyphen, invisible
# operators, tags) and blank-looking fillers. Text made only of these and whitespace is empty.
INVISIBLE = ("\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f"
             "\u2800\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff9-\ufffb\U000e0001-\U000e007f")
_VISIBLE = re.compile(f"[^\\s{INVISIBLE}]")
# Removed by normalize_text: everything invisible except the joiner inside emoji sequences
# (U+200D between two non-letters) and variation selectors (they pick an emoji's look).
_STRIP = re.compile("[\u00ad\u061c\u180e\u200b\u200c\u200e\u200f\u202a-\u202e\u2060-\u2064\u2066-\u206f"
                    "\ufeff\ufff9-\ufffb]|(?<=\\w)\u200d|\u200d(?=\\w)|^\u200d|\u200d$")
_ODD = re.compile("[\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]")


def has_text(text: str) -> bool:
    """True if the text shows something: not only whitespace, format or filler characters."""
    first = text[:1]
    if "\u3400" <= first <= "\u9fff":  # starts with a CJK character: shows something
        return True
    return _VISIBLE.search(text) is not None


def needs_normalizing(text: str) -> bool:
    """True if normalize_text would change the text."""
    return _ODD.search(text) is not None or not unicodedata.is_normalized("NFC", text)


def normalize_text(text: str) -> str:
    """NFC, without zero-width, bidi and BOM characters inside words (emoji joiners kept)."""
    if _ODD.search(text):
        text = _STRIP.sub("", text)
    if not unicodedata.is_normalized("NFC", text):
        text = unicodedata.normalize("NFC", text)
    return text


class InvalidRecord(ValueError):
    """A record that LLaMA-Factory would skip; the message says why."""


def validate(record: Any) -> Record:
    """Return the record unchanged, or raise InvalidRecord with the first problem."""
    if _plainly_valid(record):
        return record
    if not isinstance(record, dict):
        raise InvalidRecord(f"record is {type(record).__name__}, expected an object")
    msgs = record.get("messages")
    if not isinstance(msgs, list) or not msgs:
        raise InvalidRecord("`messages` missing or empty")
    for i, m in enumerate(msgs):
        if not isinstance(m, dict):
            raise InvalidRecord(f"message {i} is {type(m).__name__}, expected an object")
        role, content = m.get("role"), m.get("content")
        if role not in ROLES:
            raise InvalidRecord(f"message {i} has role {role!r}; expected one of {', '.join(ROLES)}")
        if not isinstance(content, str):
            raise InvalidRecord(f"message {i} ({role}) content is {type(content).__name__}, expected text")
        if not has_text(content):
            raise InvalidRecord(f"message {i} ({role}) is empty" + (" (only invisible or format characters)"
                                                                       if content.strip() else ""))
    turns = msgs[1:] if msgs[0]["role"] == "system" else msgs
    if not turns:
        raise InvalidRecord("only a system message, no dialogue")
    for i, m in enumerate(turns):
        want = "user" if i % 2 == 0 else "assistant"
        if m["role"] != want:
            offset = len(msgs) - len(turns)
            raise InvalidRecord(f"message {i + offset} is {m['role']}, expected {want} (roles must alternate)")
    if len(turns) % 2:
        raise InvalidRecord("dialogue ends on a user turn (needs an even number of user/assistant messages)")
    for key, value in record.items():
        if key != "messages" and value is not None and not isinstance(value, str):
            raise InvalidRecord(f"metadata `{key}` must be a flat string, got {type(value).__name__}")
    return record


def _plainly_valid(record: Any) -> bool:
    """validate's rules for the common case, a few passes at once; False: check one by one (that
    names the first problem). ("\u3400" <= c < "\ua000": c starts with a CJK character, has_text's
    own first test, without a call.)"""
    msgs = record.get("messages") if type(record) is dict else None
    if type(msgs) is not list or not msgs:
        return False
    if not all([type(m) is dict and "role" in m and "content" in m for m in msgs]):
        return False
    roles = [m["role"] for m in msgs]
    turns = roles[1:] if roles[0] == "system" else roles
    half = len(turns) // 2
    return (bool(turns) and len(turns) % 2 == 0 and turns[::2].count("user") == half
            and turns[1::2].count("assistant") == half
            and all([type(c := m["content"]) is str and ("\u3400" <= c < "\ua000" or has_text(c)) for m in msgs])
            and all([v is None or type(v) is str for k, v in record.items() if k != "messages"]))


def make(messages: list[dict], *, id: str, source: str, lang: str = "zh", topic: str = "",
         system: str | None = None, checked: bool = False, **meta: Any) -> Record:
    """Build a record; `system`, if given, becomes the leading system message. Text is normalised
    (normalize_text) and a message left empty stays empty, for validate to reject. `checked`: the
    caller made `messages` as new {role, content} dicts of text known to be normalised (e.g.
    converters.common.plain_messages): they are used as they are."""
    if checked:
        return _record(messages, id, source, lang, topic, system, meta)
    texts = [m["content"] for m in messages]
    if all([isinstance(t, str) for t in texts]):
        joined = "".join(texts)
        if _ODD.search(joined) or not unicodedata.is_normalized("NFC", joined):
            texts = [normalize_text(t) for t in texts]
    else:
        texts = [normalize_text(t) if isinstance(t, str) else t for t in texts]
    return _record([{"role": m["role"], "content": t} for m, t in zip(messages, texts)], id, source, lang, topic,
                   system, meta)


def _record(msgs: list[dict], id, source, lang, topic, system, meta: dict) -> Record:
    if system and (not msgs or msgs[0]["role"] != "system"):
        msgs.insert(0, {"role": "system", "content": normalize_text(system)})
    rec: Record = {"messages": msgs, "id": str(id), "source": str(source), "lang": str(lang), "topic": str(topic or "")}
    for k, v in meta.items():
        if v is not None:
            rec[k] = v if isinstance(v, str) else str(v)
    return rec


def dialogue_turns(record: Record) -> list[dict]:
    """Messages without the leading system message."""
    msgs = record["messages"]
    return msgs[1:] if msgs and msgs[0]["role"] == "system" else list(msgs)


def system_prompt(record: Record) -> str | None:
    msgs = record["messages"]
    return msgs[0]["content"] if msgs and msgs[0]["role"] == "system" else None


def to_sharegpt(record: Record) -> Record:
    """OpenAI `messages` -> ShareGPT `conversations` (from/value), system kept as a column."""
    out = {k: v for k, v in record.items() if k != "messages"}
    sys_msg = system_prompt(record)
    if sys_msg is not None:
        out["system"] = sys_msg
    out["conversations"] = [{"from": SHAREGPT_ROLE[m["role"]], "value": m["content"]} for m in dialogue_turns(record)]
    return out


def from_sharegpt(item: Record) -> Record:
    """ShareGPT `conversations` -> one record (inverse of to_sharegpt)."""
    conv = item.get("conversations")
    if not isinstance(conv, list):
        raise InvalidRecord("`conversations` missing")
    msgs = []
    if item.get("system"):
        msgs.append({"role": "system", "content": item["system"]})
    for i, turn in enumerate(conv):
        if not isinstance(turn, dict) or turn.get("from") not in FROM_SHAREGPT:
            raise InvalidRecord(f"conversation turn {i} has no known `from` (human/gpt/system)")
        msgs.append({"role": FROM_SHAREGPT[turn["from"]], "content": turn.get("value")})
    out = {k: v for k, v in item.items() if k not in ("conversations", "system")}
    out["messages"] = msgs
    return out


# ---------------------------------------------------------------- preference items (stage 3)
# LLaMA-Factory's sharegpt ranking form: the conversation so far ends on the client's turn, and two
# replies follow; its KTO form: a whole dialogue ending on one reply, labelled good (true) or bad.
#   pair: {"conversations": [{"from": "human", ...}, ...], "system": "...",
#          "chosen": {"from": "gpt", "value": ...}, "rejected": {"from": "gpt", "value": ...}, meta...}
#   kto:  {"conversations": [..., {"from": "gpt", "value": ...}], "system": "...", "kto_tag": true, meta...}
# Metadata (prompt id, model, judge, scores, rule) may be strings, numbers or booleans.

def preference_kind(item: Any) -> str | None:
    """'pair', 'kto' or None (an SFT record) for one item of a file."""
    if not isinstance(item, dict):
        return None
    if "chosen" in item or "rejected" in item:
        return "pair"
    return "kto" if "kto_tag" in item else None


def _reply_text(item: dict, key: str) -> str:
    reply = item.get(key)
    if not isinstance(reply, dict):
        raise InvalidRecord(f"`{key}` missing or not an object (expected {{\"from\": \"gpt\", \"value\": ...}})")
    if reply.get("from") != "gpt":
        raise InvalidRecord(f"`{key}` has from {reply.get('from')!r}, expected 'gpt'")
    value = reply.get("value")
    if not isinstance(value, str) or not has_text(value):
        raise InvalidRecord(f"`{key}` has no reply text")
    return value


def validate_preference(item: Any) -> Record:
    """Return a preference item (pair or KTO) unchanged, or raise InvalidRecord with the first problem:
    exactly what LLaMA-Factory's ranking / KTO converter would otherwise skip or fail on."""
    kind = preference_kind(item)
    if kind is None:
        raise InvalidRecord("not a preference item: needs `chosen` and `rejected`, or `kto_tag`")
    conv = item.get("conversations")
    if not isinstance(conv, list) or not conv:
        raise InvalidRecord("`conversations` missing or empty")
    for i, turn in enumerate(conv):
        want = "human" if i % 2 == 0 else "gpt"
        if not isinstance(turn, dict) or turn.get("from") != want:
            got = turn.get("from") if isinstance(turn, dict) else type(turn).__name__
            raise InvalidRecord(f"conversation turn {i} is {got!r}, expected {want!r} (turns alternate, client first)")
        if not isinstance(turn.get("value"), str) or not has_text(turn["value"]):
            raise InvalidRecord(f"conversation turn {i} ({want}) is empty")
    if kind == "pair":
        if len(conv) % 2 == 0:
            raise InvalidRecord("a pair's conversation must end on the client's turn (an odd number of turns)")
        if _reply_text(item, "chosen").strip() == _reply_text(item, "rejected").strip():
            raise InvalidRecord("`chosen` and `rejected` are the same text")
    else:
        if len(conv) % 2:
            raise InvalidRecord("a KTO item's conversation must end on the counselor's reply (an even number of turns)")
        if not isinstance(item.get("kto_tag"), bool):
            raise InvalidRecord(f"`kto_tag` must be true or false, got {item.get('kto_tag')!r}")
    if item.get("system") is not None and not isinstance(item["system"], str):
        raise InvalidRecord("`system` must be text")
    for key, value in item.items():
        if key not in ("conversations", "chosen", "rejected") and value is not None \
                and not isinstance(value, (str, int, float, bool)):
            raise InvalidRecord(f"metadata `{key}` must be a string, number or boolean, got {type(value).__name__}")
    return item
