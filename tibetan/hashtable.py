"""A numpy open-addressing hash table (int64 keys -> float64 values), vectorized.

Linear probing at load factor <= 0.5, Fibonacci hashing. Inserts and lookups take whole
arrays, so scoring millions of n-grams needs no Python loop per item.
"""

from __future__ import annotations

import numpy as np

EMPTY = -1
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _home(keys: np.ndarray, bits: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        return ((keys.astype(np.uint64) * _GOLDEN) >> np.uint64(64 - bits)).astype(np.int64)


class HashTable:
    def __init__(self, keys: np.ndarray, values: np.ndarray):
        keys = np.asarray(keys, dtype=np.int64)
        values = np.asarray(values, dtype=np.float64)
        if keys.size and keys.min() < 0:
            raise ValueError("keys must be non-negative")
        self.size = len(keys)
        self.bits = max(4, int(np.ceil(np.log2(max(self.size, 1) * 2))))
        mask = (1 << self.bits) - 1
        self.keys = np.full(1 << self.bits, EMPTY, dtype=np.int64)
        self.vals = np.zeros(1 << self.bits, dtype=np.float64)
        pending = np.arange(self.size)
        slot = _home(keys, self.bits)
        while pending.size:  # claim free slots; the losers of a collision probe on
            s = slot[pending]
            free = self.keys[s] == EMPTY
            cand, cs = pending[free], s[free]
            taken, first = np.unique(cs, return_index=True)
            winners = cand[first]
            self.keys[taken] = keys[winners]
            self.vals[taken] = values[winners]
            placed = np.zeros(self.size, dtype=bool)
            placed[winners] = True
            pending = pending[~placed[pending]]
            slot[pending] = (slot[pending] + 1) & mask

    def get(self, query: np.ndarray, default: float = np.nan) -> tuple[np.ndarray, np.ndarray]:
        """(values, found) for each query key; missing keys get `default`."""
        query = np.asarray(query, dtype=np.int64)
        out = np.full(query.shape, default, dtype=np.float64)
        found = np.zeros(query.shape, dtype=bool)
        mask = (1 << self.bits) - 1
        idx = np.arange(query.size)
        slot = _home(query, self.bits)
        q = query
        while idx.size:
            k = self.keys[slot]
            hit = k == q
            out[idx[hit]] = self.vals[slot[hit]]
            found[idx[hit]] = True
            go_on = ~hit & (k != EMPTY)
            idx, q, slot = idx[go_on], q[go_on], (slot[go_on] + 1) & mask
        return out, found

    def items(self) -> tuple[np.ndarray, np.ndarray]:
        used = self.keys != EMPTY
        return self.keys[used], self.vals[used]
