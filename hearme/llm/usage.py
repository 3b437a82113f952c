"""Results and accounting: token usage, list prices, cost, and the per-client stats line."""


import json
import os
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

from hearme.core import io


# USD per 1M tokens: (input, output, cached input). List prices as of 2024-2025, not
# re-verified; override with `prices=`, HEARME_PRICES='{"model": [in, out, cached]}' or --price.
PRICES: dict[str, tuple[float, float, float]] = {
    "gpt-4o-mini": (0.15, 0.60, 0.075),
    "gpt-4o": (2.50, 10.00, 1.25),
    "gpt-4.1-mini": (0.40, 1.60, 0.10),
    "gpt-4.1": (2.00, 8.00, 0.50),
    "gpt-4-turbo": (10.00, 30.00, 10.00),
    "deepseek-chat": (0.27, 1.10, 0.07),
}

@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # the part of prompt_tokens served from the provider's prompt cache

    @classmethod
    def from_sdk(cls, u: Any) -> "Usage":
        if u is None:
            return cls()
        details = getattr(u, "prompt_tokens_details", None)
        return cls(int(getattr(u, "prompt_tokens", 0) or 0), int(getattr(u, "completion_tokens", 0) or 0),
                   int(getattr(details, "cached_tokens", 0) or 0) if details is not None else 0)

    def __add__(self, o: "Usage") -> "Usage":
        return Usage(self.prompt_tokens + o.prompt_tokens, self.completion_tokens + o.completion_tokens,
                     self.cached_tokens + o.cached_tokens)

    def as_dict(self) -> dict:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "cached_tokens": self.cached_tokens}


@dataclass
class ChatResult:
    text: str
    usage: Usage
    cached: bool  # True when answered from the on-disk cache (nothing paid)
    model: str = ""
    finish_reason: Optional[str] = None
    key: str = ""
    data: Any = None  # chat_json: the parsed object
    attempts: int = 1  # chat_json: requests made, re-asks included
    system_fingerprint: Optional[str] = None


def price_for(model: str, prices: dict[str, Sequence[float]] | None = None) -> tuple[float, float, float] | None:
    """Longest model-name prefix match in `prices` (then HEARME_PRICES, then PRICES)."""
    table: dict[str, Sequence[float]] = dict(PRICES)
    env = os.environ.get("HEARME_PRICES")
    if env:
        try:
            table.update(json.loads(env))
        except json.JSONDecodeError:
            raise io.HearMeError("HEARME_PRICES is not valid JSON ({\"model\": [in, out, cached]})") from None
    table.update(prices or {})
    hits = [k for k in table if model == k or model.startswith(k)]
    if not hits:
        return None
    p = list(table[max(hits, key=len)])
    return (float(p[0]), float(p[1]), float(p[2] if len(p) > 2 else p[0]))


@dataclass
class Stats:
    """What a client did: paid calls vs cache hits, tokens, cost."""

    model: str = ""
    paid_calls: int = 0
    cache_hits: int = 0
    failures: int = 0
    malformed_retries: int = 0  # 200 replies that were not a chat completion, asked again
    usage: Usage = field(default_factory=Usage)  # paid calls only
    saved: Usage = field(default_factory=Usage)  # what the cache hits would have cost
    prices: dict | None = None

    def cost(self, usage: Usage | None = None) -> float | None:
        p = price_for(self.model, self.prices)
        if p is None:
            return None
        u = usage or self.usage
        fresh = max(u.prompt_tokens - u.cached_tokens, 0)
        return (fresh * p[0] + u.cached_tokens * p[2] + u.completion_tokens * p[1]) / 1e6

    def as_dict(self) -> dict:
        cost, saved = self.cost(), self.cost(self.saved)
        return {"model": self.model, "paid_calls": self.paid_calls, "cache_hits": self.cache_hits,
                "failures": self.failures, "malformed_retries": self.malformed_retries, **self.usage.as_dict(),
                "cost_usd": None if cost is None else round(cost, 6),
                "saved_by_cache_usd": None if saved is None else round(saved, 6)}

    def line(self) -> str:
        c = self.cost()
        money = f"${c:.4f}" if c is not None else "cost n/a (no price for this model)"
        return (f"{self.model}: {self.paid_calls} paid calls, {self.cache_hits} cache hits, {self.failures} failed; "
                f"tokens in={self.usage.prompt_tokens} (cached {self.usage.cached_tokens}) "
                f"out={self.usage.completion_tokens}; {money}")
