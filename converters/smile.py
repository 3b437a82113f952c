"""`smile`: SMILE `data/<id>.json` dialogues, lists of `{"role": "client"|"counselor", "content"}`.

Repeated roles are merged; a message holding the rest of the dialogue with `求助者：`/`支持者：`
labels is split into turns; a dialogue without a counselor turn is rejected; a trailing client
turn (also an empty one) is trimmed and counted.
"""

from __future__ import annotations

from pathlib import Path

from hearme import io, schema
from hearme.converters.base import Converter, Reject, register_converter
from hearme.converters.common import ASSISTANT, USER, need_text, speech_turns, to_messages

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
        note = self.ctx.tally.note
        turns = []
        for i, turn in enumerate(raw):
            if not isinstance(turn, dict):
                raise Reject(f"turn {i} is {type(turn).__name__}, expected an object")
            role = turn.get("role")
            if role not in ROLE:
                raise Reject(f"turn {i} has role {role!r}; expected client or counselor")
            content = turn.get("content")
            if i == len(raw) - 1 and ROLE[role] == USER and isinstance(content, str) and not content.strip():
                note("trailing client turn trimmed")  # an empty last client turn, trimmed like any other
                continue
            turns.append((ROLE[role], need_text(content, f"turn {i} content")))
        turns = speech_turns(turns, note)
        if not any(r == ASSISTANT for r, _ in turns):
            raise Reject("dialogue has no counselor turn")
        messages = to_messages(turns, note=note)
        return [schema.make(messages, id=f"smile/{self.file_key(path)}", source=self.source, lang="zh",
                            license=self.license)]
