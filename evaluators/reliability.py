"""How far a judge's scores can be trusted: Krippendorff's alpha and quadratic-weighted kappa, with CIs.

Self-consistency: one judge asked K times per item (`hearme judge --repeat K`), units = items,
coders = repeats. Agreement: several judges (`--judges A,B`), coders = judges (first repeat each),
plus weighted kappa for every pair. An unscored rating is missing, never 0; a unit with fewer than
two ratings does not count. CIs are 95% percentile bootstraps over items (seeded). alpha is None
when the scores do not vary at all (agreement is then trivial and alpha undefined).
Krippendorff's reading: alpha >= 0.8 reliable, >= 0.667 tentative conclusions only, below that not.
"""

from __future__ import annotations

from typing import Sequence

RESAMPLES = 1000
SEED = 0
RELIABLE, TENTATIVE = 0.8, 0.667


def _unit_counts(units: Sequence[Sequence[float | None]]):
    """(values, counts): the distinct values and, per pairable unit, how often each value occurs."""
    import numpy as np

    rows = [[v for v in u if v is not None] for u in units]
    rows = [r for r in rows if len(r) >= 2]
    values = sorted({v for r in rows for v in r})
    pos = {v: i for i, v in enumerate(values)}
    counts = np.zeros((len(rows), len(values)))
    for i, r in enumerate(rows):
        for v in r:
            counts[i, pos[v]] += 1
    return np.asarray(values, dtype=float), counts


def _alphas(values, coincidences, level: str):
    """alpha for each coincidence matrix in a (B, V, V) stack; nan where undefined."""
    import numpy as np

    n_c = coincidences.sum(axis=2)  # (B, V)
    n = n_c.sum(axis=1)  # (B,)
    if level == "nominal":
        d2 = np.broadcast_to(1.0 - np.eye(len(values)), coincidences.shape)
    elif level == "interval":
        d2 = np.broadcast_to((values[:, None] - values[None, :]) ** 2, coincidences.shape)
    elif level == "ordinal":  # (sum of n_g from c to k, minus half of n_c and n_k) squared
        cum = np.cumsum(n_c, axis=1)
        lo = np.minimum.outer(np.arange(len(values)), np.arange(len(values)))
        hi = np.maximum.outer(np.arange(len(values)), np.arange(len(values)))
        between = cum[:, hi] - cum[:, lo] + n_c[:, lo]
        d2 = (between - (n_c[:, :, None] + n_c[:, None, :]) / 2) ** 2
    else:
        raise ValueError(f"level must be nominal, ordinal or interval, got {level!r}")
    observed = (coincidences * d2).sum(axis=(1, 2))
    expected = (n_c[:, :, None] * n_c[:, None, :] * d2).sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(expected > 0, 1 - (n - 1) * observed / expected, np.nan)


def alpha(units: Sequence[Sequence[float | None]], level: str = "ordinal", resamples: int = RESAMPLES,
          seed: int = SEED) -> dict:
    """Krippendorff's alpha of UNITS (one list of ratings per item, None = missing).

    {"alpha", "ci95", "n_units" (pairable items), "n_ratings", "level"}; alpha None without variation."""
    import numpy as np

    values, counts = _unit_counts(units)
    out = {"alpha": None, "ci95": None, "n_units": int(counts.shape[0]), "n_ratings": int(counts.sum()), "level": level}
    if counts.shape[0] == 0:
        return out
    m = counts.sum(axis=1)
    per_unit = (counts[:, :, None] * counts[:, None, :] - counts[:, :, None] * np.eye(len(values))) / (m - 1)[:, None, None]
    point = _alphas(values, per_unit.sum(axis=0)[None], level)[0]
    if np.isnan(point):
        return out
    out["alpha"] = round(float(point), 4)
    if counts.shape[0] > 1:
        idx = np.random.default_rng(seed).integers(0, counts.shape[0], size=(resamples, counts.shape[0]))
        weights = np.stack([np.bincount(row, minlength=counts.shape[0]) for row in idx])  # (B, U)
        boot = _alphas(values, np.tensordot(weights, per_unit, axes=1), level)
        boot = boot[~np.isnan(boot)]
        if boot.size:
            lo, hi = np.percentile(boot, [2.5, 97.5])
            out["ci95"] = [round(float(lo), 4), round(float(hi), 4)]
    return out


def weighted_kappa(a: Sequence[float | None], b: Sequence[float | None], lo: int, hi: int,
                   resamples: int = RESAMPLES, seed: int = SEED) -> dict:
    """Cohen's kappa with quadratic weights between two raters over the items both scored (range lo..hi).

    {"kappa", "ci95", "n"}; kappa None when there is no expected disagreement."""
    import numpy as np

    pairs = np.asarray([(x, y) for x, y in zip(a, b) if x is not None and y is not None], dtype=int).reshape(-1, 2)
    out = {"kappa": None, "ci95": None, "n": int(len(pairs))}
    if len(pairs) == 0:
        return out
    k = hi - lo + 1
    w = (np.subtract.outer(np.arange(k), np.arange(k)) ** 2) / max(1, (k - 1) ** 2)

    def kappa(rows: np.ndarray) -> float:
        obs = np.zeros((k, k))
        np.add.at(obs, (rows[:, 0] - lo, rows[:, 1] - lo), 1)
        obs /= len(rows)
        exp = np.outer(obs.sum(axis=1), obs.sum(axis=0))
        den = (w * exp).sum()
        return float("nan") if den == 0 else float(1 - (w * obs).sum() / den)

    point = kappa(pairs)
    if np.isnan(point):
        return out
    out["kappa"] = round(point, 4)
    if len(pairs) > 1:
        rng = np.random.default_rng(seed)
        boot = np.asarray([kappa(pairs[rng.integers(0, len(pairs), len(pairs))]) for _ in range(resamples)])
        boot = boot[~np.isnan(boot)]
        if boot.size:
            lo_ci, hi_ci = np.percentile(boot, [2.5, 97.5])
            out["ci95"] = [round(float(lo_ci), 4), round(float(hi_ci), 4)]
    return out


def verdict(a: float | None) -> str:
    """Krippendorff's reading of an alpha."""
    if a is None:
        return "undefined (no variation)"
    return "reliable" if a >= RELIABLE else "tentative" if a >= TENTATIVE else "unreliable"


def summarize_ratings(ratings: Sequence[dict], judges: Sequence[str], repeat: int) -> dict:
    """summary.json["reliability"] from ratings.jsonl rows (id, judge, repeat, status, the four scores).

    self: per judge, alpha over its repeats (when repeat > 1); between: alpha over the judges' first
    asks and quadratic-weighted kappa per pair (when there are 2+ judges). Per dimension and total."""
    from hearme.evaluators import rubric

    dims = [(key, lo, hi) for key, lo, hi, _, _ in rubric.DIMENSIONS]
    table: dict[tuple[str, str, int], dict] = {(r["judge"], r["id"], r["repeat"]): r for r in ratings}
    ids = list(dict.fromkeys(r["id"] for r in ratings))

    def score(judge: str, item: str, rep: int, key: str) -> float | None:
        r = table.get((judge, item, rep))
        if not r or r.get("status") != "scored":
            return None
        return sum(r[k] for k in rubric.KEYS) if key == "total" else r[key]

    def block(coders: Sequence[tuple[str, int]]) -> dict:
        out = {}
        for key, *_ in dims + [("total", 0, 9)]:
            units = [[score(j, i, rep, key) for j, rep in coders] for i in ids]
            res = alpha(units, "interval" if key == "total" else "ordinal")
            out[key] = {**res, "verdict": verdict(res["alpha"])}
        return out

    unscored = {j: sum(1 for r in ratings if r["judge"] == j and r.get("status") != "scored") for j in judges}
    out: dict = {"repeat": repeat, "judges": list(judges), "n_items": len(ids), "n_ratings": len(ratings),
                 "n_unscored": unscored, "method": "Krippendorff's alpha (ordinal per dimension, interval for the "
                 "0-9 total); quadratic-weighted kappa per judge pair; 95% bootstrap CIs over items "
                 f"({RESAMPLES} resamples, seed {SEED}); unscored ratings are missing, never 0",
                 "thresholds": {"reliable": RELIABLE, "tentative": TENTATIVE}}
    if repeat > 1:
        out["self"] = {j: block([(j, r) for r in range(repeat)]) for j in judges}
    if len(judges) > 1:
        out["between"] = {"alpha": block([(j, 0) for j in judges]), "kappa": {}}
        for x in range(len(judges)):
            for y in range(x + 1, len(judges)):
                a, b = judges[x], judges[y]
                out["between"]["kappa"][f"{a} ~ {b}"] = {
                    key: weighted_kappa([score(a, i, 0, key) for i in ids], [score(b, i, 0, key) for i in ids], lo, hi)
                    for key, lo, hi in dims}
    return out


def lines(rel: dict) -> list[str]:
    """Plain-text lines for the terminal: one per judge (self) and one for the agreement."""
    def row(block: dict) -> str:
        return ", ".join(f"{k} {'n/a' if d['alpha'] is None else format(d['alpha'], '.2f')}"
                         + (f" [{d['ci95'][0]:.2f}, {d['ci95'][1]:.2f}]" if d.get("ci95") else "") for k, d in block.items())

    out = []
    for judge, block in (rel.get("self") or {}).items():
        out.append(f"  self-consistency of {judge} over {rel['repeat']} asks (alpha): " + row(block))
    if rel.get("between"):
        out.append(f"  agreement of {', '.join(rel['judges'])} (alpha): " + row(rel["between"]["alpha"]))
    return out
