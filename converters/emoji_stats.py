"""Emoji detection with the `emoji` package, and emoji shares per dataset and per role."""

from __future__ import annotations

from typing import Iterable

import re

import emoji

from hearme.core import schema

# Prefilter built from the package's own table: text without any first code point of an
# emoji sequence (or a keycap mark) cannot contain one, so most Chinese text skips the
# package's full tokenizer.


def _prefilter() -> re.Pattern:
    ranges: list[list[int]] = []
    for c in sorted({ord(e[0]) for e in emoji.EMOJI_DATA}):
        if c < 128:  # keycaps 0-9 # * need U+20E3, matched below
            continue
        if ranges and c == ranges[-1][1] + 1:
            ranges[-1][1] = c
        else:
            ranges.append([c, c])
    body = "".join(re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "") for a, b in ranges)
    return re.compile(f"[{body}\u20e3]")


_FIRST = _prefilter()


def has_emoji(text: str) -> bool:
    return bool(_FIRST.search(text)) and emoji.emoji_count(text) > 0


def record_has_emoji(record: schema.Record, role: str | None = None) -> bool:
    return any(has_emoji(m["content"]) for m in record["messages"] if role is None or m["role"] == role)


def emoji_shares(records: Iterable[schema.Record]) -> dict[str, float]:
    """Share of dialogues with any emoji, and of user / assistant messages with emoji."""
    dialogues = with_emoji = 0
    msgs = {"user": [0, 0], "assistant": [0, 0]}
    for rec in records:
        dialogues += 1
        found = False
        for m in rec["messages"]:
            if m["role"] not in msgs:
                continue
            hit = has_emoji(m["content"])
            msgs[m["role"]][0] += hit
            msgs[m["role"]][1] += 1
            found |= hit
        with_emoji += found
    share = lambda a, b: a / b if b else 0.0  # noqa: E731
    return {"dialogues": share(with_emoji, dialogues), "user": share(*msgs["user"]),
            "assistant": share(*msgs["assistant"])}
