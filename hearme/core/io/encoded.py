"""Records encoded once: the JSON row the records writer would make, computed where the record is
checked (the converter driver, in its workers) and reused when the file is written."""

from __future__ import annotations

from typing import Any, Iterable

try:
    from orjson import dumps as _fast_dumps
except ImportError:  # pragma: no cover - orjson is a dependency
    _fast_dumps = None


def encode_row(obj: Any) -> bytes | None:
    """obj as one compact JSON row in UTF-8, exactly as the records writer writes it (orjson), or
    None where orjson refuses it (a lone surrogate, an integer beyond 64 bits) or is missing."""
    if _fast_dumps is None:
        return None
    try:
        return _fast_dumps(obj)
    except TypeError:  # orjson's JSONEncodeError
        return None


class EncodedRows:
    """Rows of records by identity, for `write_records(..., encoded=)`: a record found here is
    written from its row, any other is encoded as usual. Only for records not changed since they
    were encoded (the converter driver encodes again any record it changes itself)."""

    def __init__(self, records: Iterable[Any] = (), rows: Iterable[bytes | None] = ()):
        self._rows: dict[int, bytes] = {}
        self._alive: list[list] = []  # the records themselves: no id is reused while this lives
        self.add(records, rows)

    def add(self, records: Iterable[Any], rows: Iterable[bytes | None]) -> "EncodedRows":
        records = list(records)
        self._rows.update((id(r), row) for r, row in zip(records, rows) if row is not None)
        self._alive.append(records)
        return self

    def merge(self, other: "EncodedRows | None") -> "EncodedRows":
        if other is not None:
            self._rows.update(other._rows)
            self._alive.extend(other._alive)
        return self

    def get(self, record: Any) -> bytes | None:
        return self._rows.get(id(record))

    def __len__(self) -> int:
        return len(self._rows)
