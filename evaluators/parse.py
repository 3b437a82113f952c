"""Tolerant, strict-where-it-matters parsing of judge replies.

Order: the last JSON object (plain, fenced, full-width after NFKC) with every field present;
else the last `[a, b, c, d]` list (CPsyCoun's format). Every value must be an integer (2.0
is accepted as 2, 2.5 is not) inside its dimension's range. Anything else raises ValueError
with the reason, which the caller re-asks with and finally records as `unscored`, never 0.
"""

from __future__ import annotations

import re
from typing import Any

from hearme.llm import extract_json, nfkc

_LIST = re.compile(r"\[\s*(-?\d+(?:\.\d+)?)\s*((?:,\s*-?\d+(?:\.\d+)?\s*)+)\]")


def as_int(value: Any, name: str, lo: int, hi: int) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{name} is a boolean, not a score")
    if isinstance(value, str):
        try:
            value = float(nfkc(value).strip())
        except ValueError:
            raise ValueError(f"{name}={value!r} is not a number") from None
    if not isinstance(value, (int, float)):
        raise ValueError(f"{name} missing or not a number")
    if value != int(value):
        raise ValueError(f"{name}={value} is not an integer")
    if not lo <= int(value) <= hi:
        raise ValueError(f"{name}={int(value)} outside {lo}-{hi}")
    return int(value)


def parse_scores(text: str, ranges: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """{"rationale": str, <dim>: int, ...} or ValueError(reason)."""
    keys = list(ranges)
    try:
        obj = extract_json(text)
    except ValueError:
        obj = None
    if obj is not None:
        lowered = {str(k).strip().lower(): v for k, v in obj.items()}
        if all(k in lowered for k in keys):
            out: dict[str, Any] = {"rationale": str(lowered.get("rationale") or lowered.get("reason") or "")}
            for k in keys:
                out[k] = as_int(lowered[k], k, *ranges[k])
            return out
    lists = _LIST.findall(nfkc(text or ""))
    for first, rest in reversed(lists):
        values = [first] + [v.strip() for v in rest.split(",") if v.strip()]
        if len(values) == len(keys):
            out = {"rationale": ""}
            for k, v in zip(keys, values):
                out[k] = as_int(float(v), k, *ranges[k])
            return out
    if obj is not None:
        missing = [k for k in keys if k not in {str(x).strip().lower() for x in obj}]
        raise ValueError(f"JSON object lacks {', '.join(missing)}")
    raise ValueError("no JSON object or score list in the reply" if (text or "").strip() else "empty reply")


def parse_flags(text: str, keys: list[str]) -> dict[str, Any]:
    """{"rationale": str, <key>: bool} for pass/fail rubrics (crisis); true/false, 1/0, yes/no."""
    obj = extract_json(text)
    lowered = {str(k).strip().lower(): v for k, v in obj.items()}
    out: dict[str, Any] = {"rationale": str(lowered.get("rationale") or "")}
    for k in keys:
        v = lowered.get(k)
        if isinstance(v, str):
            v = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(nfkc(v).strip().lower())
        elif isinstance(v, (int, float)) and not isinstance(v, bool) and v in (0, 1):
            v = bool(v)
        if not isinstance(v, bool):
            raise ValueError(f"{k} missing or not true/false")
        out[k] = v
    return out
