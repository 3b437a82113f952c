"""PII scrubbing: phone numbers, mainland ID numbers, emails, QQ/WeChat ids and street addresses
become typed placeholders ([PHONE], [ID], [EMAIL], [QQ], [WECHAT], [ADDRESS]).

Every converter runs `scrub_record` by default (base.run), `hearme scrub` runs it on a records
file. Public hotlines (12356, 400-161-9995, 010-82951332...), dates, prices, years and
percentages are kept. Matching runs on a "shadow" copy with full-width digits and letters
folded to ASCII (one character for one, so positions line up with the original).
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Iterable

from hearme import schema


_FULLWIDTH = {**{0xFF10 + i: ord("0") + i for i in range(10)},
              **{0xFF21 + i: ord("A") + i for i in range(26)},
              **{0xFF41 + i: ord("a") + i for i in range(26)},
              ord("＠"): "@", ord("＋"): "+", ord("－"): "-", ord("．"): ".", ord("（"): "(", ord("）"): ")",
              ord("\u3000"): " ", ord("—"): "-", ord("＿"): "_"}

# Cheap gates, so that ordinary Chinese text costs three fast scans: each family of patterns
# runs only on text that could hold a match.
_FW_CHARS = "\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\uff20\uff0b\uff0d"  # full-width digits, letters, @ + -
_FW = re.compile(f"[{_FW_CHARS}]")
_LATIN_OR_FW = re.compile(f"[A-Za-z{_FW_CHARS}]")
_DIGIT_GATE = re.compile(r"\d(?:[\d \-()+]{5,}\d|\s*[号弄栋幢])")
_NUM_GATE = re.compile(r"\d[\d \-()+]{5,}\d")  # 7+ digits-and-separators (phones, IDs)
_QQ_LATIN = re.compile(r"[qQ]{2}")
_WX_LATIN = re.compile(r"weixin|[vw]x", re.I)
_WX_WORDS = ("微信", "薇信", "威信", "V信", "v信")

_B, _E = r"(?<![0-9A-Za-z])", r"(?![0-9A-Za-z])"
_SEP = r"[ -]?"
_COLON = r"\s*(?:是|为|:|：|=)?\s*(?:是|为|:|：)?\s*"

EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
QQ = re.compile(r"(?:(?<![A-Za-z])(?:qq|QQ|Qq|qQ)|扣扣|企鹅)\s*(?:号码|号|账号|群)?" + _COLON + r"([1-9]\d{4,11})(?!\d)")
WECHAT = re.compile(r"(?:微信|薇信|威信|(?<![A-Za-z])(?:weixin|vx|wx|v信)(?![A-Za-z]))\s*(?:号码|号|账号|id)?" + _COLON
                    + r"([A-Za-z][-_A-Za-z0-9]{5,19}|\+?\d{6,13})(?![-_A-Za-z0-9])", re.I)
ID18 = re.compile(_B + r"([1-9]\d{5}" + _SEP + r"(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
                  + _SEP + r"\d{3}[0-9Xx])" + _E)
ID15 = re.compile(_B + r"([1-9]\d{5}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3})" + _E)
MOBILE = re.compile(_B + r"((?:[(（]?(?:\+|00)86[)）]?" + _SEP + r")?1[3-9]\d" + _SEP + r"\d{4}" + _SEP + r"\d{4})" + _E)
LANDLINE = re.compile(r"(?<![0-9A-Za-z])((?:[(（]0\d{2,3}[)）]|0\d{2,3})" + _SEP + r"[2-9]\d{2,3}" + _SEP + r"\d{4}"
                      + r"(?:" + _SEP + r"(?:转|ext\.?)\s*\d{1,5})?)" + _E
                      + r"|" + _B + r"((?:\+|00)86" + _SEP + r"[1-9]\d{1,2}" + _SEP + r"[2-9]\d{2,3}" + _SEP + r"\d{4})" + _E)
LOCAL = re.compile(r"(?:电话|座机|手机|联系方式|tel|phone)\s*(?:号码|号)?" + _COLON + r"([2-9]\d{3}" + _SEP + r"\d{4})" + _E, re.I)

# Street addresses: [province][city][district][town] road + number (+ building/unit/room),
# or a housing estate with building/unit/room numbers. Place-name characters exclude the
# little words that usually stand just before an address (住在, 寄到, 地址是...).
_P = r"(?:(?![在住是到于址从往去回的我你他她们了就要把寄送搬家有个写填留诉说叫问约见过着记])[\u4e00-\u9fa5])"
_ROOM = r"(?:\d+(?:栋|幢|座|号楼))?(?:\d+单元)?(?:\d+(?:楼|层))?(?:\d+(?:室|房|号房))?"
ADDRESS = re.compile(
    rf"(?:{_P}{{2,4}}(?:省|自治区))?(?:{_P}{{2,5}}(?:市|州|盟))?(?:{_P}{{1,5}}(?:区|县|旗))?(?:{_P}{{1,5}}(?:镇|乡|街道))?"
    rf"(?:{_P}{{1,5}}(?:路|街|大街|大道|巷|弄|胡同)\d+(?:号|弄)(?:院)?{_ROOM}"
    rf"|{_P}{{2,5}}(?:小区|花园|公寓|大厦|新村|家园|苑)\d+(?:栋|幢|号楼)(?:\d+单元)?(?:\d+(?:楼|层))?(?:\d+(?:室|房))?)")
_ADDRESS_HINT = re.compile(r"\d\s*(?:号|弄|栋|幢)")

PROVINCES = {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42",
             "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82",
             "83", "91"}
# Public hotlines are help, not PII (digits only).
HOTLINES = {"4001619995", "01082951332", "8008101117", "02164383562", "02012320", "057185029595", "02512320",
            "4008181585", "01065387000", "01062715275", "02885528466"}
_ID_CONTEXT = re.compile(r"身份证|证件|ID", re.I)


def _id_checksum_ok(digits: str) -> bool:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(digits[:17], weights))
    return "10X98765432"[total % 11] == digits[17].upper()


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


def find_pii(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, TYPE) spans, in text order."""
    latin = _LATIN_OR_FW.search(text)
    shadow = text.translate(_FULLWIDTH) if latin and _FW.search(text, latin.start()) else text
    spans: list[tuple[int, int, str]] = []

    def free(a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e, _ in spans)

    def add(m: re.Match, kind: str, group: int = 0) -> None:
        a, b = m.span(group)
        if a >= 0 and free(a, b):
            spans.append((a, b, kind))

    if "@" in shadow:
        for m in EMAIL.finditer(shadow):
            add(m, "EMAIL")
    if "扣扣" in shadow or "企鹅" in shadow or (latin and _QQ_LATIN.search(shadow)):
        for m in QQ.finditer(shadow):
            add(m, "QQ", 1)
    if any(w in shadow for w in _WX_WORDS) or (latin and _WX_LATIN.search(shadow)):
        for m in WECHAT.finditer(shadow):
            add(m, "WECHAT", 1)
    digits = _DIGIT_GATE.search(shadow)
    numbers = digits is not None and _NUM_GATE.search(shadow, digits.start()) is not None
    for pattern in (ID18, ID15) if numbers else ():
        for m in pattern.finditer(shadow):
            d = _digits(m.group(1)) + ("X" if m.group(1)[-1] in "Xx" else "")
            if d[:2] not in PROVINCES:
                continue
            context = _ID_CONTEXT.search(shadow, max(0, m.start() - 12), m.start())
            if len(d) == 15 or _id_checksum_ok(d) or context:
                add(m, "ID", 1)
    for pattern in (MOBILE, LANDLINE, LOCAL) if numbers else ():
        for m in pattern.finditer(shadow):
            group = next(i for i in range(1, (pattern.groups or 0) + 1) if m.group(i)) if pattern.groups else 0
            if _digits(m.group(group)).removeprefix("0086").removeprefix("86") not in HOTLINES \
                    and _digits(m.group(group)) not in HOTLINES:
                add(m, "PHONE", group)
    if digits is not None and _ADDRESS_HINT.search(shadow, digits.start()):
        for m in ADDRESS.finditer(shadow):
            add(m, "ADDRESS")
    return sorted(spans)


def scrub_text(text: str) -> tuple[str, Counter]:
    """(scrubbed text, counts per TYPE)."""
    spans = find_pii(text)
    counts: Counter = Counter()
    if not spans:
        return text, counts
    out, last = [], 0
    for a, b, kind in spans:
        out.append(text[last:a])
        out.append(f"[{kind}]")
        counts[kind] += 1
        last = b
    out.append(text[last:])
    return "".join(out), counts


def scrub_record(record: schema.Record, tally=None) -> schema.Record:
    """A copy of the record with every message scrubbed; counts go to tally.note('pii TYPE')."""
    new_msgs = []
    changed = False
    for m in record["messages"]:
        text, counts = scrub_text(m["content"])
        if counts:
            changed = True
            if tally is not None:
                for kind, n in counts.items():
                    tally.note(f"pii {kind}", n)
        new_msgs.append({**m, "content": text} if counts else m)
    return {**record, "messages": new_msgs} if changed else record


def scrub_records(records: Iterable[schema.Record], tally=None) -> list[schema.Record]:
    return [scrub_record(r, tally) for r in records]
