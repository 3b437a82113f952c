"""`cpsycound`: CPsyCounD `.txt` dialogues (blocks `来访者：` / `心理咨询师：`).

Quirks of the upstream set handled here: UTF-8, UTF-8 with BOM or GB18030; lines without a
speaker prefix continue the previous speaker; stage directions such as `（一个月后）`, the
marker `（对话结束）` and narration such as `（后续咨询中，心理咨询师…）` are removed; inline
speaker labels become turns (common.speech); a trailing client turn is trimmed and counted; a file with
other speakers (妈妈, A/B...) is rejected with its reason. Topics come from an optional
`topics.tsv` (file name TAB topic) beside the files.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

from hearme.core import io, schema
from hearme.converters.base import Converter, Reject, register_converter
from hearme.converters.common import ASSISTANT, USER, speech, to_messages

SPEAKERS = {"来访者": USER, "求助者": USER, "心理咨询师": ASSISTANT, "咨询师": ASSISTANT}
_PREFIX = re.compile(r"^\s*(来访者|求助者|心理咨询师|咨询师)\s*[：:]\s*")
# A short label before a colon that looks like someone speaking.
_LABEL = re.compile(r"^\s*([A-Za-z]|[\u4e00-\u9fff]{1,5})\s*[：:]")
PERSONS = {"妈妈", "爸爸", "母亲", "父亲", "家长", "孩子", "老师", "丈夫", "妻子", "男友", "女友", "医生",
           "患者", "学生", "朋友", "同事", "儿子", "女儿", "老公", "老婆"}
_END = re.compile(r"[（(]\s*对话结束\s*[）)]")
_STAGE = re.compile(r"^\s*[（(][^（）()]{1,40}[）)]\s*$")


def parse_dialogue(text: str, note) -> list[tuple[str, str]]:
    """(role, text) blocks; raises Reject when someone other than client/counselor speaks."""
    lines = _END.sub("", text.replace("\ufeff", "")).splitlines()
    labels = Counter(m.group(1) for line in lines if not _PREFIX.match(line) and (m := _LABEL.match(line)))
    others = sorted(lab for lab, n in labels.items() if lab in PERSONS or len(lab) == 1 or n >= 2)
    if others:
        raise Reject(f"other speakers besides 来访者/心理咨询师: {', '.join(others)}")
    turns: list[list] = []
    for line in lines:
        line = line.strip()
        if not line:
            continue
        m = _PREFIX.match(line)
        if m:
            turns.append([SPEAKERS[m.group(1)], line[m.end():].strip()])
        elif _STAGE.match(line):
            note("stage direction removed")
        elif turns:
            turns[-1][1] = (turns[-1][1] + "\n" + line).strip()
            note("continuation line joined")
        else:
            note("text before the first speaker dropped")
    return [(r, t) for r, t in turns]


@register_converter("cpsycound")
class CPsyCounDConverter(Converter):
    source = "CPsyCounD"
    license = "CC BY 4.0"
    suffixes = (".txt",)
    unit_name = "dialogue"

    def __init__(self, ctx):
        super().__init__(ctx)
        self._topics: dict[Path, dict[str, str]] = {}

    def units(self, path: Path):
        text, encoding = io.read_text(path)
        self.ctx.tally.note(f"encoding {encoding}")
        yield "file", text

    def topic_for(self, path: Path) -> str:
        folder = path.parent
        if folder not in self._topics:
            table: dict[str, str] = {}
            tsv = folder / "topics.tsv"
            if tsv.exists():
                for line in io.read_text(tsv)[0].splitlines():
                    parts = line.strip().split("\t")
                    if len(parts) >= 2:
                        table[parts[0].strip()] = parts[1].strip()
            self._topics[folder] = table
        return self._topics[folder].get(path.name, "")

    def convert(self, raw: str, path: Path, position):
        note = self.ctx.tally.note
        turns = parse_dialogue(raw, note)
        if not turns:
            raise Reject("no 来访者：/心理咨询师： blocks found")
        messages = to_messages([piece for r, t in turns for piece in speech(r, t, note, transcript=True)], note=note, what="dialogue")
        return [schema.make(messages, id=f"cpsycound/{self.file_key(path)}", source=self.source, lang="zh",
                            topic=self.topic_for(path), license=self.license)]
