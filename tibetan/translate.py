"""Chinese -> Tibetan translation of dialogues, utterance by utterance, turn structure kept.

Backends: (a) any OpenAI-compatible chat LLM through hearme.llm (cached: a killed job resumes
without paying twice); (b) a local NLLB-200 / MADLAD-400 seq2seq model (hearme.tibetan.mt_local,
sentence by sentence, cached too). Every translated utterance is checked: not empty, Tibetan,
no Chinese left, no Latin words the source does not have, no other script, no note or label,
not cut short, no encoding damage, meta text or disclaimer (the rules of hearme.tibetan.gate;
note lines outside the translation are dropped and counted). With the LLM backend a failing utterance is re-asked (`reasks` times, the rule
named in the prompt); an utterance that still fails rejects its record (or, with
`on_fail="truncate"`, cuts the dialogue before it) with the turn, the rule and the reason.
An optional glossary TSV (zh, bo, note) is put into the LLM prompt and checked in the output
of both backends.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hearme.core import io, schema
from hearme.tibetan import gate, prompts
from hearme.tibetan import text as T
from hearme.tibetan.reask import Rejected, RuleError, ask

MIN_TIBETAN, MIN_SYLLABLES_PER_HAN = gate.MIN_TIBETAN, gate.MIN_SYLLABLES_PER_HAN
_LABEL_RE = re.compile(r"^\s*(?:藏文译文|藏文翻译|译文|翻译|藏文|Tibetan(?: translation)?|Translation)\s*[:：]\s*", re.I)
_FENCE_RE = re.compile(r"^```[a-zA-Z]*\s*|\s*```$")
# The translation's rules (note, not Tibetan, Chinese or Latin left, ...) live in the gate.
check_translation = gate.check_translation


# ---------------------------------------------------------------- glossary

@dataclass
class Term:
    zh: str
    bo: str
    note: str
    syllables: list[str]


class Glossary:
    def __init__(self, terms: list[Term], path: str = ""):
        self.terms = sorted(terms, key=lambda t: -len(t.zh))  # longest first
        self.path = path

    @classmethod
    def load(cls, path: str | Path) -> "Glossary":
        text, _ = io.read_text(path)
        terms, seen = [], set()
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip() or line.startswith("#"):
                continue
            cols = line.split("\t")
            if n == 1 and cols[0].strip().lower() in ("zh", "chinese", "中文"):
                continue  # header
            if len(cols) < 2 or not cols[0].strip() or not cols[1].strip():
                raise io.InputError(path, f"line {n}", "expected `zh<TAB>bo[<TAB>note]`")
            zh, bo = cols[0].strip(), cols[1].strip()
            if T.tibetan_share(bo) < 0.9:
                raise io.InputError(path, f"line {n}", f"the Tibetan column is not Tibetan: {bo!r}")
            if zh in seen:
                raise io.InputError(path, f"line {n}", f"duplicate Chinese term {zh!r}")
            seen.add(zh)
            terms.append(Term(zh, bo, cols[2].strip() if len(cols) > 2 else "", T.syllables(bo)))
        if not terms:
            raise io.InputError(path, "", "the glossary has no terms")
        return cls(terms, str(path))

    def relevant(self, zh_text: str) -> list[Term]:
        return [t for t in self.terms if t.zh in zh_text]

    @staticmethod
    def found(term: Term, bo_text: str) -> bool:
        """The term's syllables in a row; the last may carry a case affix (སྨན་པའི for སྨན་པ)."""
        syls, want = T.syllables(bo_text), term.syllables
        n = len(want)
        for i in range(len(syls) - n + 1):
            if syls[i:i + n - 1] == want[:-1] and syls[i + n - 1].startswith(want[-1]) \
                    and len(syls[i + n - 1]) - len(want[-1]) <= 3:
                return True
        return False

    def check(self, pairs: list[tuple[str, str]]) -> dict:
        """How often each term in a source utterance shows up in its translation."""
        per: dict[str, dict] = {}
        for src, out in pairs:
            for t in self.relevant(src):
                row = per.setdefault(t.zh, {"bo": t.bo, "in_source": 0, "in_translation": 0})
                row["in_source"] += 1
                row["in_translation"] += self.found(t, out)
        total = sum(r["in_source"] for r in per.values())
        hit = sum(r["in_translation"] for r in per.values())
        return {"glossary": self.path, "terms": len(self.terms), "occurrences": total, "followed": hit,
                "rate": round(hit / total, 4) if total else None,
                "missed": sorted((k for k, r in per.items() if r["in_translation"] < r["in_source"]),
                                 key=lambda k: -per[k]["in_source"]),
                "per_term": per}


# ---------------------------------------------------------------- backends

class Backend(Protocol):
    name: str

    def translate(self, utterances: list[str], progress: bool) -> list[str | Exception]: ...

    def stats(self) -> dict: ...


class LLMBackend:
    """One chat request per distinct utterance, the relevant glossary terms in the system prompt;
    a reply that breaks a rule is re-asked (the rule named) up to `reasks` times."""

    def __init__(self, client, glossary: Glossary | None = None, temperature: float = 0.0, max_tokens: int = 2048,
                 reasks: int = 2):
        self.client, self.glossary = client, glossary
        self.temperature, self.max_tokens, self.reasks = temperature, max_tokens, reasks
        self.name = f"llm:{client.model}"
        self.reasked: dict[str, int] = {}
        self.gate = gate.GateTally()

    def request(self, utterance: str) -> dict:
        system = prompts.TRANSLATE_SYSTEM
        terms = self.glossary.relevant(utterance) if self.glossary else []
        if terms:
            system += prompts.TRANSLATE_GLOSSARY.format(terms="\n".join(f"{t.zh} → {t.bo}" for t in terms))
        return {"messages": [{"role": "system", "content": system}, {"role": "user", "content": utterance}],
                "temperature": self.temperature, "max_tokens": self.max_tokens,
                "prompt_version": prompts.TRANSLATE_VERSION}

    def translate(self, utterances: list[str], progress: bool) -> list[str | Exception]:
        self.client.progress = progress

        def check(src: str):
            def one(text: str) -> tuple[str, list]:
                t, dropped = gate.clean_translation(clean_reply(text))
                t = clean_reply(t) if dropped else t
                check_translation(t, src)
                return t, dropped
            return one

        async def one(src: str):
            return await ask(self.client, self.request(src), check(src), prompts.TRANSLATE_REASK, self.reasks)

        res = self.client.run(one, utterances, desc="translate")
        out: list[str | Exception] = []
        for r in res:
            self.gate.answer(r)
            if isinstance(r, Exception):
                out.append(r)
                continue
            for rule in r.broken:
                self.reasked[rule] = self.reasked.get(rule, 0) + 1
            self.gate.dropped(r.value[1])
            out.append(r.value[0])
        return out

    def stats(self) -> dict:
        return dict(self.client.stats.as_dict(), reasked=dict(self.reasked), gate=self.gate.as_dict())


class LocalBackend:
    """Sentence by sentence through a local seq2seq model."""

    def __init__(self, translator):
        self.mt = translator
        self.name = translator.name

    def translate(self, utterances: list[str], progress: bool) -> list[str | Exception]:
        per = [T.sentences(u) or [u] for u in utterances]
        flat = [s for p in per for s in p]
        outs = iter(self.mt.translate(flat, progress=progress))
        return [" ".join(next(outs) for _ in p).strip() for p in per]

    def stats(self) -> dict:
        return dict(self.mt.stats, style=self.mt.style)


def clean_reply(text: str) -> str:
    """Strip code fences, a leading label (译文：) and wrapping quotes from an LLM reply."""
    t = _FENCE_RE.sub("", (text or "").strip()).strip()
    t = _LABEL_RE.sub("", t).strip()
    if len(t) >= 2 and t[0] + t[-1] in ('""', "“”", "''", "「」", "《》"):
        t = t[1:-1].strip()
    return t


def translation_problem(out: str, source: str = "") -> str | None:
    """The rule a translated utterance breaks, as `rule X: reason`, or None."""
    try:
        check_translation(out, source)
    except RuleError as e:
        return f"rule {e.rule}: {e.reason}"
    return None


# ---------------------------------------------------------------- the run

def require_chinese(path: Path, records: list[dict]) -> None:
    sample = "\n".join(m["content"] for r in records[:200] for m in schema.dialogue_turns(r))
    census = T.script_census(sample)
    total = sum(census.values()) or 1
    if census.get("han", 0) / total < 0.3:
        lang = T.detect_lang(sample)
        hint = " (it is Tibetan already)" if lang == "bo" else ""
        raise io.InputError(path, "", f"translate expects Chinese source text, this looks {lang!r}{hint}")


def run(inp: str | Path, out: str | Path, backend: Backend, *, glossary: Glossary | None = None,
        translate_system: bool = True, progress: bool = True, on_fail: str = "dialogue") -> dict:
    """Translate `inp` into `out`. on_fail: dialogue (reject a record with an untranslatable
    utterance) or truncate (keep its whole exchanges before that utterance)."""
    inp, out = Path(inp), Path(out)
    if on_fail not in ("dialogue", "truncate"):
        raise io.HearMeError(f"--on-fail must be dialogue or truncate, got {on_fail!r}")
    records = io.load_records(inp)
    if not records:
        raise io.InputError(inp, "", "no records")
    require_chinese(inp, records)

    def wanted(m: dict) -> bool:
        return m["role"] != "system" or translate_system

    distinct = sorted({m["content"] for r in records for m in r["messages"] if wanted(m)})
    results = dict(zip(distinct, backend.translate(distinct, progress)))

    tally = io.Tally()
    kept, pairs = [], []
    for i, rec in enumerate(records):
        tally.read += 1
        msgs, problems, done = [], [], []
        first_bad = None
        for j, m in enumerate(rec["messages"]):
            if not wanted(m):
                msgs.append(dict(m))
                continue
            res = results[m["content"]]
            if isinstance(res, Rejected):
                reason = str(res)
            elif isinstance(res, Exception):
                reason = f"endpoint error: {res}"
            else:
                reason = translation_problem(res, m["content"])
            if reason:
                problems.append(f"message {j} ({m['role']}): {reason}")
                first_bad = len(msgs) if first_bad is None else first_bad
                continue
            msgs.append({"role": m["role"], "content": res})
            done.append((m["content"], res))
        where = rec.get("id") or f"record {i}"
        if problems:
            cut = _truncated(msgs[:first_bad]) if on_fail == "truncate" else None
            if cut is None:
                tally.reject(inp, where, "; ".join(problems[:3]), rec)
                continue
            msgs = cut
            done = done[:sum(1 for m in cut if m["role"] != "system" or translate_system)]
            tally.note("truncated before an untranslatable utterance")
        new = {k: v for k, v in rec.items() if k != "messages"}
        new.update(messages=msgs, lang="bo", source_lang=rec.get("lang") or "zh", translated_by=backend.name)
        schema.validate(new)
        kept.append(new)
        pairs += done  # the glossary is checked in what is written
        tally.written += 1
    io.write_records(out, kept)
    tally.write_rejects(out)
    assert tally.balanced
    report = {"input": str(inp), "output": str(out), "backend": backend.name, **tally.as_dict(),
              "utterances": len(distinct), "backend_stats": backend.stats(),
              "glossary": glossary.check(pairs) if glossary else None}
    io.write_json(out.with_name(out.name.rsplit(".", 1)[0] + ".translate.json"), report)
    fail_if_all_failed(list(results.values()))
    return report


def _truncated(msgs: list[dict]) -> list[dict] | None:
    """Whole user/assistant exchanges of `msgs` (a leading system prompt kept), or None when none is left."""
    system = [m for m in msgs[:1] if m["role"] == "system"]
    turns = msgs[len(system):]
    turns = turns[:len(turns) - len(turns) % 2]
    ok = turns and all(m["role"] == ("user" if k % 2 == 0 else "assistant") for k, m in enumerate(turns))
    return system + turns if ok else None


def fail_if_all_failed(results: list) -> None:
    """One clear line when the endpoint answered nothing usable (down, wrong URL, wrong key).

    Replies that came back but broke a rule (Rejected) are not endpoint failures."""
    if results and all(isinstance(r, Exception) and not isinstance(r, Rejected) for r in results):
        raise io.HearMeError(f"every request failed ({len(results)}); the first: {results[0]}")
