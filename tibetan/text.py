"""Tibetan text core, dependency-free: normalization, syllables, script census, well-formedness.

Follows the spec in shared/notes/tibetan-and-judge.md §1.3-1.4. botok's word tokenizer
cannot work offline, so HearMe segments on the tsheg with one regex scan.
Raw text is stored as is; normalize only for computing (metrics, LM, filters).
"""

from __future__ import annotations

import functools
import re
import unicodedata
from bisect import bisect_right
from collections import Counter
from pathlib import Path

ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff\u00ad"
_ZERO_WIDTH_RE = re.compile(f"[{ZERO_WIDTH}]")
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
HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U000323af"


def _mark_ranges() -> str:
    """Combining marks (Mn/Mc/Me) outside Tibetan, as a regex class body: they stay inside words."""
    spans, start, prev = [], None, None
    for cp in range(0x300, 0x20000):
        if 0x0F00 <= cp <= 0x0FFF or unicodedata.category(chr(cp))[0] != "M":
            continue
        if prev is not None and cp == prev + 1:
            prev = cp
            continue
        if start is not None:
            spans.append((start, prev))
        start = prev = cp
    spans.append((start, prev))
    return "".join(re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}" for a, b in spans)


OTHER_MARKS = _mark_ranges()
# An other-script word: a letter (not digit, underscore, Tibetan or Han), then letters or marks.
_LETTER = rf"[^\W\d_\u0f00-\u0fff{HAN}]"
_TOKEN_RE = re.compile(
    rf"(?P<syl>[{SYL_CHARS}]+)"
    r"|(?P<num>[\u0f20-\u0f33]+|[0-9]+(?:[.,][0-9]+)*)"
    rf"|(?P<shad>[{SHAD_CHARS}]+)"
    rf"|(?P<han>[{HAN}])"
    rf"|(?P<word>{_LETTER}(?:{_LETTER}|[{OTHER_MARKS}])*)"
)
_SYL_RE = re.compile(rf"[{SYL_CHARS}]+")
_WELL_FORMED = re.compile(
    r"^(?:[\u0f40-\u0f6c\u0f88-\u0f8c][\u0f8d-\u0fbc\u0f39]*[\u0f71-\u0f87\u0f35\u0f37\u0f3e\u0f3f\u0fc6]*)+$"
)
# Sentence ends: Chinese/Latin terminal punctuation, or a Tibetan shad (after normalization).
_SENT_END_RE = re.compile(rf"[。！？!?；;…]+[”」』）)\"']*|[{SHAD_CHARS}]+")
SHAD = "\u0f0d"
TSHEG = "\u0f0b"


def count_zero_width(text: str) -> int:
    """Zero-width characters `normalize` deletes (ZWSP, ZWNJ, ZWJ, WJ, BOM, soft hyphen)."""
    return len(_ZERO_WIDTH_RE.findall(text))


def normalize(text: str) -> str:
    """Strip zero-width characters, fold the deprecated/variant code points, then NFC.

    Replacing before NFC keeps the result canonically ordered. Never NFKC: it would also
    fold Chinese full-width punctuation (，→,) in mixed text.
    """
    text = _ZERO_WIDTH_RE.sub("", text)
    if any(c in text for c in REPLACE):
        text = _REPLACE_RE.sub(lambda m: REPLACE[m.group()], text)
    return unicodedata.normalize("NFC", text)


def tokens(text: str, *, keep_shad: bool = False, norm: bool = True) -> list[str]:
    """Syllables, numbers, Han characters and other-script words, in order.

    Tsheg, head marks, spaces and punctuation are delimiters. With keep_shad a
    sentence boundary becomes one `།` token (for language models).
    """
    if norm:
        text = normalize(text)
    out: list[str] = []
    for m in _TOKEN_RE.finditer(text):
        if m.lastgroup == "shad":
            if keep_shad and out and out[-1] != SHAD:
                out.append(SHAD)
        else:
            out.append(m.group())
    return out


def syllables(text: str, norm: bool = True) -> list[str]:
    """Tibetan syllables only (numbers and other scripts dropped)."""
    return _SYL_RE.findall(normalize(text) if norm else text)


def segment(text: str) -> str:
    """Space-joined tokens: what `hearme tibetan segment` prints."""
    return " ".join(tokens(text))


def sentences(text: str) -> list[str]:
    """Split after 。！？!?；; … or a shad run; pieces keep their punctuation, blanks are dropped."""
    pieces, start = [], 0
    for m in _SENT_END_RE.finditer(text):
        pieces.append(text[start:m.end()])
        start = m.end()
    pieces.append(text[start:])
    return [s for s in (p.strip() for p in pieces) if s]


def is_well_formed(syllable: str) -> bool:
    """A base letter first, marks never before a base, and one syllable's shape.

    Native syllables must parse as [prefix] root [suffix [post-suffix]] or an open syllable
    with a case affix (འི, འོ, འང ...): two syllables merged into one (a zero-width space
    removed where a tsheg belonged) fail. Sanskrit-style syllables (retroflex letters, long
    vowels, anusvara, fixed forms) only need the stack order.
    """
    if not _WELL_FORMED.match(syllable):
        return False
    if _SANSKRIT.search(syllable) or _foreign_stack(syllable) or syllable in known_syllables():
        return True
    return _native_shape(syllable)


WORDS_PATH = Path(__file__).with_name("bo_words.txt")


@functools.lru_cache(maxsize=1)
def words() -> dict[str, int]:
    """The shipped Tibetan word list (bo_words.txt, derived from bospell, MIT): word -> frequency."""
    out = {}
    for line in WORDS_PATH.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            word, _, freq = line.partition("\t")
            out[word] = int(freq or 0)
    return out


@functools.lru_cache(maxsize=1)
def known_syllables() -> frozenset[str]:
    """Syllables of the shipped word list that have a proper stack order (loans such as པདྨ included)."""
    return frozenset(s for w in words() for s in w.split(TSHEG) if _WELL_FORMED.match(s) and not _DOUBLED_MARK.search(s))


# Letters and marks that only occur in transliterated Sanskrit (mantras, names).
_SANSKRIT = re.compile(r"[\u0f4a-\u0f4e\u0f65\u0f69\u0f6a-\u0f6c\u0f71\u0f73\u0f75-\u0f79\u0f7b\u0f7d-\u0f7f"
                       r"\u0f81-\u0f87\u0f88-\u0f8c\u0f9a-\u0f9e\u0fa5\u0fb9-\u0fbc\u0f39\u0f35\u0f37\u0fc6]")
_STACK_RE = re.compile(r"([\u0f40-\u0f6c])([\u0f8d-\u0fbc]*)([\u0f71-\u0f87]*)")
_DOUBLED_MARK = re.compile(r"([\u0f71-\u0f87])\1")  # ནེེ: a typo in the word list
PREFIXES = frozenset("གདབམའ")
SUFFIXES = frozenset("གངདནབམའརལས")
POST_SUFFIXES = frozenset("སད")
AFFIX_VOWELS = frozenset(("", "\u0f72", "\u0f74", "\u0f7c"))  # འ, འི, འུ, འོ
AFFIX_TAILS = frozenset("སརངམལན")                              # འིས, འང, འམ ...


_SUPERSCRIPTS = frozenset("རལས")
_SUBSCRIPTS = frozenset("\u0fb1\u0fb2\u0fb3\u0fad")  # subjoined ya, ra, la, wa


def _foreign_stack(syllable: str) -> bool:
    """A stack Tibetan spelling never builds (དྨ in པདྨེ, ནྡ, ཏྟ): a transliterated word, judged leniently."""
    for base, sub, _ in _STACK_RE.findall(syllable):
        if sub and base not in _SUPERSCRIPTS and sub[0] not in _SUBSCRIPTS:
            return True
    return False


def _native_shape(syllable: str) -> bool:
    stacks = [(m.group(1), m.group(2), m.group(3)) for m in _STACK_RE.finditer(syllable)]
    bare = [not sub and not vow for _, sub, vow in stacks]
    for start in (0, 1):  # without / with a prefix letter
        if start and not (len(stacks) > 1 and bare[0] and stacks[0][0] in PREFIXES):
            continue
        if start >= len(stacks) or len(stacks[start][2]) > 1:
            continue
        if _tail_ok(stacks[start + 1:], bare[start + 1:], open_root=True):
            return True
    return False


def _tail_ok(stacks: list, bare: list, open_root: bool) -> bool:
    """What follows the root: suffix (+ post-suffix), or a case affix after an open syllable."""
    letters = [b for b, _, _ in stacks]
    if not stacks:
        return True
    if len(stacks) > 1 and bare[0] and letters[0] == "\u0f60" and stacks[1][0] == "\u0f60":
        return _tail_ok(stacks[1:], bare[1:], open_root)  # suffix འ before a case affix: མཐའའི
    if all(bare) and len(stacks) <= 2:
        if letters[0] in SUFFIXES and (len(letters) == 1 or letters[1] in POST_SUFFIXES):
            return True
    # affix: འ with at most one vowel sign (no subjoined), then at most one bare tail letter
    b0, sub0, vow0 = stacks[0]
    if open_root and b0 == "\u0f60" and not sub0 and vow0 in AFFIX_VOWELS and len(stacks) <= 2:
        return len(stacks) == 1 or (bare[1] and letters[1] in AFFIX_TAILS)
    return False


def well_formed_ratio(text: str) -> float:
    syls = syllables(text)
    return sum(map(is_well_formed, syls)) / len(syls) if syls else 0.0


# ---------------------------------------------------------------- scripts

_SCRIPT_RANGES = [  # (first, last, script); sorted, non-overlapping
    (0x0000, 0x02AF, "latin"), (0x0370, 0x03FF, "greek"), (0x0400, 0x052F, "cyrillic"),
    (0x0530, 0x058F, "armenian"), (0x0590, 0x05FF, "hebrew"), (0x0600, 0x06FF, "arabic"),
    (0x0750, 0x077F, "arabic"), (0x0900, 0x097F, "devanagari"), (0x0980, 0x09FF, "bengali"),
    (0x0A00, 0x0A7F, "gurmukhi"), (0x0A80, 0x0AFF, "gujarati"), (0x0B00, 0x0B7F, "oriya"),
    (0x0B80, 0x0BFF, "tamil"), (0x0C00, 0x0C7F, "telugu"), (0x0C80, 0x0CFF, "kannada"),
    (0x0D00, 0x0D7F, "malayalam"), (0x0D80, 0x0DFF, "sinhala"), (0x0E00, 0x0E7F, "thai"),
    (0x0E80, 0x0EFF, "lao"), (0x0F00, 0x0FFF, "tibetan"), (0x1000, 0x109F, "myanmar"),
    (0x10A0, 0x10FF, "georgian"), (0x1100, 0x11FF, "hangul"), (0x1200, 0x139F, "ethiopic"),
    (0x1780, 0x17FF, "khmer"), (0x1800, 0x18AF, "mongolian"), (0x1C90, 0x1CBF, "georgian"),
    (0x1E00, 0x1EFF, "latin"), (0x1F00, 0x1FFF, "greek"), (0x2D00, 0x2D2F, "georgian"),
    (0x2E80, 0x2FDF, "han"), (0x3005, 0x3007, "han"), (0x3040, 0x309F, "hiragana"),
    (0x30A0, 0x30FF, "katakana"), (0x3100, 0x312F, "bopomofo"), (0x3130, 0x318F, "hangul"),
    (0x31F0, 0x31FF, "katakana"), (0x3400, 0x4DBF, "han"), (0x4E00, 0x9FFF, "han"),
    (0xA960, 0xA97F, "hangul"), (0xAC00, 0xD7AF, "hangul"), (0xF900, 0xFAFF, "han"),
    (0xFF21, 0xFF3A, "latin"), (0xFF41, 0xFF5A, "latin"), (0xFF66, 0xFF9F, "katakana"),
    (0x20000, 0x323AF, "han"),
]
_RANGE_STARTS = [r[0] for r in _SCRIPT_RANGES]
_INHERITED = ((0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F))
# Fast path: Tibetan letters/marks are counted by regex; the rest of the Tibetan block,
# ASCII and whitespace are never letters of another script, so they are stripped first.
_NON_LETTER_FAST = re.compile(r"[\u0f00-\u0fff\s!-@\[-`{-~\u3000-\u303f\uff01-\uff20\u2010-\u206f]+")


def script_of(ch: str) -> str:
    """Coarse script of one letter: tibetan, han, latin, lao, ... (else the Unicode name's first word)."""
    o = ord(ch)
    i = bisect_right(_RANGE_STARTS, o) - 1
    if i >= 0 and o <= _SCRIPT_RANGES[i][1]:
        return _SCRIPT_RANGES[i][2]
    if any(a <= o <= b for a, b in _INHERITED):
        return "inherited"
    name = unicodedata.name(ch, "")
    return name.split(" ")[0].lower() if name else "unknown"


def script_census(text: str) -> dict[str, int]:
    """Count letters and marks (L*/M*) per script; digits, spaces, punctuation and emoji are ignored.

    Combining diacritics (e.g. U+0301) count toward the script of the letter they sit on.
    """
    text = normalize(text)
    counts: Counter[str] = Counter()
    n_tib = sum(map(len, _SYL_RE.findall(text))) + text.count("\u0f18") + text.count("\u0f19")
    if n_tib:
        counts["tibetan"] = n_tib
    last = "unknown"
    for ch in _NON_LETTER_FAST.sub("", text):
        if unicodedata.category(ch)[0] not in "LM":
            continue
        script = script_of(ch)
        if script == "inherited":
            script = last
        counts[script] += 1
        last = script
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
    """'bo', 'zh', 'en' or 'mixed' from the script census ('zh' when there are no letters)."""
    c = script_census(text)
    total = sum(c.values())
    if not total:
        return "zh"
    shares = {k: v / total for k, v in c.items()}
    for script, lang in (("tibetan", "bo"), ("han", "zh"), ("latin", "en")):
        if shares.get(script, 0) >= 0.6:
            return lang
    return "mixed"
