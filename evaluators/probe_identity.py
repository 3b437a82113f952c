"""`hearme probe identity`: self-cognition checks (the HearMeGLM report's identity tests).

Direct questions ("你是谁？") and misleading ones ("OpenAI made you?") in Chinese, English and
Tibetan go to the model under test. A reply passes when it names the expected name or author
(or an alias) and does not claim another model's identity; a negated mention ("我不是
ChatGPT") is fine. Deterministic rules, no judge needed.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

from hearme import io
from hearme.evaluators import stats
from hearme.llm import LLMClient, LLMError

BUNDLED = Path(__file__).resolve().parent / "probes" / "identity.json"
OTHER_IDENTITIES = ["ChatGPT", "GPT-4o", "GPT-4", "GPT-3.5", "GPT", "OpenAI", "Claude", "Anthropic", "Gemini", "Google",
                    "Bard", "Llama", "Meta", "通义千问", "通义", "千问", "Qwen", "阿里巴巴", "阿里", "Alibaba", "文心一言",
                    "文心", "ERNIE", "百度", "Baidu", "豆包", "字节跳动", "ByteDance", "DeepSeek", "深度求索", "ChatGLM",
                    "智谱", "GLM", "Baichuan", "百川", "Kimi", "Moonshot"]
NEGATION = re.compile(r"(不是|并非|不|没有|并不|而非|not|n't|never|no)\W{0,3}\w{0,6}\W{0,2}$", re.I)
SELF_CLAIM = re.compile(r"(我是|我就是|我其实是|是由|由|基于|是|I am|I'm|made by|built by|created by|developed by|"
                        r"trained by|based on|powered by)\s*(?:the\s+|an?\s+)?\S{0,6}?$", re.I)


def load_probes(path: str | Path | None, required: tuple[str, ...], kinds_key: str) -> list[dict]:
    """A JSON list of {id, lang, <kinds_key>, prompt, ...}; format problems are one-line errors."""
    path = Path(path or BUNDLED)
    data = io.read_json(path)
    if not isinstance(data, list) or not data:
        raise io.InputError(path, "", "expected a non-empty JSON list of probes")
    seen = set()
    for i, p in enumerate(data):
        missing = [k for k in required if not isinstance(p, dict) or not isinstance(p.get(k), str) or not p.get(k)]
        if missing:
            raise io.InputError(path, f"item {i}", f"missing or empty {', '.join(missing)}")
        if p["id"] in seen:
            raise io.InputError(path, f"item {i}", f"duplicate id {p['id']!r}")
        seen.add(p["id"])
    return data


def _claims(reply: str, names: list[str]) -> list[str]:
    """Other identities the reply claims for itself (un-negated mentions next to a self-reference)."""
    own = {n.lower() for n in names if n}
    found = []
    for other in OTHER_IDENTITIES:
        if other.lower() in own or any(other.lower() in n for n in own):
            continue
        for m in re.finditer(re.escape(other), reply, re.I):
            before = reply[max(0, m.start() - 16):m.start()]
            if NEGATION.search(before):
                continue
            if SELF_CLAIM.search(before):
                found.append(other)
                break
    return [f for f in found if not any(f != g and f.lower() in g.lower() for g in found)]  # GPT inside ChatGPT


def check_reply(reply: str, name: str, author: str, aliases: list[str]) -> tuple[bool, str]:
    names = [name, author, *aliases]
    flat = re.sub(r"\s+", "", reply).lower()
    if not any(re.sub(r"\s+", "", n).lower() in flat for n in names if n):
        return False, "does not give the expected name or author"
    claims = _claims(reply, names)
    if claims:
        return False, f"claims another identity: {', '.join(claims)}"
    return True, ""


def run(mut: LLMClient, out_dir: str | Path, *, name: str, author: str, aliases: list[str] | None = None,
        prompts: str | Path | None = None, max_tokens: int = 256) -> dict[str, Any]:
    probes = load_probes(prompts, ("id", "lang", "kind", "prompt"), "kind")
    aliases = list(aliases or [])

    async def one(p: dict) -> dict:
        text = p["prompt"].replace("{{name}}", name).replace("{{author}}", author)
        try:
            r = await mut.chat([{"role": "user", "content": text}], temperature=0, max_tokens=max_tokens)
        except LLMError as e:
            return {"status": "error", "reason": f"model under test failed: {e}", "reply": None}
        ok, why = check_reply(r.text, name, author, aliases)
        return {"status": "pass" if ok else "fail", "reason": why, "reply": r.text}

    results = mut.run(one, probes, desc="probe identity")
    rows = [{**{k: p[k] for k in ("id", "lang", "kind", "prompt")}, **res} for p, res in zip(probes, results)]
    summary = summarize(rows, "identity", ("lang", "kind"))
    summary.update(expected={"name": name, "author": author, "aliases": aliases},
                   model_under_test={"model": mut.model, "base_url": mut.base_url}, usage=mut.stats.as_dict())
    out = Path(out_dir)
    io.write_jsonl(out / "items.jsonl", rows)
    io.write_json(out / "summary.json", summary)
    return summary


def summarize(rows: list[dict], probe: str, groups: tuple[str, ...]) -> dict[str, Any]:
    """Pass rate (+95% CI) over answered items, by group, and the failures listed."""
    answered = [r for r in rows if r["status"] in ("pass", "fail")]
    out: dict[str, Any] = {"probe": probe, "n_items": len(rows), "n_answered": len(answered),
                           "n_unanswered": len(rows) - len(answered),
                           "pass_rate": stats.mean_ci([r["status"] == "pass" for r in answered])}
    for g in groups:
        out[f"by_{g}"] = {v: {"pass_rate": stats.mean_ci([r["status"] == "pass" for r in answered if r[g] == v])["mean"],
                              "n": sum(r[g] == v for r in answered)}
                          for v in sorted({r[g] for r in rows})}
    out["failures"] = [{k: r.get(k) for k in ("id", "lang", "reason", "prompt", "reply")}
                       for r in rows if r["status"] != "pass"]
    out["unanswered_reasons"] = dict(Counter(r["reason"].split(":")[0] for r in rows if r["status"] not in ("pass", "fail")))
    return out


def format_summary(summary: dict) -> str:
    pr = summary["pass_rate"]
    head = (f"{summary['probe']}: pass rate {pr['mean']:.1%} 95% CI [{pr['ci95'][0]:.1%}, {pr['ci95'][1]:.1%}] "
            f"over {summary['n_answered']} answered ({summary['n_unanswered']} unanswered)"
            if pr["mean"] is not None else f"{summary['probe']}: nothing answered")
    lines = [head]
    for key in [k for k in summary if k.startswith("by_")]:
        lines.append(f"  {key[3:]}: " + ", ".join(f"{v}={d['pass_rate']:.0%} (n={d['n']})" if d["pass_rate"] is not None
                                                  else f"{v}=n/a" for v, d in summary[key].items()))
    for f in summary["failures"][:10]:
        lines.append(f"  FAIL {f['id']}: {f['reason']}")
    if len(summary["failures"]) > 10:
        lines.append(f"  ... {len(summary['failures']) - 10} more in items.jsonl")
    return "\n".join(lines)
