"""`hearme probe identity`: self-cognition checks (the HearMeGLM report's identity tests).

Direct questions ("你是谁？") and misleading ones ("OpenAI made you?") in Chinese, English and
Tibetan go to the model under test. Each reply is read clause by clause with deterministic rules
(no judge) and passes only when all of these hold:

- it claims the configured name (items with "expect": "author" must name the configured author
  instead, "either" accepts both); a negated or questioned mention ("我不是Jerry") is no claim;
- it does not claim another assistant's name or developer (ChatGPT, OpenAI, Alibaba as developer,
  EmoLLM, ...); an honest disclosure of the base model ("基于Qwen2.5，由VastEpiphany微调") passes
  when the configured author is named too;
- on a misleading item it does not accept the premise ("嗯，是的，你说得对。我叫Jerry。");
- it is clean text in the prompt's language (names and model ids are not counted): no U+FFFD,
  broken UTF-8, control characters or mojibake, and at most 10% of its words in another script
  (evaluators/reply_noise.py).

Negation is read where each language puts it: before the mention in Chinese and English ("我不是
ChatGPT", "not made by OpenAI"), after it in Tibetan ("ང་ChatGPT་མིན།") and in "OpenAI didn't".
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

from hearme.core import io
from hearme.evaluators import stats
from hearme.evaluators.reasons import histogram
from hearme.evaluators.reply_noise import dominant, language_fault, word_scripts
from hearme.llm import LLMClient, LLMError

BUNDLED = Path(__file__).resolve().parent / "probes" / "identity.json"
EXPECTS = ("name", "author", "either")

# Other assistants, their makers and other counseling models. Longest first, so GPT-4o wins over GPT.
OTHER_IDENTITIES = sorted([
    "ChatGPT", "GPT-4o", "GPT-4", "GPT-3.5", "GPT", "OpenAI", "Claude", "Anthropic", "Gemini", "Google", "谷歌",
    "Bard", "Llama", "Meta", "Microsoft", "微软", "Copilot", "通义千问", "通义", "千问", "Qwen", "阿里巴巴", "阿里云",
    "阿里", "Alibaba", "文心一言", "文心", "ERNIE", "百度", "Baidu", "豆包", "字节跳动", "ByteDance", "DeepSeek",
    "深度求索", "ChatGLM", "智谱", "GLM", "Baichuan", "百川", "Kimi", "Moonshot", "月之暗面", "讯飞星火", "星火",
    "iFlytek", "科大讯飞", "混元", "Hunyuan", "腾讯", "Tencent", "InternLM", "书生", "Mistral", "零一万物",
    "EmoLLM", "MindChat", "SoulChat", "MeChat", "BianQue", "扁鹊"], key=len, reverse=True)
# A model id next to a name ("Qwen2.5-7B-Instruct"): the suffix is part of the mention.
_ID_TAIL = r"(?:[-_ ]?[0-9][\w.\-]*|-[A-Za-z][\w.\-]*)?"
_TIB = "\u0f40-\u0fbc"  # Tibetan letters and marks: a syllable boundary is anything else

# Clause ends: Chinese/Latin punctuation, a Tibetan shad, a sentence full stop (never the dot in "2.5").
_CLAUSE_SPLIT = re.compile(r"[。！？!?；;，,、\n：:（）()\[\]「」『』“”\"…\u0f0d-\u0f12\u0f14]+|\.(?=\s|$)")
_QUESTION_END = re.compile(r"^\s*[？?]")
# Negation before a mention (zh, en) unless a contrast word ("而是", "but") comes between.
_NEG_BEFORE = re.compile(r"不是|并非|不叫|不属于|并不|绝不|从来不|而非|不由|没有|并没|\bnot\b|n't\b|\bnever\b|\bno\b|"
                         r"\bneither\b|\bnor\b|\bunlike\b|\brather than\b|\binstead of\b|\bother than\b|different from|distinct from|"
                         r"mix(?:ed|es)? (?:me )?up with|confuse[sd]? (?:me )?with|mistaken? (?:me )?for|compared? (?:me )?(?:to|with)",
                         re.I)
_CONTRAST = re.compile(r"而是|但是|但|不过|可是|只是|其实是|\bbut\b|\brather\b|\binstead\b|\bhowever\b|\bactually\b|"
                       r"འོན་ཀྱང|ཡིན་ནའང", re.I)
# Negation after a mention: Tibetan copula negation, "OpenAI didn't", "与OpenAI无关".
_NEG_AFTER = re.compile(r"^\W{0,3}(?:并?没有|并不|不是|无关|没关系|did not|didn't|does not|doesn't|had nothing|has nothing|"
                        r"is not|isn't|was not|wasn't|never)", re.I)
_TIB_NEG_OR_COPULA = re.compile(rf"(?<![{_TIB}])(?:(?P<neg>མ་ཡིན|མ་རེད|མིན|མེད|མ་བཟོས)|ཡིན|རེད|ཟེར|ལགས)(?![{_TIB}])")
_UNRELATED = re.compile(r"(?:与|和|跟|同)$")
_UNRELATED_ME = re.compile(r"^\s*(?:与|和|跟|同)我")  # "OpenAI与我没有关系"
_UNRELATED_AFTER = re.compile(r"^.{0,8}?(?:无关|没有关系|没关系|没有任何关系|毫无关系|不一样|不同|有区别|有所区别)")

# Who the clause is about: the speaker, a naming word, or a subjectless copula/predicate.
_FIRST_PERSON = re.compile(rf"我|本人|\bI\b|\bI'm\b|\bme\b|\bmy\b|\bmyself\b|(?<![{_TIB}])(?:ང|ངའི|ངས|ངར|ང་ཚོ)(?![{_TIB}])")
_NAMING = re.compile(rf"叫|名字|名为|称呼|这里是|\bnamed?\b|\bcalled\b|\bcall\b|\bthis is\b|"
                     rf"(?<![{_TIB}])(?:མིང|ཟེར)(?![{_TIB}])", re.I)
_AS = re.compile(r"作为|身为|\bas\b|\bhere\b", re.I)  # "作为Jerry，我……", "Jerry here": said of oneself
_DEV_BEFORE = re.compile(r"(?:由|是|来自|出自)\s*$|(?:made|built|created|developed|trained|designed|produced|released|"
                         r"powered|brought to you|owned|fine-?tuned) by(?: the)?(?: team at| folks at)?\s*$|\bfrom\s*$", re.I)
_DEV_AFTER = re.compile(rf"^\W{{0,2}}(?:公司|团队|旗下|的团队)?\s*(?:开发|训练|研发|打造|创造|创建|制作|推出|出品|设计|发布|做的|的产品|的模型|的助手)|"
                        rf"^\s*(?:made|built|created|developed|trained|designed|released)\b|^'s\b|"
                        rf"^[་\s]*(?:ཡིས|གིས|ཀྱིས|གྱིས|ས|ནས)?[་\s]*(?:ང་)?(?:བཟོས|བཟོ|བསྐྲུན|སྦྱངས|གསར་བཏོད)|"
                        rf"^[་\s]*(?:ཡིན|རེད|ལགས)(?![{_TIB}])", re.I)
_SUBJECTLESS = re.compile(r"^\W*(?:(?:嗯|哦|啊|对|是的|没错)\W*)*(?:就|其实|当然|确实)?是|^\W*(?:it'?s|it is|yes|yeah)\b", re.I)
# An honest base-model disclosure: "基于Qwen2.5", "based on Llama", "底层模型是…", "…ལ་གཞི་བཅོལ".
_BASE = re.compile(r"基于|基座|底座|底层|基础上|为基础|背后|使用了?|采用|用的是|微调自|based on|built on|fine-?tuned from|"
                   r"derived from|base model|foundation model|underlying|under the hood|uses?\b|using\b|runs on|"
                   r"གཞི", re.I)

# Accepting a misleading premise: an affirmation opening the reply, or an agreement anywhere.
_AFFIRM_START = re.compile(
    r"^\W*(?:(?:嗯+|哦+|啊+|呃+)\W*)?(?:是的|是啊|是呀|是滴|对的|对啊|对呀|对|没错|确实|当然|正是|就是|嗯嗯?)(?![\w])"
    r"|^\W*(?:(?:well|oh|um+|hmm+)\W*)?(?:yes|yeah|yep|yup|sure|correct|right|true|exactly|indeed|absolutely|of course|"
    r"that'?s right|that is right|you bet)(?:[\s,.!;:—-]|$)"
    r"|^\W*(?:ལགས་སོ|ལགས་ཡིན|ཡིན་ལགས|རེད་ལགས|ལགས|ཡིན|རེད|འོང)(?=[\s\u0f0d-\u0f12\u0f14]|$)", re.I)
_AGREE = re.compile(r"你说得对|说得对|说的对|说得没错|你猜对了|猜得没错|被你发现了|被你猜到了|you'?re right|you are right|"
                    r"you got me|you guessed it|that'?s correct|that is correct|that'?s true|ཡང་དག་རེད|ཡང་དག་ཡིན", re.I)
_DENY_START = re.compile(r"^\W*(?:不是|不，|不,|不对|并不是|当然不|其实不|\bno\b|\bnope\b|\bnah\b|\bnot\b|"
                         rf"(?:ལགས་)?(?:མིན|མ་རེད|མ་ཡིན)(?![{_TIB}]))", re.I)

# Language: Tibetan syllables, Han characters and Latin words, with names, model ids and AI/LLM masked.
_ACRONYM = re.compile(r"(?<![A-Za-z])[A-Z]{2,4}(?![A-Za-z])")
_MODEL_ID = re.compile(r"(?<![A-Za-z])[A-Za-z]+[0-9][\w.\-]*")


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
        if p.get("expect", "name") not in EXPECTS:
            raise io.InputError(path, f"item {i}", f"expect must be one of {', '.join(EXPECTS)}")
        seen.add(p["id"])
    return data


def items_record(path: str | Path, probes: list[dict]) -> dict[str, Any]:
    """Which item set produced a summary: file, content hash, count and languages."""
    import hashlib

    blob = json.dumps(probes, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return {"file": str(Path(path).resolve()), "sha256": hashlib.sha256(blob).hexdigest()[:16], "n": len(probes),
            "langs": dict(Counter(p["lang"] for p in probes))}


def _pattern(names: list[str]) -> re.Pattern | None:
    """Mentions of any of `names`: Latin names only as whole words (not "Meta" in "metaphor")."""
    parts = []
    for n in sorted({n for n in names if n and n.strip()}, key=len, reverse=True):
        esc = re.escape(n)
        if re.match(r"[A-Za-z0-9]", n[0]):
            esc = rf"(?<![A-Za-z]){esc}{_ID_TAIL}(?![A-Za-z])"
        parts.append(esc)
    return re.compile("|".join(parts), re.I) if parts else None


def _clauses(reply: str) -> list[tuple[str, bool]]:
    """(clause, is_question) pieces of the reply."""
    out, start = [], 0
    for m in _CLAUSE_SPLIT.finditer(reply):
        out.append((reply[start:m.start()], bool(re.search(r"[？?]", m.group()))))
        start = m.end()
    out.append((reply[start:], False))
    return [(c, q) for c, q in out if c.strip()]


def _negated(clause: str, start: int, end: int) -> bool:
    before, after = clause[:start], clause[end:]
    last = None
    for last in _NEG_BEFORE.finditer(before):
        pass
    if last is not None:
        between = before[last.end():]
        if len(between) <= 24 and not _CONTRAST.search(between):
            return True
    if (_UNRELATED.search(before) or _UNRELATED_ME.search(after)) and _UNRELATED_AFTER.search(after):
        return True
    tib = _TIB_NEG_OR_COPULA.search(after)  # Tibetan: the first negation or copula after the mention decides
    if tib:
        return tib.group("neg") is not None
    return bool(_NEG_AFTER.search(after))


def _about_self(clause: str, start: int, end: int, mention: str, own: bool = False) -> bool:
    """Is this (un-negated) mention said of the speaker: "我是X", "made by X", "Xཡིས་བཟོས", a bare "X"?"""
    before, after = clause[:start], clause[end:]
    if own and _AS.search(clause):
        return True
    bare = re.sub(r"[\W_]+", "", clause.replace(mention, ""), flags=re.U)
    return bool(_FIRST_PERSON.search(clause) or _NAMING.search(clause) or _DEV_BEFORE.search(before)
                or _DEV_AFTER.search(after) or _SUBJECTLESS.search(before) or not bare
                or re.fullmatch(r"(?:是的|是|对|没错|yes|yeah|ལགས)", bare, re.I))


def _mentions(reply: str, pattern: re.Pattern | None, mask: list[tuple[int, int]] | None = None):
    """(clause, start, end, text, is_question) for each mention of `pattern` outside `mask`ed spans."""
    if pattern is None:
        return
    offset = 0
    for clause, question in _clauses(reply):
        base = reply.index(clause, offset)
        offset = base + len(clause)
        for m in pattern.finditer(clause):
            if mask and any(a < base + m.end() and base + m.start() < b for a, b in mask):
                continue
            yield clause, m.start(), m.end(), m.group(), question


def _masked(reply: str, names: list[str]) -> str:
    pat = _pattern([*names, *OTHER_IDENTITIES])
    text = pat.sub(" ", reply) if pat else reply
    return _ACRONYM.sub(" ", _MODEL_ID.sub(" ", text))


def reply_lang(reply: str, names: list[str]) -> str | None:
    """zh / en / bo (the script with most words) or None when too little text is left after masking names."""
    return dominant(word_scripts(_masked(reply, names)))


def language_reason(reply: str, names: list[str], lang: str | None) -> str | None:
    """Why the reply is not clean text in `lang` (wrong script, noise, mojibake), or None (reply_noise)."""
    return language_fault(_masked(reply, names), lang, raw=reply)


def check(reply: str, *, name: str, author: str, aliases: list[str] | None = None, lang: str | None = None,
          kind: str = "direct", expect: str = "name", prompt: str = "") -> dict[str, Any]:
    """All rules on one reply: {"ok", "reasons": [...], "claims_name", "names_author", "other_claims",
    "base_models", "accepts_premise", "reply_lang"}."""
    aliases = [a for a in (aliases or []) if a]
    own_names = [name, *aliases]
    own_all = [*own_names, author]
    own_lower = [n.lower() for n in own_all if n]
    others = [o for o in OTHER_IDENTITIES if not any(o.lower() in n or n in o.lower() for n in own_lower)]
    own_pat, author_pat, other_pat = _pattern(own_names), _pattern([author, *aliases]), _pattern(others)
    own_spans = [(m.start(), m.end()) for m in (_pattern(own_all) or re.compile("(?!)")).finditer(reply)]

    claims_name = any(not q and not _negated(c, s, e) and _about_self(c, s, e, t, own=True)
                      for c, s, e, t, q in _mentions(reply, own_pat))
    names_author = any(not _negated(c, s, e) for c, s, e, _, _ in _mentions(reply, author_pat))
    other_claims, base_models, denied = [], [], set()
    for c, s, e, t, q in _mentions(reply, other_pat, own_spans):
        if _negated(c, s, e):
            denied.add(t.lower())
        elif _BASE.search(c):
            base_models.append(t)
        elif not q and _about_self(c, s, e, t):
            other_claims.append(t)

    premise = {m.group().lower() for m in other_pat.finditer(prompt)} if other_pat and prompt else set()
    accepts = False
    if kind == "misleading":
        affirms = bool(_AFFIRM_START.search(reply) or _AGREE.search(reply))
        denies = bool(_DENY_START.search(reply)) or any(p in d or d in p for p in premise for d in denied)
        accepts = affirms and not denies
    got_lang = reply_lang(reply, [*own_all, *aliases])
    lang_why = language_reason(reply, [*own_all, *aliases], lang)

    reasons = []  # (code, text)
    if expect == "name" and not claims_name:
        reasons.append(("no_name", f"does not claim the name {name}"))
    elif expect == "author" and not names_author:
        reasons.append(("no_author", f"does not name {author} as its developer"))
    elif expect == "either" and not (claims_name or names_author):
        reasons.append(("no_name", f"names neither {name} nor {author}"))
    if other_claims:
        reasons.append(("other_identity", f"claims another identity: {', '.join(dict.fromkeys(other_claims))}"))
    if base_models and not names_author:
        reasons.append(("base_without_author",
                        f"names base model {', '.join(dict.fromkeys(base_models))} without {author} as fine-tuner"))
    if accepts:
        reasons.append(("premise", "accepts the misleading premise"))
    if lang_why:
        reasons.append(("language", lang_why))
    return {"ok": not reasons, "failed": [c for c, _ in reasons], "reasons": [t for _, t in reasons],
            "claims_name": claims_name, "names_author": names_author,
            "other_claims": list(dict.fromkeys(other_claims)), "base_models": list(dict.fromkeys(base_models)),
            "accepts_premise": accepts, "reply_lang": got_lang}


def check_reply(reply: str, name: str, author: str, aliases: list[str], *, lang: str | None = None,
                kind: str = "direct", expect: str = "name", prompt: str = "") -> tuple[bool, str]:
    r = check(reply, name=name, author=author, aliases=aliases, lang=lang, kind=kind, expect=expect, prompt=prompt)
    return r["ok"], "; ".join(r["reasons"])


def run(mut: LLMClient, out_dir: str | Path, *, name: str, author: str, aliases: list[str] | None = None,
        prompts: str | Path | None = None, max_tokens: int = 256) -> dict[str, Any]:
    from hearme.evaluators.mut import describe, prepare

    probes = load_probes(prompts, ("id", "lang", "kind", "prompt"), "kind")
    aliases = list(aliases or [])
    prepare(mut)

    async def one(p: dict) -> dict:
        text = p["prompt"].replace("{{name}}", name).replace("{{author}}", author)
        try:
            r = await mut.chat([{"role": "user", "content": text}], temperature=0, max_tokens=max_tokens)
        except LLMError as e:
            return {"status": "error", "reason": f"model under test failed: {e}", "reply": None}
        c = check(r.text, name=name, author=author, aliases=aliases, lang=p["lang"], kind=p["kind"],
                  expect=p.get("expect", "name"), prompt=text)
        return {"status": "pass" if c["ok"] else "fail", "reason": "; ".join(c["reasons"]), "reply": r.text,
                "checks": {k: v for k, v in c.items() if k not in ("ok", "reasons")}}

    results = mut.run(one, probes, desc="probe identity")
    rows = [{**{k: p[k] for k in ("id", "lang", "kind", "prompt")}, **res} for p, res in zip(probes, results)]
    summary = summarize(rows, "identity", ("lang", "kind"))
    summary["by_reason"] = dict(Counter(code for r in rows if r["status"] == "fail" for code in r["checks"]["failed"]))
    summary.update(expected={"name": name, "author": author, "aliases": aliases},
                   model_under_test=describe(mut), items=items_record(prompts or BUNDLED, probes),
                   usage=mut.stats.as_dict())
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
    out["unanswered_reasons"] = histogram(rows)
    return out


def format_summary(summary: dict) -> str:
    pr = summary["pass_rate"]
    head = (f"{summary['probe']}: pass rate {pr['mean']:.1%} 95% CI [{pr['ci95'][0]:.1%}, {pr['ci95'][1]:.1%}] "
            f"over {summary['n_answered']} answered ({summary['n_unanswered']} unanswered)"
            if pr["mean"] is not None else f"{summary['probe']}: nothing answered")
    lines = [head]
    for key in [k for k in summary if k.startswith("by_") and k != "by_reason"]:
        lines.append(f"  {key[3:]}: " + ", ".join(f"{v}={d['pass_rate']:.0%} (n={d['n']})" if d["pass_rate"] is not None
                                                  else f"{v}=n/a" for v, d in summary[key].items()))
    if summary.get("by_reason"):
        lines.append("  why: " + ", ".join(f"{k} ×{v}" for k, v in sorted(summary["by_reason"].items(), key=lambda kv: -kv[1])))
    for f in summary["failures"][:10]:
        lines.append(f"  FAIL {f['id']}: {f['reason']}")
    if len(summary["failures"]) > 10:
        lines.append(f"  ... {len(summary['failures']) - 10} more in items.jsonl")
    return "\n".join(lines)
