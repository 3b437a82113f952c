"""`emollm`: EmoLLM xtuner files `[{"conversation": [{"system"?, "input", "output"}, ...]}]`.

Used by EmoLLM's psychology-knowledge ("scientist") set, its multi-turn sets and the emoji
role-play sets. `system` is optional and may be missing even in the first turn (EmoLLM's
own converter crashes there); only the first turn's system is used. Replies that carry a
`医生：` label mid-text (after an emoji or a full stop) are split at it (common.speech); role-play
stage directions such as `（微笑）` and narration such as `（以上对话中，医生…）` are removed.
"""

from __future__ import annotations

from pathlib import Path

from hearme.core import io, schema
from hearme.converters.base import Converter, Reject, register_converter
from hearme.converters.common import ASSISTANT, USER, clean, conversation_of, need_text, speech, to_messages


@register_converter("emollm")
class EmoLLMConverter(Converter):
    source = "EmoLLM"
    license = "MIT"
    suffixes = (".json", ".jsonl")
    unit_name = "dialogue"

    def units(self, path: Path):
        kind, data = io.read_json_or_lines(path)  # by content: a JSON array named .jsonl is still an array
        if kind == "jsonl":
            for lineno, obj, err in data:
                yield f"line {lineno}", (obj if err is None else Reject(err))
            return
        if isinstance(data, dict) and "conversation" in data:
            data = [data]
        if not isinstance(data, list):
            raise io.InputError(path, "", f"expected a JSON list of {{\"conversation\": [...]}} items, got {type(data).__name__}")
        for i, item in enumerate(data):
            yield f"record {i}", item

    def convert(self, raw, path: Path, position):
        conv = conversation_of(raw, "item", "input, output")
        note = self.ctx.tally.note
        turns, system = [], None
        for i, turn in enumerate(conv):
            sys_text = turn.get("system")
            if sys_text is not None and not isinstance(sys_text, str):
                raise Reject(f"turn {i} system is {type(sys_text).__name__}, expected text")
            if sys_text and clean(sys_text):
                if i == 0:
                    system = clean(sys_text)
                else:
                    self.ctx.tally.note("system in a later turn ignored")
            turns.extend(speech(USER, need_text(turn.get("input"), f"turn {i} input"), note))
            turns.extend(speech(ASSISTANT, need_text(turn.get("output"), f"turn {i} output"), note))
        if system is None:
            note("dialogue without system prompt")
        messages = to_messages(turns, note=note)
        idx = str(position).split()[-1]
        return [schema.make(messages, id=f"emollm/{self.file_key(path)}/{idx}", source=self.source, lang="zh",
                            system=system, subset=path.stem, license=self.license)]
