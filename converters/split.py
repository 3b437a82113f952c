"""Deterministic, grouped, stratified splits: `--ratios 70/15/15`, `--ratios 80/20`, `--kfold 5`.

Grouped: records sharing a group (the `group` field, else the id: one dialogue, or all PsyQA
answers to one question) always land in the same part. Stratified: groups are dealt out per
(source, topic) stratum so that each stratum follows the ratios, and a running global
balance keeps small strata from all landing in train.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from pathlib import Path

from hearme import io, schema

PART_NAMES = {2: ("train", "test"), 3: ("train", "val", "test")}


def group_key(record: schema.Record) -> str:
    return str(record.get("group") or record.get("id") or id(record))


def parse_ratios(text: str) -> list[float]:
    """'70/15/15' or '0.8/0.2' -> fractions summing to 1."""
    try:
        values = [float(v) for v in re.split(r"[/:,]", text) if v.strip()]
    except ValueError:
        raise io.HearMeError(f"--ratios {text!r}: expected numbers like 70/15/15 or 80/20") from None
    if len(values) not in PART_NAMES or any(v <= 0 for v in values):
        raise io.HearMeError(f"--ratios {text!r}: give two or three positive parts (train/test or train/val/test)")
    total = sum(values)
    return [v / total for v in values]


def _assign(records: list[schema.Record], ratios: list[float], seed: int) -> list[int]:
    """Part index per record."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, rec in enumerate(records):
        groups[group_key(rec)].append(i)
    strata: dict[tuple[str, str], list[str]] = defaultdict(list)
    for key, idx in groups.items():
        first = records[idx[0]]
        strata[(str(first.get("source") or ""), str(first.get("topic") or ""))].append(key)
    k = len(ratios)
    global_count = [0.0] * k
    assigned_total = 0
    part_of_group: dict[str, int] = {}
    for stratum in sorted(strata):
        keys = sorted(strata[stratum])
        random.Random(f"{seed}|{stratum[0]}|{stratum[1]}").shuffle(keys)
        local = [0.0] * k
        local_total = 0
        for key in keys:
            size = len(groups[key])
            local_total += size
            assigned_total += size
            # Largest shortfall against the ratios, within the stratum first, then overall.
            best = max(range(k), key=lambda p: (ratios[p] * local_total - local[p]
                                                + ratios[p] * assigned_total - global_count[p], -p))
            local[best] += size
            global_count[best] += size
            part_of_group[key] = best
    return [part_of_group[group_key(r)] for r in records]


def split_records(records: list[schema.Record], ratios: list[float] | str | None = None, kfold: int | None = None,
                  seed: int = 42) -> dict[str, list[schema.Record]]:
    """Split records; keys train/val/test, train/test, or fold0_train, fold0_test, ... Input order is kept."""
    if (ratios is None) == (kfold is None):
        raise io.HearMeError("give either ratios (e.g. 70/15/15) or kfold, not both")
    if kfold is not None:
        if kfold < 2:
            raise io.HearMeError(f"--kfold {kfold}: need at least 2 folds")
        parts = _assign(records, [1.0 / kfold] * kfold, seed)
        out: dict[str, list[schema.Record]] = {}
        for f in range(kfold):
            out[f"fold{f}_train"] = [r for r, p in zip(records, parts) if p != f]
            out[f"fold{f}_test"] = [r for r, p in zip(records, parts) if p == f]
        return out
    fr = parse_ratios(ratios) if isinstance(ratios, str) else [float(x) / sum(ratios) for x in ratios]
    if len(fr) not in PART_NAMES:
        raise io.HearMeError("ratios need two or three parts")
    parts = _assign(records, fr, seed)
    return {name: [r for r, p in zip(records, parts) if p == i] for i, name in enumerate(PART_NAMES[len(fr)])}


def split_file(path, *, ratios: str | None = None, kfold: int | None = None, seed: int = 42, name: str | None = None,
               out_dir=None, dataset_dir=None, register: bool = True, license: str = "") -> dict[str, tuple[Path, int]]:
    """Split a records file, write NAME_<part>.json beside it (or in out_dir) and register each part."""
    from hearme import registry

    path = Path(path)
    records = io.load_records(path)
    if not records:
        raise io.InputError(path, "", "no records to split")
    name = name or path.stem
    out_dir = Path(out_dir) if out_dir else path.parent
    parts = split_records(records, ratios=ratios, kfold=kfold, seed=seed)
    empty = [p for p, recs in parts.items() if not recs]
    if empty:
        raise io.HearMeError(f"{path}: {len(records)} records are too few for this split ({', '.join(empty)} would be empty)")
    meta = {**registry.record_meta(records), **({"license": license} if license else {})}  # of all parts
    written: dict[str, tuple[Path, int]] = {}
    for part, recs in parts.items():
        out = io.write_records(out_dir / f"{name}_{part}.json", recs)
        if register:
            registry.register(out, f"{name}_{part}", dataset_dir, **meta)
        written[part] = (out, len(recs))
    return written
