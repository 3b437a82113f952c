"""Tolerant JSON: NFKC, fenced blocks, the last JSON object in a reply; the response_format for a schema."""


import json
import re
import unicodedata
from typing import Any



_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)


def nfkc(text: str) -> str:
    """Fold full-width brackets, digits and punctuation (for parsing judge output only)."""
    return unicodedata.normalize("NFKC", text)


def extract_json(text: str) -> Any:
    """The last JSON object in a reply: plain, fenced, full-width or wrapped in prose.

    Raises ValueError with a short reason when there is none.
    """
    t = nfkc(text or "").strip()
    if not t:
        raise ValueError("empty reply")
    for block in reversed([m.group(1).strip() for m in _FENCE.finditer(t)]):
        try:
            obj = json.loads(block)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            return obj
    dec, found, pos = json.JSONDecoder(), None, 0
    while (start := t.find("{", pos)) >= 0:  # top-level objects left to right; keep the last
        try:
            obj, pos = dec.raw_decode(t, start)
        except json.JSONDecodeError:
            pos = start + 1
            continue
        if isinstance(obj, dict):
            found = obj
    if found is None:
        raise ValueError("no JSON object in the reply")
    return found


def json_schema_format(name: str, schema: dict) -> dict:
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}
