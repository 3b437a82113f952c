"""Accounting: every reader and converter counts `read = written + rejected`; rejected items go to
`<out>.rejected.jsonl` with the file, the position in it, and a reason."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from hearme.core import schema
from hearme.core.io.atomic import json_writer, jsonl_writer, records_writer, write_jsonl, write_together
from hearme.core.io.errors import safe_text


RAW_KEEP = 4000  # characters of a rejected raw item kept in the side file
REASON_KEEP = 500  # characters of a rejection reason

class Tally:
    """read = written + rejected, with rejected items kept for the side file."""

    def __init__(self) -> None:
        self.read = 0
        self.written = 0
        self.rejects: list[dict] = []
        self.notes: Counter[str] = Counter()

    @property
    def rejected(self) -> int:
        return len(self.rejects)

    def reject(self, file: str | os.PathLike | None, position: Any, reason: str, raw: Any = None) -> None:
        """Keep one rejected item; every string is made writable (file names and raw text may not be)."""
        reason = safe_text(str(reason))
        if len(reason) > REASON_KEEP:
            reason = reason[:REASON_KEEP] + "…"
        position = position if isinstance(position, (int, type(None))) else safe_text(str(position))
        row: dict[str, Any] = {"file": safe_text(str(file)) if file is not None else None, "position": position,
                               "reason": reason}
        if raw is not None:
            try:
                text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False, default=str)
            except (RecursionError, ValueError, TypeError):
                text = f"<{type(raw).__name__} that cannot be shown as JSON>"
            text = safe_text(text)
            row["raw"] = text[:RAW_KEEP]
            if len(text) > RAW_KEEP:
                row["raw_truncated_from"] = len(text)
        self.rejects.append(row)

    def note(self, key: str, n: int = 1) -> None:
        """Count something that changed but was not lost (e.g. a trimmed trailing turn)."""
        self.notes[key] += n

    def merge(self, other: "Tally") -> None:
        self.read += other.read
        self.written += other.written
        self.rejects.extend(other.rejects)
        self.notes.update(other.notes)

    @property
    def balanced(self) -> bool:
        return self.read == self.written + self.rejected

    def summary(self) -> str:
        return f"read={self.read} written={self.written} rejected={self.rejected}"

    def as_dict(self) -> dict:
        return {"read": self.read, "written": self.written, "rejected": self.rejected, "notes": dict(self.notes)}

    def write_rejects(self, out_path) -> Path:
        """Always (re)written, so a stale side file never outlives a clean run."""
        return write_jsonl(rejected_path(out_path), self.rejects)


def rejected_path(out_path) -> Path:
    out_path = Path(out_path)
    return out_path.with_name(out_path.name.rsplit(".", 1)[0] + ".rejected.jsonl") if "." in out_path.name \
        else out_path.with_name(out_path.name + ".rejected.jsonl")

def write_output(out, records: Iterable[schema.Record], tally: "Tally", sharegpt: bool = False,
                 extra: Iterable[tuple[str | os.PathLike, Any]] = (), encoded=None) -> list[Path]:
    """The records, their rejected file and any extra files (a summary: JSON; *.jsonl: rows), as one
    unit. `encoded`: an io.EncodedRows of records already encoded (see write_records)."""
    parts = [(out, records_writer(out, records, sharegpt, encoded)), (rejected_path(out), jsonl_writer(tally.rejects))]
    parts += [(p, jsonl_writer(obj) if str(p).endswith(".jsonl") else json_writer(obj)) for p, obj in extra]
    return write_together(parts)
