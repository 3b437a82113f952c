"""Markdown helpers for the report: bilingual text, tables, numbers and confidence intervals."""

from __future__ import annotations

import re
from typing import Any



def bi(zh: str, en: str) -> str:
    return f"{zh} / {en}"


def table(head: list[str], rows: list[list[Any]]) -> str:
    esc = lambda c: str(c).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] +
                     ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows])


def fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 10 else f"{v:.2f}"
    return "–" if v is None else str(v)


def ci_text(ci: list | None) -> str:
    return f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "–"


def slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s) or "run"
