"""Syllable trigram language model with interpolated modified Kneser-Ney smoothing.

The estimator is KenLM's (lmplz): adjusted (continuation) counts for lower orders, with
n-grams starting at <s> keeping raw counts; three discounts per order from the counts of
counts (Chen & Goodman eq. 26); interpolation down to a uniform distribution over the
vocabulary (which includes <unk> and excludes <s>). Queries use KenLM's backoff form:
the longest stored n-gram plus the backoffs of the longer contexts.

Everything is integer-encoded numpy: one regex scan per chunk of text, vocabulary ids by
dict lookup, counting by sort/unique, lookups by a vectorized hash table. A sentence is one
utterance: `<s> tokens </s>`; tokens are `text.tokens(keep_shad=True)` with numbers as <num>.
Estimation and the query share one encoded model layout, kept in one place; the word-order
statistic built on the query is in hearme.tibetan.order.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Iterable, Iterator, Sequence

import numpy as np

from hearme.core import io
from hearme.tibetan import text as T
from hearme.tibetan.hashtable import HashTable

UNK, BOS, EOS, SHAD_ID, NUM = 0, 1, 2, 3, 4
SPECIALS = ["<unk>", "<s>", "</s>", T.SHAD, "<num>"]
SEP = -1  # sentence separator inside an encoded chunk
BITS = 21  # ids per key field: vocabularies up to 2,097,151 types
MAX_VOCAB = (1 << BITS) - 1
FALLBACK_DISCOUNTS = (0.5, 1.0, 1.5)  # lmplz --discount_fallback
FORMAT = "hearme-kn3/1"
CHUNK_TEXTS = 20000

# The same token classes as text.tokens, plus "\n" as the sentence separator. Consuming the
# common delimiters (tsheg, space) inside the match makes the scan a third faster.
_LM_TOKEN_RE = re.compile(
    rf"[\u0f0b ]*+([{T.SYL_CHARS}]++|\n|[\u0f20-\u0f33]+|[0-9]+(?:[.,][0-9]+)*|[{T.SHAD_CHARS}]+|[{T.HAN}]"
    rf"|{T._LETTER}(?:{T._LETTER}|[{T.OTHER_MARKS}])*)"
)
_SHAD_SET = frozenset("\u0f08\u0f0d\u0f0e\u0f0f\u0f10\u0f11\u0f12\u0f14")
_DIGITS = frozenset("0123456789\u0f20\u0f21\u0f22\u0f23\u0f24\u0f25\u0f26\u0f27\u0f28\u0f29"
                    "\u0f2a\u0f2b\u0f2c\u0f2d\u0f2e\u0f2f\u0f30\u0f31\u0f32\u0f33")


def lm_tokens(text: str) -> list[str]:
    """The tokens the model sees for one sentence (slow path, for inspection and tests)."""
    out = []
    for tok in T.tokens(text, keep_shad=True):
        out.append("<num>" if tok[0] in _DIGITS else tok)
    return out


class _Ids(dict):
    """token string -> id; unknown strings are classified once and cached."""

    def __init__(self, vocab: dict[str, int], grow: bool):
        super().__init__(vocab)
        self.vocab, self.grow = vocab, grow
        self["\n"] = SEP

    def __missing__(self, tok: str) -> int:
        c = tok[0]
        if c in _SHAD_SET:
            i = SHAD_ID
        elif c in _DIGITS:
            i = NUM
        elif tok in self.vocab:
            i = self.vocab[tok]
        elif self.grow:
            if len(self.vocab) >= MAX_VOCAB:
                raise io.HearMeError(f"LM vocabulary exceeds {MAX_VOCAB} types")
            i = self.vocab[tok] = len(self.vocab)
        else:
            i = UNK
        self[tok] = i
        return i


def _encode_chunk(texts: Sequence[str], ids: _Ids) -> np.ndarray:
    """One chunk of sentences -> int32 ids with SEP between sentences (shad runs collapsed)."""
    big = T.normalize("\n".join(t.replace("\n", " ") for t in texts))
    toks = _LM_TOKEN_RE.findall(big)
    arr = np.fromiter(map(ids.__getitem__, toks), dtype=np.int32, count=len(toks))
    arr = np.concatenate(([SEP], arr))
    # a shad is kept only right after a real token (as text.tokens(keep_shad=True) does)
    prev = np.concatenate(([SEP], arr[:-1]))
    drop = (arr == SHAD_ID) & ((prev == SHAD_ID) | (prev == SEP))
    return arr[~drop]


def _streams(chunk: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(u, v, w, sentence index) for every predicted position, `<s> w1 .. wn </s>` per sentence.

    The first word has context (<s>, <s>): no such trigram or trigram context is ever stored,
    so it falls back to the bigram `<s> w1`, exactly as KenLM's begin-sentence state does.
    """
    is_sep = chunk == SEP
    n_sent = int(is_sep.sum())
    # replace each SEP by </s> <s> (and drop the leading </s>), then append the final </s>
    rep = np.where(is_sep, 2, 1)
    seq = np.repeat(chunk, rep)
    starts = np.cumsum(rep) - rep
    seq[starts[is_sep]] = EOS
    seq[starts[is_sep] + 1] = BOS
    seq = np.concatenate((seq[1:], [EOS]))
    pos = np.nonzero(seq != BOS)[0]
    w = seq[pos].astype(np.int64)
    v = seq[pos - 1].astype(np.int64)
    u = np.where(v == BOS, BOS, seq[np.maximum(pos - 2, 0)]).astype(np.int64)
    sent = np.cumsum(seq == BOS)[pos] - 1
    assert sent.size == 0 or sent[-1] == n_sent - 1
    return u, v, w, sent


def _key2(v, w):
    return (v << BITS) | w


def _key3(u, v, w):
    return (u << (2 * BITS)) | (v << BITS) | w


def _discounts(adjusted: np.ndarray, order: int, notes: list[str]) -> np.ndarray:
    """D(0..3) from the counts of adjusted counts 1..4 (Chen & Goodman eq. 26)."""
    n = np.bincount(np.minimum(adjusted, 5), minlength=6)[:5].astype(np.float64)
    d = np.zeros(4)
    ok = all(n[k] > 0 for k in (1, 2, 3, 4))
    if ok:
        y = n[1] / (n[1] + 2 * n[2])
        for k in (1, 2, 3):
            d[k] = k - (k + 1) * y * n[k + 1] / n[k]
        ok = all(0 < d[k] <= k for k in (1, 2, 3))
    if not ok:
        d[1:] = FALLBACK_DISCOUNTS
        notes.append(f"order {order}: too little data for KN discounts, used fallback {FALLBACK_DISCOUNTS}")
    return d


def _context_stats(ctx: np.ndarray, counts: np.ndarray, disc: np.ndarray):
    """Per distinct context (ctx sorted): (contexts, first index, denominator, gamma)."""
    uniq, first = np.unique(ctx, return_index=True)
    denom = np.add.reduceat(counts, first).astype(np.float64)
    cls = np.minimum(counts, 3)
    mass = np.add.reduceat(disc[cls], first)
    return uniq, first, denom, mass / denom


class KNTrigram:
    """A trained model. Build with `KNTrigram.fit(texts)`; `score(texts)` gives mean log10 p/token."""

    order = 3

    def __init__(self, vocab: list[str], p1: np.ndarray, b1: np.ndarray, t2: HashTable, t3: HashTable,
                 b2: HashTable, meta: dict):
        self.vocab = vocab
        self.index = {s: i for i, s in enumerate(vocab)}
        self.p1, self.b1, self.t2, self.t3, self.b2 = p1, b1, t2, t3, b2
        self.meta = meta

    # ------------------------------------------------------------ training

    @classmethod
    def fit(cls, texts: Iterable[str], *, progress: bool = False) -> "KNTrigram":
        vocab = {s: i for i, s in enumerate(SPECIALS)}
        ids = _Ids(vocab, grow=True)
        tri_keys, bos_keys, n_tokens, n_sent = [], [], 0, 0
        for chunk in _progress(_chunks(texts), progress, "LM fit"):
            enc = _encode_chunk(chunk, ids)
            u, v, w, sent = _streams(enc)
            lengths = np.bincount(sent, minlength=len(chunk))
            keep = lengths[sent] > 1  # skip empty sentences (only </s>)
            u, v, w = u[keep], v[keep], w[keep]
            n_tokens += int(keep.sum()) - int((lengths > 1).sum())
            n_sent += int((lengths > 1).sum())
            first = v == BOS
            tri_keys.append(_key3(u[~first], v[~first], w[~first]))
            bos_keys.append(_key2(v[first], w[first]))
        if n_tokens == 0:
            raise io.HearMeError("the LM corpus has no tokens (empty or not text)")
        vocab_list = [None] * len(vocab)
        for s, i in vocab.items():
            vocab_list[i] = s
        return cls._estimate(vocab_list, np.concatenate(tri_keys), np.concatenate(bos_keys),
                             {"sentences": n_sent, "tokens": n_tokens})

    @classmethod
    def _estimate(cls, vocab: list[str], tri_keys: np.ndarray, bos_keys: np.ndarray, meta: dict) -> "KNTrigram":
        V = len(vocab)
        notes: list[str] = []
        mask2 = (1 << (2 * BITS)) - 1
        # trigrams: raw counts
        k3, c3 = np.unique(tri_keys, return_counts=True)
        # bigrams: raw counts after <s>, else the number of distinct left extensions
        kb, cb = np.unique(bos_keys, return_counts=True)
        kc, cc = np.unique(k3 & mask2, return_counts=True)
        order2 = np.argsort(np.concatenate((kb, kc)), kind="stable")
        k2 = np.concatenate((kb, kc))[order2]
        c2 = np.concatenate((cb, cc))[order2]
        # unigrams: distinct left extensions among bigram types
        c1 = np.bincount(k2 & MAX_VOCAB, minlength=V)
        c1[BOS] = 0
        d1, d2, d3 = _discounts(c1[c1 > 0], 1, notes), _discounts(c2, 2, notes), _discounts(c3, 3, notes)

        # order 1, interpolated with uniform over the vocabulary (with <unk>, without <s>)
        seen1 = c1 > 0
        n_vocab = int(seen1.sum()) + (0 if seen1[UNK] else 1)
        denom1 = float(c1.sum())
        gamma1 = float(d1[np.minimum(c1[seen1], 3)].sum()) / denom1
        p1 = (c1 - d1[np.minimum(c1, 3)]) / denom1 + gamma1 / n_vocab
        # order 2
        ctx2, first2, den2, gam2 = _context_stats(k2 >> BITS, c2, d2)
        den2_per = np.repeat(den2, np.diff(np.append(first2, len(k2))))
        gam2_per = np.repeat(gam2, np.diff(np.append(first2, len(k2))))
        p2 = (c2 - d2[np.minimum(c2, 3)]) / den2_per + gam2_per * p1[k2 & MAX_VOCAB]
        b1 = np.zeros(V)
        b1[ctx2] = np.log10(gam2)
        # order 3 (every trigram's suffix bigram exists by construction)
        ctx3, first3, den3, gam3 = _context_stats(k3 >> BITS, c3, d3)
        reps = np.diff(np.append(first3, len(k3)))
        suffix = np.searchsorted(k2, k3 & mask2)
        p3 = (c3 - d3[np.minimum(c3, 3)]) / np.repeat(den3, reps) + np.repeat(gam3, reps) * p2[suffix]

        logp1 = np.log10(np.where(p1 > 0, p1, 1.0))
        logp1[BOS] = -99.0
        # n-grams ending in </s> or <unk> are never contexts (KenLM stores backoff 0 for them)
        b1[[EOS, UNK]] = 0.0
        meta = dict(meta, format=FORMAT, order=3, vocab=n_vocab, trigrams=int(len(k3)), bigrams=int(len(k2)),
                    discounts={str(o): [round(float(x), 10) for x in d[1:]] for o, d in ((1, d1), (2, d2), (3, d3))},
                    notes=notes)
        return cls(vocab, logp1, b1, HashTable(k2, np.log10(p2)), HashTable(k3, np.log10(p3)),
                   HashTable(ctx3, np.log10(gam3)), meta)

    # ------------------------------------------------------------ scoring

    def _logprobs(self, u, v, w) -> np.ndarray:
        lp, hit3 = self.t3.get(_key3(u, v, w))
        miss = ~hit3
        if miss.any():
            um, vm, wm = u[miss], v[miss], w[miss]
            back3, _ = self.b2.get(_key3(um, vm, 0) >> BITS, 0.0)
            lp2, hit2 = self.t2.get(_key2(vm, wm))
            lp2[~hit2] = self.b1[vm[~hit2]] + self.p1[wm[~hit2]]
            lp[miss] = back3 + lp2
        return lp

    def _score_chunk(self, chunk: list[str], ids: _Ids):
        u, v, w, sent = _streams(_encode_chunk(chunk, ids))
        lp = self._logprobs(u, v, w)
        n = len(chunk)
        return (np.bincount(sent, weights=lp, minlength=n), np.bincount(sent, minlength=n),
                np.bincount(sent, weights=(w == UNK), minlength=n).astype(np.int64))

    def score_detail(self, texts: Iterable[str], *, workers: int = 1, progress: bool = False,
                     total: int | None = None):
        """Per sentence: (total log10 prob, predicted tokens incl. </s>, OOV tokens).

        workers > 1 scores chunks in forked processes (order is kept).
        """
        global _WORKER_MODEL
        parts = []
        chunks = _progress(_chunks(texts), progress, "LM score", total)
        if workers > 1 and _can_fork():
            import multiprocessing as mp

            _WORKER_MODEL = self
            try:
                with mp.get_context("fork").Pool(workers) as pool:
                    parts = list(pool.imap(_score_in_worker, chunks))
            finally:
                _WORKER_MODEL = None
        else:
            ids = _Ids(self.index, grow=False)
            parts = [self._score_chunk(chunk, ids) for chunk in chunks]
        if not parts:
            return np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        return tuple(np.concatenate(x) for x in zip(*parts))

    def score(self, texts: Iterable[str], **kw) -> np.ndarray:
        """Mean log10 probability per token (including </s>) for each sentence."""
        total, count, _ = self.score_detail(texts, **kw)
        return total / np.maximum(count, 1)

    def token_logprobs(self, text: str) -> list[tuple[str, float]]:
        """(token, log10 p) for one sentence, ending with </s> (for inspection)."""
        ids = _Ids(self.index, grow=False)
        u, v, w, _ = _streams(_encode_chunk([text], ids))
        names = [self.vocab[i] if i != UNK else "<unk>" for i in w]
        return list(zip(names, self._logprobs(u, v, w).tolist()))

    def perplexity(self, texts: Iterable[str]) -> float:
        total, count, _ = self.score_detail(texts)
        return float(10 ** (-total.sum() / max(count.sum(), 1)))

    # ------------------------------------------------------------ persistence

    def save(self, path: str | Path) -> Path:
        k2, v2 = self.t2.items()
        k3, v3 = self.t3.items()
        kb, vb = self.b2.items()
        path = Path(path)
        with io.atomic_open(path, "wb") as fh:
            np.savez(fh, vocab=np.array(self.vocab), p1=self.p1, b1=self.b1, k2=k2, v2=v2, k3=k3, v3=v3,
                     kb=kb, vb=vb, meta=np.array(json.dumps(self.meta, ensure_ascii=False)))
        return path

    @classmethod
    def load(cls, path: str | Path) -> "KNTrigram":
        try:
            z = np.load(path, allow_pickle=False)
            meta = json.loads(str(z["meta"]))
            if meta.get("format") != FORMAT:
                raise ValueError(f"format {meta.get('format')!r}")
            return cls(z["vocab"].tolist(), z["p1"], z["b1"], HashTable(z["k2"], z["v2"]),
                       HashTable(z["k3"], z["v3"]), HashTable(z["kb"], z["vb"]), meta)
        except FileNotFoundError:
            raise io.InputError(path, "", "no such LM file") from None
        except (OSError, ValueError, KeyError) as e:
            raise io.InputError(path, "", f"not a HearMe KN trigram model ({e})") from None


_WORKER_MODEL: "KNTrigram | None" = None
_WORKER_IDS: "_Ids | None" = None


def _score_in_worker(chunk: list[str]):
    global _WORKER_IDS
    assert _WORKER_MODEL is not None
    if _WORKER_IDS is None:
        _WORKER_IDS = _Ids(_WORKER_MODEL.index, grow=False)
    return _WORKER_MODEL._score_chunk(chunk, _WORKER_IDS)


def _can_fork() -> bool:
    import multiprocessing as mp

    return "fork" in mp.get_all_start_methods()


def _chunks(texts: Iterable[str], size: int = CHUNK_TEXTS) -> Iterator[list[str]]:
    buf: list[str] = []
    for t in texts:
        buf.append(t)
        if len(buf) >= size:
            yield buf
            buf = []
    if buf:
        yield buf


def _progress(it, enabled: bool, desc: str, total: int | None = None):
    if not enabled:
        return it
    from tqdm import tqdm

    return tqdm(it, desc=desc, unit="chunk", total=None if total is None else -(-total // CHUNK_TEXTS),
                leave=False, dynamic_ncols=True)


def read_corpus(path: str | Path) -> list[str]:
    """Non-blank lines of a monolingual corpus file; it must hold Tibetan text."""
    text, _ = io.read_text(path)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise io.InputError(path, "", "the LM corpus is empty")
    sample = "\n".join(lines[:2000])
    share = T.tibetan_share(sample)
    if share < 0.5:
        raise io.InputError(path, "", f"the LM corpus is not Tibetan (Tibetan letters {share:.0%} of letters)")
    return lines
