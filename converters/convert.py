"""The converter driver: picks the converter for a format, expands files and directories, counts
read = written + rejected, validates every record against the one schema, scrubs PII unless told
not to, and keeps every rejection with its file, position and reason. Big folders use two processes.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from hearme.core import io, schema
from hearme.core.progress import bar as progress_bar, gc_paused
from hearme.converters.base import CONVERTERS, Context, Converter, Reject
from hearme.converters.inputs import expand_inputs, file_keys

try:  # a worker's records come back as their JSON rows (io.encode_row), read back with orjson
    from orjson import loads as _row_loads
except ImportError:  # pragma: no cover - orjson is a dependency; without it, workers send records
    _row_loads = None


def get_converter(name: str) -> type[Converter]:
    """The converter for a format name; case, spaces and `_` vs `-` do not matter (CPsyCounD, self_cognition)."""
    import difflib

    from hearme.converters import (  # noqa: F401  (each registers itself)
        cpsycound, cpsycoune, emollm, firefly, psyqa, records, self_cognition, smile,
    )

    key = "-".join(str(name).strip().lower().replace("_", "-").split())
    if key not in CONVERTERS:
        close = difflib.get_close_matches(key, list(CONVERTERS), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise io.HearMeError(f"unknown format {name!r}{hint}; known: {', '.join(sorted(CONVERTERS))}")
    return CONVERTERS[key]

PARALLEL_FROM = 512  # files: below this, one process is faster than starting workers ...
PARALLEL_BYTES = 4 << 20  # ... unless they are this big in all (EmoLLM's 3 files, 9.5 MB: 0.9-1.4 s -> 0.75-0.85 s)


def default_workers(n_files: int, n_bytes: int = 0) -> int:
    """2 processes for a big folder (or a few big files) when a second core is free; on a machine
    already busy, a second process only adds its overhead (measured: slower than one process at a
    load of 7 on 2 cores)."""
    cores = os.cpu_count() or 1
    if n_files < 2 or (n_files < PARALLEL_FROM and n_bytes < PARALLEL_BYTES) or cores < 2:
        return 1
    return 2 if _others_busy() <= cores - 1 else 1


def _others_busy() -> float:
    """About how many cores other processes keep busy: the 1-minute load average, but no more than
    the processes running right now besides this one (the average still counts this process's own
    work of the last minute, e.g. the previous source of the same run)."""
    try:
        busy = os.getloadavg()[0]
    except OSError:
        return 0.0
    running = _running_now()
    return busy if running is None else min(busy, max(0, running - 1))


def _running_now() -> int | None:
    """Processes running or runnable at this moment, this one included (Linux), else None."""
    try:
        with open("/proc/loadavg") as fh:
            return int(fh.read().split()[3].split("/")[0])
    except (OSError, ValueError, IndexError):
        return None


def run(fmt: str, inputs: Iterable[str | os.PathLike], *, scrub: bool | str = True, progress: bool = False,
        workers: int | None = None, outputs: Iterable[str | os.PathLike] = (),
        **options: Any) -> tuple[list[schema.Record], io.Tally]:
    """Convert inputs with one format; returns (records, tally). Unreadable named inputs raise InputError.

    Folders of many files are converted by `workers` processes (default: up to 2, the cores);
    the result is the same as with one process, in the same order.
    `outputs`: the files this run will write; they are never read as input, and a run whose
    output would overwrite one of its inputs is refused before anything is read.
    `scrub`: True or "tags" ([NAME] placeholders), "surrogate" (consistent fakes), False (none)."""
    records, tally, _, _ = _run(fmt, inputs, scrub=scrub, progress=progress, workers=workers, corpus=False,
                                outputs=outputs, **options)
    return records, tally


def run_with_corpus(fmt: str, inputs: Iterable[str | os.PathLike], *, scrub: bool | str = True, progress: bool = False,
                    workers: int | None = None, outputs: Iterable[str | os.PathLike] = (), **options: Any):
    """run(), plus the records' dedup.Corpus (normalised text and MinHash signatures), computed in
    the conversion workers alongside the conversion: (records, tally, corpus). The corpus also holds
    the records' JSON rows (`corpus.encoded`, for io.write_records)."""
    records, tally, corpus, encoded = _run(fmt, inputs, scrub=scrub, progress=progress, workers=workers,
                                           corpus=True, outputs=outputs, **options)
    corpus.encoded = encoded
    return records, tally, corpus


def _run(fmt: str, inputs, *, scrub: bool | str, progress: bool, workers: int | None, corpus: bool,
         outputs: Iterable[str | os.PathLike] = (), **options: Any):
    cls = get_converter(fmt)
    ctx = Context(options=options)
    conv = cls(ctx)
    inputs = list(inputs or [])
    outputs = [Path(p) for p in outputs]
    # A previous output of this run (it has its rejected file beside it) found in an input folder is
    # skipped; any other input at an output path is refused, so a source is never overwritten.
    previous = bool(outputs) and outputs[0].is_file() and io.rejected_path(outputs[0]).is_file()
    with gc_paused():  # from the walk on: a collection here would walk every record of earlier runs too
        files = expand_inputs(inputs, cls.suffixes, exclude=outputs if previous else ()) if inputs else []
        io.refuse_overwrite(outputs, [f for f, _, problem in files if problem is None])
        ctx.file_keys = file_keys(f for f, _, _ in files)
        named = {Path(p) for p in inputs if not Path(p).is_dir()}
        if workers is None:
            workers = default_workers(len(files), _size(files) if len(files) < PARALLEL_FROM else 0)
        parts = None
        if workers > 1 and len(files) > 1:
            records, rows, parts = _run_parallel(conv, files, named, scrub, workers, progress and len(files) > 1, fmt,
                                                 corpus)
        else:
            records, rows = _run_files(conv, files, named, scrub, progress and len(files) > 1, fmt)
        for i in _unique_ids(records, ctx.tally):
            rows[i] = io.encode_row(records[i])
        encoded = io.EncodedRows(records, rows)
        if not corpus:
            return records, ctx.tally, None, encoded
        import numpy as np

        from hearme.converters.dedup import Corpus

        if parts is None:
            parts = [_corpus_part(records)]
        # signatures made here in both cases, so that dedup and split only band and verify
        corpus = Corpus(lengths=np.concatenate([p[0] for p in parts]), sig=np.concatenate([p[1] for p in parts]),
                        records=records, openings=[o for p in parts for o in p[2]])
        return records, ctx.tally, corpus, encoded


def _size(files) -> int:
    """Bytes in all of the readable files (a few stat calls)."""
    total = 0
    for path, _, problem in files:
        try:
            total += os.stat(path).st_size if problem is None else 0
        except (OSError, ValueError):
            pass
    return total


def _corpus_part(records: list[schema.Record]) -> tuple:
    """What dedup.Corpus keeps of the records: (normalised lengths, signatures, split openings)."""
    from hearme.converters.dedup import dialogue_text, sketch
    from hearme.converters.split import openings

    return (*sketch([dialogue_text(r) for r in records]), openings(records))


def _unique_ids(records: list[schema.Record], tally: io.Tally) -> list[int]:
    """Ids are unique within a run: a repeat gets ~2, ~3 ... (stable: inputs are walked in order).
    Returns the positions of the records whose id changed."""
    seen: set[str] = set()
    changed = []
    for i, rec in enumerate(records):
        rid = str(rec.get("id"))
        if rid in seen:
            n = 2
            while f"{rid}~{n}" in seen:
                n += 1
            rid = rec["id"] = f"{rid}~{n}"
            tally.note("duplicate id made unique")
            changed.append(i)
        seen.add(rid)
    return changed


_WORKER: tuple | None = None  # (converter, files, named, scrub, corpus) inherited by forked workers
_PARENT = os.getpid()  # set again at each parallel run (this module may be imported in a fork)
CHUNKS_PER_PROCESS = 64  # small enough that the processes finish together (measured: 32-64 best) ...
CHUNK_FILES_AT_LEAST = 192  # ... but not tiny: each chunk costs about 0.25 ms (CPsyCounD's 3,084 files in 17
# chunks rather than 129: 0.42 -> 0.35 s)


def _run_parallel(conv: Converter, files, named, scrub: bool | str, workers: int, progress: bool, fmt: str,
                  corpus: bool = False):
    """Chunks of files converted by this process and workers - 1 forked ones (parallel.run_chunks);
    results and tallies are merged in input order, the same as with one process. With `corpus`,
    each chunk also gets its records' dedup sketch: (records, their JSON rows, [corpus parts]).
    A worker's records travel as their rows, read back as each result comes (the writer reuses the rows)."""
    from hearme.converters.parallel import run_chunks

    global _WORKER, _PARENT
    chunk = max(CHUNK_FILES_AT_LEAST, len(files) // (workers * CHUNKS_PER_PROCESS))
    chunk = max(1, min(chunk, len(files) // (2 * workers)))  # a few files: still two chunks per process
    chunks = [(i, min(i + chunk, len(files))) for i in range(0, len(files), chunk)]  # the files travel by fork
    _WORKER, _PARENT = (conv, files, named, scrub, corpus), os.getpid()
    if scrub and _scrubber():
        from hearme.converters.pii_gate import warm

        warm()
    if corpus:
        from hearme.converters.dedup import normalized_codes

        normalized_codes([])  # its lookup table, built once before the fork
    run_tally = conv.ctx.tally
    bar = None

    def start_bar() -> None:  # after the fork
        nonlocal bar
        bar = progress_bar(len(files), f"convert {fmt}", "file", enabled=progress)

    def on_result(result: tuple) -> tuple | None:
        if bar:
            bar.update(result[1].files)
        (part, rows), *rest = result
        if part is None:  # a worker's records, as their rows: read back now, while the workers still run
            return ([_row_loads(r) for r in rows], rows), *rest
        return None
    try:
        results = run_chunks(chunks, _convert_chunk, workers, on_result=on_result, after_fork=start_bar)
    finally:
        conv.ctx.tally = run_tally
        _WORKER = None
        if bar:
            bar.close()
    records: list[schema.Record] = []
    rows: list[bytes | None] = []
    parts = []
    for (part, part_rows), tally, error, corpus_part in results:
        if error is not None:
            raise io.InputError(*error)
        records.extend(part)
        rows.extend(part_rows)
        parts.append(corpus_part)
        run_tally.merge(tally)
    return records, rows, parts if corpus else None


def _convert_chunk(bounds: tuple[int, int]):
    """((records or None, rows), tally, error or None, corpus part or None) of files[start:stop], in a
    tally of its own. The first item travels by marshal: the rows alone when every record has one
    (a JSON row is as small as the record and costs nothing more to send), else records and rows."""
    conv, files, named, scrub, corpus = _WORKER
    files = files[bounds[0]:bounds[1]]
    conv.ctx.tally = tally = io.Tally()
    try:
        records, rows = _run_files(conv, files, named, scrub, False, "")
    except io.InputError as e:  # sent back as plain values (the exception does not pickle)
        return ([], []), tally, (e.path, e.where, e.msg), None
    tally.files = len(files)
    corpus_part = _corpus_part(records) if corpus else None
    return (None if os.getpid() != _PARENT and None not in rows else records, rows), tally, None, corpus_part


def _run_files(conv: Converter, files, named, scrub: bool | str, progress: bool, fmt: str):
    """(records, their JSON rows): a row is made where its record is checked for text that cannot be
    written, and made again for a record the scrub changed."""
    ctx = conv.ctx
    scrubber = _scrubber(scrub) if scrub and conv.holds_personal_data else None
    records: list[schema.Record] = []
    rows: list[bytes | None] = []
    bar = progress_bar(len(files), f"convert {fmt}", "file", enabled=progress)
    for path, root, problem in files or [(None, None, None)]:
        ctx.root = root
        before = ctx.tally.read
        if problem is not None:
            ctx.tally.read += 1
            ctx.tally.reject(path, "file", problem)
        explicit = path is None or bool(named) and (path if isinstance(path, Path) else Path(path)) in named
        for position, raw in (() if problem else _units(conv, path, explicit=explicit)):
            ctx.tally.read += 1
            if isinstance(raw, _Unreadable):
                ctx.tally.reject(path, position, raw.reason)
                continue
            try:
                produced = conv.convert(raw, path, position)
                made = []
                for rec in produced:
                    schema.validate(rec)
                    row = io.encode_row(rec)
                    if row is None and (bad := io.unencodable(rec)):
                        raise Reject(f"text that is not valid UTF-8 (a lone surrogate) in {bad}")
                    made.append(row)
            except Reject as e:
                ctx.tally.reject(path, position, str(e), raw)
                continue
            except schema.InvalidRecord as e:
                ctx.tally.reject(path, position, f"invalid after conversion: {e}", raw)
                continue
            except Exception as e:  # a converter bug must not lose the record silently
                ctx.tally.reject(path, position, f"{type(e).__name__}: {e}", raw)
                continue
            if not produced:
                ctx.tally.reject(path, position, "produced no dialogue", raw)
                continue
            records.extend(produced)
            rows.extend(made)
            ctx.tally.written += 1
        if ctx.tally.read == before:
            ctx.tally.note("files with no records")
        if bar:
            bar.update(1)
    if bar:
        bar.close()
    if not scrubber:
        return records, rows
    scrubbed = scrubber(records, ctx.tally)
    return scrubbed, [row if new is old else io.encode_row(new) for new, old, row in zip(scrubbed, records, rows)]


def run_to_file(fmt: str, inputs, out, *, sharegpt: bool = False, scrub: bool | str = True, progress: bool = True,
                **options: Any) -> tuple[list[schema.Record], io.Tally]:
    """run(), then the records and their rejected file written as one unit (never over an input)."""
    out = Path(out)
    records, tally, _, encoded = _run(fmt, inputs, scrub=scrub, progress=progress, workers=options.pop("workers", None),
                                      corpus=False, outputs=(out, io.rejected_path(out)), **options)
    io.write_output(out, records, tally, sharegpt=sharegpt, encoded=encoded)
    return records, tally


def nothing_written(fmt: str, tally: io.Tally, inputs) -> str:
    """The one-line error of a run that wrote 0 of N (its empty output and rejected file are still
    written as a pair, so the reasons are kept): the file and the reason that rejected most."""
    reason, n = Counter(r["reason"] for r in tally.rejects).most_common(1)[0]
    where = next((r["file"] for r in tally.rejects if r["reason"] == reason and r["file"]), None)
    return (f"{where or ', '.join(map(str, inputs or []))}: convert {fmt} wrote 0 of {tally.read} "
            f"{'records' if tally.read > 1 else 'record'}; {n} rejected because: {reason}")


class _Unreadable:
    def __init__(self, reason: str):
        self.reason = reason


def _units(conv: Converter, path, explicit: bool):
    """The converter's units; a file found by walking a folder that cannot be read becomes one
    rejected unit (the rest of the folder still converts). A file named on the command line
    that cannot be read at all raises, so the command fails with its reason."""
    try:
        yield from conv.units(path)
    except io.InputError as e:
        if explicit:
            raise
        yield "file", _Unreadable(f"unreadable: {e.where + ': ' if e.where else ''}{e.msg}")
    except Exception as e:  # noqa: BLE001 - whatever a hostile file raises, it is one rejected unit
        reason = f"unreadable: {type(e).__name__}: {' '.join(str(e).split())[:200]}"
        if explicit:
            raise io.InputError(path, "", reason) from None
        yield "file", _Unreadable(reason)


def _scrubber(mode: bool | str = True):
    """scrub_records with --pii's mode (True: tags), or None where scrub.py is not installed."""
    try:
        from hearme.converters.scrub import scrub_records
    except ModuleNotFoundError:
        return None
    if mode is True or mode == "tags":
        return scrub_records
    return lambda records, tally: scrub_records(records, tally, mode=mode)
