"""The word-order statistic of the Tibetan filter: does a text score better than shuffles of itself?

Every text is scored as it is and `shuffles` times with its tokens permuted (sentence lengths and
shads stay in place). z = (score - mean of the shuffles) / their sd; gain = the same difference
per predicted token. Real text scores far above its shuffles, while shuffled, reversed or randomly
drawn syllables score like them (z ~ N(0, 1)), whatever the vocabulary coverage.

The shuffles are the seeded draws of the first implementation (one generator per chunk of texts,
one uniform number per token and round, a permutation within each text by sorting them), so z is
the same number as before to the last bit. What is faster is the scoring of the shuffles:
- the positions of every trigram (u, v, w) in a chunk are the same in every shuffle (only the
  movable tokens change places), so they are worked out once and each round is a gather;
- the chunk's few hundred or thousand token types get dense tables: the bigram log-probability
  (stored, else backoff(v) + p(w)) and the trigram-context backoff for every pair of them, so the
  backoff query is two array lookups; the hashed trigram table is only probed where the context
  (u, v) has stored trigrams at all (a fifth of shuffled positions, all others cannot hit);
- where it fits (ROWS_MAX), those tables are one: per context a row of log p(w | u, v), so a
  position costs one lookup;
- the permutation within each text is one integer sort of packed keys, not a float argsort
  (_Permutation; timsort, which merges the texts' runs at once), and texts whose verdict no z can
  change (`settled`) get no shuffles at all.
The values added up are the same floats in the same order as KNTrigram._logprobs, so the totals
are identical; a chunk with more types than DENSE_MAX uses that hashed path itself.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from hearme.tibetan import ngram as N
from hearme.tibetan import text as T

DENSE_MAX = 2500  # types per chunk for the dense tables (2 x 50 MB at most)
RBITS = 41  # top bits of a draw the integer sort keeps at least (the float key's 2^-41 ulp)
ROWS_MAX = 8_000_000  # cells of the chunk's one-lookup table (64 MB); beyond it the trigram table
TRI_MAX = 8_000_000  # cells of the chunk's trigram table (64 MB); beyond it the hashed table is probed


class _Chunk:
    """One encoded chunk: the trigram positions shared by all shuffles, and its dense tables."""

    def __init__(self, lm, arr: np.ndarray, dense: bool = True):
        self.lm, self.arr = lm, arr
        code = np.where(arr == N.SEP, N.SEP, np.arange(len(arr)) + 5)  # a position, or SEP
        pu, pv, pw, self.sent = N._streams(code)
        # positions >= 5 point into the shuffled array (offset 5), 0..4 are the specials themselves
        self.pu, self.pv, self.pw = pu, pv, pw
        types = np.unique(np.concatenate((arr[arr >= 0], [N.UNK, N.BOS, N.EOS, N.SHAD_ID, N.NUM])))
        self.dense = dense and len(types) <= DENSE_MAX and _contexts_cover(lm)
        self.local_unk, self.rows, self.tri = N.UNK, None, None
        if not self.dense:
            return
        m = len(types)
        loc = np.full(len(lm.vocab) + 1, -1, dtype=np.int64)
        loc[types] = np.arange(m)
        self.loc, self.types = loc, types.astype(np.int64)
        self.local_unk = int(loc[N.UNK])
        self.m = m
        # bigram log p(w | v): stored value, else backoff(v) + p1(w) (the same float operations)
        l2 = lm.b1[types][:, None] + lm.p1[types][None, :]
        k2, v2 = _items(lm, "t2")
        a, b = loc[k2 >> N.BITS], loc[k2 & N.MAX_VOCAB]
        ok = (a >= 0) & (b >= 0)
        l2[a[ok], b[ok]] = v2[ok]
        self.l2 = l2.ravel()
        # trigram-context backoff (0 when the context has no trigrams) and whether it has any
        kb, vb = _items(lm, "b2")
        a, b = loc[kb >> N.BITS], loc[kb & N.MAX_VOCAB]
        ok = (a >= 0) & (b >= 0)
        back = np.zeros((m, m))
        back[a[ok], b[ok]] = vb[ok]
        self.back = back.ravel()
        # stored trigrams among the chunk's types: context index (-1: none) x w -> log p (nan: not stored)
        k3, v3 = _items(lm, "t3")
        a, b, c = loc[k3 >> (2 * N.BITS)], loc[(k3 >> N.BITS) & N.MAX_VOCAB], loc[k3 & N.MAX_VOCAB]
        ok = (a >= 0) & (b >= 0) & (c >= 0)
        pair = a[ok] * m + b[ok]
        contexts = np.unique(pair)
        self.cidx = np.full(m * m, -1, dtype=np.int64)
        self.cidx[contexts] = np.arange(len(contexts))
        self.rows, self.tri = None, None
        rows = np.nonzero((self.back != 0) | (self.cidx >= 0))[0]  # contexts where a row differs from l2's
        if len(rows) * m <= ROWS_MAX:
            # one table of every log p: l2's m rows, then per such context (u, v) the row
            # back(u, v) + l2(v, .) with its stored trigrams written over (the same floats), so
            # a position's log p is one lookup at rows[u, v] + w
            r = self.back[rows][:, None] + l2[rows % m]
            at = np.full(m * m, -1, dtype=np.int64)
            at[rows] = np.arange(len(rows))
            r[at[pair], c[ok]] = v3[ok]
            self.flat = np.concatenate((self.l2, r.ravel()))
            self.rows = (np.arange(m * m, dtype=np.int64) % m) * m  # where each context's row starts
            self.rows[rows] = m * m + np.arange(len(rows), dtype=np.int64) * m
        elif len(contexts) * m <= TRI_MAX:  # else: a trigram table for the contexts that have any
            self.tri = np.full(len(contexts) * m, np.nan)
            self.tri[self.cidx[pair] * m + c[ok]] = v3[ok]

    def local(self, arr: np.ndarray) -> np.ndarray:
        """The ids the shuffles permute: dense-table indices, or the model's ids without dense tables."""
        return self.loc[arr].astype(np.int32) if self.dense else arr

    def head(self) -> np.ndarray:
        """The ids of the specials, which positions 0..4 of the streams stand for."""
        return self.loc[:5] if self.dense else np.arange(5)

    def extend(self, a: np.ndarray) -> np.ndarray:
        """`a` (from `local`) after the specials: what the stream positions index."""
        return np.concatenate((self.head().astype(a.dtype), a))

    def logprobs(self, ext: np.ndarray, at: tuple | None = None) -> np.ndarray:
        """log10 p of every predicted token of the chunk whose tokens are `ext` (from `extend`), or
        of the predicted tokens at the stream positions `at` = (pu, pv, pw) only (a subset of them)."""
        pu, pv, pw = at if at is not None else (self.pu, self.pv, self.pw)
        u, v, w = ext[pu], ext[pv], ext[pw]
        if not self.dense:
            return self.lm._logprobs(u.astype(np.int64), v.astype(np.int64), w.astype(np.int64))
        ctx = u * self.m + v
        if self.rows is not None:
            return self.flat[self.rows[ctx] + w]
        lp = self.back[ctx] + self.l2[v * self.m + w]
        ci = self.cidx[ctx]
        maybe = np.nonzero(ci >= 0)[0]  # only where the context has stored trigrams
        if maybe.size and self.tri is not None:
            lp3 = self.tri[ci[maybe] * self.m + w[maybe]]
            hit = ~np.isnan(lp3)
            lp[maybe[hit]] = lp3[hit]
        elif maybe.size:
            t = self.types
            lp3, hit = self.lm.t3.get(N._key3(t[u[maybe]], t[v[maybe]], t[w[maybe]]))
            lp[maybe[hit]] = lp3[hit]
        return lp


def _items(lm, name: str) -> tuple[np.ndarray, np.ndarray]:
    """The (keys, values) of one of the model's hash tables, cached on the model."""
    cache = lm.__dict__.setdefault("_order_items", {})
    if name not in cache:
        cache[name] = getattr(lm, name).items()
    return cache[name]


def _contexts_cover(lm) -> bool:
    """Every stored trigram's context has a backoff entry (true of every model KNTrigram builds)."""
    cache = lm.__dict__.setdefault("_order_items", {})
    if "cover" not in cache:
        k3, _ = _items(lm, "t3")
        kb, _ = _items(lm, "b2")
        cache["cover"] = bool(np.isin(np.unique(k3 >> N.BITS), kb).all())
    return cache["cover"]


def order_z(lm, texts: Sequence[str], *, shuffles: int = 20, min_tokens: int = 8, seed: int = 0,
            chunk_texts: int = 4000, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(z, gain) per text; both nan for texts with < min_tokens tokens (see the module doc).

    Each chunk of `chunk_texts` texts is seeded with its offset (plus `offset`, where `texts` is
    a slice of a longer list at that offset), so a slice scores as it does within the list."""
    z = np.full(len(texts), np.nan)
    gain = np.full(len(texts), np.nan)
    ids = N._Ids(lm.index, grow=False)
    for c0 in range(0, len(texts), chunk_texts):
        got = chunk_scores(lm, texts[c0:c0 + chunk_texts], shuffles=shuffles, min_tokens=min_tokens,
                           seed=seed, offset=offset + c0, ids=ids)
        z[c0:c0 + chunk_texts], gain[c0:c0 + chunk_texts] = got["z"], got["gain"]
    return z, gain


def chunk_scores(lm, part: Sequence[str], *, shuffles: int | None, min_tokens: int = 8, seed: int = 0,
                 offset: int = 0, ids=None, lm_stats: bool = False, settled=None) -> dict:
    """One chunk, encoded once: z and gain (when `shuffles`), and with `lm_stats` also what
    filter_lm.lm_measure gives for these texts ("lm": mean log10 p/token, "unknown": share of
    unknown words), computed the same way from the same log-probabilities.

    `settled(out)` (given the dict with "lm" and "unknown") marks the texts whose verdict no z can
    change (already rejected); they get no shuffles and z = gain = nan. The other texts draw the
    same random numbers and get the same z as without it (see _Permutation)."""
    ids = ids if ids is not None else N._Ids(lm.index, grow=False)
    per = [T.sentences(t) or [t] for t in part]
    n_sent = np.array([len(p) for p in per], dtype=np.int64)
    sent_text = np.repeat(np.arange(len(part)), n_sent)
    arr = N._encode_chunk([s for p in per for s in p], ids)
    chunk = _Chunk(lm, arr, dense=bool(shuffles))
    owner_of = sent_text[chunk.sent]
    ext = chunk.extend(chunk.local(arr))
    lp = chunk.logprobs(ext)
    out: dict = {}
    if lm_stats and len(part):  # as lm_measure: per sentence first, then per text
        n = len(sent_text)
        w = ext[chunk.pw]
        unk = (w == chunk.local_unk).astype(np.int64)
        total, count = np.bincount(chunk.sent, weights=lp, minlength=n), np.bincount(chunk.sent, minlength=n)
        oov = np.bincount(chunk.sent, weights=unk, minlength=n).astype(np.int64)
        starts = np.cumsum(n_sent) - n_sent
        tot, cnt, unkn = (np.add.reduceat(x, starts) for x in (total, count, oov))
        out["lm"], out["unknown"] = tot / np.maximum(cnt, 1), unkn / np.maximum(cnt - n_sent, 1)
    if not shuffles:
        return out
    pos_text = sent_text[np.cumsum(arr == N.SEP) - 1]
    movable = np.nonzero((arr != N.SEP) & (arr != N.SHAD_ID))[0]
    n_tok = np.bincount(pos_text[movable], minlength=len(part))
    orig = np.bincount(owner_of, weights=lp, minlength=len(part))
    need = n_tok >= min_tokens  # shorter texts get z = nan whatever their shuffles score
    if settled is not None:
        need &= ~np.asarray(settled(out), dtype=bool)
    rng = np.random.default_rng([seed, offset])
    rounds = np.zeros((shuffles, len(part)))
    tok_need = need[pos_text[movable]]
    owner = pos_text[movable][tok_need]
    slots = movable[tok_need] + 5  # where the movable tokens of the texts that need z sit in `ext`
    src = ext[slots]
    pos_need = np.nonzero(need[owner_of])[0]  # the predicted tokens of those texts
    score = _totals(chunk, ext, pos_need, owner_of[pos_need], slots, len(part))
    perm = _Permutation(owner)
    for r in range(shuffles if need.any() else 0):
        draws = rng.random(len(movable))  # one per movable token of the chunk, as always
        rounds[r] = score(src[perm(draws[tok_need])])  # a permutation within each text
    mean, sd = rounds.mean(0), rounds.std(0, ddof=1) if shuffles > 1 else np.zeros(len(part))
    ok = need & (sd > 1e-9)
    out["z"] = np.where(ok, (orig - mean) / np.where(ok, sd, 1.0), np.nan)
    n_pred = np.bincount(sent_text, minlength=len(part)) + n_tok  # tokens + </s> per sentence
    out["gain"] = np.where(ok, (orig - mean) / np.maximum(n_pred, 1), np.nan)
    return out


def _totals(chunk: _Chunk, ext: np.ndarray, pos: np.ndarray, owner: np.ndarray, slots: np.ndarray, n: int):
    """score(tokens): the log10 p totals per text (n of them) of the predicted positions `pos`
    (of texts `owner`) once `tokens` sit in `slots` of `ext`, summed in position order.

    With the one-lookup table, the positions' tokens are laid out as one stream, per sentence
    <s> <s> w1 .. wn </s>, so u, v, w are three slices of it (the positions between sentences
    go to a bin of their own, n); else `ext` is rewritten and chunk.logprobs gathers them."""
    if chunk.rows is None:
        at = (chunk.pu[pos], chunk.pv[pos], chunk.pw[pos])

        def score(tokens):
            ext[slots] = tokens
            return np.bincount(owner, weights=chunk.logprobs(ext, at), minlength=n)
        return score
    sent = chunk.sent[pos]
    first = np.r_[True, sent[1:] != sent[:-1]] if len(pos) else np.zeros(0, dtype=bool)
    xi = np.arange(len(pos)) + 2 * np.cumsum(first)  # where each predicted token sits in the stream
    px = np.full(len(pos) + 2 * int(first.sum()), N.BOS, dtype=np.int64)
    px[xi] = chunk.pw[pos]
    stream = ext[px]
    inv = np.full(len(ext), -1, dtype=np.int64)
    inv[px[xi]] = xi
    at = inv[slots]  # the stream places of the movable tokens
    xown = np.full(max(len(px) - 2, 0), n, dtype=np.int64)
    xown[xi - 2] = owner
    m, rows, flat = chunk.m, chunk.rows, chunk.flat

    def score(tokens):
        stream[at] = tokens
        lp = flat[rows[stream[:-2] * m + stream[1:-1]] + stream[2:]]
        return np.bincount(xown, weights=lp, minlength=n + 1)[:n]
    return score


class _Permutation:
    """The permutation within each text that argsort(owner + draws) gives (owner: the text of each
    token, non-decreasing), without a float argsort: one integer sort of keys packing the text,
    the draw's top bits (the mantissa of 1 + draw) and the token's place in its text. The same
    permutation wherever no two draws of one text agree in those top bits (RBITS or more: under
    1e-9 per text and shuffle; the float keys themselves tie at 2^-41 for texts 2,048..4,095 of a
    chunk, and round a draw within 2^-42 of 1 into the next text's keys, which these cannot).
    Where the text and place bits leave fewer than RBITS for the draw, it is the argsort."""

    def __init__(self, owner: np.ndarray):
        self.owner = owner
        n = len(owner)
        self.starts = np.searchsorted(owner, owner, side="left").astype(np.int64)
        local = np.arange(n, dtype=np.int64) - self.starts
        tbits = max(int(owner.max()).bit_length(), 1) if n else 1
        lbits = max(int(local.max()).bit_length(), 1) if n else 1
        rbits = min(52, 64 - tbits - lbits)
        self.packed = rbits >= RBITS
        if self.packed:
            self.base = (owner.astype(np.uint64) << np.uint64(64 - tbits)) | local.astype(np.uint64)
            self.mask = np.uint64(((1 << 52) - 1) & ~((1 << (52 - rbits)) - 1))  # the draw's top rbits
            self.shift = lbits + rbits - 52  # mantissa bit 52 - rbits to bit lbits
            self.lmask = (1 << lbits) - 1

    def __call__(self, draws: np.ndarray) -> np.ndarray:
        if not self.packed:
            return np.argsort(self.owner + draws)
        k = np.add(draws, 1.0).view(np.uint64)
        np.bitwise_and(k, self.mask, out=k)
        if self.shift >= 0:
            np.left_shift(k, np.uint64(self.shift), out=k)
        else:
            np.right_shift(k, np.uint64(-self.shift), out=k)
        np.bitwise_or(k, self.base, out=k)
        k.sort(kind="stable")  # timsort: the keys come as runs of texts in order (2.5x quicksort); all distinct
        out = k.view(np.int64)
        np.bitwise_and(out, self.lmask, out=out)
        return np.add(out, self.starts, out=out)
