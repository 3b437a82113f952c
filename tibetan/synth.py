"""Synthetic Tibetan-like text for benchmarks and tests (no real corpus is needed).

Syllables are built from real letters, subjoined letters, vowels and suffixes; words of
1-3 syllables are Zipf-sampled into sentences, and each word has a few favourite
successors, so that n-grams repeat the way they do in natural text. Deterministic for a
given seed; numpy-vectorized so that tens of millions of syllables take seconds.
"""

from __future__ import annotations

import random

import numpy as np

BASES = "ཀཁགངཅཆཇཉཏཐདནཔཕབམཙཚཛཝཞཟའཡརལཤསཧཨ"
SUBJOINED = ["", "", "", "ྱ", "ྲ", "ླ"]
VOWELS = ["", "", "ི", "ུ", "ེ", "ོ"]
SUFFIXES = ["", "", "ག", "ང", "ད", "ན", "བ", "མ", "འ", "ར", "ལ", "ས"]
PREFIXES = ["", "", "", "", "ག", "ད", "བ", "མ", "འ"]
TSHEG, SHAD = "\u0f0b", "\u0f0d"


def syllable_inventory(n: int = 3000, seed: int = 0) -> list[str]:
    rng = random.Random(seed)
    seen: dict[str, None] = {}
    while len(seen) < n:
        s = rng.choice(PREFIXES) + rng.choice(BASES) + rng.choice(SUBJOINED) + rng.choice(VOWELS) + rng.choice(SUFFIXES)
        seen.setdefault(s, None)
    return list(seen)


class Generator:
    """`lines(n)` returns sentences (one per line, ending in a shad) totalling about n syllables."""

    def __init__(self, n_syllables: int = 3000, n_words: int = 4000, seed: int = 0, follow_p: float = 0.6):
        self.rng = np.random.default_rng(seed)
        syls = syllable_inventory(n_syllables, seed)
        zipf_syl = 1 / np.arange(1, len(syls) + 1)
        zipf_syl /= zipf_syl.sum()
        lengths = self.rng.choice([1, 1, 2, 2, 3], size=n_words)
        self.words = [TSHEG.join(syls[i] for i in self.rng.choice(len(syls), size=k, p=zipf_syl)) for k in lengths]
        self.word_len = lengths.astype(np.int64)
        self.cum = np.cumsum(1 / np.arange(1, n_words + 1) ** 1.1)
        self.follow = self.rng.integers(0, max(n_words // 4, 1), size=(n_words, 4))
        self.follow_p = follow_p

    def _zipf(self, n: int) -> np.ndarray:
        return np.minimum(np.searchsorted(self.cum, self.rng.random(n) * self.cum[-1]), len(self.cum) - 1)

    def lines(self, n_syllables: int, lo: int = 6, hi: int = 40, batch: int = 20000) -> list[str]:
        out: list[str] = []
        total = 0
        while total < n_syllables:
            targets = self.rng.integers(lo, hi + 1, size=batch)
            steps = np.empty((batch, hi), dtype=np.int64)
            steps[:, 0] = self._zipf(batch)
            for t in range(1, hi):
                follow = self.follow[steps[:, t - 1], self.rng.integers(0, 4, size=batch)]
                steps[:, t] = np.where(self.rng.random(batch) < self.follow_p, follow, self._zipf(batch))
            cum = np.cumsum(self.word_len[steps], axis=1)
            k = np.minimum((cum < targets[:, None]).sum(axis=1) + 1, hi)
            n_syl = cum[np.arange(batch), k - 1]
            words = self.words
            for row, kk in zip(steps.tolist(), k.tolist()):
                out.append(TSHEG.join([words[i] for i in row[:kk]]) + SHAD)
            stop = np.searchsorted(np.cumsum(n_syl), n_syllables - total)
            if stop < batch:
                del out[len(out) - batch + stop + 1:]
                total += int(n_syl[:stop + 1].sum())
                break
            total += int(n_syl.sum())
        return out
