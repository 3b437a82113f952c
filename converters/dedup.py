"""Deduplication across sources: exact (normalised-text hash) and near (MinHash + LSH).

Near duplicates are found with character 5-gram MinHash signatures computed for all records
at once in numpy (datasketch's MinHash is the baseline in benchmarks/bench_converters.py),
LSH banding for candidates, and then the exact Jaccard of every candidate pair's 5-gram sets:
nothing under `threshold` is removed. The first occurrence (input order) is kept; every
removal says what it duplicates and how closely. `Corpus` is shared with the leak-free split.
A little over 400 lines: the signature, banding and exact check are one vectorised pipeline over
the same arrays, and split apart they would pass those arrays between modules.
"""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Iterable

import numpy as np

from hearme.core import io, schema

SHINGLE = 5
NUM_PERM = 32
BANDS = 8  # 8 bands x 4 rows: candidates from about Jaccard 0.6 up, checked against the threshold
SAMPLE_MOD = 8  # long texts keep 1 in 8 grams, chosen by hash value, so near duplicates keep the same ones
SAMPLE_FROM = 300  # texts shorter than this keep every gram
_MERSENNE = (1 << 61) - 1


def _code_table() -> np.ndarray:
    """BMP lookup: code point -> normalised code point, 0 = dropped (spaces, punctuation, symbols, controls).

    Full-width ASCII folds to ASCII and letters fold to lower case (what NFKC + lower() would do for
    the characters that matter here), in one vectorised pass instead of per-string Unicode work."""
    table = np.arange(0x10000, dtype=np.uint32)
    for c in range(0x10000):
        ch = chr(c)
        cat = unicodedata.category(ch)
        if cat[0] in "PZSC":
            table[c] = 0
        elif 0xFF01 <= c <= 0xFF5E:
            table[c] = ord(chr(c - 0xFEE0).lower())
        elif cat == "Lu":
            low = ch.lower()
            table[c] = ord(low) if len(low) == 1 else c
    for c in range(0xFF01, 0xFF5F):  # full-width punctuation also drops
        if unicodedata.category(chr(c - 0xFEE0))[0] in "PZSC":
            table[c] = 0
    return table


_TABLE: np.ndarray | None = None


def normalized_codes(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """All texts normalised at once: (concatenated uint32 code points, length of each text)."""
    global _TABLE
    if _TABLE is None:
        _TABLE = _code_table().astype(np.uint16)  # 128 KB: stays in cache for the lookups
        _TABLE[0xFFFF] = 0xFFFF  # stands for any character beyond the BMP (kept, put back below)
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    mapped = _TABLE.take(codes, mode="clip")  # code points beyond the BMP read entry 0xFFFF
    kept = np.flatnonzero(mapped)
    out = mapped[kept].astype(np.uint32)
    beyond = np.flatnonzero(out == 0xFFFF)
    if len(beyond):  # emoji, rare CJK: kept as they are
        out[beyond] = codes[kept[beyond]]
    new_lengths = np.diff(np.searchsorted(kept, np.cumsum(lengths)), prepend=0)  # kept characters per text
    return out, new_lengths


def normalize(text: str) -> str:
    """Case-folded text without whitespace, punctuation or symbols (what counts as 'the same words')."""
    codes, _ = normalized_codes([text])
    return codes.tobytes().decode("utf-32-le")


def dialogue_text(record: schema.Record, on: str = "all") -> str:
    """The text compared: all dialogue turns (no system prompt), or only the user turns."""
    turns = schema.dialogue_turns(record)
    return "\u241e".join([m["content"] for m in turns if on == "all" or m["role"] == on])


CHUNK = 1 << 17  # code points per batch: temporaries stay in cache (measured best of 2^16..2^21)


def signatures(texts: list[str] | None = None, num_perm: int = NUM_PERM, k: int = SHINGLE, seed: int = 1, *,
               codes: np.ndarray | None = None, lengths: np.ndarray | None = None) -> np.ndarray:
    """(n, num_perm) uint64 MinHash signatures of character k-grams, vectorised over all texts.

    Give raw `texts`, or already normalised `codes` + `lengths` (see normalized_codes).
    Works in batches of whole texts of about CHUNK code points."""
    if codes is None:
        texts = texts or []
        codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
        lengths = np.fromiter((len(t) for t in texts), dtype=np.int64, count=len(texts))
    n = len(lengths)
    sig = np.full((n, num_perm), np.iinfo(np.uint64).max, dtype=np.uint64)
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 1 << 61, size=num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 1 << 61, size=num_perm, dtype=np.uint64)
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    first = 0
    while first < n:  # texts [first, last) hold about CHUNK code points (at least one text)
        last = max(first + 1, int(np.searchsorted(bounds, bounds[first] + CHUNK, side="right")) - 1)
        last = min(last, n)
        part = codes[bounds[first]:bounds[last]]
        sig[first:last] = _batch_signatures(part, lengths[first:last], a, b, k)
        first = last
    return sig


def sketch(texts: list[str], num_perm: int = NUM_PERM) -> tuple[np.ndarray, np.ndarray]:
    """(normalised lengths, MinHash signatures) of texts, normalised in batches of about CHUNK
    characters that stay in cache; the normalised text itself is not kept."""
    lengths, sigs = [np.zeros(0, dtype=np.int64)], [np.zeros((0, num_perm), dtype=np.uint64)]
    first = 0
    while first < len(texts):
        size, last = 0, first
        while last < len(texts) and (size < CHUNK or last == first):
            size += len(texts[last])
            last += 1
        codes, n = normalized_codes(texts[first:last])
        lengths.append(n)
        sigs.append(signatures(codes=codes, lengths=n, num_perm=num_perm))
        first = last
    return np.concatenate(lengths), np.concatenate(sigs)


def _batch_signatures(codes: np.ndarray, lengths: np.ndarray, a: np.ndarray, b: np.ndarray, k: int) -> np.ndarray:
    n, num_perm = len(lengths), len(a)
    sig = np.full((n, num_perm), np.iinfo(np.uint64).max, dtype=np.uint64)
    ends = np.cumsum(lengths)
    m = max(len(codes) - k + 1, 0)
    # Polynomial hash of every k-gram (wrapping uint64), then a 64-bit mix.
    h = codes[:m].astype(np.uint64)
    for j in range(1, k):
        h *= np.uint64(1_000_003)
        h += codes[j:j + m]
    h ^= h >> np.uint64(33)
    h *= np.uint64(0xFF51AFD7ED558CCD)
    h ^= h >> np.uint64(33)
    owner = np.repeat(np.arange(n, dtype=np.int32), lengths)[:m]
    # A gram is valid if it does not run past its text's end; long texts keep 1 in SAMPLE_MOD grams.
    valid = np.ones(m, dtype=bool)
    tail = (ends[:, None] - np.arange(1, k)[None, :]).ravel()
    valid[tail[(tail >= 0) & (tail < m)]] = False
    valid &= ((h & np.uint64(SAMPLE_MOD - 1)) == 0) | np.repeat(lengths < SAMPLE_FROM, lengths)[:m]
    # Texts with no sampled gram (shorter than k) use their whole text as one gram.
    chosen = np.flatnonzero(valid)
    h, owner = h[chosen], owner[chosen]
    has = np.bincount(owner, minlength=n) > 0
    short = np.flatnonzero(~has)
    if len(short):
        starts = ends - lengths
        extra = np.fromiter((int.from_bytes(hashlib.blake2b(codes[starts[i]:ends[i]].tobytes(), digest_size=8).digest(),
                                            "little") for i in short), dtype=np.uint64, count=len(short))
        h = np.concatenate([h, extra])
        owner = np.concatenate([owner, short.astype(np.int32)])
        order = np.argsort(owner, kind="stable")
        h, owner = h[order], owner[order]
    seg = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    rows = owner[seg]
    for p in range(num_perm):  # multiply-shift hashing: one pass per permutation
        sig[rows, p] = np.minimum.reduceat(h * a[p] + b[p], seg)
    return sig


def _band_keys(sig: np.ndarray, bands: int) -> np.ndarray:
    n, p = sig.shape
    r = p // bands
    keys = np.empty((bands, n), dtype=np.uint64)
    for bnd in range(bands):
        block = sig[:, bnd * r:(bnd + 1) * r]
        key = np.full(n, ((bnd + 1) * 0x9E3779B97F4A7C15) % (1 << 64), dtype=np.uint64)
        for c in range(r):
            key = (key ^ block[:, c]) * np.uint64(0x100000001B3)
        keys[bnd] = key
    return keys


def gram_set(codes: np.ndarray, k: int = SHINGLE) -> np.ndarray:
    """Sorted unique 64-bit hashes of every character k-gram of one normalised text (all of them,
    not the sample the signatures use); a text shorter than k is one gram."""
    m = len(codes) - k + 1
    if m <= 0:
        return np.array([int.from_bytes(hashlib.blake2b(codes.tobytes(), digest_size=8).digest(), "little")],
                        dtype=np.uint64)
    h = codes[:m].astype(np.uint64)
    for j in range(1, k):
        h = h * np.uint64(1_000_003) + codes[j:j + m]
    return np.unique(h)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Exact Jaccard of two gram sets from gram_set."""
    inter = len(np.intersect1d(a, b, assume_unique=True))
    return inter / (len(a) + len(b) - inter) if len(a) + len(b) else 1.0


class Corpus:
    """Normalised texts of many records, with MinHash signatures (computed once), candidate pairs
    and exact Jaccard on demand. dedup and the leak-free split share one (see `subset`).

    Built from texts (normalised at once), or from `records`: then only the lengths and signatures
    are made (see `sketch`), or given (made in the conversion workers), and a text is normalised
    again when it is compared, which few are; no copy of all the text is kept or sent between processes.
    `openings` (split.openings of the records), if given, are kept for the split, and `encoded` (the
    records' JSON rows, io.EncodedRows) for the writer."""

    def __init__(self, texts: list[str] | None = None, *, codes=None, lengths=None, sig=None,
                 records: list[schema.Record] | None = None, on: str = "all", openings: list[str] | None = None):
        if texts is not None:
            codes, lengths = normalized_codes(texts)
        elif codes is None and lengths is None and records is not None:
            lengths, sig = sketch([dialogue_text(r, on) for r in records])
        self.codes, self.lengths = codes, lengths
        self.records, self.on, self.openings = records, on, openings
        self.ends = np.cumsum(self.lengths)
        self.starts = self.ends - self.lengths
        self._sig = sig
        self.encoded = None
        self._grams: dict[int, np.ndarray] = {}
        self._texts: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.lengths)

    @classmethod
    def of_records(cls, records: list[schema.Record], on: str = "all") -> "Corpus":
        return cls(records=records, on=on)

    @classmethod
    def concat(cls, parts: list["Corpus"]) -> "Corpus":
        """One corpus from parts in order (of records: lazily, without copying their text)."""
        if not parts:
            return cls([])
        lengths = np.concatenate([p.lengths for p in parts])
        sig = np.concatenate([p.signatures() for p in parts])
        if all(p.records is not None and p.on == parts[0].on for p in parts):
            known = all(p.openings is not None for p in parts)
            out = cls(lengths=lengths, sig=sig, records=[r for p in parts for r in p.records], on=parts[0].on,
                      openings=[o for p in parts for o in p.openings] if known else None)
            if any(p.encoded is not None for p in parts):
                out.encoded = io.EncodedRows()
                for p in parts:
                    out.encoded.merge(p.encoded)
            return out
        return cls(codes=np.concatenate([p.all_codes() for p in parts]), lengths=lengths, sig=sig)

    def subset(self, index) -> "Corpus":
        """The corpus of texts `index` (in that order), reusing the normalisation and signatures."""
        index = np.asarray(index, dtype=np.int64)
        if not np.all(np.diff(index) > 0):
            raise ValueError("subset needs increasing indices")
        sig = None if self._sig is None else self._sig[index]
        if self.records is not None:
            at = index.tolist()
            out = Corpus(lengths=self.lengths[index], sig=sig, records=[self.records[i] for i in at], on=self.on,
                         openings=None if self.openings is None else [self.openings[i] for i in at])
            out.encoded = self.encoded  # by identity: a record outside the subset is never asked for
            return out
        mask = np.zeros(len(self), dtype=bool)
        mask[index] = True
        return Corpus(codes=self.codes[np.repeat(mask, self.lengths)], lengths=self.lengths[index], sig=sig)

    def all_codes(self) -> np.ndarray:
        """The normalised code points of all texts, concatenated."""
        if self.codes is None:
            self.codes, _ = normalized_codes([dialogue_text(r, self.on) for r in self.records])
        return self.codes

    def signatures(self) -> np.ndarray:
        if self._sig is None:
            self._sig = signatures(codes=self.all_codes(), lengths=self.lengths, num_perm=NUM_PERM)
        return self._sig

    def text_codes(self, i: int) -> np.ndarray:
        if self.codes is not None:
            return self.codes[self.starts[i]:self.ends[i]]
        if i not in self._texts:
            self._texts[i] = normalized_codes([dialogue_text(self.records[i], self.on)])[0]
        return self._texts[i]

    def exact_groups(self) -> dict[int, int]:
        """{i: first j < i with the very same normalised text}: equal signatures and lengths first
        (vectorised), then the texts themselves compared."""
        if len(self) < 2:
            return {}
        # One 64-bit key per (signature, length): texts with equal keys are compared (a rare key
        # collision only adds a comparison that fails).
        key = _band_keys(np.concatenate([self.signatures(), self.lengths[:, None].astype(np.uint64)], axis=1), 1)[0]
        order = np.argsort(key, kind="stable")
        same = key[order[1:]] == key[order[:-1]]
        shared = np.sort(order[np.r_[same, False] | np.r_[False, same]])
        dup_of: dict[int, int] = {}
        firsts: dict[int, list[int]] = {}
        for i in shared.tolist():
            seen = firsts.setdefault(int(key[i]), [])
            text = self.text_codes(i)
            for j in seen:
                if np.array_equal(self.text_codes(j), text):
                    dup_of[i] = j
                    break
            else:
                seen.append(i)
        return dup_of

    def jaccard(self, i: int, j: int) -> float:
        for x in (i, j):
            if x not in self._grams:
                self._grams[x] = gram_set(self.text_codes(x))
        return jaccard(self._grams[i], self._grams[j])

    def candidate_pairs(self, among: np.ndarray, min_estimate: float, bands: int = BANDS,
                        max_bucket: int = 64) -> dict[tuple[int, int], float]:
        """{(i, j): estimated Jaccard} for i < j in `among` that share an LSH band and whose MinHash
        estimate reaches min_estimate. A large bucket (template-like texts) pairs each member with
        its max_bucket predecessors only."""
        among = np.asarray(among, dtype=np.int64)
        if len(among) < 2:
            return {}
        sig = self.signatures()[among]
        firsts, seconds = [], []
        for key_row in _band_keys(sig, bands):
            order = np.argsort(key_row, kind="stable")
            sk = key_row[order]
            starts = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1]])
            sizes = np.diff(np.r_[starts, len(sk)])
            for size in np.unique(sizes[(sizes > 1) & (sizes <= max_bucket)]).tolist():
                # every bucket of this size at once: a (buckets x size) matrix of members, all pairs
                at = starts[sizes == size]
                members = np.sort(order[at[:, None] + np.arange(size)[None, :]], axis=1)
                i, j = np.triu_indices(size, 1)
                firsts.append(members[:, i].ravel())
                seconds.append(members[:, j].ravel())
            for s, size in zip(starts[sizes > max_bucket].tolist(), sizes[sizes > max_bucket].tolist()):
                members = np.sort(order[s:s + size])  # template-like texts: max_bucket predecessors each,
                for k in range(1, max_bucket + 1):  # as pairs k apart in the sorted bucket
                    firsts.append(members[:-k])
                    seconds.append(members[k:])
        if not firsts:
            return {}
        n = len(among)
        code = np.sort(np.concatenate(firsts) * n + np.concatenate(seconds))  # pairs (i, j) as one number
        code = code[np.r_[True, code[1:] != code[:-1]]]  # unique (np.unique hashes: 40x slower here)
        pairs = np.stack([code // n, code % n], axis=1)
        sims = _agreement(sig, pairs)
        keep = sims >= min_estimate
        return {(int(among[i]), int(among[j])): float(v) for (i, j), v in zip(pairs[keep].tolist(), sims[keep].tolist())}


def _agreement(sig: np.ndarray, pairs: np.ndarray, rows: int = 1 << 15) -> np.ndarray:
    """The share of equal signature values of each pair (the MinHash estimate), in blocks of rows
    that stay in cache; the same floats as (sig[i] == sig[j]).mean(axis=1)."""
    out = np.empty(len(pairs), dtype=np.float64)
    for a in range(0, len(pairs), rows):
        block = pairs[a:a + rows]
        out[a:a + rows] = np.count_nonzero(sig[block[:, 0]] == sig[block[:, 1]], axis=1)
    return out / sig.shape[1]


CANDIDATE_MARGIN = 0.2  # MinHash estimates this far under the threshold are still checked exactly


def dedup(records: list[schema.Record], *, threshold: float = 0.8, near: bool = True, on: str = "all",
          bands: int = BANDS, tally: io.Tally | None = None, files: list[str] | None = None,
          stats: dict | None = None, corpus: Corpus | None = None) -> tuple[list[schema.Record], list[dict]]:
    """(kept records, removals). A removal: {id, source, reason, duplicate_of, source_of_kept, similarity}.

    Near duplicates: MinHash/LSH finds candidate pairs, and every pair is checked with the exact
    Jaccard of its 5-gram sets before anything is removed, against a record that is kept.
    `files` (parallel to records) names where each record came from, for the rejected side file;
    `stats`, if given, receives the candidate and verification counts and `kept_index`; `corpus`,
    if given, is the Corpus of these records' dialogue texts (then shared with the split)."""
    from hearme.core.progress import gc_paused

    with gc_paused():
        return _dedup(records, threshold, near, on, bands, tally or io.Tally(), files, stats, corpus)


def _dedup(records, threshold, near, on, bands, tally, files, stats, corpus):
    tally.read += len(records)
    corpus = corpus if corpus is not None else Corpus([dialogue_text(r, on) for r in records])
    removed: dict[int, dict] = {i: {"reason": "exact", "of": j, "similarity": 1.0}
                                for i, j in corpus.exact_groups().items()}
    checked = below = 0
    if near:
        alive = np.array([i for i in range(len(records)) if i not in removed], dtype=np.int64)
        pairs = corpus.candidate_pairs(alive, threshold - CANDIDATE_MARGIN, bands)
        by_later: dict[int, list[int]] = {}
        for i, j in pairs:
            by_later.setdefault(j, []).append(i)
        for j in sorted(by_later):  # input order: the earlier record of a pair is kept if it still is
            best, best_sim = None, 0.0
            for i in sorted(by_later[j]):
                if i in removed:
                    continue
                sim = corpus.jaccard(i, j)
                checked += 1
                if sim >= threshold and sim > best_sim:
                    best, best_sim = i, sim
                elif sim < threshold:
                    below += 1
            if best is not None:
                removed[j] = {"reason": "near", "of": best, "similarity": round(best_sim, 3)}
    if stats is not None:
        stats.update(candidates_checked=checked, candidates_below_threshold=below,
                     removed_near=sum(r["reason"] == "near" for r in removed.values()),
                     removed_below_threshold=sum(r["similarity"] < threshold for r in removed.values()),
                     kept_index=[i for i in range(len(records)) if i not in removed])
    kept, removals = [], []
    for i, rec in enumerate(records):
        if i not in removed:
            kept.append(rec)
            continue
        info = removed[i]
        other = records[info["of"]]
        row = {"id": rec.get("id"), "source": rec.get("source"), "reason": info["reason"],
               "duplicate_of": other.get("id"), "source_of_kept": other.get("source"),
               "similarity": info["similarity"]}
        removals.append(row)
        what = "exact duplicate" if info["reason"] == "exact" else f"near duplicate (Jaccard {info['similarity']:.2f})"
        tally.reject(files[i] if files else None, f"record {rec.get('id')}", f"{what} of {other.get('id')} ({other.get('source')})", rec)
        tally.note(f"{info['reason']} duplicate {rec.get('source')}")
    tally.written += len(kept)
    return kept, removals


def dedup_files(inputs: Iterable, out, **kw) -> tuple[list[schema.Record], list[dict], io.Tally]:
    """Load record files (in order), dedup across them, write OUT, OUT.rejected.jsonl and OUT.removed.jsonl."""
    from pathlib import Path

    inputs = list(inputs)
    removed = Path(str(out).rsplit(".", 1)[0] + ".removed.jsonl")
    io.refuse_overwrite([out, io.rejected_path(out), removed], inputs)
    records: list[schema.Record] = []
    files: list[str] = []
    for path in inputs:
        recs = io.load_records(path)
        records.extend(recs)
        files.extend([str(path)] * len(recs))
    tally = io.Tally()
    kept, removals = dedup(records, tally=tally, files=files, **kw)
    io.write_output(out, kept, tally, extra=[(removed, removals)])  # one unit: never a mismatched set
    return kept, removals, tally
