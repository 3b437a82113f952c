"""`cpsycoune`: CPsyCounE evaluation files, JSON lists of `求助者：…` / `支持者：…` strings.

The topic is the name of the folder holding the file (Career, Emotion&Stress, ...).
"""

from __future__ import annotations

import re
from pathlib import Path

from hearme.core import io, schema
from hearme.converters.base import Converter, Reject, register_converter
from hearme.converters.common import ASSISTANT, USER, clean, speech, to_messages

_PREFIX = re.compile(r"^\s*(求助者|来访者|支持者|心理咨询师|咨询师)\s*[：:]\s*")
ROLE = {"求助者": USER, "来访者": USER, "支持者": ASSISTANT, "心理咨询师": ASSISTANT, "咨询师": ASSISTANT}
_LABEL = re.compile(r"^\s*([A-Za-z]|[\u4e00-\u9fff]{1,5})\s*[：:]")


@register_converter("cpsycoune")
class CPsyCounEConverter(Converter):
    source = "CPsyCounE"
    license = "CC BY 4.0"
    suffixes = (".json",)
    unit_name = "dialogue"

    def units(self, path: Path):
        yield "file", io.read_json(path)

    def convert(self, raw, path: Path, position):
        if not isinstance(raw, list):
            raise Reject(f"expected a JSON list of utterance strings, got {type(raw).__name__}")
        turns: list[list] = []
        for i, utt in enumerate(raw):
            if not isinstance(utt, str):
                raise Reject(f"utterance {i} is {type(utt).__name__}, expected text")
            m = _PREFIX.match(utt)
            if m:
                turns.append([ROLE[m.group(1)], clean(utt[m.end():])])
            elif (lab := _LABEL.match(utt)) and not turns:
                raise Reject(f"utterance {i} has unknown speaker {lab.group(1)!r} (expected 求助者/支持者)")
            elif turns:
                turns[-1][1] = (turns[-1][1] + "\n" + clean(utt)).strip()
                self.ctx.tally.note("continuation utterance joined")
            else:
                raise Reject(f"utterance {i} has no 求助者：/支持者： prefix")
        if not turns:
            raise Reject("no utterances")
        note = self.ctx.tally.note
        messages = to_messages([piece for r, t in turns for piece in speech(r, t, note)], note=note)
        topic = path.parent.name if path.parent.name else ""
        return [schema.make(messages, id=f"cpsycoune/{topic}/{path.stem}".replace(" ", "_"), source=self.source,
                            lang="zh", topic=topic, license=self.license)]
