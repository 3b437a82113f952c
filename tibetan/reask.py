"""Check an LLM's reply against the step's rules; re-ask a bounded number of times, naming the rule.

A check returns the parsed value or raises RuleError(rule, reason, hint): `reason` (English)
goes to the rejects file, `hint` (Chinese, like the prompts) into the re-ask. The re-ask
continues the conversation, so it is an ordinary cached request: a resumed job replays it
from the cache and never pays for it twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable


class RuleError(ValueError):
    """A reply that breaks one of the step's rules."""

    def __init__(self, rule: str, reason: str, hint: str):
        super().__init__(reason)
        self.rule, self.reason, self.hint = rule, reason, hint


class Rejected(Exception):
    """Every attempt broke a rule: the last one is the reason."""

    def __init__(self, error: RuleError, texts: list[str], broken: list[str] | None = None):
        self.rule, self.reason, self.texts = error.rule, error.reason, texts
        self.broken = broken or [error.rule]  # the rule each attempt broke
        reasks = len(texts) - 1
        super().__init__(f"rule {error.rule}: {error.reason}"
                         + (f" (after {reasks} re-ask{'s' if reasks != 1 else ''})" if reasks else ""))


@dataclass
class Answer:
    value: Any
    text: str
    broken: list[str] = field(default_factory=list)  # rules the earlier attempts broke


async def ask(client, request: dict, check: Callable[[str], Any], reask: str, reasks: int, **fmt: Any
              ) -> Answer | Rejected:
    """Answer, or Rejected after 1 + reasks attempts; an endpoint failure raises LLMError."""
    msgs = list(request["messages"])
    params = {k: v for k, v in request.items() if k != "messages"}
    texts: list[str] = []
    broken: list[str] = []
    for _ in range(reasks + 1):
        r = await client.chat(msgs, **params)
        texts.append(r.text)
        try:
            return Answer(check(r.text), r.text, broken)
        except RuleError as e:
            last = e
            broken.append(e.rule)
            msgs = msgs + [{"role": "assistant", "content": r.text or "(空)"},
                           {"role": "user", "content": reask.format(rule=e.hint, **fmt)}]
    return Rejected(last, texts, broken)


_WHERE = re.compile(r"^(?:turn \d+ \w+|line|message \d+ \(\w+\))$")


def reason_kind(reason: str) -> str:
    """`turn 2 assistant: script: 58% ...` -> `script` (the position prefix skipped)."""
    parts = [p.strip() for p in reason.split(":")]
    while len(parts) > 1 and _WHERE.match(parts[0]):
        parts.pop(0)
    return parts[0][:60]
