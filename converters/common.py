"""Helpers shared by the source converters: turn lists -> alternating messages, text clean-up."""

from __future__ import annotations

import re
from typing import Any, Iterable

from hearme.converters.base import Reject

USER, ASSISTANT = "user", "assistant"

_SPACES = re.compile(r"[ \t\u3000]+")
_BLANKS = re.compile(r"\n{3,}")


_NEEDS_CLEAN = re.compile(r"[\r\t\u3000\ufeff]| [ \n]|\n[ \n]")


def clean(text: Any) -> str:
    """Normalise line ends and runs of spaces; keep the text otherwise as written."""
    if not isinstance(text, str):
        return ""
    if not _NEEDS_CLEAN.search(text):  # the common case: nothing to normalise
        return text.strip()
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


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
    turns = merge_turns(((r, t) for r, t in turns if t.strip()), note)
    if not any(r == ASSISTANT for r, _ in turns):
        raise Reject(f"{what} has no counselor/assistant turn")
    if not any(r == USER for r, _ in turns):
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


def lang_of(text: str, sample: int = 2000) -> str:
    """bo / zh / en / mixed from the script census of the text's start and end (bounded work)."""
    from hearme.tibetan.text import detect_lang

    return detect_lang(text if len(text) <= 2 * sample else text[:sample] + text[-sample:])
