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


def sign_test(n_pos: int, n_neg: int) -> float | None:
    """Exact two-sided sign test (binomial, p = 1/2) on the non-zero differences; None without any."""
    from math import comb

    n = n_pos + n_neg
    if n == 0:
        return None
    k = min(n_pos, n_neg)
    p = 2 * sum(comb(n, i) for i in range(k + 1)) / 2 ** n
    return round(min(1.0, p), 6)


def wilcoxon_p(deltas: Sequence[float]) -> float | None:
    """Two-sided Wilcoxon signed-rank p-value (zeros dropped); None when scipy is missing or n is 0."""
    nonzero = [d for d in deltas if d != 0]
    if not nonzero:
        return None
    try:
        from scipy.stats import wilcoxon
    except ImportError:  # scipy comes with LLaMA-Factory; the sign test stands alone without it
        return None
    return round(float(wilcoxon(nonzero, zero_method="wilcox", alternative="two-sided").pvalue), 6)


def paired(a: Sequence[float], b: Sequence[float], resamples: int = RESAMPLES, seed: int = SEED) -> dict:
    """Paired comparison of b against a over the same items (same order): mean delta b - a with a
    95% percentile-bootstrap CI over items, the exact sign test and the Wilcoxon signed-rank test."""
    import numpy as np

    if len(a) != len(b):
        raise ValueError("paired samples must have the same length")
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    out = {"n": int(d.size), "mean_a": None, "mean_b": None, "delta": None, "ci95": None,
           "n_pos": int((d > 0).sum()), "n_neg": int((d < 0).sum()), "n_zero": int((d == 0).sum()),
           "sign_p": None, "wilcoxon_p": None}
    if d.size == 0:
        return out
    out.update(mean_a=round(float(np.mean(a)), 4), mean_b=round(float(np.mean(b)), 4), delta=round(float(d.mean()), 4))
    if d.size > 1:
        idx = np.random.default_rng(seed).integers(0, d.size, size=(resamples, d.size))
        lo, hi = np.percentile(d[idx].mean(axis=1), [2.5, 97.5])
        out["ci95"] = [round(float(lo), 4), round(float(hi), 4)]
    else:
        out["ci95"] = [out["delta"]] * 2
    out["sign_p"] = sign_test(out["n_pos"], out["n_neg"])
    out["wilcoxon_p"] = wilcoxon_p(d.tolist())
    return out
