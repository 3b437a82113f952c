"""`smile`: SMILE `data/<id>.json` dialogues, lists of `{"role": "client"|"counselor", "content"}`.

Repeated roles are merged; a dialogue without a counselor turn is rejected; a trailing
client turn is trimmed and counted.
"""

from __future__ import annotations

from pathlib import Path

from hearme import io, schema
from hearme.converters.base import Converter, Reject, register_converter
from hearme.converters.common import ASSISTANT, USER, need_text, to_messages

ROLE = {"client": USER, "counselor": ASSISTANT, "user": USER, "assistant": ASSISTANT,
        "seeker": USER, "supporter": ASSISTANT}


@register_converter("smile")
class SmileConverter(Converter):
    source = "SMILE"
    license = "SMILE (research use; derived from PsyQA)"
    suffixes = (".json",)
    unit_name = "dialogue"

    def units(self, path: Path):
        yield "file", io.read_json(path)

    def convert(self, raw, path: Path, position):
        if isinstance(raw, dict) and isinstance(raw.get("dialog", raw.get("dialogue")), list):
            raw = raw.get("dialog", raw.get("dialogue"))
        if not isinstance(raw, list):
            raise Reject(f"expected a JSON list of {{role, content}} turns, got {type(raw).__name__}")
        turns = []
        for i, turn in enumerate(raw):
            if not isinstance(turn, dict):
                raise Reject(f"turn {i} is {type(turn).__name__}, expected an object")
            role = turn.get("role")
            if role not in ROLE:
                raise Reject(f"turn {i} has role {role!r}; expected client or counselor")
            turns.append((ROLE[role], need_text(turn.get("content"), f"turn {i} content")))
        if not any(r == ASSISTANT for r, _ in turns):
            raise Reject("dialogue has no counselor turn")
        messages = to_messages(turns, note=self.ctx.tally.note)
        return [schema.make(messages, id=f"smile/{path.stem}", source=self.source, lang="zh", license=self.license)]
