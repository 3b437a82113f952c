"""Tibetan text core, dependency-free: normalization, syllables, script census, well-formedness.

Follows the spec in shared/notes/tibetan-and-judge.md §1.3-1.4. botok's word tokenizer
cannot work offline, so HearMe segments on the tsheg with one regex scan.
Raw text is stored as is; normalize only for computing (metrics, LM, filters).
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"))
REPLACE = {
    "\u0f77": "\u0fb2\u0f71\u0f80",  # deprecated vocalic rr
    "\u0f79": "\u0fb3\u0f71\u0f80",  # deprecated vocalic ll
    "\u0f0c": "\u0f0b",              # non-breaking tsheg -> tsheg
    "\u0fd2": "\u0f0b",              # nyis tsheg -> tsheg
    "\u0f0e": "\u0f0d\u0f0d",        # nyis shad -> two shads
    "\u0f00": "\u0f68\u0f7c\u0f7e",  # OM ligature
}
_REPLACE_RE = re.compile("|".join(map(re.escape, REPLACE)))

SYL_CHARS = "\u0f40-\u0f6c\u0f71-\u0f87\u0f88-\u0f8c\u0f8d-\u0fbc\u0f35\u0f37\u0f39\u0f3e\u0f3f\u0fc6"
SHAD_CHARS = "\u0f08\u0f0d-\u0f12\u0f14"
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN_RE = re.compile(
    rf"(?P<syl>[{SYL_CHARS}]+)"
    r"|(?P<num>[\u0f20-\u0f33]+|[0-9]+(?:[.,][0-9]+)*)"
    rf"|(?P<shad>[{SHAD_CHARS}]+)"
    rf"|(?P<han>[{HAN}])"
    r"|(?P<word>[^\W\d_\u0f00-\u0fff]+)"
)
_WELL_FORMED = re.compile(
    r"^(?:[\u0f40-\u0f6c\u0f88-\u0f8c][\u0f8d-\u0fbc\u0f39]*[\u0f71-\u0f87\u0f35\u0f37\u0f3e\u0f3f]*)+$"
)
SHAD = "\u0f0d"
TSHEG = "\u0f0b"


def normalize(text: str) -> str:
    """NFC, strip zero-width characters, and fold the deprecated/variant code points.

    Never NFKC: it would also fold Chinese full-width punctuation in mixed text.
    """
    text = unicodedata.normalize("NFC", text).translate(ZERO_WIDTH)
    return _REPLACE_RE.sub(lambda m: REPLACE[m.group()], text)


def tokens(text: str, *, keep_shad: bool = False, norm: bool = True) -> list[str]:
    """Syllables, numbers, Han characters and other-script words, in order.

    Tsheg, head marks, spaces and punctuation are delimiters. With keep_shad a
    sentence boundary becomes one `།` token (for language models).
    """
    if norm:
        text = normalize(text)
    out = []
    for m in _TOKEN_RE.finditer(text):
        kind = m.lastgroup
        if kind == "shad":
            if keep_shad and out and out[-1] != SHAD:
                out.append(SHAD)
        else:
            out.append(m.group())
    return out


def syllables(text: str, norm: bool = True) -> list[str]:
    """Tibetan syllables only (numbers and other scripts dropped)."""
    if norm:
        text = normalize(text)
    return [m.group() for m in _TOKEN_RE.finditer(text) if m.lastgroup == "syl"]


def segment(text: str) -> str:
    """Space-joined tokens: what `hearme tibetan segment` prints."""
    return " ".join(tokens(text))


def is_well_formed(syllable: str) -> bool:
    """A base letter first; marks never precede a base (stray vowel signs are malformed)."""
    return bool(_WELL_FORMED.match(syllable))


def well_formed_ratio(text: str) -> float:
    syls = syllables(text)
    return sum(map(is_well_formed, syls)) / len(syls) if syls else 0.0


def script_of(ch: str) -> str:
    """Coarse script of one letter: tibetan, han, latin, or the Unicode name's first word."""
    o = ord(ch)
    if 0x0F00 <= o <= 0x0FFF:
        return "tibetan"
    if 0x3400 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF:
        return "han"
    if o < 0x250:
        return "latin"
    name = unicodedata.name(ch, "")
    return name.split(" ")[0].lower() if name else "unknown"


def script_census(text: str) -> dict[str, int]:
    """Count letters and marks (L*/M*) per script; digits, spaces, punctuation and emoji are ignored."""
    counts: Counter[str] = Counter()
    for ch in normalize(text):
        if unicodedata.category(ch)[0] in "LM":
            counts[script_of(ch)] += 1
    return dict(counts)


def tibetan_share(text: str) -> float:
    """Share of letters/marks that are Tibetan (0.0 when there are no letters)."""
    c = script_census(text)
    total = sum(c.values())
    return c.get("tibetan", 0) / total if total else 0.0


def is_tibetan(text: str, min_share: float = 0.5) -> bool:
    return tibetan_share(text) >= min_share


def count_units(text: str) -> int:
    """Length in the paper's units: Tibetan syllables if the text is Tibetan, else characters."""
    return len(syllables(text)) if is_tibetan(text) else len(text)


def detect_lang(text: str) -> str:
    """'bo', 'zh', 'en' or 'mixed' from the script census."""
    c = script_census(text)
    total = sum(c.values())
    if not total:
        return "zh"
    shares = {k: v / total for k, v in c.items()}
    for script, lang in (("tibetan", "bo"), ("han", "zh"), ("latin", "en")):
        if shares.get(script, 0) >= 0.6:
            return lang
    return "mixed"
