"""Why an item ended unscored or unanswered, in a few words: the histogram every command prints.

    reason_class("request failed: cannot connect: All connection attempts failed") -> "cannot connect"
    histogram(rows) -> {"cannot connect": 2, "judge refused or hedged": 1}
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable

_CLASSES = (  # first match wins
    (r"connection refused|errno 111", "connection refused"),
    (r"cannot connect|connection attempts failed|connection error", "cannot connect"),
    (r"timed out|timeout", "timeout"),
    (r"HTTP (\d{3})", "HTTP {0}"),
    (r"malformed response", "malformed response"),
    (r"no API key", "no API key"),
    (r"refused or hedged", "judge refused or hedged"),
    (r"outside \d+-\d+", "score out of range"),
    (r"not an integer|not a number|boolean", "score not an integer"),
    (r"lacks|missing|given twice|a list of \d+ scores", "incomplete answer"),
    (r"empty reply", "empty reply"),
    (r"unpars|no JSON|not an answer|no valid answer", "unparseable"),
)


def reason_class(reason: str) -> str:
    text = reason or ""
    prefix = "model under test: " if text.startswith("model under test failed") else ""
    for pattern, label in _CLASSES:
        m = re.search(pattern, text, re.I)
        if m:
            return prefix + label.format(*m.groups())
    return prefix + (text.split(":")[0].strip() or "unknown")


def histogram(rows: Iterable[dict], ok: tuple[str, ...] = ("scored", "pass", "fail")) -> dict[str, int]:
    """Reason classes of the rows whose status is not in `ok`, most frequent first."""
    c = Counter(reason_class(r.get("reason", "")) for r in rows if r.get("status") not in ok)
    return dict(c.most_common())


def line(hist: dict[str, int]) -> str:
    return ", ".join(f"{k} ×{v}" for k, v in hist.items())
