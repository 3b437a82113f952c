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

    def record_id(self, path: Path, position: Any, k: int = 0) -> str:
        stem = path.stem.replace(" ", "_")
        suffix = f"-{k}" if k else ""
        return f"{self.name}/{stem}/{position}{suffix}"


CONVERTERS: dict[str, type[Converter]] = {}


def register_converter(name: str) -> Callable[[type[Converter]], type[Converter]]:
    def deco(cls: type[Converter]) -> type[Converter]:
        cls.name = name
        CONVERTERS[name] = cls
        return cls
    return deco


def get_converter(name: str) -> type[Converter]:
    """The converter for a format name; case, spaces and `_` vs `-` do not matter (CPsyCounD, self_cognition)."""
    import difflib

    from hearme import converters  # noqa: F401  (imports every converter module)

    key = "-".join(str(name).strip().lower().replace("_", "-").split())
    if key not in CONVERTERS:
        close = difflib.get_close_matches(key, list(CONVERTERS), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise io.HearMeError(f"unknown format {name!r}{hint}; known: {', '.join(sorted(CONVERTERS))}")
    return CONVERTERS[key]


def expand_inputs(inputs: Iterable[str | os.PathLike], suffixes: tuple[str, ...]) -> list[tuple[Path, Path]]:
    """(file, the input it came from): directories are walked in sorted order."""
    out: list[tuple[Path, Path]] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in suffixes
                           and not f.name.startswith(".") and ".rejected." not in f.name)
            if not files:
                raise io.InputError(p, "", f"no {'/'.join(suffixes)} files in this folder")
            out.extend((f, p) for f in files)
        elif p.exists():
            out.append((p, p.parent))
        else:
            raise io.InputError(p, "", "no such file or folder")
    return out


def run(fmt: str, inputs: Iterable[str | os.PathLike], *, scrub: bool = True, progress: bool = False,
        **options: Any) -> tuple[list[schema.Record], io.Tally]:
    """Convert inputs with one format; returns (records, tally). Unreadable inputs raise InputError."""
    cls = get_converter(fmt)
    ctx = Context(options=options)
    conv = cls(ctx)
    inputs = list(inputs or [])
    files = expand_inputs(inputs, cls.suffixes) if inputs else []
    named = {Path(p) for p in inputs if not Path(p).is_dir()}
    scrubber = _scrubber() if scrub else None
    records: list[schema.Record] = []
    bar = progress_bar(len(files), f"convert {fmt}", "file", enabled=progress and len(files) > 1)
    for path, root in files or [(None, None)]:
        ctx.root = root
        before = ctx.tally.read
        for position, raw in _units(conv, path, explicit=path is None or Path(path) in named):
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
            if scrubber:
                produced = [scrubber(r, ctx.tally) for r in produced]
            records.extend(produced)
            ctx.tally.written += 1
        if ctx.tally.read == before:
            ctx.tally.note("files with no records")
        if bar:
            bar.update(1)
    if bar:
        bar.close()
    return records, ctx.tally


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
        from hearme.converters.scrub import scrub_record
    except ModuleNotFoundError:
        return None
    return scrub_record
