"""The one IO layer: atomic writes, tolerant readers with clear errors, and accounting.

Every reader and converter counts `read = written + rejected`; rejected items go to
`<out>.rejected.jsonl` with the file, the position in it, and a reason.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, Iterable, Iterator

from hearme import schema

RAW_KEEP = 4000  # characters of a rejected raw item kept in the side file
_UMASK = os.umask(0o022)
os.umask(_UMASK)


class HearMeError(Exception):
    """An error for the user: printed as one line, no traceback."""


class InputError(HearMeError):
    def __init__(self, path: str | os.PathLike, where: str, msg: str):
        super().__init__(f"{path}: {where}: {msg}" if where else f"{path}: {msg}")
        self.path, self.where, self.msg = str(path), where, msg


# ---------------------------------------------------------------- writing

@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8"):
    """Write to a temp file beside `path`, then rename over it; never half-written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else encoding) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_text(path, text: str) -> Path:
    with atomic_open(path) as fh:
        fh.write(text)
    return Path(path)


def write_json(path, obj: Any, indent: int | None = 2) -> Path:
    with atomic_open(path) as fh:
        json.dump(obj, fh, ensure_ascii=False, indent=indent)
        fh.write("\n")
    return Path(path)


def write_jsonl(path, rows: Iterable[Any]) -> Path:
    with atomic_open(path) as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return Path(path)


def save_figure(fig, path, dpi: float = 110) -> Path:
    """Save a matplotlib figure atomically (format from the suffix) and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format=Path(path).suffix.lstrip(".") or "png", dpi=dpi)
    plt.close(fig)
    return Path(path)


def write_records(path, records: Iterable[schema.Record], sharegpt: bool = False) -> Path:
    """Write a JSON array (or JSONL for *.jsonl) of records, OpenAI `messages` by default.

    One record per line: readable, diff-friendly, and encoded by json's fast C path.
    """
    rows = (schema.to_sharegpt(r) if sharegpt else r for r in records)
    if str(path).endswith(".jsonl"):
        return write_jsonl(path, rows)
    with atomic_open(path) as fh:
        fh.write("[\n" + ",\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n]\n")
    return Path(path)


# ---------------------------------------------------------------- reading

ENCODINGS = ("utf-8-sig", "gb18030")


def read_text(path, encodings: Iterable[str] = ENCODINGS) -> tuple[str, str]:
    """Read text, detecting UTF-8 (with or without BOM) or GB18030. Returns (text, encoding)."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError as e:
        raise InputError(path, "", f"cannot read: {e.strerror or e}") from None
    if b"\x00" in raw[:4096] and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(path, "", "binary data, not text")
    for enc in encodings:
        try:
            text = raw.decode(enc)
            return text, ("utf-8-bom" if enc == "utf-8-sig" and raw.startswith(b"\xef\xbb\xbf") else
                          "utf-8" if enc == "utf-8-sig" else enc)
        except UnicodeDecodeError:
            continue
    raise InputError(path, "", f"not decodable as {' or '.join(encodings)}")


def read_json(path) -> Any:
    """Load one JSON document; a syntax error names the file, line and column."""
    text, _ = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(path, f"line {e.lineno} column {e.colno}", f"invalid JSON ({e.msg})") from None


def iter_jsonl(path) -> Iterator[tuple[int, Any, str | None]]:
    """Yield (line number, object or None, error or None) for each non-blank line."""
    text, _ = read_text(path)
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line), None
        except json.JSONDecodeError as e:
            yield lineno, None, f"invalid JSON ({e.msg} at column {e.colno})"


def read_json_or_lines(path) -> tuple[str, Any]:
    """("json", document) or ("jsonl", [(line number, object or None, error or None), ...]).

    Told apart by content, not by the file name: a JSON array saved as .jsonl is still an array,
    and JSON Lines saved as .json are still lines."""
    text, _ = read_text(path)
    try:
        return "json", json.loads(text)
    except json.JSONDecodeError as e:
        first = text.lstrip().split("\n", 1)[0]
        if e.msg != "Extra data" and not _parses(first) and Path(path).suffix.lower() != ".jsonl":
            raise InputError(path, f"line {e.lineno} column {e.colno}", f"invalid JSON ({e.msg})") from None
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append((lineno, json.loads(line), None))
            except json.JSONDecodeError as e:
                rows.append((lineno, None, f"invalid JSON ({e.msg} at column {e.colno})"))
    return "jsonl", rows


def _parses(line: str) -> bool:
    try:
        json.loads(line)
        return True
    except json.JSONDecodeError:
        return False


def read_items(path) -> list[tuple[str, Any]]:
    """(position, raw object) for each item of a JSON array or JSON Lines file (by content), unvalidated."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "", "no such file")
    kind, data = read_json_or_lines(path)
    if kind == "jsonl":
        items = []
        for lineno, obj, err in data:
            if err:
                raise InputError(path, f"line {lineno}", err)
            items.append((f"line {lineno}", obj))
    else:
        if isinstance(data, dict) and ("messages" in data or "conversations" in data):
            data = [data]
        if not isinstance(data, list):
            raise InputError(path, "", f"expected a JSON array of records, got {type(data).__name__}")
        items = [(f"record {i}", obj) for i, obj in enumerate(data)]
    return items


def load_records(path, validate: bool = True, items: list[tuple[str, Any]] | None = None) -> list[schema.Record]:
    """Load a records file (.json array or .jsonl; messages or sharegpt form).

    Malformed input raises one InputError naming the file and the line or record.
    """
    path = Path(path)
    items = read_items(path) if items is None else items
    records = []
    for where, obj in items:
        try:
            if isinstance(obj, dict) and "conversations" in obj and "messages" not in obj:
                obj = schema.from_sharegpt(obj)
            if validate:
                schema.validate(obj)
        except schema.InvalidRecord as e:
            raise InputError(path, where, str(e)) from None
        records.append(obj)
    return records


# ---------------------------------------------------------------- accounting

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
        row: dict[str, Any] = {"file": str(file) if file is not None else None, "position": position, "reason": reason}
        if raw is not None:
            text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False, default=str)
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
