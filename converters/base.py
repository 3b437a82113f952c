"""The converter kit, in the style of LLaMA-Factory's `data/converter.py`.

A converter is a small registered class:

    @register_converter("emollm")
    class EmoLLMConverter(Converter):
        suffixes = (".json",)
        def units(self, path):          # yield (position, raw) per source record
            ...
        def convert(self, raw, where):  # -> list of records, or raise Reject(reason)
            ...

The driver (convert.py) runs it over the user's files; inputs.py finds them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from hearme.core import io, schema


class Reject(Exception):
    """Raised by a converter for one source record; the message is the reason."""


@dataclass
class Context:
    """Options shared by one conversion run (converters read what they need)."""

    options: dict[str, Any] = field(default_factory=dict)
    tally: io.Tally = field(default_factory=io.Tally)
    root: Path | None = None  # the INPUT argument a file came from (for folder-derived topics)
    file_keys: dict[Path, str] = field(default_factory=dict)  # file -> its part of record ids, where not its stem


class Converter:
    name: str = ""
    source: str = ""
    license: str = ""
    lang: str = "zh"
    suffixes: tuple[str, ...] = (".json",)
    unit_name: str = "record"  # what `read` counts: record, dialogue, file, answer...
    holds_personal_data: bool = True  # False: nothing a person said (the PII scrubber skips it)

    def __init__(self, ctx: Context):
        self.ctx = ctx

    def units(self, path: Path) -> Iterator[tuple[Any, Any]]:
        """Yield (position, raw) for each source record in one file. Raise io.InputError if unreadable."""
        raise NotImplementedError

    def convert(self, raw: Any, path: Path, position: Any) -> list[schema.Record]:
        raise NotImplementedError

    def file_key(self, path: Path) -> str:
        """The file's part of record ids: its stem, or as much of its path as makes it unique in this run."""
        keys = self.ctx.file_keys
        return (keys.get(path) if keys else None) or path.stem.replace(" ", "_")

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
