"""Converter registry and driver, in the style of LLaMA-Factory's `data/converter.py`.

A converter is a small registered class:

    @register_converter("emollm")
    class EmoLLMConverter(Converter):
        suffixes = (".json",)
        def units(self, path):          # yield (position, raw) per source record
            ...
        def convert(self, raw, where):  # -> list of records, or raise Reject(reason)
            ...

The driver expands files and directories, counts read = written + rejected, validates
every record against the one schema, scrubs PII unless told not to, and keeps every
rejection with its file, position and reason.
"""

from __future__ import annotations

import contextlib
import gc
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from hearme import io, schema
from hearme.progress import bar as progress_bar


class Reject(Exception):
    """Raised by a converter for one source record; the message is the reason."""


@dataclass
class Context:
    """Options shared by one conversion run (converters read what they need)."""

    options: dict[str, Any] = field(default_factory=dict)
    tally: io.Tally = field(default_factory=io.Tally)
    root: Path | None = None  # the INPUT argument a file came from (for folder-derived topics)
    file_keys: dict[Path, str] = field(default_factory=dict)  # file -> its unique part of record ids


class Converter:
    name: str = ""
    source: str = ""
    license: str = ""
    lang: str = "zh"
    suffixes: tuple[str, ...] = (".json",)
    unit_name: str = "record"  # what `read` counts: record, dialogue, file, answer...

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def units(self, path: Path) -> Iterator[tuple[Any, Any]]:
        """Yield (position, raw) for each source record in one file. Raise io.InputError if unreadable."""
        raise NotImplementedError

    def convert(self, raw: Any, path: Path, position: Any) -> list[schema.Record]:
        raise NotImplementedError

    def file_key(self, path: Path) -> str:
        """The file's part of record ids: its stem, or as much of its path as makes it unique in this run."""
        return self.ctx.file_keys.get(path) or path.stem.replace(" ", "_")

    def record_id(self, path: Path, position: Any, k: int = 0) -> str:
        suffix = f"-{k}" if k else ""
        return f"{self.name}/{self.file_key(path)}/{position}{suffix}"


CONVERTERS: dict[str, type[Converter]] = {}


def register_converter(name: str) -> Callable[[type[Converter]], type[Converter]]:
    def deco(cls: type[Converter]) -> type[Converter]:
        cls.name = name
        CONVERTERS[name] = cls
        return cls
    return deco


def get_converter(name: str) -> type[Converter]:
    from hearme import converters  # noqa: F401  (imports every converter module)

    if name not in CONVERTERS:
        raise io.HearMeError(f"unknown format {name!r}; known: {', '.join(sorted(CONVERTERS))}")
    return CONVERTERS[name]


def expand_inputs(inputs: Iterable[str | os.PathLike], suffixes: tuple[str, ...]) -> list[tuple[Path, Path]]:
    """(file, the input it came from): directories are walked in sorted order (by path components)."""
    out: list[tuple[Path, Path]] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files = []
            for folder, dirs, names in os.walk(p, followlinks=True):
                dirs[:] = [d for d in dirs if not d.startswith(".")]
                rel = os.path.relpath(folder, p)
                parts = () if rel == "." else tuple(rel.split(os.sep))
                files.extend(parts + (n,) for n in names  # names: everything but folders
                             if os.path.splitext(n)[1].lower() in suffixes and not n.startswith(".")
                             and ".rejected." not in n)
            if not files:
                raise io.InputError(p, "", f"no {'/'.join(suffixes)} files in this folder")
            base = str(p)
            out.extend((Path(os.path.join(base, *f)), p) for f in sorted(files))
        elif p.exists():
            out.append((p, p.parent))
        else:
            raise io.InputError(p, "", "no such file or folder")
    return out


def file_keys(paths: Iterable[Path]) -> dict[Path, str]:
    """A stable, unique id part per file: the stem, or more of the path where stems collide
    (two folders each holding data.json -> a/data, b/data)."""
    by_stem: dict[str, list[Path]] = {}
    for p in paths:
        group = by_stem.setdefault(p.stem, [])
        if p not in group:
            group.append(p)
    keys: dict[Path, str] = {}
    for stem, group in by_stem.items():
        if len(group) == 1:
            keys[group[0]] = stem.replace(" ", "_")
            continue
        parts = [Path(p).resolve().with_suffix("").parts for p in group]
        for depth in range(2, max(len(x) for x in parts) + 1):
            tails = ["/".join(x[-depth:]) for x in parts]
            if len(set(tails)) == len(tails):
                break
        if len(set(tails)) < len(tails):  # same path but for the suffix: data.json and data.jsonl
            tails = [f"{t}{Path(p).suffix}" for p, t in zip(group, tails)]
        keys.update((p, t.replace(" ", "_")) for p, t in zip(group, tails))
    return keys


PARALLEL_FROM = 512  # files: below this, one process is faster than starting workers


def default_workers(n_files: int) -> int:
    """2 processes for a big folder when a second core is free; on a machine already busy, a second
    process only adds its overhead (measured: slower than one process at a load of 7 on 2 cores)."""
    cores = os.cpu_count() or 1
    if n_files < PARALLEL_FROM or cores < 2:
        return 1
    try:
        busy = os.getloadavg()[0]
    except OSError:
        busy = 0.0
    return 2 if busy <= cores - 1 else 1


def run(fmt: str, inputs: Iterable[str | os.PathLike], *, scrub: bool = True, progress: bool = False,
        workers: int | None = None, **options: Any) -> tuple[list[schema.Record], io.Tally]:
    """Convert inputs with one format; returns (records, tally). Unreadable inputs raise InputError.

    Folders of many files are converted by `workers` processes (default: up to 2, the cores);
    the result is the same as with one process, in the same order."""
    records, tally, _ = _run(fmt, inputs, scrub=scrub, progress=progress, workers=workers, corpus=False, **options)
    return records, tally


def run_with_corpus(fmt: str, inputs: Iterable[str | os.PathLike], *, scrub: bool = True, progress: bool = False,
                    workers: int | None = None, **options: Any):
    """run(), plus the records' dedup.Corpus (normalised text and MinHash signatures), computed in
    the conversion workers alongside the conversion: (records, tally, corpus)."""
    return _run(fmt, inputs, scrub=scrub, progress=progress, workers=workers, corpus=True, **options)


@contextlib.contextmanager
def gc_paused():
    """No cyclic garbage collection while many records are built: records hold no cycles, and each
    collection would walk every record made so far (it doubled the time of a 55,000-file run)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _run(fmt: str, inputs, *, scrub: bool, progress: bool, workers: int | None, corpus: bool, **options: Any):
    cls = get_converter(fmt)
    ctx = Context(options=options)
    conv = cls(ctx)
    inputs = list(inputs or [])
    files = expand_inputs(inputs, cls.suffixes) if inputs else []
    ctx.file_keys = file_keys(f for f, _ in files)
    named = {Path(p) for p in inputs if not Path(p).is_dir()}
    if workers is None:
        workers = default_workers(len(files))
    parts = None
    with gc_paused():
        if workers > 1 and len(files) > 1:
            records, parts = _run_parallel(conv, files, named, scrub, workers, progress and len(files) > 1, fmt, corpus)
        else:
            records = _run_files(conv, files, named, scrub, progress and len(files) > 1, fmt)
        _unique_ids(records, ctx.tally)
        if not corpus:
            return records, ctx.tally, None
        from hearme.converters.dedup import Corpus

        corpus = Corpus.concat(parts) if parts is not None else Corpus.of_records(records)
        corpus.signatures()  # made here in both cases, so that dedup and split only band and verify
        return records, ctx.tally, corpus


def _unique_ids(records: list[schema.Record], tally: io.Tally) -> None:
    """Ids are unique within a run: a repeat gets ~2, ~3 ... (stable: inputs are walked in order)."""
    seen: set[str] = set()
    for rec in records:
        rid = str(rec.get("id"))
        if rid in seen:
            n = 2
            while f"{rid}~{n}" in seen:
                n += 1
            rid = rec["id"] = f"{rid}~{n}"
            tally.note("duplicate id made unique")
        seen.add(rid)


_WORKER: tuple | None = None  # (converter, named, scrub) inherited by forked workers


def _run_parallel(conv: Converter, files, named, scrub: bool, workers: int, progress: bool, fmt: str,
                  corpus: bool = False):
    """Chunks of files in forked workers; results and tallies merged in input order. With `corpus`,
    each worker also builds its records' dedup.Corpus: ([records], [corpus parts])."""
    import multiprocessing

    global _WORKER
    chunk = max(64, len(files) // (workers * 16))
    chunks = [files[i:i + chunk] for i in range(0, len(files), chunk)]
    _WORKER = (conv, named, scrub, corpus)
    if scrub and _scrubber():
        from hearme.converters.scrub import warm

        warm()
    records: list[schema.Record] = []
    parts = []
    bar = None
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            results = pool.imap(_worker_chunk, chunks)
            bar = progress_bar(len(files), f"convert {fmt}", "file", enabled=progress)  # after the fork
            for part, tally, error, corpus_part in results:
                if error is not None:
                    raise io.InputError(*error)
                records.extend(part)
                parts.append(corpus_part)
                conv.ctx.tally.merge(tally)
                if bar:
                    bar.update(tally.files)
    finally:
        _WORKER = None
        if bar:
            bar.close()
    return records, parts if corpus else None


def _worker_chunk(files):
    conv, named, scrub, corpus = _WORKER
    conv.ctx.tally = tally = io.Tally()
    try:
        records = _run_files(conv, files, named, scrub, False, "")
    except io.InputError as e:  # sent back as plain values (the exception does not pickle)
        return [], tally, (e.path, e.where, e.msg), None
    tally.files = len(files)
    if corpus:
        from hearme.converters.dedup import Corpus

        part = Corpus.of_records(records)
        return records, tally, None, (part.codes, part.lengths, part.signatures())
    return records, tally, None, None


def _run_files(conv: Converter, files, named, scrub: bool, progress: bool, fmt: str) -> list[schema.Record]:
    ctx = conv.ctx
    scrubber = _scrubber() if scrub else None
    records: list[schema.Record] = []
    bar = progress_bar(len(files), f"convert {fmt}", "file", enabled=progress)
    for path, root in files or [(None, None)]:
        ctx.root = root
        before = ctx.tally.read
        for position, raw in _units(conv, path, explicit=path is None or path in named):
            ctx.tally.read += 1
            if isinstance(raw, _Unreadable):
                ctx.tally.reject(path, position, raw.reason)
                continue
            try:
                produced = conv.convert(raw, path, position)
                for rec in produced:
                    schema.validate(rec)
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
            ctx.tally.written += 1
        if ctx.tally.read == before:
            ctx.tally.note("files with no records")
        if bar:
            bar.update(1)
    if bar:
        bar.close()
    return scrubber(records, ctx.tally) if scrubber else records


def run_to_file(fmt: str, inputs, out, *, sharegpt: bool = False, scrub: bool = True, progress: bool = True,
                **options: Any) -> tuple[list[schema.Record], io.Tally]:
    records, tally = run(fmt, inputs, scrub=scrub, progress=progress, **options)
    io.write_records(out, records, sharegpt=sharegpt)
    tally.write_rejects(out)
    return records, tally


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


def _scrubber():
    try:
        from hearme.converters.scrub import scrub_records
    except ModuleNotFoundError:
        return None
    return scrub_records
