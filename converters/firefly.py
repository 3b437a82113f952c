"""`firefly`: JSONL `{"conversation_id"?, "category"?, "conversation": [{"human", "assistant"}], "system"?}`.

This is the Tibetan paper's training format (Firefly). The language is detected from the
text (bo / zh / en / mixed) with hearme.tibetan.text; the category becomes the topic.
"""

from __future__ import annotations

from pathlib import Path

from hearme.core import io, schema
from hearme.converters.base import Converter, Reject, register_converter
from hearme.converters.common import ASSISTANT, USER, clean, conversation_of, lang_of, need_text, speech, to_messages


@register_converter("firefly")
class FireflyConverter(Converter):
    source = "Firefly"
    license = ""
    suffixes = (".jsonl", ".json")
    unit_name = "dialogue"

    def units(self, path: Path):
        kind, data = io.read_json_or_lines(path)  # JSONL or a JSON array of the same objects, by content
        if kind == "json":
            if isinstance(data, dict) and "conversation" in data:
                data = [data]
            if not isinstance(data, list):
                raise io.InputError(path, "", f"expected JSONL or a JSON array, got {type(data).__name__}")
            for i, obj in enumerate(data):
                yield f"record {i}", obj
            return
        for lineno, obj, err in data:
            yield f"line {lineno}", (obj if err is None else Reject(err))

    def convert(self, raw, path: Path, position):
        conv = conversation_of(raw, "line", "human, assistant")
        note = self.ctx.tally.note
        turns = []
        for i, turn in enumerate(conv):
            turns.extend(speech(USER, need_text(turn.get("human"), f"turn {i} human"), note))
            turns.extend(speech(ASSISTANT, need_text(turn.get("assistant"), f"turn {i} assistant"), note))
        messages = to_messages(turns, note=note)
        system = raw.get("system")
        if system is not None and not isinstance(system, str):
            raise Reject(f"`system` is {type(system).__name__}, expected text")
        category = raw.get("category")
        topic = category if isinstance(category, str) else ""
        conv_id = raw.get("conversation_id")
        idx = str(conv_id) if isinstance(conv_id, (str, int)) and not isinstance(conv_id, bool) \
            else str(position).split()[-1]
        lang = lang_of(" ".join(m["content"] for m in messages))
        return [schema.make(messages, id=f"firefly/{self.file_key(path)}/{idx}", source=self.source, lang=lang,
                            topic=clean(topic), system=clean(system) if system else None)]
