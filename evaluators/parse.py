"""Strict parsing of judge replies: a score is taken only from an answer, never from free text.

Accepted forms, in this order:
1. the JSON object (plain, fenced, full-width after NFKC, or after a short preamble) with every
   dimension present;
2. labelled per-dimension lines, each dimension exactly once ("全面性：2分", "Safety: 1/1");
3. a reply that is nothing but one list of all the scores ("[2, 3, 3, 1]", CPsyCoun's format);
4. the seeds' verdict: reasoning whose final non-empty line is one list of all the scores, alone or
   after a short label ("评分：[2, 3, 3, 1]", "**Final verdict:** [2、3、3、1]"), and no other numeric
   list anywhere in the reply. The label must name a verdict or score (verdict, score, rating,
   final, result, 评分, 打分, 得分, 结论, 最终, 结果, 分数, 评定) and not an example or a format.
   Per-dimension labels in the reasoning, when all four are given, must agree with the list.
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
# In step-by-step reasoning the judge describes the reply ("无法评估风险" can be a finding, a quoted
# "I'm sorry" is the counselor's): a refusal there is the judge speaking of itself, or the opening.
_SELF_CANNOT = re.compile(
    r"我(?:们)?(?:暂时|实在)?(?:无法|不能|不便|拒绝)(?:对[^，。,]{0,12})?(?:进行)?(?:评分|打分|给分|评价|评估)|"
    r"\bI(?:'m| am)?\s+(?:cannot|can't|can not|unable to|won't|will not|not able to|refuse to|decline to)\s+"
    r"(?:\w+\s+){0,3}?(?:score|rate|evaluate|assess|judge|grade)", re.I)
_QUOTED = re.compile(r"“[^”]*”|「[^」]*」|『[^』]*』|\"[^\"\n]*\"")
_LIST = rf"\[\s*{_NUM}(?:\s*[,、]\s*{_NUM})+\s*\]"
_VERDICT_LINE = re.compile(rf"^(?P<label>[^\[\]\d]{{0,40}}?)[\s:=]*[\"'`“「]?(?P<list>{_LIST})[\"'`”」]?\s*[.。!]?$")
_VERDICT_WORD = re.compile(r"verdict|score|rating|final|result|评分|打分|得分|结论|最终|结果|分数|评定", re.I)
_NOT_VERDICT = re.compile(r"example|format|template|e\.g|such as|for instance|例|格式|模板|比如|如下", re.I)
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


def _final_verdict(text: str) -> tuple[list[str], str] | None:
    """(the list's values, the reasoning before it) when the last line is the verdict (form 4)."""
    lines = [ln.strip().strip("*`#>").strip() for ln in text.strip().splitlines()]
    lines = [ln for ln in lines if ln]
    if len(lines) < 2:
        return None
    m = _VERDICT_LINE.match(lines[-1].replace("*", ""))
    if not m:
        return None
    label = m.group("label").strip(" \t-•:")
    if label and (not _VERDICT_WORD.search(label) or _NOT_VERDICT.search(label)):
        return None
    if len(re.findall(_LIST, text)) != 1:
        raise ValueError("a final verdict list and another score list in the reply")
    values = re.split(r"\s*[,、]\s*", m.group("list").strip("[] \t"))
    return values, "\n".join(lines[:-1])


def _verdict_refusal(reasoning: str) -> str | None:
    unquoted = _QUOTED.sub(" ", reasoning)
    opening = re.split(r"[。.!！?？\n]", unquoted.strip(), maxsplit=1)[0]
    return refusal(opening) or (m.group() if (m := _SELF_CANNOT.search(unquoted)) else None)


def _from_verdict(t: str, keys: list[str], ranges: dict[str, tuple[int, int]]) -> dict[str, Any] | None:
    found = _final_verdict(t)
    if found is None:
        return None
    values, reasoning = found
    why = _verdict_refusal(reasoning)
    if why:
        raise ValueError(f"the judge refused or hedged ({why!r})")
    if len(values) != len(keys):
        raise ValueError(f"a final verdict of {len(values)} scores, expected {len(keys)}")
    out = {k: as_int(float(v), k, *ranges[k]) for k, v in zip(keys, values)}
    try:
        labelled = _labelled(reasoning, keys)
    except ValueError:  # some dimensions labelled in the reasoning: the verdict decides
        labelled = None
    if labelled and any(as_int(float(labelled[k]), k, *ranges[k]) != out[k] for k in keys):
        raise ValueError("the reasoning's labelled scores and the final verdict disagree")
    return {"rationale": reasoning[-2000:], **out}


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
    verdict = _from_verdict(t, keys, ranges)
    if verdict:
        return verdict
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
