"""`smile`: SMILE `data/<id>.json` dialogues, lists of `{"role": "client"|"counselor", "content"}`.

Repeated roles are merged; a message holding the rest of the dialogue with `求助者：`/`支持者：`
labels is split into turns; a dialogue without a counselor turn is rejected; a trailing client
turn (also an empty one) is trimmed and counted.

SMILE rewrote PsyQA answers into dialogues (file i is, in order, one of PsyQA's answers), and
its first client turn starts with the PsyQA question. Given your own PsyQA copy (`psyqa` option,
`--psyqa` on the command line), each dialogue gets its question's id as `group` (so that all
rewrites of one question stay in one split part) and its first keyword as `topic`.
"""

from __future__ import annotations

from pathlib import Path

from hearme.core import io, schema
from hearme.converters.base import Converter, Reject, register_converter
from hearme.converters.common import ASSISTANT, USER, need_texts, plain_messages, speech_turns, to_messages

ORIGIN_KEY = 8  # normalised characters of a PsyQA title used to look it up
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

    def _origins(self) -> dict[str, list[tuple[str, str, str]]] | None:
        """PsyQA questions by the first characters of their normalised title: [(title, id, topic)]."""
        if not self.ctx.options.get("psyqa"):
            return None
        if getattr(self, "_index", None) is None:
            from hearme.converters.dedup import normalize
            from hearme.converters.psyqa import topic_of

            kind, data = io.read_json_or_lines(self.ctx.options["psyqa"])
            questions = [q for _, q, _ in data] if kind == "jsonl" else data if isinstance(data, list) else [data]
            self._index = {}
            for i, q in enumerate(questions):
                if isinstance(q, dict) and isinstance(q.get("question"), str) and normalize(q["question"]):
                    title = normalize(q["question"])
                    qid = q.get("questionID", q.get("question_id", i))
                    self._index.setdefault(title[:ORIGIN_KEY], []).append((title, str(qid), topic_of(q.get("keywords"))))
        return self._index

    def _origin(self, opening: str):
        index = self._origins()
        if index is None:
            return None
        from hearme.converters.dedup import normalize

        text = normalize(opening)
        candidates = [c for k in range(1, ORIGIN_KEY + 1) for c in index.get(text[:k], ())]  # short titles too
        for title, qid, topic in sorted(candidates, key=lambda c: -len(c[0])):  # the longest title that fits
            if text.startswith(title):
                self.ctx.tally.note("PsyQA origin found")
                return qid, topic
        self.ctx.tally.note("PsyQA origin not found")
        return None

    def convert(self, raw, path: Path, position):
        if isinstance(raw, dict) and isinstance(raw.get("dialog", raw.get("dialogue")), list):
            raw = raw.get("dialog", raw.get("dialogue"))
        if not isinstance(raw, list):
            raise Reject(f"expected a JSON list of {{role, content}} turns, got {type(raw).__name__}")
        note = self.ctx.tally.note
        try:  # the common case at once; the loop below names the first bad turn
            roles = [ROLE[turn["role"]] for turn in raw]
            contents = [turn.get("content") for turn in raw]
        except (TypeError, KeyError, AttributeError):
            roles, contents = _turns(raw)
        messages = plain_messages(roles, contents, note)  # the common case at once
        checked = messages is not None
        if not checked:
            last = contents[-1] if contents else None
            if roles and roles[-1] == USER and isinstance(last, str) and not last.strip():
                note("trailing client turn trimmed")  # an empty last client turn, trimmed like any other
                roles, contents = roles[:-1], contents[:-1]
            turns = speech_turns(list(zip(roles, need_texts(contents, "turn {} content"))), note)
            if not any(r == ASSISTANT for r, _ in turns):
                raise Reject("dialogue has no counselor turn")
            messages = to_messages(turns, note=note)
        origin = self._origin(messages[0]["content"]) if self.ctx.options.get("psyqa") else None
        return [schema.make(messages, id=f"smile/{self.file_key(path)}", source=self.source, lang="zh",
                            license=self.license, topic=origin[1] if origin else "",
                            group=f"psyqa/{origin[0]}" if origin else None, checked=checked)]


def _turns(raw: list) -> tuple[list[str], list]:
    roles, contents = [], []
    for i, turn in enumerate(raw):
        if not isinstance(turn, dict):
            raise Reject(f"turn {i} is {type(turn).__name__}, expected an object")
        role = ROLE.get(turn.get("role"))
        if role is None:
            raise Reject(f"turn {i} has role {turn.get('role')!r}; expected client or counselor")
        roles.append(role)
        contents.append(turn.get("content"))
    return roles, contents
