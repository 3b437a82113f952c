"""Atomic writes: a temp file beside the target (`.NAME.PID-XXXXXXXX.tmp`), fsync, rename.

Several files that belong together (an output, its rejected file, a summary) are committed as
one unit by `write_together`: every temp file is complete before a journal naming the renames
is written, and a run killed between two renames is completed by the next write or read of the
output, so readers see either the whole old set or the whole new set. Temp files left by killed
runs are removed by the next write of the same file. Faults of the output side (read-only
folders, a full disk, /proc) raise OutputError: one line, exit 2.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import tempfile
import time
from pathlib import Path
from typing import IO, Any, Callable, Iterable

from hearme.core import schema
from hearme.core.io.errors import HearMeError, OutputError, os_reason, safe_text

try:  # UTF-8 JSON 2-3x faster than json; anything it refuses goes to json, which decides
    from orjson import JSONEncodeError as _FastEncodeError, dumps as _fast_dumps
except ImportError:  # pragma: no cover - orjson is a dependency
    _fast_dumps = None


_UMASK = os.umask(0o022)
os.umask(_UMASK)


_STALE_AGE = 3600.0  # seconds: a temp file without a live writer's pid is stale after this long


def _temp_prefix(path: Path) -> str:
    return f".{path.name}."


def _open_temp(path: Path, mode: str, encoding: str | None) -> tuple[IO, str]:
    """A new temp file beside `path`, named `.NAME.PID-XXXXXXXX.tmp` so a later run can tell it is stale."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f"{_temp_prefix(path)}{os.getpid()}-", suffix=".tmp", dir=path.parent)
    try:
        return os.fdopen(fd, mode, encoding=None if "b" in mode else encoding), tmp
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise


def _finish_temp(fh: IO, tmp: str) -> None:
    fh.flush()
    os.fsync(fh.fileno())
    fh.close()
    os.chmod(tmp, 0o666 & ~_UMASK)


def _output_error(path: Path, e: BaseException) -> OutputError:
    if isinstance(e, UnicodeEncodeError):
        bad = e.object[e.start:e.end] if isinstance(e.object, str) else ""
        what = f"U+{ord(bad[0]):04X}" if bad else "a character"
        return OutputError(f"cannot write {safe_text(str(path))}: the text has {what}, which is not valid UTF-8 "
                           f"(a lone surrogate); such input should have been rejected")
    return OutputError(f"cannot write {safe_text(str(path))}: {os_reason(e)}")


def _is_output_fault(e: BaseException, tmp: str | None) -> bool:
    """An OSError of the write itself (not the read of an input while writing), or an encoding error."""
    if isinstance(e, UnicodeEncodeError):
        return True
    return isinstance(e, OSError) and (e.filename is None or str(e.filename) == tmp or tmp is None
                                       or os.path.dirname(str(e.filename)) == os.path.dirname(tmp))


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8"):
    """Write to a temp file beside `path`, then rename over it; never half-written."""
    path = Path(path)
    tmp: str | None = None
    try:
        fh, tmp = _open_temp(path, mode, encoding)
        with fh:
            yield fh
            _finish_temp(fh, tmp)
        os.replace(tmp, path)
        tmp = None
    except BaseException as e:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(e, (OSError, UnicodeEncodeError)) and not isinstance(e, HearMeError) \
                and (tmp is None or _is_output_fault(e, tmp)):
            raise _output_error(path, e) from None
        raise


def _journal(primary: Path) -> Path:
    return primary.with_name(f".{primary.name}.commit")


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def finish_commit(primary: str | os.PathLike, strict: bool = False) -> bool:
    """Complete a commit that a killed run left half-done (its journal names the renames).

    Every temp file named by a journal was complete before the journal was written, so the
    commit is rolled forward. Returns True when there was one. Readers call this quietly
    (strict=False: a read-only folder is left as it is); writers call it strictly."""
    primary = Path(primary)
    journal = _journal(primary)
    if not journal.exists():
        return False
    try:
        try:
            moves = json.loads(journal.read_text(encoding="utf-8"))["moves"]
        except (ValueError, KeyError, TypeError):
            moves = []  # cannot happen with an atomic journal; drop it
        for tmp, final in moves:
            with contextlib.suppress(FileNotFoundError):  # already moved (by the writer itself, or another reader)
                os.replace(primary.parent / tmp, primary.parent / final)
        _fsync_dir(primary.parent)
        with contextlib.suppress(FileNotFoundError):
            journal.unlink()
    except OSError as e:
        if strict:
            raise _output_error(primary, e) from None
        return False
    return True


_TEMP_NAME = re.compile(r"(?:(\d+)-)?[a-z0-9_]{8}\.tmp")


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # another user's process
        return True
    return True


def remove_stale_temps(path: str | os.PathLike) -> int:
    """Delete temp files of `path` left by killed writers (their pid is gone, or they are old)."""
    path = Path(path)
    prefixes, removed = (_temp_prefix(path), _temp_prefix(_journal(path))), 0
    try:
        names = [n for n in os.listdir(path.parent) if n.startswith(prefixes) and n.endswith(".tmp")]
    except OSError:
        return 0
    now = time.time()
    for name in names:
        m = next(filter(None, (_TEMP_NAME.fullmatch(name[len(p):]) for p in prefixes if name.startswith(p))), None)
        if not m:
            continue
        tmp = path.parent / name
        try:
            old = now - tmp.stat().st_mtime > _STALE_AGE
        except OSError:
            continue
        if (m.group(1) and not _pid_alive(int(m.group(1)))) or old:
            with contextlib.suppress(OSError):
                tmp.unlink()
                removed += 1
    return removed


Writer = Callable[[IO], None]


def write_together(parts: Iterable[tuple[str | os.PathLike, Writer]]) -> list[Path]:
    """Write several files as one unit: the first is the primary (e.g. the output), the rest
    belong to it (its rejected file, a summary). Readers see the complete old set or the complete
    new set: temps first (fsynced), then a journal, then the renames (primary last), then the
    journal goes. A failure before the journal leaves the old set untouched."""
    parts = [(Path(p), w) for p, w in parts]
    primary = parts[0][0]
    for path, _ in parts:
        if path.is_dir():
            raise OutputError(f"cannot write {safe_text(str(path))}: it is a folder")
    finish_commit(primary, strict=True)
    for path, _ in parts:
        remove_stale_temps(path)
    temps: list[str] = []
    journal_written = False
    current = primary
    try:
        for path, write in parts:
            current = path
            fh, tmp = _open_temp(path, "w", "utf-8")
            temps.append(tmp)
            with fh:
                write(fh)
                _finish_temp(fh, tmp)
        current = primary
        order = list(zip(temps, (p for p, _ in parts)))
        order = order[1:] + order[:1]  # the primary last: until then it is the old one
        if len(parts) > 1:
            moves = [[os.path.relpath(t, primary.parent), os.path.relpath(p, primary.parent)] for t, p in order]
            with atomic_open(_journal(primary)) as fh:
                json.dump({"moves": moves}, fh)
            journal_written = True
        for tmp, path in order:
            current = path
            os.replace(tmp, path)
        _fsync_dir(primary.parent)
        if journal_written:
            with contextlib.suppress(FileNotFoundError):
                _journal(primary).unlink()
    except BaseException as e:
        if journal_written:  # the new set is complete on disk: finish it, or leave it to the next run
            with contextlib.suppress(BaseException):
                finish_commit(primary)
        else:
            for tmp in temps:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        if isinstance(e, (OSError, UnicodeEncodeError)) and not isinstance(e, HearMeError) \
                and _is_output_fault(e, temps[-1] if temps else None):
            raise _output_error(current, e) from None
        raise
    return [p for p, _ in parts]


def _text_writer(text: str) -> Writer:
    return lambda fh: fh.write(text)


def json_writer(obj: Any, indent: int | None = 2) -> Writer:
    def write(fh: IO) -> None:
        json.dump(obj, fh, ensure_ascii=False, indent=indent)
        fh.write("\n")
    return write


_ENCODE = json.JSONEncoder(ensure_ascii=False).encode  # json.dumps(..., ensure_ascii=False), made once
_ENCODE_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # orjson's layout


def jsonl_writer(rows: Iterable[Any]) -> Writer:
    def write(fh: IO) -> None:
        for row in rows:
            fh.write(_ENCODE(row) + "\n")
    return write


def _records_json(fh: IO, rows: Iterable[Any], encoded=None) -> None:
    """A JSON array, one compact row per line, written in batches (no copy of the whole text).
    orjson writes the UTF-8 bytes at once; a batch it refuses (a lone surrogate, an integer beyond
    64 bits) goes through json, whose errors name the problem. Like orjson, NaN is written as null.
    `encoded` (io.EncodedRows): rows already made, written as they are."""
    rows = iter(rows)
    sep = "[\n"
    while batch := list(itertools.islice(rows, 2000)):
        fh.write(sep)
        try:
            if _fast_dumps is None:
                data = None
            elif encoded is not None:
                data = b",\n".join([encoded.get(r) or _fast_dumps(r) for r in batch])
            else:
                data = b",\n".join(map(_fast_dumps, batch))
        except (_FastEncodeError, TypeError):
            data = None
        if data is None:
            fh.write(",\n".join(map(_ENCODE_COMPACT, batch)))
        else:
            fh.flush()
            fh.buffer.write(data)
        sep = ",\n"
    fh.write("[\n\n]\n" if sep == "[\n" else "\n]\n")


def records_writer(path, records: Iterable[schema.Record], sharegpt: bool = False, encoded=None) -> Writer:
    """`encoded`: an io.EncodedRows of some of the records (used for a JSON array of OpenAI records)."""
    rows = (schema.to_sharegpt(r) if sharegpt else r for r in records)
    if str(path).endswith(".jsonl"):
        return jsonl_writer(rows)
    return lambda fh: _records_json(fh, rows, None if sharegpt else encoded)


def write_text(path, text: str) -> Path:
    return write_together([(path, _text_writer(text))])[0]


def write_json(path, obj: Any, indent: int | None = 2) -> Path:
    return write_together([(path, json_writer(obj, indent))])[0]


def write_jsonl(path, rows: Iterable[Any]) -> Path:
    return write_together([(path, jsonl_writer(rows))])[0]


def save_figure(fig, path, dpi: float = 110) -> Path:
    """Save a matplotlib figure atomically (format from the suffix) and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    with atomic_open(path, "wb") as fh:
        fig.savefig(fh, format=Path(path).suffix.lstrip(".") or "png", dpi=dpi)
    plt.close(fig)
    return Path(path)


def write_records(path, records: Iterable[schema.Record], sharegpt: bool = False, encoded=None) -> Path:
    """Write a JSON array (or JSONL for *.jsonl) of records, OpenAI `messages` by default.

    One record per line: readable, diff-friendly, and encoded by orjson (json where it refuses).
    `encoded`: an io.EncodedRows of records already encoded (by the converter driver).
    """
    return write_together([(path, records_writer(path, records, sharegpt, encoded))])[0]


def file_key(path: str | os.PathLike) -> tuple[int, int] | None:
    """(device, inode) of an existing file: equal for the same file, a hard link or a symlink to it."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def refuse_overwrite(outputs: Iterable[str | os.PathLike], inputs: Iterable[str | os.PathLike]) -> None:
    """Raise when an output path is one of the inputs (the same file, a hard link or a symlink to it)."""
    keys = {k: Path(p) for p in outputs if (k := file_key(p))}
    if not keys:
        return  # the common case: fresh outputs, nothing to compare
    for inp in inputs:
        out = keys.get(file_key(inp))  # type: ignore[arg-type]
        if out is not None:
            same = "is" if os.path.abspath(out) == os.path.abspath(inp) else "is the same file as"
            raise HearMeError(f"{safe_text(str(out))} {same} the input {safe_text(str(inp))}: choose another "
                              f"output path (a source is never overwritten)")
