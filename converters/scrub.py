"""PII scrubbing: phone numbers, mainland ID numbers, bank cards, emails, QQ/WeChat ids, URLs,
street addresses and person names become typed placeholders ([PHONE], [ID], [CARD], [EMAIL],
[QQ], [WECHAT], [URL], [ADDRESS], [NAME]).

Every converter scrubs by default (convert.run calls `scrub_records`: a vectorised gate over all
text picks the few messages that could hold PII, and only those go through the patterns);
`hearme scrub` does the same for a records file. Public hotlines (12356, 400-161-9995,
010-82951332...), dates, prices, years, counts and famous psychologists' names are kept.
Matching runs on a "shadow" copy with full-width digits, letters and dashes folded to ASCII and
spoken Chinese numerals to digits (one character for one, so positions line up). Names are
found in context (我叫…, 我同事…, …老师, family members with names) with a surname list and
jieba's dictionary (a candidate that is a common word is not a name), not with jieba's `nr`
tag, which benchmarks/bench_scrub.py shows firing on ordinary words far too often.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Callable, Iterable

from hearme.core import schema
from hearme.converters.pii_gate import GATE_BATCH, candidates
from hearme.converters import pii_rules
from hearme.converters.pii_rules import EMAIL_SPELT, EMAIL_SPELT_GATE, QQ_Q, QQ_Q_GATE, ADDRESS, ALL, CHAT, NAMES, NUMBERS, PLACES, CARD, EMAIL, HOTLINES, ID15, ID18, LANDLINE, LOCAL, MOBILE, NAME_INTRO, NAME_RELATION, NAME_START, NAME_TITLE, PROVINCES, QQ, SURNAMES, URL, WECHAT, ADDRESS_HINT, CARD_CONTEXT, CN_DIGIT_MAP, CN_RUN, FULLWIDTH, FW, ID_CONTEXT, LATIN_OR_FW, NAME_GATE, NUM_GATE, PHONE_CONTEXT, PREPOSITION, QQ_LATIN, WORDY_SURNAMES, WORD_FIRST, WX_LATIN, WX_WORDS, digits_only, id_checksum_ok, is_name, dictionary_words, luhn_ok


def find_pii(text: str, families: int = ALL, name_at: list[int] | None = None) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, TYPE) spans, in text order. `families`: which pattern families
    to try, `name_at`: where names could be (the vectorised gate in `candidates` knows both)."""
    latin = LATIN_OR_FW.search(text)
    shadow = text.translate(FULLWIDTH) if latin and FW.search(text, latin.start()) else text
    if families & NUMBERS and CN_RUN.search(shadow):  # 一三八… : Chinese numerals count as digits (one for one)
        shadow = CN_RUN.sub(lambda m: m.group().translate(CN_DIGIT_MAP), shadow)
    spans: list[tuple[int, int, str]] = []

    def free(a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e, _ in spans)

    def add(m: re.Match | int, kind: str, group: int | str = 0) -> None:
        a, b = (m, group) if isinstance(m, int) else m.span(group)
        if a >= 0 and free(a, b):
            spans.append((a, b, kind))

    if families & CHAT:
        if "@" in shadow:
            for m in EMAIL.finditer(shadow):
                add(m, "EMAIL")
        if latin and ("://" in shadow or "." in shadow):
            for m in URL.finditer(shadow):
                if not re.fullmatch(r"[\d.]+", m.group()):
                    add(m, "URL")
        if "扣扣" in shadow or "企鹅" in shadow or (latin and QQ_LATIN.search(shadow)):
            for m in QQ.finditer(shadow):
                add(m, "QQ", 1)
        if latin and QQ_Q_GATE.search(shadow):
            for m in QQ_Q.finditer(shadow):
                add(m, "QQ", 1)
        if latin and EMAIL_SPELT_GATE.search(shadow):
            for m in EMAIL_SPELT.finditer(shadow):
                add(m, "EMAIL")
        if any(w in shadow for w in WX_WORDS) or (latin and WX_LATIN.search(shadow)):
            for m in WECHAT.finditer(shadow):
                add(m, "WECHAT", 1)
    if families & NUMBERS and NUM_GATE.search(shadow):
        _numbers(shadow, add)
    if families & PLACES and ADDRESS_HINT.search(shadow):
        for m in ADDRESS.finditer(shadow):
            add(m, "ADDRESS")
    if families & NAMES:
        if name_at is not None:
            _names(text, add, name_at)
        else:
            context = NAME_GATE.search(text) is not None
            if context or pii_rules.START_GATE.search(text):
                _names(text, add, None, context)
    return sorted(spans)


def _numbers(shadow: str, add) -> None:
    for pattern in (ID18, ID15):
        for m in pattern.finditer(shadow):
            d = digits_only(m.group(1)) + ("X" if m.group(1)[-1] in "Xx" else "")
            if d[:2] not in PROVINCES:
                continue
            context = ID_CONTEXT.search(shadow, max(0, m.start() - 12), m.start())
            card_context = CARD_CONTEXT.search(shadow, max(0, m.start() - 8), m.start())
            if (len(d) == 15 or id_checksum_ok(d) or context) and not (card_context and not context and luhn_ok(d)):
                add(m, "ID", 1)
    for m in CARD.finditer(shadow):
        d = digits_only(m.group(1))
        grouped = len(m.group(1)) > len(d)  # 6222 0212 3456 7898: written in fours, a card whatever its checksum
        if 16 <= len(d) <= 19 and (luhn_ok(d) or grouped or CARD_CONTEXT.search(shadow, max(0, m.start() - 12), m.start())
                                   or CARD_CONTEXT.search(shadow, m.end(), m.end() + 6)):
            add(m, "CARD", 1)
    for pattern in (MOBILE, LANDLINE, LOCAL):
        for m in pattern.finditer(shadow):
            group = next(i for i in range(1, (pattern.groups or 0) + 1) if m.group(i)) if pattern.groups else 0
            d = digits_only(m.group(group))
            if d.removeprefix("0086").removeprefix("86") in HOTLINES or d in HOTLINES:
                continue
            if pattern is LANDLINE and "." in m.group(group) and not PHONE_CONTEXT.search(
                    shadow, max(0, m.start() - 10), m.start()):
                continue  # 021.6543.2109 is a phone when called one; 0.5.2023-like runs are not
            add(m, "PHONE", group)



def _windows(text: str, name_at: list[int] | None) -> list[tuple[int, int]]:
    """Stretches of text around the gate's hits (merged), or the whole text."""
    if name_at is None:
        return [(0, len(text))]
    out: list[list[int]] = []
    for p in sorted(name_at):
        a, b = max(0, p - NAME_REACH), min(len(text), p + NAME_REACH)
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


NAME_REACH = 12  # characters either side of a gate hit that a name pattern may span


def _matches(text: str, pattern: re.Pattern, name_at: list[int] | None, windows: list[tuple[int, int]]):
    """The pattern's matches near the gate's hits: a name that starts a sentence only where the gate
    saw one (its hits come as ~position), the other patterns in windows around the other hits."""
    if pattern is NAME_START:
        if name_at is None:
            return pattern.finditer(text)
        return (m for m in (pattern.match(text, ~p) for p in name_at if p < 0) if m)
    return (m for lo, hi in windows for m in pattern.finditer(text, lo, hi))


def _names(text: str, add, name_at: list[int] | None = None, context: bool = True) -> None:
    """`context`: without the gate's positions, whether the context patterns (我叫, relations,
    titles) can match at all; a name at a sentence start is looked for anyway."""
    if name_at is None:
        windows = [(0, len(text))] if context else []
    else:
        windows = _windows(text, [p for p in name_at if p >= 0])
    for pattern in (NAME_INTRO, NAME_RELATION, NAME_TITLE, NAME_START):
        for m in _matches(text, pattern, name_at, windows):
            group = next(i for i in range(1, pattern.groups + 1) if m.group(i))
            a, b = m.span(group)
            if pattern is NAME_INTRO and m.group("latin"):  # 我叫 Kevin (matched again past the window's end)
                m = pattern.match(text, m.start())
                a, b = m.span("latin")  # only after 我叫/名字是/本人叫/姓名: 一个叫做 Forest 的应用 is no one
                if m.group().startswith(("我叫", "名字", "本人", "姓名")) and text[a:b].split()[0].capitalize() not in pii_rules.NOT_A_NAME:
                    add(a, "NAME", b)
                continue
            if pattern is NAME_TITLE and text.startswith(("的《", "《"), m.end()):
                continue  # 武志红老师的《为何家会伤人》: an author cited, a public figure
            nickname = pattern is not NAME_TITLE and group == 2
            if pattern is NAME_TITLE and b - a >= 2 and text[a] in PREPOSITION and text[a + 1] in SURNAMES:
                a += 1  # 我和李老师: the name is 李, not 和李
            if pattern is not NAME_TITLE and b - a == 3 and text[b - 1:b + 1] in dictionary_words():
                b -= 1  # 张伟可能: the name is 张伟, 可能 is a word
            if pattern is NAME_START and (text.startswith(pii_rules.CITED, b) or "某" in text[a:b] or _start_word(text, a, b)
                                          or "《" in text[max(0, a - 80):a]):
                continue  # 汪国真曾说过, 李某 (already anonymous), 高数/熊孩子/乔布斯, a character of 《三十而已》
            words = dictionary_words()
            if not nickname and (text[a] in WORDY_SURNAMES and text[a + 1:a + 3] in words
                                 or len(text) >= a + 4 and text[a:a + 4] in pii_rules.ALL_PAIRS  # 冷嘲热讽, 宁缺毋滥
                                 or pattern in (NAME_RELATION, NAME_START) and (
                                     text[a] in WORD_FIRST
                                     or b - a == 2 and text[a:b] in pii_rules.ALL_PAIRS  # 母亲管控我
                                     or text[max(0, m.start() - 1):m.start() + 1] in words)):  # 妇女儿童
                continue
            if is_name(text[a:b], pattern, nickname):
                add(a, "NAME", b)


def _start_word(text: str, a: int, b: int) -> bool:
    """A sentence-start candidate that is a word or a foreign name: a surname that is also a word
    (高, 熊, 牛...) not followed by a two-character given name that is no word (高数, 熊孩子, 何乐),
    or a given name with transliteration characters (乔布斯, 米氮平)."""
    if any(c in pii_rules.TRANSLITERATED for c in text[a + 1:b]):
        return True
    return text[a] in WORDY_SURNAMES | set("熊莫梅夏曲宁米左杜") and (
        b - a != 3 or text[a:a + 2] in pii_rules.ALL_PAIRS or text[a + 1:a + 3] in pii_rules.ALL_PAIRS)


def scrub_text(text: str, families: int = ALL, name_at: list[int] | None = None,
               replace: Callable[[str, str], str] | None = None) -> tuple[str, Counter]:
    """(scrubbed text, counts per TYPE). Each span becomes [TYPE], or replace(TYPE, original)."""
    spans = find_pii(text, families, name_at)
    counts: Counter = Counter()
    if not spans:
        return text, counts
    out, last = [], 0
    for a, b, kind in spans:
        out.append(text[last:a])
        out.append(f"[{kind}]" if replace is None else replace(kind, text[a:b]))
        counts[kind] += 1
        last = b
    out.append(text[last:])
    return "".join(out), counts


def scrub_record(record: schema.Record, tally=None) -> schema.Record:
    """A copy of the record with every message scrubbed; counts go to tally.note('pii TYPE').

    The whole dialogue is checked at once first (most have nothing to scrub)."""
    msgs = record["messages"]
    if not find_pii("\x00".join(m["content"] for m in msgs)):
        return record
    new_msgs = []
    changed = False
    for m in msgs:
        text, counts = scrub_text(m["content"])
        if counts:
            changed = True
            if tally is not None:
                for kind, n in counts.items():
                    tally.note(f"pii {kind}", n)
        new_msgs.append({**m, "content": text} if counts else m)
    return {**record, "messages": new_msgs} if changed else record


PII_MODES = ("tags", "surrogate")


def scrub_records(records: Iterable[schema.Record], tally=None, mode: str = "tags", seed: int = 0) -> list[schema.Record]:
    """scrub_record for many records: a vectorised gate (numpy, over all their text at once) picks
    the messages that could hold PII; only those go through the patterns. mode "tags": [TYPE]
    placeholders; "surrogate": consistent fakes per dialogue (surrogate.py), and every record
    says so in its `pii` field (the data card reports it)."""
    import numpy as np

    if mode not in PII_MODES:
        raise ValueError(f"--pii {mode!r}: expected one of {', '.join(PII_MODES)}")
    records = list(records)
    out = list(records) if mode == "tags" else [{**r, "pii": "surrogate"} for r in records]
    fakes: dict[int, object] = {}

    def replacer(i: int):
        if mode == "tags":
            return None
        if i not in fakes:
            from hearme.converters.surrogate import Surrogates

            text = "\x00".join(m["content"] for m in records[i]["messages"])
            fakes[i] = Surrogates(seed, str(records[i].get("id", i)), text)
        return fakes[i].fake
    texts = [m["content"] for r in records for m in r["messages"]]
    bounds = np.cumsum([0] + [len(r["messages"]) for r in records])  # record i: texts[bounds[i]:bounds[i + 1]]
    chars = np.concatenate([[0], np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)))])[bounds]
    first = 0
    while first < len(records):  # batches of about GATE_BATCH characters, whole records
        last = max(first + 1, min(len(records), int(np.searchsorted(chars, chars[first] + GATE_BATCH))))
        lo = int(bounds[first])
        fam, name_at = candidates(texts[lo:int(bounds[last])], with_positions=True)
        flagged = np.flatnonzero(fam)
        for i, k in zip((np.searchsorted(bounds, flagged + lo, side="right") - 1).tolist(), flagged.tolist()):
            msgs = out[i]["messages"]
            j = k + lo - int(bounds[i])
            text, counts = scrub_text(msgs[j]["content"], int(fam[k]), name_at.get(k), replacer(i))
            if counts:
                if msgs is records[i]["messages"]:  # the first change to this record: copy it
                    msgs = list(msgs)
                    out[i] = {**out[i], "messages": msgs}
                msgs[j] = {**msgs[j], "content": text}
                if tally is not None:
                    for kind, n in counts.items():
                        tally.note(f"pii {kind}", n)
        first = last
    for i, fake in fakes.items():  # surrogates: a name found in one turn is replaced in every turn
        msgs = list(out[i]["messages"])
        for j, m in enumerate(msgs):
            text, n = fake.repeats(m["content"])
            if n:
                msgs[j] = {**m, "content": text}
                if tally is not None:
                    tally.note("pii NAME", n)
        if msgs != out[i]["messages"]:
            out[i] = {**out[i], "messages": msgs}
    return out


def evaluate(cases: Iterable[tuple[str, list[tuple[str, str]]]]) -> dict[str, dict]:
    """Recall and precision per TYPE on planted cases (text, [(TYPE, value), ...]).

    A planted value is found if a span of its TYPE overlaps it and the value is gone from the
    scrubbed text; a span is right if it overlaps a planted value of its TYPE (negatives have none)."""
    stats: dict[str, Counter] = {}
    misses: list[tuple[str, str, str]] = []
    for text, planted in cases:
        spans = find_pii(text)
        scrubbed, _ = scrub_text(text)
        where = [(kind, text.index(value), text.index(value) + len(value), value) for kind, value in planted]
        for kind, a, b, value in where:
            s = stats.setdefault(kind, Counter())
            s["planted"] += 1
            if value not in scrubbed and any(k == kind and x < b and y > a for x, y, k in spans):
                s["found"] += 1
            else:
                misses.append((kind, text, scrubbed))
        for x, y, k in spans:
            s = stats.setdefault(k, Counter())
            s["flagged"] += 1
            if any(kind == k and x < b and y > a for kind, a, b, _ in where):
                s["right"] += 1
            else:
                misses.append((f"false {k}", text, scrubbed))
    out = {k: {"planted": s["planted"], "flagged": s["flagged"],
               "recall": s["found"] / s["planted"] if s["planted"] else 1.0,
               "precision": s["right"] / s["flagged"] if s["flagged"] else 1.0} for k, s in sorted(stats.items())}
    out["_misses"] = misses  # type: ignore[assignment]
    return out
