"""Every measurement of `hearme tibetan filter`, block by block: the cheap checks, the LM score
and unknown share, and the word-order z, for blocks of BLOCK utterances, in forked worker
processes when there are several cores.

A block's results do not depend on the other blocks: the LM scores sentence by sentence, and the
order check seeds its shuffles with the block's offset (hearme.tibetan.order's chunks are the same
4,000 utterances), so any number of workers gives the same numbers, to the bit, as one process.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from hearme.core.progress import bar as progress_bar

BLOCK = 4000  # utterances per block; equal to order_z's chunk, which seeds each chunk by its offset


@dataclass
class Scan:
    """Per utterance: (measurements, reasons) of the cheap checks, and the LM's numbers (or None)."""

    cheap: list = field(default_factory=list)
    lm: np.ndarray | None = None
    unknown: np.ndarray | None = None
    order_z: np.ndarray | None = None
    order_gain: np.ndarray | None = None


_JOB: tuple | None = None  # (texts, lm, order, checks, measure, lm_cutoff) for forked workers


def auto_workers(workers: int) -> int:
    """0 = one process per core (at most 4); otherwise `workers`."""
    return workers if workers > 0 else max(1, min(os.cpu_count() or 1, 4))


def _block(c0: int):
    from hearme.tibetan.order import chunk_scores

    texts, lm, order, checks, measure, lm_cutoff = _JOB
    part = texts[c0:c0 + BLOCK]
    cheap = [measure(t, checks) for t in part]
    if lm is None:
        return c0, cheap, None
    failed = np.array([bool(reasons) for _, reasons in cheap], dtype=bool)

    def settled(got: dict) -> np.ndarray:  # rejected whatever z is: the checks of filter.run
        out = failed | (got["unknown"] > checks.max_unknown)
        return out | (got["lm"] < lm_cutoff) if lm_cutoff is not None else out

    got = chunk_scores(lm, part, shuffles=order.shuffles if order is not None else None,
                       min_tokens=order.min_tokens if order is not None else 8, offset=c0, lm_stats=True,
                       settled=settled if order is not None and order.skip_settled else None)
    return c0, cheap, (got["lm"], got["unknown"], got.get("z"), got.get("gain"))


def scan(texts: list[str], lm, order, checks, measure, *, workers: int = 1, progress: bool = True,
         on_block=None, lm_cutoff: float | None = None) -> Scan:
    """Measure every utterance (`measure(text, checks)`: the cheap checks) and score it with `lm`
    and `order` when given; `on_block(done, total)` is called after each block (WebUI progress).

    An utterance that fails a cheap check, the unknown share or `lm_cutoff` is rejected whatever
    its z, so with `order.skip_settled` it gets no shuffles (z = nan, the same verdicts)."""
    global _JOB
    starts = list(range(0, len(texts), BLOCK))
    workers = min(auto_workers(workers), len(starts))
    out = Scan(cheap=[None] * len(texts))
    if lm is not None:
        out.lm, out.unknown = np.empty(len(texts)), np.empty(len(texts))
        if order is not None:
            out.order_z, out.order_gain = np.empty(len(texts)), np.empty(len(texts))
    bar = progress_bar(len(texts), "filter: measure", unit="utt", enabled=progress)
    _JOB = (texts, lm, order, checks, measure, lm_cutoff)
    pool = None
    try:
        if workers > 1 and _can_fork():
            import multiprocessing as mp

            pool = mp.get_context("fork").Pool(workers)
            results = pool.imap_unordered(_block, starts)
        else:
            pool, results = None, map(_block, starts)
        done = 0
        for c0, cheap, nums in results:
            n = len(cheap)
            out.cheap[c0:c0 + n] = cheap
            if nums is not None:
                out.lm[c0:c0 + n], out.unknown[c0:c0 + n] = nums[0], nums[1]
                if nums[2] is not None:
                    out.order_z[c0:c0 + n], out.order_gain[c0:c0 + n] = nums[2], nums[3]
            done += n
            if bar:
                bar.update(n)
            if on_block:
                on_block(done, len(texts))
    finally:
        if pool is not None:
            pool.terminate()
        _JOB = None
        if bar:
            bar.close()
    return out


def _can_fork() -> bool:
    import multiprocessing as mp

    return "fork" in mp.get_all_start_methods()
