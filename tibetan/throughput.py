"""The one-line timing summary the long Tibetan commands print at the end (lines/s, syllables/s)."""

from __future__ import annotations

import time
from pathlib import Path

from hearme.core import io, schema
from hearme.core.progress import timing_line
from hearme.tibetan import text as T


class Stopwatch:
    """Started when made; `line(...)` is the summary of what was done since."""

    def __init__(self):
        self.t0 = time.perf_counter()

    def line(self, what: str, path: Path | None = None, lines: int | None = None, units: int | None = None,
             seconds: float | None = None) -> str:
        """Counted in `path`'s records when `lines` is not given: utterances, and their Tibetan
        syllables (characters when the text is not Tibetan)."""
        secs = time.perf_counter() - self.t0 if seconds is None else seconds
        unit = "syllables"
        if lines is None:
            texts = utterances(path)
            lines = len(texts)
            if T.tibetan_share("".join(texts[:200])) >= 0.5:
                units = sum(len(T.syllables(t)) for t in texts)
            else:
                unit, units = "characters", sum(len(t) for t in texts)
        return timing_line(f"timing ({what})", lines, units or 0, secs, unit)


def utterances(path: Path | None) -> list[str]:
    """The dialogue turns' texts of a records file ([] when it is missing or unreadable)."""
    if path is None or not Path(path).exists():
        return []
    try:
        return [m["content"] for r in io.load_records(path) for m in schema.dialogue_turns(r)]
    except (io.HearMeError, KeyError, TypeError, ValueError):
        return []
