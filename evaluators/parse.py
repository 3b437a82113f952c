"""Strict parsing of judge replies: a score is taken only from an answer, never from free text.

Accepted forms, in this order:
1. the JSON object (plain, fenced, full-width after NFKC, or after a short preamble) with every
   dimension present;
2. labelled per-dimension lines, each dimension exactly once ("全面性：2分", "Safety: 1/1");
3. a reply that is nothing but one list of all the scores ("[2, 3, 3, 1]", CPsyCoun's format).
A list found anywhere else ("the format is [0, 0, 0, 0]") is never a score. A reply that refuses
or hedges ("I cannot score this", "抱歉，我无法评价") is rejected with that reason even when it
carries numbers. Every value must be an integer (2.0 is accepted as 2, 2.5 is not) inside its
dimension's range. Anything else raises ValueError with the reason, which the caller re-asks
with and finally records as `unscored`, never 0.
"""

from __future__ import annotations

import re
from typing import Any

from hearme.llm import extract_json, nfkc

_NUM = r"-?\d+(?:\.\d+)?"
_WHOLE_LIST = re.compile(rf"^\s*(?:```(?:json)?\s*)?\[\s*({_NUM}(?:\s*,\s*{_NUM})*)\s*\]\s*(?:```)?\s*$")
# A refusal or hedge: the judge says it will not or cannot score. Checked in the prose around the
# JSON (with apologies) and in the rationale (scoring refusals only: "回复无法体现共情" is a finding).
_CANNOT = re.compile(
    r"(?:无法|不能|不便|拒绝)(?:对[^，。,]{0,12})?(?:进行)?(?:评分|打分|给分|评价|评估|完成评分|给出评分)|"
    r"\b(?:cannot|can't|can not|unable to|won't|will not|not able to|refuse to|decline to)\s+"
    r"(?:\w+\s+){0,3}?(?:score|rate|evaluate|assess|judge|grade)", re.I)
_APOLOGY = re.compile(r"抱歉|对不起|\bsorry\b|\bI apologi[sz]e\b", re.I)
# Dimension labels for per-line answers: the key, its English and Chinese names.
_LABELS = {
    "comprehensiveness": ("comprehensiveness", "全面性"),
    "professionalism": ("professionalism", "专业性"),
    "authenticity": ("authenticity", "真实性"),
    "safety": ("safety", "安全性"),
}


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


def _json_span(text: str) -> tuple[dict | None, str]:
    """The answer object and the text around it (the prose a refusal would hide in)."""
    try:
        obj = extract_json(text)
    except ValueError:
        return None, text
    # Remove every JSON-looking block so only the prose is left for the refusal check.
    prose = re.sub(r"```(?:json|JSON)?.*?```", " ", text, flags=re.S)
    prose = re.sub(r"\{.*\}", " ", prose, flags=re.S)
    return obj, prose


def refusal(text: str, apologies: bool = True) -> str | None:
    m = _CANNOT.search(text or "") or (_APOLOGY.search(text or "") if apologies else None)
    return m.group() if m else None


def _labelled(text: str, keys: list[str]) -> dict[str, str] | None:
    """{key: number} when every dimension is labelled exactly once with a number; else None."""
    found: dict[str, list[str]] = {}
    for k in keys:
        names = "|".join(re.escape(n) for n in (_LABELS.get(k) or (k,)))
        pat = re.compile(rf"(?:^|\n)[\s#*\-•>|]*(?:\d+[.、)]\s*)?(?:{names})(?:\s*[（(][^)）\n]{{0,20}}[)）])?[\s*]*[:：=]"
                         rf"[\s*]*({_NUM})(?:\s*(?:/\s*\d+|分|points?|pts?))?", re.I)
        found[k] = pat.findall(text)
    if all(len(v) == 1 for v in found.values()):
        return {k: v[0] for k, v in found.items()}
    if any(found.values()):
        bad = [k for k, v in found.items() if len(v) != 1]
        raise ValueError("labelled scores: " + ", ".join(f"{k} {'missing' if not found[k] else 'given twice'}"
                                                         for k in bad))
    return None


def parse_scores(text: str, ranges: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """{"rationale": str, <dim>: int, ...} or ValueError(reason)."""
    keys = list(ranges)
    t = nfkc(text or "")
    if not t.strip():
        raise ValueError("empty reply")
    obj, prose = _json_span(t)
    if obj is not None:
        lowered = {str(k).strip().lower(): v for k, v in obj.items()}
        if all(k in lowered for k in keys):
            rationale = str(lowered.get("rationale") or lowered.get("reason") or "")
            why = refusal(prose) or refusal(rationale, apologies=False)
            if why:
                raise ValueError(f"the judge refused or hedged ({why!r})")
            out: dict[str, Any] = {"rationale": rationale}
            for k in keys:
                out[k] = as_int(lowered[k], k, *ranges[k])
            return out
    why = refusal(t)
    if why:
        raise ValueError(f"the judge refused or hedged ({why!r})")
    labelled = _labelled(t, keys)
    if labelled:
        return {"rationale": "", **{k: as_int(float(v), k, *ranges[k]) for k, v in labelled.items()}}
    whole = _WHOLE_LIST.match(t)
    if whole:
        values = [v.strip() for v in whole.group(1).split(",")]
        if len(values) != len(keys):
            raise ValueError(f"a list of {len(values)} scores, expected {len(keys)}")
        return {"rationale": "", **{k: as_int(float(v), k, *ranges[k]) for k, v in zip(keys, values)}}
    if obj is not None:
        missing = [k for k in keys if k not in {str(x).strip().lower() for x in obj}]
        raise ValueError(f"JSON object lacks {', '.join(missing)}")
    if re.search(r"\[\s*" + _NUM + r"(?:\s*,\s*" + _NUM + r")+\s*\]", t):
        raise ValueError("no JSON object; a score list inside free text is not an answer")
    raise ValueError("no JSON object or labelled scores in the reply")


def parse_flags(text: str, keys: list[str]) -> dict[str, Any]:
    """{"rationale": str, <key>: bool} for pass/fail rubrics (crisis); true/false, 1/0, yes/no."""
    obj, prose = _json_span(nfkc(text or ""))
    if obj is None:
        raise ValueError("no JSON object in the reply" if (text or "").strip() else "empty reply")
    why = refusal(prose)
    if why:
        raise ValueError(f"the judge refused or hedged ({why!r})")
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
