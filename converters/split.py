"""Deterministic, grouped, stratified, leak-free splits: `--ratios 70/15/15`, `--ratios 80/20`, `--kfold 5`.

Grouped: records that share a source question (the `group` field, e.g. all PsyQA answers to one
question), an opening (the normalised first client turn: SMILE's rewrites of one PsyQA question)
or a near-duplicate body (Jaccard >= 0.8, MinHash candidates checked exactly) always land in the
same part. Stratified: groups are dealt out per (source, topic) stratum so that each stratum
follows the ratios, and a running global balance keeps small strata from all landing in train.
The report ends with a leak check: cross-part pairs with identical openings or Jaccard >= 0.8.
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from pathlib import Path

from hearme.core import io, schema

PART_NAMES = {2: ("train", "test"), 3: ("train", "val", "test")}
MIN_OPENING = 8  # normalised characters: a bare greeting (你好) is not an opening; the next client turns are added
NEAR = 0.8  # dialogues this similar (exact Jaccard of character 5-grams) never straddle two parts


def group_key(record: schema.Record) -> str:
    return str(record.get("group") or record.get("id") or id(record))


def opening(record: schema.Record) -> str:
    """The client's opening, normalised (case, width, spaces and punctuation folded away): the first
    client turn, extended with the next ones while it is shorter than MIN_OPENING."""
    return openings([record])[0]


def openings(records: list[schema.Record]) -> list[str]:
    """opening() of many records, normalised in one vectorised pass."""
    from hearme.converters.dedup import normalized_codes

    turns = [schema.dialogue_turns(r) for r in records]
    codes, lengths = normalized_codes([next((m["content"] for m in t if m["role"] == "user"), "") for t in turns])
    text = codes.tobytes().decode("utf-32-le")
    out, pos = [], 0
    for t, n in zip(turns, lengths.tolist()):
        first, pos = text[pos:pos + n], pos + n
        u = [m["content"] for m in t if m["role"] == "user"] if n < MIN_OPENING else ()
        if len(u) > 1:  # a bare greeting: add the next client turns
            more_codes, more_lengths = normalized_codes(u[1:])
            more = more_codes.tobytes().decode("utf-32-le")
            k = 0
            for m in more_lengths.tolist():
                first, k = first + more[k:k + m], k + m
                if len(first) >= MIN_OPENING:
                    break
        out.append(first)
    return out


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


class _Union:
    def __init__(self, n: int):
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        while self.parent[x] != x:
            self.parent[x] = self.parent[self.parent[x]]
            x = self.parent[x]
        return x

    def join(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[max(ra, rb)] = min(ra, rb)
        return True


def near_pairs(records: list[schema.Record], threshold: float = NEAR, corpus=None) -> list[tuple[int, int, float]]:
    """(i, j, Jaccard) for record pairs whose dialogue text is at least `threshold` alike: MinHash
    candidates with many narrow bands (a pair at the threshold is missed with odds under 1e-7),
    each checked with the exact Jaccard. `corpus`: the records' dedup.Corpus, if already built."""
    import numpy as np

    from hearme.converters.dedup import Corpus, dialogue_text

    corpus = corpus if corpus is not None else Corpus([dialogue_text(r) for r in records])
    found = []
    for (i, j), _ in sorted(corpus.candidate_pairs(np.arange(len(records)), threshold - 0.25, bands=16).items()):
        sim = corpus.jaccard(i, j)
        if sim >= threshold:
            found.append((i, j, sim))
    return found


def group_records(records: list[schema.Record], near: list[tuple[int, int, float]] | None = None,
                  opening_keys: list[str] | None = None) -> tuple[list[int], dict]:
    """Group index per record, and how groups were joined. Records share a group if they share a
    `group` (one source question) or id, an opening (normalised first client turn), or are near
    duplicates."""
    u = _Union(len(records))
    joined = {"question": 0, "opening": 0, "near duplicate": 0}
    opening_keys = opening_keys if opening_keys is not None else openings(records)
    for kind, keys in (("question", [group_key(r) for r in records]), ("opening", opening_keys)):
        first: dict[str, int] = {}
        for i, key in enumerate(keys):
            if not key:
                continue
            j = first.setdefault(key, i)
            if j != i and u.join(i, j):
                joined[kind] += 1
    for i, j, _ in near if near is not None else near_pairs(records):
        if u.join(i, j):
            joined["near duplicate"] += 1
    roots = [u.find(i) for i in range(len(records))]
    return roots, joined


def leak_check(records: list[schema.Record], parts: list[int], near: list[tuple[int, int, float]],
               opening_keys: list[str] | None = None) -> dict[str, int]:
    """Cross-part pairs with the same opening, and with Jaccard >= NEAR. Both must be 0."""
    keys = opening_keys if opening_keys is not None else openings(records)
    total = Counter(key for key in keys if key)  # records per opening, and per (opening, part):
    within = Counter(pair for pair in zip(keys, parts) if pair[0])  # pairs in all minus pairs within a part
    same = (sum(n * n for n in total.values()) - sum(n * n for n in within.values())) // 2
    return {"identical openings": same, f"Jaccard >= {NEAR}": sum(parts[i] != parts[j] for i, j, _ in near)}


def _assign(records: list[schema.Record], ratios: list[float], seed: int,
            report: dict | None = None, corpus=None) -> list[int]:
    """Part index per record."""
    from hearme.core.progress import gc_paused

    with gc_paused():
        return _assign_groups(records, ratios, seed, report, corpus)


def _assign_groups(records, ratios, seed, report, corpus) -> list[int]:
    near = near_pairs(records, corpus=corpus)
    keys = corpus.openings if corpus is not None and corpus.openings is not None else openings(records)
    roots, joined = group_records(records, near, keys)
    groups: dict[int, list[int]] = defaultdict(list)
    for i, root in enumerate(roots):
        groups[root].append(i)
    strata: dict[tuple[str, str], list[int]] = defaultdict(list)
    for root, idx in groups.items():
        first = records[idx[0]]
        strata[(str(first.get("source") or ""), str(first.get("topic") or ""))].append(root)
    k = len(ratios)
    global_count = [0.0] * k
    assigned_total = 0
    part_of_group: dict[int, int] = {}
    for stratum in sorted(strata):
        order = sorted(strata[stratum], key=lambda r: group_key(records[r]))
        random.Random(f"{seed}|{stratum[0]}|{stratum[1]}").shuffle(order)
        local = [0.0] * k
        local_total = 0
        for key in order:
            size = len(groups[key])
            local_total += size
            assigned_total += size
            # Largest shortfall against the ratios, within the stratum first, then overall (the
            # first part on a tie).
            best, most = 0, None
            for p in range(k):
                short = ratios[p] * local_total - local[p] + ratios[p] * assigned_total - global_count[p]
                if most is None or short > most:
                    best, most = p, short
            local[best] += size
            global_count[best] += size
            part_of_group[key] = best
    parts = [part_of_group[r] for r in roots]
    if report is not None:
        with_topic = sum(1 for r in records if r.get("topic"))
        topics = {str(r.get("topic")) for r in records if r.get("topic")}
        report.update(records=len(records), groups=len(groups), largest_group=max(map(len, groups.values())),
                      joined=joined, strata=len(strata), leaks=leak_check(records, parts, near, keys),
                      stratified=(f"by source and topic ({len(topics)} topics on {with_topic} of {len(records)} records)"
                                  if with_topic else "by source only: no record has a topic, so topic stratification "
                                  "was impossible"))
    return parts


def split_records(records: list[schema.Record], ratios: list[float] | str | None = None, kfold: int | None = None,
                  seed: int = 42, report: dict | None = None, corpus=None) -> dict[str, list[schema.Record]]:
    """Split records; keys train/val/test, train/test, or fold0_train, fold0_test, ... Input order is kept.
    `report`, if given, receives the grouping, stratification and leak-check summary; `corpus`, the
    records' dedup.Corpus if one was already built (e.g. by dedup, via Corpus.subset): its signatures,
    and its openings if it has them, are reused."""
    if (ratios is None) == (kfold is None):
        raise io.HearMeError("give either ratios (e.g. 70/15/15) or kfold, not both")
    if kfold is not None:
        if kfold < 2:
            raise io.HearMeError(f"--kfold {kfold}: need at least 2 folds")
        parts = _assign(records, [1.0 / kfold] * kfold, seed, report, corpus)
        out: dict[str, list[schema.Record]] = {}
        for f in range(kfold):
            out[f"fold{f}_train"] = [r for r, p in zip(records, parts) if p != f]
            out[f"fold{f}_test"] = [r for r, p in zip(records, parts) if p == f]
        return out
    fr = parse_ratios(ratios) if isinstance(ratios, str) else [float(x) / sum(ratios) for x in ratios]
    if len(fr) not in PART_NAMES:
        raise io.HearMeError("ratios need two or three parts")
    parts = _assign(records, fr, seed, report, corpus)
    return {name: [r for r, p in zip(records, parts) if p == i] for i, name in enumerate(PART_NAMES[len(fr)])}


def split_file(path, *, ratios: str | None = None, kfold: int | None = None, seed: int = 42, name: str | None = None,
               out_dir=None, dataset_dir=None, register: bool = True, license: str = "",
               report: dict | None = None) -> dict[str, tuple[Path, int]]:
    """Split a records file, write NAME_<part>.json beside it (or in out_dir) and register each part."""
    from hearme.core import registry

    path = Path(path)
    records = io.load_records(path)
    if not records:
        raise io.InputError(path, "", "no records to split")
    name = name or path.stem
    out_dir = Path(out_dir) if out_dir else path.parent
    parts = split_records(records, ratios=ratios, kfold=kfold, seed=seed, report=report)
    empty = [p for p, recs in parts.items() if not recs]
    if empty:
        raise io.HearMeError(f"{path}: {len(records)} records are too few for this split ({', '.join(empty)} would be empty)")
    meta = {**registry.record_meta(records), **({"license": license} if license else {})}  # of all parts
    paths = io.write_records_many([(out_dir / f"{name}_{part}.json", recs) for part, recs in parts.items()])
    written: dict[str, tuple[Path, int]] = {}
    for (part, recs), out in zip(parts.items(), paths):
        if register:
            registry.register(out, f"{name}_{part}", dataset_dir, **meta)
        written[part] = (out, len(recs))
    return written

