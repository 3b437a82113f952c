"""`records`: files already in HearMe's schema (messages or sharegpt form, .json or .jsonl).

Message keys other than role and content are dropped (and counted): LLaMA-Factory ignores them,
and one key with different JSON types in two messages (`"weight": 1`, `"weight": "high"`) makes
the `datasets` loader refuse the whole file.
"""

from __future__ import annotations

from pathlib import Path

from hearme.core import io, schema
from hearme.converters.base import Converter, Reject, register_converter


@register_converter("records")
class RecordsConverter(Converter):
    suffixes = (".json", ".jsonl")
    source = "hearme"

    def units(self, path: Path):
        if path.suffix == ".jsonl":
            for lineno, obj, err in io.iter_jsonl(path):
                yield f"line {lineno}", (obj if err is None else _Bad(err))
            return
        data = io.read_json(path)
        if isinstance(data, dict):
            data = [data]
        if not isinstance(data, list):
            raise io.InputError(path, "", f"expected a JSON array of records, got {type(data).__name__}")
        for i, obj in enumerate(data):
            yield f"record {i}", obj

    def convert(self, raw, path, position):
        if isinstance(raw, _Bad):
            raise Reject(raw.reason)
        if not isinstance(raw, dict):
            raise Reject(f"record is {type(raw).__name__}, expected an object")
        try:
            rec = schema.from_sharegpt(raw) if "conversations" in raw and "messages" not in raw else dict(raw)
            schema.validate(rec)
        except schema.InvalidRecord as e:
            raise Reject(str(e)) from None
        rec["messages"] = [self._plain(m) for m in rec["messages"]]
        rec.setdefault("id", self.record_id(path, position))
        rec.setdefault("source", self.source)
        rec.setdefault("lang", self.lang)
        rec.setdefault("topic", "")
        return [rec]


    def _plain(self, message: dict) -> dict:
        for key in message.keys() - {"role", "content"}:
            self.ctx.tally.note(f"message key dropped: {io.safe_text(str(key))[:40]}")
        return {"role": message["role"], "content": message["content"]}


class _Bad:
    def __init__(self, reason: str):
        self.reason = reason
