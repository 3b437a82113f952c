"""Broken Tibetan built from clean lines, to measure what the filter keeps and rejects.

The classes of the issue that made the filter what it is: syllables shuffled, in reverse order,
drawn at random from the lines' own vocabulary, stuttered (each syllable twice), Tibetan with
a Chinese word or a Chinese clause left in, and other scripts posing as Tibetan (the paper's
Figure 3: Georgian, Lao, Oriya). Sentence lengths and shads stay where they were, so only the
order or the script gives a line away. Deterministic for a given seed.
"""

from __future__ import annotations

import random

from hearme.tibetan import text as T

CLASSES = ("shuffled", "reversed", "random", "stutter", "chinese word", "chinese clause", "other script")

# Our own Chinese: words and clauses a translation step may leave behind.
ZH_WORDS = ["焦虑", "心理咨询", "抑郁", "失眠", "朋友", "压力", "老师", "考试", "家人", "情绪"]
ZH_CLAUSES = ["我最近总是睡不好觉", "你可以试着和家人聊一聊", "这种感觉很正常", "（注：以上为译文）",
              "请不要太担心", "我们一起想想办法", "他说的话让我很难过"]
# Letters of scripts that pose as Tibetan in broken MT output (Georgian, Lao, Oriya).
OTHER_SCRIPTS = {"georgian": (0x10D0, 0x10F0), "lao": (0x0E81, 0x0EAE), "oriya": (0x0B15, 0x0B39)}


def layout(line: str) -> list[list[str]]:
    """The line's sentences as syllable lists."""
    return [syls for syls in (T.syllables(s) for s in T.sentences(line)) if syls]


def rebuild(sentences: list[list[str]]) -> str:
    return "".join(T.TSHEG.join(s) + T.SHAD for s in sentences if s)


def _refill(line: str, syls: list[str]) -> str:
    """The line's sentence layout filled with `syls` in order."""
    out, i = [], 0
    for s in layout(line):
        out.append(syls[i:i + len(s)])
        i += len(s)
    return rebuild(out)


def shuffled(line: str, rng: random.Random) -> str:
    syls = T.syllables(line)
    rng.shuffle(syls)
    return _refill(line, syls)


def reversed_order(line: str, rng: random.Random) -> str:
    return _refill(line, T.syllables(line)[::-1])


def random_syllables(line: str, rng: random.Random, vocab: list[str]) -> str:
    return _refill(line, [rng.choice(vocab) for _ in T.syllables(line)])


def stutter(line: str, rng: random.Random) -> str:
    return rebuild([[x for y in s for x in (y, y)] for s in layout(line)])


def chinese_word(line: str, rng: random.Random) -> str:
    sents = layout(line)
    i = rng.randrange(len(sents))
    j = rng.randrange(len(sents[i]) + 1)
    word = rng.choice(ZH_WORDS)
    sents[i] = sents[i][:j] + [word] + sents[i][j:]
    return rebuild(sents)


def chinese_clause(line: str, rng: random.Random) -> str:
    """A Chinese clause replacing one sentence (several sentences) or appended (one)."""
    sents = layout(line)
    clause = rng.choice(ZH_CLAUSES)
    if len(sents) > 1:
        i = rng.randrange(len(sents))
        return rebuild(sents[:i]) + clause + "。" + rebuild(sents[i + 1:])
    return rebuild(sents) + clause + "。"


def other_script(line: str, rng: random.Random) -> str:
    """Each syllable replaced by a word of random letters of one other script, of similar length."""
    lo, hi = OTHER_SCRIPTS[rng.choice(sorted(OTHER_SCRIPTS))]
    words = ["".join(chr(rng.randrange(lo, hi)) for _ in range(max(1, len(s) - 1))) for s in T.syllables(line)]
    return " ".join(words)


def build(lines: list[str], per_line: int = 5, seed: int = 0) -> dict[str, list[str]]:
    """{class: broken lines}: per_line variants of each line for the random classes, one for reversed and stutter."""
    rng = random.Random(seed)
    vocab = sorted({s for ln in lines for s in T.syllables(ln)})
    out: dict[str, list[str]] = {c: [] for c in CLASSES}
    for ln in lines:
        if not T.syllables(ln):
            continue
        out["reversed"].append(reversed_order(ln, rng))
        out["stutter"].append(stutter(ln, rng))
        for _ in range(per_line):
            out["shuffled"].append(shuffled(ln, rng))
            out["random"].append(random_syllables(ln, rng, vocab))
            out["chinese word"].append(chinese_word(ln, rng))
            out["chinese clause"].append(chinese_clause(ln, rng))
            out["other script"].append(other_script(ln, rng))
    return out
