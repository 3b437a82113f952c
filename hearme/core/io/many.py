"""Several record files written at once (e.g. the parts of a split), each its own atomic unit:
by two processes when the records still need encoding (CPU-bound), or by a thread per file when
their rows are already made (then the disk is the wait)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from hearme.core import schema
from hearme.core.io.atomic import write_records
from hearme.core.io.errors import HearMeError


PARALLEL_WRITE_FROM = 20_000  # records in all: below this a second process costs more than it saves


def write_records_many(items: list[tuple[str | os.PathLike, list[schema.Record]]], encoded=None) -> list[Path]:
    """write_records for several files (e.g. the parts of a split), each its own unit as before.
    Big sets are written by two processes (a forked child takes the smaller share), since JSON
    encoding is CPU-bound; any failure is raised here with the child's message. `encoded` (an
    io.EncodedRows): records already encoded; when it holds most of them, a thread per file writes."""
    total = sum(len(recs) for _, recs in items)
    if len(items) > 1 and encoded is not None and len(encoded) >= total // 2:  # little left to encode:
        # the disk is the wait, and threads overlap it (no fork, so other threads running do not matter)
        return _in_threads([lambda p=p, recs=recs: write_records(p, recs, encoded=encoded) for p, recs in items])
    if (len(items) < 2 or total < PARALLEL_WRITE_FROM or (os.cpu_count() or 1) < 2 or not hasattr(os, "fork")
            or _threads_running()):
        return [write_records(p, recs, encoded=encoded) for p, recs in items]
    mine: list[int] = []
    theirs: list[int] = []
    loads = [0, 0]
    for i in sorted(range(len(items)), key=lambda i: -len(items[i][1])):  # greedy: largest first
        side = 0 if loads[0] <= loads[1] else 1
        (mine if side == 0 else theirs).append(i)
        loads[side] += len(items[i][1])
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: write its share, report an error as text, never return
        os.close(read_end)
        code = 0
        try:
            for i in theirs:
                write_records(*items[i])
        except BaseException as e:  # noqa: BLE001 - everything goes back to the parent
            code = 1
            os.write(write_end, (str(e) or type(e).__name__).encode("utf-8", "replace")[:4000])
        finally:
            os._exit(code)
    os.close(write_end)
    try:
        for i in mine:
            write_records(*items[i])
    finally:
        with os.fdopen(read_end, "rb") as fh:
            message = fh.read().decode("utf-8", "replace")
        _, status = os.waitpid(pid, 0)
    if status != 0:
        raise HearMeError(message or f"writing {', '.join(str(items[i][0]) for i in theirs)} failed")
    return [Path(p) for p, _ in items]


def _in_threads(jobs: list[Callable[[], Path]]) -> list[Path]:
    """Each job in a thread of its own (one file each: their writes and fsyncs overlap); the first
    error is raised once all have ended."""
    import threading

    out: list = [None] * len(jobs)

    def run(i: int) -> None:
        try:
            out[i] = jobs[i]()
        except BaseException as e:  # noqa: BLE001 - raised below, in the caller's thread
            out[i] = e

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r in out:
        if isinstance(r, BaseException):
            raise r
    return out


def _threads_running() -> bool:
    """Forking a process that runs other threads (the WebUI) can copy a held lock: don't."""
    import threading

    return threading.active_count() > 1
