"""Several record files (the parts of a split) written by two processes, since JSON encoding is
CPU-bound. Each file is still its own atomic unit (atomic.write_records), byte for byte what one
process writes. The work is shared by rows, not by files: when the largest file holds more than
half of all rows, a forked child encodes its last rows (whole batches of ROWS_PER_BATCH, so that
the bytes are the same) and this process puts them in after its own rows, then commits."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from hearme.core import schema
from hearme.core.io import atomic
from hearme.core.io.errors import HearMeError

PARALLEL_WRITE_FROM = 20_000  # records in all: below this a second process costs more than it saves


def write_records_many(items: list[tuple[str | os.PathLike, list[schema.Record]]]) -> list[Path]:
    """atomic.write_records for each (path, records); any failure of the child is raised here with
    its message (the files this process wrote are kept: each is its own unit)."""
    total = sum(len(recs) for _, recs in items)
    if (len(items) < 2 or total < PARALLEL_WRITE_FROM or (os.cpu_count() or 1) < 2 or not hasattr(os, "fork")
            or _threads_running()):
        return [atomic.write_records(p, recs) for p, recs in items]
    mine, theirs, head = _plan(items)
    big = mine[0]
    tail_file = _tail_file(items[big][0]) if head is not None else None
    ready_r, ready_w = os.pipe()  # one byte: the tail is in tail_file
    error_r, error_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: the tail first (this process waits for it), then its files; never returns
        os.close(ready_r)
        os.close(error_r)
        code = 0
        try:
            if tail_file is not None:
                for k, data in enumerate(atomic.row_batches(items[big][1][head:])):
                    tail_file.write((b",\n" if k else b"") + (data.encode("utf-8") if isinstance(data, str) else data))
                tail_file.flush()
            os.write(ready_w, b"1")
            os.close(ready_w)
            for i in theirs:
                atomic.write_records(*items[i])
        except BaseException as e:  # noqa: BLE001 - everything goes back to the parent
            code = 1
            os.write(error_w, (str(e) or type(e).__name__).encode("utf-8", "replace")[:4000])
        finally:
            os._exit(code)
    os.close(ready_w)
    os.close(error_w)

    def tail() -> bytes:
        if os.read(ready_r, 1) != b"1":
            raise _ChildFailed
        tail_file.seek(0)
        return tail_file.read()

    try:
        path, records = items[big]
        rows = records[:head] if tail_file is not None else records
        atomic.write_together([(path, atomic.records_writer(path, rows, tail=tail if tail_file is not None else None))])
        for i in mine[1:]:
            atomic.write_records(*items[i])
    except _ChildFailed:
        pass  # the child's own message is raised below
    finally:
        os.close(ready_r)
        if tail_file is not None:
            tail_file.close()
        with os.fdopen(error_r, "rb") as fh:
            message = fh.read().decode("utf-8", "replace")
        status = os.waitpid(pid, 0)[1]
    if status != 0:
        raise HearMeError(message or f"writing {', '.join(str(items[i][0]) for i in theirs)} failed")
    return [Path(p) for p, _ in items]


class _ChildFailed(Exception):
    """The child ended before the tail was ready (its message comes through the error pipe)."""


def _tail_file(path):
    """An unnamed temp file beside the output for the child's rows, or None (then no rows are shared;
    a folder that cannot be written fails as it would with one process)."""
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return tempfile.TemporaryFile(dir=Path(path).parent)
    except OSError:
        return None


def _plan(items) -> tuple[list[int], list[int], int | None]:
    """(this process's files, the largest first; the child's files; rows of the largest file this
    process encodes itself, the child the rest, or None for all of them). Files go largest first
    to the lighter side; then, if this side is heavier by more than two batches, the child takes
    the largest file's last whole batches to even the load."""
    mine: list[int] = []
    theirs: list[int] = []
    loads = [0, 0]
    for i in sorted(range(len(items)), key=lambda i: -len(items[i][1])):
        side = 0 if loads[0] <= loads[1] else 1
        (mine if side == 0 else theirs).append(i)
        loads[side] += len(items[i][1])
    batch = atomic.ROWS_PER_BATCH
    big, n = mine[0], len(items[mine[0]][1])
    if loads[0] - loads[1] <= 2 * batch or str(items[big][0]).endswith(".jsonl"):
        return mine, theirs, None
    head = -(-(n - (loads[0] - loads[1]) // 2) // batch) * batch  # rounded up to whole batches
    return mine, theirs, head if head < n else None


def _threads_running() -> bool:
    """Forking a process that runs other threads (the WebUI) can copy a held lock: don't."""
    import threading

    return threading.active_count() > 1
