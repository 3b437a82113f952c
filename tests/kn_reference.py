"""An independent, slow modified Kneser-Ney trigram (the textbook recursion over dicts).

Written for tests only: it recomputes continuation counts by scanning the n-gram tables on
every query, like nltk does, and shares no code with hearme.tibetan.ngram.
"""

from __future__ import annotations

import math
from collections import Counter


def _discounts(counts) -> list[float]:
    n = Counter(min(c, 5) for c in counts if c > 0)
    if not all(n[k] for k in (1, 2, 3, 4)):
        return [0.0, 0.5, 1.0, 1.5]
    y = n[1] / (n[1] + 2 * n[2])
    d = [0.0] + [k - (k + 1) * y * n[k + 1] / n[k] for k in (1, 2, 3)]
    if not all(0 < d[k] <= k for k in (1, 2, 3)):
        return [0.0, 0.5, 1.0, 1.5]
    return d


class ReferenceKN:
    def __init__(self, sentences: list[list[str]]):
        self.c3: Counter = Counter()
        bos: Counter = Counter()
        for toks in sentences:
            if not toks:
                continue
            s = ["<s>", *toks, "</s>"]
            bos[(s[0], s[1])] += 1
            for i in range(2, len(s)):
                self.c3[tuple(s[i - 2:i + 1])] += 1
        self.a2: Counter = Counter(bos)
        for (_u, v, w) in self.c3:
            self.a2[(v, w)] += 1
        self.a1: Counter = Counter(w for (v, w) in self.a2)
        self.vocab_size = len(self.a1) + 1  # + <unk>; <s> never follows anything
        self.d = {1: _discounts(self.a1.values()), 2: _discounts(self.a2.values()), 3: _discounts(self.c3.values())}

    def _d(self, order: int, c: int) -> float:
        return self.d[order][min(c, 3)]

    def p1(self, w: str) -> float:
        total = sum(self.a1.values())
        gamma = sum(self._d(1, c) for c in self.a1.values()) / total
        c = self.a1.get(w, 0)
        return (c - self._d(1, c)) / total + gamma / self.vocab_size

    def p2(self, w: str, v: str) -> float:
        row = {x: c for (y, x), c in self.a2.items() if y == v}
        if not row:
            return self.p1(w)
        total = sum(row.values())
        gamma = sum(self._d(2, c) for c in row.values()) / total
        c = row.get(w, 0)
        return (c - self._d(2, c)) / total + gamma * self.p1(w)

    def p3(self, w: str, u: str, v: str) -> float:
        row = {x: c for (a, b, x), c in self.c3.items() if (a, b) == (u, v)}
        if not row:
            return self.p2(w, v)
        total = sum(row.values())
        gamma = sum(self._d(3, c) for c in row.values()) / total
        c = row.get(w, 0)
        return (c - self._d(3, c)) / total + gamma * self.p2(w, v)

    def sentence_logprobs(self, toks: list[str]) -> list[float]:
        known = set(self.a1)
        s = [t if t in known else "<unk>" for t in toks] + ["</s>"]
        out, hist = [], ["<s>"]
        for w in s:
            p = self.p2(w, hist[-1]) if len(hist) == 1 else self.p3(w, hist[-2], hist[-1])
            out.append(math.log10(p))
            hist.append(w)
        return out

    def mean_logprob(self, toks: list[str]) -> float:
        lps = self.sentence_logprobs(toks)
        return sum(lps) / len(lps)
