"""Chunks of work shared by this process and forked workers, for the converter driver.

Every process takes the next chunk nobody has taken from a shared counter, so the one that also
receives the results (this one) takes fewer and all finish together. A thread per worker reads
its pipe as results come, so no worker waits to send. Results come back in chunk order. A
result is a tuple whose first item (records: plain dicts, lists and text) travels by marshal,
2-3x faster than pickle; the rest is pickled.
"""

from __future__ import annotations

import marshal
import multiprocessing
import pickle
import queue
import threading
from typing import Any, Callable

_JOB: tuple | None = None  # (chunks, do, counter), inherited by forked workers


def run_chunks(chunks: list[Any], do: Callable[[Any], tuple], workers: int,
               on_result: Callable[[tuple], None] | None = None,
               after_fork: Callable[[], None] | None = None) -> list[tuple]:
    """[do(chunk) for chunk in chunks], computed by this process and workers - 1 forked ones.
    `on_result` sees each result as it comes (what it returns, if not None, is kept instead: work
    on results done while the workers still run), `after_fork` runs once the workers are started (a
    progress bar: its monitor thread must not exist at the fork). An exception in a worker is
    raised here; a worker that dies leaves a RuntimeError naming its exit code."""
    global _JOB
    context = multiprocessing.get_context("fork")
    _JOB = (chunks, do, context.Value("q", 0))
    done: dict[int, tuple] = {}
    procs, readers, inbox = [], [], None

    def finished(k: int, result: tuple) -> None:
        if on_result:
            result = on_result(result) or result
        done[k] = result

    try:
        for _ in range(workers - 1):
            reader, writer = context.Pipe(duplex=False)
            _widen(writer)
            proc = context.Process(target=_worker, args=(writer,), daemon=True)
            proc.start()
            writer.close()
            procs.append(proc)
            readers.append(reader)
        inbox = _Inbox(readers)  # threads only after every fork
        if after_fork:
            after_fork()
        while (k := _next_chunk()) is not None:
            finished(k, do(chunks[k]))
            inbox.receive(finished, block=False)
        inbox.receive(finished, block=True)
        missing = [k for k in range(len(chunks)) if k not in done]
        if missing:
            for proc in procs:
                proc.join(timeout=30)  # its pipe is closed: it has ended or is ending
            codes = ", ".join(str(p.exitcode) for p in procs)
            raise RuntimeError(f"a conversion worker ended before chunk {missing[0]} was done (exit code {codes})")
        return [done[k] for k in range(len(chunks))]
    finally:
        _JOB = None
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
            proc.join()
        for thread in inbox.threads if inbox is not None else ():
            thread.join()
        for reader in readers:
            reader.close()


PIPE_BYTES = 1 << 20  # Linux's largest pipe for a normal user (/proc/sys/fs/pipe-max-size)


def _widen(connection) -> None:
    """A 1 MB pipe instead of 64 KB: a worker's result (about 1.5 MB) then goes in a few writes, where
    each refill of a small pipe waited for the reader thread to get the GIL from the busy main
    thread (measured: a worker blocked 0.7-1.1 s of 7 s in send on SMILE; 0.15-0.23 s with this)."""
    try:
        import fcntl

        fcntl.fcntl(connection.fileno(), fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (ImportError, AttributeError, OSError):  # not Linux, or a lower limit: the default pipe works
        pass


def _next_chunk() -> int | None:
    """The next chunk nobody has taken yet, or None when all are taken."""
    chunks, _, counter = _JOB
    with counter.get_lock():
        k = counter.value
        counter.value += 1
    return k if k < len(chunks) else None


def _worker(writer) -> None:
    """A forked worker: the next free chunk until none is left, each result sent as it is done."""
    chunks, do, _ = _JOB
    while (k := _next_chunk()) is not None:
        try:
            result = do(chunks[k])
            try:
                result = (marshal.dumps(result[0]), *result[1:])
            except ValueError:  # not plain data: pickled with the rest
                pass
            message = pickle.dumps((k, result), protocol=pickle.HIGHEST_PROTOCOL)
        except BaseException as e:  # noqa: BLE001 - raised again in the parent
            try:
                message = pickle.dumps((k, e))
            except Exception:  # noqa: BLE001 - an exception that does not pickle
                message = pickle.dumps((k, RuntimeError(f"{type(e).__name__}: {e}")))
            writer.send_bytes(message)
            break
        writer.send_bytes(message)
    writer.close()


class _Inbox:
    """The workers' messages, read from their pipes by one thread each."""

    def __init__(self, readers: list):
        self.messages: queue.Queue = queue.Queue()
        self.open = len(readers)
        self.threads = [threading.Thread(target=self._pump, args=(r,), daemon=True) for r in readers]
        for t in self.threads:
            t.start()

    def _pump(self, reader) -> None:
        try:
            while True:
                self.messages.put(reader.recv_bytes())
        except (EOFError, OSError):
            self.messages.put(None)

    def receive(self, finished: Callable[[int, tuple], None], block: bool) -> None:
        """finished(k, result) for each result that has come; with `block`, until every worker has ended."""
        while self.open:
            try:
                message = self.messages.get(block=block)
            except queue.Empty:
                return
            if message is None:
                self.open -= 1
                continue
            k, result = pickle.loads(message)
            if isinstance(result, BaseException):
                raise result
            if isinstance(result[0], bytes):
                result = (marshal.loads(result[0]), *result[1:])
            finished(k, result)
