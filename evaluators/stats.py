"""Means and shares with 95% percentile-bootstrap confidence intervals (seeded, reproducible)."""

from __future__ import annotations

from typing import Sequence

RESAMPLES = 2000
SEED = 0


def mean_ci(values: Sequence[float], resamples: int = RESAMPLES, seed: int = SEED) -> dict:
    """{"mean", "ci95": [lo, hi], "n"}; mean None when there are no values."""
    import numpy as np

    x = np.asarray(list(values), dtype=float)
    if x.size == 0:
        return {"mean": None, "ci95": None, "n": 0}
    if x.size == 1:
        return {"mean": round(float(x[0]), 4), "ci95": [round(float(x[0]), 4)] * 2, "n": 1}
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return {"mean": round(float(x.mean()), 4), "ci95": [round(float(lo), 4), round(float(hi), 4)], "n": int(x.size)}


def shares_ci(labels: Sequence[str], categories: Sequence[str], resamples: int = RESAMPLES, seed: int = SEED) -> dict:
    """{category: {"share", "ci95", "count"}} for categorical outcomes (e.g. better/equal/worse)."""
    out = {}
    for c in categories:
        r = mean_ci([1.0 if lab == c else 0.0 for lab in labels], resamples, seed)
        out[c] = {"share": r["mean"], "ci95": r["ci95"], "count": sum(lab == c for lab in labels)}
    return out


def mean_cis(columns: dict[str, Sequence[float]], resamples: int = RESAMPLES, seed: int = SEED) -> dict[str, list]:
    """95% CIs for several equally long columns from one shared set of resamples (one gather)."""
    import numpy as np

    keys = list(columns)
    x = np.asarray([list(columns[k]) for k in keys], dtype=float)  # (k, n)
    if x.size == 0 or x.shape[1] < 2:
        return {k: mean_ci(columns[k])["ci95"] for k in keys}
    n = x.shape[1]
    idx = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    counts = np.bincount((idx + n * np.arange(resamples)[:, None]).ravel(), minlength=resamples * n)
    means = x @ counts.reshape(resamples, n).T / n  # (k, resamples): one matrix product, no big gather
    lo, hi = np.percentile(means, [2.5, 97.5], axis=1)
    return {k: [round(float(a), 4), round(float(b), 4)] for k, a, b in zip(keys, lo, hi)}
