"""Tolerant readers with clear errors: encodings, JSON / JSON Lines detection, records with their positions."""

from __future__ import annotations

import codecs
import json
import os
import re
from pathlib import Path
from typing import Any, Iterable, Iterator

from hearme.core import schema
from hearme.core.io.atomic import finish_commit
from hearme.core.io.encoded import encode_row
from hearme.core.io.errors import InputError, os_reason, safe_text

try:  # UTF-8 JSON 2-3x faster than json; anything it refuses goes to json, which decides
    from orjson import JSONDecodeError as _FastError, dumps as _fast_dumps, loads as _fast_loads
except ImportError:  # pragma: no cover - orjson is a dependency
    _fast_loads = _fast_dumps = None



ENCODINGS = ("utf-8-sig", "gb18030")


def _read_bytes(path) -> bytes:
    try:
        raw = _read_all(path)
    except OSError as e:
        raise InputError(path, "", f"cannot read: {os_reason(e)}") from None
    except MemoryError:
        raise InputError(path, "", "cannot read: too large for memory") from None
    if raw.find(b"\x00", 0, 4096) >= 0 and not raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise InputError(path, "", "binary data, not text")
    return raw


SMALL_READ = 1 << 16  # bytes: a file shorter than this is read by one read(), without asking its size


def _read_all(path) -> bytes:
    """The file's bytes with plain system calls: a third faster than open() + read() on many small
    files (SMILE's 55,165), and no fstat for a small file (making its stat result costs a third of
    the read).
    A bigger file is read at its size; the size is a hint: a file that grows, /proc's size 0 or a
    read cut at 2 GB reads on to EOF."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        data = os.read(fd, SMALL_READ)
        if len(data) < SMALL_READ:
            more = os.read(fd, 1)
            if not more:  # the end, confirmed (a pipe may read short before it)
                return data
            data += more
        size = os.fstat(fd).st_size
        more = os.read(fd, max(size - len(data), 0) + 1)
        data += more
        if not more or len(data) == size:
            return data
        parts = [data]
        while more := os.read(fd, 1 << 20):
            parts.append(more)
        return b"".join(parts)
    finally:
        os.close(fd)


def read_text(path, encodings: Iterable[str] = ENCODINGS) -> tuple[str, str]:
    """Read text, detecting UTF-8 (with or without BOM) or GB18030. Returns (text, encoding)."""
    return _decode(path, _read_bytes(path), encodings)


def _decode(path, raw: bytes, encodings: Iterable[str] = ENCODINGS) -> tuple[str, str]:
    if encodings is ENCODINGS and not raw.startswith(codecs.BOM_UTF8):  # the common case: UTF-8, decoded in C
        try:
            return raw.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            pass
    for enc in encodings:
        try:
            text = raw.decode(enc)
            return text, ("utf-8-bom" if enc == "utf-8-sig" and raw.startswith(b"\xef\xbb\xbf") else
                          "utf-8" if enc == "utf-8-sig" else enc)
        except UnicodeDecodeError:
            continue
    raise InputError(path, "", f"not decodable as {' or '.join(encodings)}")


def _json_problem(e: Exception) -> str:
    """The reason for a document json.loads refused, in a few words."""
    if isinstance(e, json.JSONDecodeError):
        return f"invalid JSON ({e.msg})"
    if isinstance(e, RecursionError):
        return "invalid JSON (nested too deeply)"
    if "integer string conversion" in str(e):
        return "invalid JSON (a number with more than 4300 digits)"
    return f"invalid JSON ({' '.join(str(e).split())[:120] or type(e).__name__})"


_DIGITS_AS_ZERO = bytes(48 if 48 <= i <= 57 else 32 for i in range(256))  # with find(): 10x faster than a regex
_NOT_DIGITS = bytes(i for i in range(256) if not 48 <= i <= 57)


def _has_long_number(raw: bytes) -> bool:
    """A run of 19+ ASCII digits anywhere (most files hold fewer than 19 digits in all: one cheap pass)."""
    return len(raw.translate(None, _NOT_DIGITS)) >= 19 and raw.translate(_DIGITS_AS_ZERO).find(b"0" * 19) >= 0


def _parse_fast(raw: bytes) -> tuple[bool, Any]:
    """(True, document) when orjson parses `raw` (strict UTF-8 JSON, no BOM); (False, None) sends the
    file to json. What both accept they read the same; orjson refuses what json may read
    differently or explain better (lone surrogate escapes, NaN, huge numbers, GB18030 bytes).
    It would turn an integer beyond 64 bits into a float, so a run of 19+ digits anywhere goes to json."""
    if _fast_loads is None or raw.startswith(codecs.BOM_UTF8) or _has_long_number(raw):
        return False, None
    try:
        return True, _fast_loads(raw)
    except _FastError:
        return False, None


def read_json(path) -> Any:
    """Load one JSON document; a syntax error names the file, line and column."""
    raw = _read_bytes(path)
    ok, doc = _parse_fast(raw)
    if ok:
        return doc
    text, _ = _decode(path, raw)
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise InputError(path, f"line {e.lineno} column {e.colno}", _json_problem(e)) from None
    except (RecursionError, ValueError, MemoryError) as e:
        raise InputError(path, "", _json_problem(e)) from None


def iter_jsonl(path) -> Iterator[tuple[int, Any, str | None]]:
    """Yield (line number, object or None, error or None) for each non-blank line."""
    text, _ = read_text(path)
    yield from _parse_lines(text)


def _parse_lines(text: str) -> Iterator[tuple[int, Any, str | None]]:
    # Lines end at "\n" only: U+2028, U+0085, \x0c... are valid inside JSON strings (str.splitlines cuts there).
    lines = text.split("\n") if "\n" in text or "\r" not in text else text.split("\r")
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            yield lineno, json.loads(line), None
        except json.JSONDecodeError as e:
            yield lineno, None, f"invalid JSON ({e.msg} at column {e.colno})"
        except (RecursionError, ValueError, MemoryError) as e:
            yield lineno, None, _json_problem(e)


_SURROGATE = re.compile(r"[\ud800-\udfff]")


def unencodable(obj: Any) -> str | None:
    """Where `obj` holds text that cannot be written as UTF-8 (a lone surrogate such as the JSON
    escape "\\ud800"), e.g. "message 1 content: U+D800"; None when all of it can be written."""
    if _fast_dumps is not None:  # orjson encodes all of it, or refuses (a lone surrogate among others)
        if encode_row(obj) is not None:
            return None  # else the walk below names the place, if it is text
    elif _record_encodable(obj):  # without orjson: the common case, tested at once
        return None
    stack: list[tuple[str, Any]] = [("", obj)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            if (m := _surrogate(item)) is not None:
                return f"{where or 'text'}: U+{ord(m):04X}"
        elif isinstance(item, dict):
            for k, v in item.items():
                name = _where(where, k)
                if isinstance(k, str) and (m := _surrogate(k)) is not None:
                    return f"key {safe_text(name)!r}: U+{ord(m):04X}"
                stack.append((name, v))
        elif isinstance(item, (list, tuple)):
            stack.extend((_where(where, i), v) for i, v in enumerate(item))
    return None


def _record_encodable(obj: Any) -> bool:
    """True if `obj` is record-shaped (a dict of text, None and lists of dicts of text) and all its
    text encodes as UTF-8; False means "walk it" (anything else, or a lone surrogate)."""
    if type(obj) is not dict:
        return False
    texts = list(obj)
    try:
        for value in obj.values():
            if type(value) is list:
                texts += [k for item in value for k in item.keys()]
                texts += [v for item in value for v in item.values()]
            elif value is not None:
                texts.append(value)
        return _surrogate("".join(texts)) is None  # join refuses anything but text
    except (AttributeError, TypeError):
        return False


def _surrogate(text: str) -> str | None:
    """The first lone surrogate in `text`, or None (encoding is the fast test; the search runs only on failure)."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
        return None
    except UnicodeEncodeError:
        m = _SURROGATE.search(text)
        return m.group() if m else None


def _where(where: str, key: Any) -> str:
    if where == "messages" and isinstance(key, int):
        return f"message {key}"
    return f"{where} {key}".strip() if where else str(key)


def read_json_or_lines(path) -> tuple[str, Any]:
    """("json", document) or ("jsonl", [(line number, object or None, error or None), ...]).

    Told apart by content, not by the file name: a JSON array saved as .jsonl is still an array,
    and JSON Lines saved as .json are still lines."""
    raw = _read_bytes(path)
    ok, doc = _parse_fast(raw)
    if ok and (isinstance(doc, list) or Path(path).suffix.lower() != ".jsonl"):
        return "json", doc
    text, _ = _decode(path, raw)
    try:
        doc = json.loads(text)
        if isinstance(doc, list) or Path(path).suffix.lower() != ".jsonl":
            return "json", doc
    except json.JSONDecodeError as e:
        first = text.lstrip().split("\n", 1)[0]
        if e.msg != "Extra data" and not _parses(first) and Path(path).suffix.lower() != ".jsonl":
            raise InputError(path, f"line {e.lineno} column {e.colno}", _json_problem(e)) from None
    except (RecursionError, ValueError, MemoryError) as e:
        if Path(path).suffix.lower() != ".jsonl":
            raise InputError(path, "", _json_problem(e)) from None
    return "jsonl", list(_parse_lines(text))


def _parses(line: str) -> bool:
    try:
        json.loads(line)
        return True
    except (ValueError, RecursionError, MemoryError):
        return False


def read_items(path) -> list[tuple[str, Any]]:
    """(position, raw object) for each item of a JSON array or JSON Lines file (by content), unvalidated."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "", "no such file")
    finish_commit(path)  # an output whose writer was killed mid-commit is completed first
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
        bad = unencodable(obj) if validate else None
        if bad:
            raise InputError(path, where, f"text that is not valid UTF-8 (a lone surrogate) in {bad}")
        records.append(obj)
    return records
