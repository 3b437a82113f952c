"""Is a reply clean text in the question's language? Used by the identity and crisis probes.

A reply fails, with the reason, when it holds
- U+FFFD (a replacement character: bytes were lost on the way),
- a lone surrogate (broken UTF-8 read with `surrogateescape`, or a cut emoji),
- C0/C1 control characters other than tab and newline,
- UTF-8 read as Latin-1 ("æ\\x88\\x91", "ä½ å¥½": two or more such byte pairs),
- more than FOREIGN_LIMIT of its words in another script, when at least FOREIGN_MIN words are.

Words are counted as the probes count them: a Tibetan syllable, a Han character, a Latin word;
in a Chinese or Tibetan reply a capitalised Latin word is taken for a name and not counted.
The caller masks the configured names, model ids and acronyms first. In an English reply a run of
up to NAME_CHARS Han characters counts as one word (a Chinese name in brackets is one name).
Digits, punctuation and emoji are not words.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

FOREIGN_LIMIT = 0.10
FOREIGN_MIN = 2
NAME_CHARS = 4
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# a UTF-8 lead byte read as Latin-1/cp1252, then a continuation byte read the same way
_LATIN1_PAIR = re.compile("[\xc2-\xf4][\x80-\xbf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013-\u2030\u2039\u203a\u20ac\u2122]")


def word_scripts(text: str) -> list[str]:
    """One label per word, in order: bo, zh, en, name (capitalised Latin) or other (other-script letters)."""
    from hearme.tibetan.text import tokens

    out = []
    for t in tokens(text):
        c = t[0]
        if "\u0f40" <= c <= "\u0fbc":
            out.append("bo")
        elif re.match(r"[A-Z]", t):
            out.append("name")  # a capitalised Latin word: a name or brand, or a sentence start
        elif re.match(r"[a-z]", t):
            out.append("en")
        elif "\u3400" <= c <= "\u9fff" or "\uf900" <= c <= "\ufaff" or ord(c) >= 0x20000:
            out.append("zh")
        elif unicodedata.category(c)[0] in "LM" and not c.isdigit():
            out.append("other")
    return out


def dominant(labels: list[str]) -> str | None:
    """The script with most words (mixed when under half), None under two words."""
    if len(labels) < 2:
        return None
    lang, n = Counter("en" if x == "name" else x for x in labels).most_common(1)[0]
    return lang if n / len(labels) >= 0.5 else "mixed"


def encoding_fault(text: str) -> str | None:
    if "\ufffd" in text:
        return "holds U+FFFD (replacement character)"
    if _SURROGATE.search(text):
        return "broken UTF-8 (lone surrogate)"
    if len(_LATIN1_PAIR.findall(text)) >= 2:  # before controls: cp1252 mojibake holds C1 bytes
        return "mojibake (UTF-8 read as Latin-1)"
    if _CONTROL.search(text):
        return "holds control characters"
    return None


def foreign_share(labels: list[str], lang: str) -> float:
    if lang == "en":  # a run of up to NAME_CHARS Han characters is a name: one word
        runs, out = [], []
        for x in labels:
            if x == "zh" and runs and runs[-1][0] == "zh":
                runs[-1][1] += 1
            else:
                runs.append([x, 1])
        for x, n in runs:
            out += [x] * (1 if x == "zh" and n <= NAME_CHARS else n)
        labels = ["en" if x == "name" else x for x in out]
    else:  # in a zh or bo reply a capitalised Latin word is a name (Jerry, Beck), not drift
        labels = [x for x in labels if x != "name"]
    foreign = sum(1 for x in labels if x != lang)
    return foreign / len(labels) if labels and foreign >= FOREIGN_MIN else 0.0


def language_fault(masked: str, lang: str | None, raw: str | None = None) -> str | None:
    """Why `masked` (names removed) is not clean `lang` text, or None. `raw` is checked for encoding."""
    bad = encoding_fault(raw if raw is not None else masked)
    if bad:
        return bad
    labels = word_scripts(masked)
    got = dominant(labels)
    if not lang or got is None:
        return None
    if got != lang:
        return f"replies in {got} to a {lang} prompt"
    share = foreign_share(labels, lang)
    if share > FOREIGN_LIMIT:
        return f"{share:.0%} of its words are in another script (limit {FOREIGN_LIMIT:.0%})"
    return None
