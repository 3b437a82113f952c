"""Subsets: emoji dialogues (`--emoji`) and topic-balanced seed sets (`--per-topic N`)."""

from __future__ import annotations

import random
from collections import defaultdict

from hearme.core import schema
from hearme.converters.emoji_stats import record_has_emoji


def select_records(records: list[schema.Record], *, emoji: bool = False, role: str | None = None,
                   per_topic: int | None = None, seed: int = 42) -> list[schema.Record]:
    """Filter to emoji dialogues (optionally only emoji in `role` turns), then take at most
    `per_topic` records per topic, sampled deterministically with `seed`. Input order is kept."""
    chosen = [r for r in records if record_has_emoji(r, role)] if emoji else list(records)
    if per_topic is None:
        return chosen
    by_topic: dict[str, list[int]] = defaultdict(list)
    for i, rec in enumerate(chosen):
        by_topic[rec.get("topic") or ""].append(i)
    keep: set[int] = set()
    for topic in sorted(by_topic):
        idx = by_topic[topic]
        rng = random.Random(f"{seed}:{topic}")
        keep.update(idx if len(idx) <= per_topic else rng.sample(idx, per_topic))
    return [rec for i, rec in enumerate(chosen) if i in keep]
