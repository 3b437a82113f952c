"""`psyqa`: PsyQA JSON (question, description, keywords, answers[]) -> one record per answer.

`read` counts answers. The topic is the first keyword. The forum clean-up rewrites forms of
address for the asker (楼主, 题主, 楼楼, 提问者, lz...) to 你 and removes opening greetings
(嗨，/ 你好，楼主 ...). PsyQA's license forbids redistribution and commercial use: every
record is marked so, and no PsyQA text is ever bundled with HearMe.
"""

from __future__ import annotations

import re
from pathlib import Path

from hearme.core import io, schema
from hearme.converters.base import Converter, Reject, register_converter
from hearme.converters.common import ASSISTANT, USER, clean, need_text, speech, to_messages

LICENSE = "PsyQA (non-commercial, no redistribution)"
ASKER = r"(?:楼主大人|楼主|题主|楼楼|提问者|提问的朋友|(?<![A-Za-z])(?:lz|LZ)(?![A-Za-z]))"
_GREETING = re.compile(
    r"^\s*(?:(?:嗨|hi|hello|哈喽|哈啰|嗨嗨|你好|您好|亲爱的)[呀啊哇~～]*|(?:亲爱的)?" + ASKER + r"(?:你好|您好|好)?[呀啊哇~～]*)"
    r"\s*[，,！!。.~～…、\s]+", re.IGNORECASE)
_ASKER = re.compile(ASKER)
_DOUBLE_YOU = re.compile(r"你你+")
_KEYWORD_SPLIT = re.compile(r"[,，、;；/\s]+")


def forum_clean(text: str, note=None) -> str:
    """Remove opening greetings, then rewrite forms of address for the asker to 你."""
    while True:
        m = _GREETING.match(text)
        if not m or m.end() >= len(text):
            break
        text = text[m.end():]
        if note:
            note("greeting removed")
    text, n = _ASKER.subn("你", text)
    if n and note:
        note("forum address rewritten", n)
    return _DOUBLE_YOU.sub("你", text).strip()


def topic_of(keywords) -> str:
    if isinstance(keywords, list):
        keywords = ",".join(k for k in keywords if isinstance(k, str))
    if not isinstance(keywords, str):
        return ""
    parts = [k for k in _KEYWORD_SPLIT.split(keywords) if k]
    return parts[0] if parts else ""


class _BadQuestion:
    def __init__(self, reason: str, raw):
        self.reason, self.raw = reason, raw

    def __str__(self) -> str:  # what the rejected side file keeps
        import json

        return json.dumps(self.raw, ensure_ascii=False, default=str)


@register_converter("psyqa")
class PsyQAConverter(Converter):
    source = "PsyQA"
    license = LICENSE
    suffixes = (".json", ".jsonl")
    unit_name = "answer"

    def units(self, path: Path):
        kind, data = io.read_json_or_lines(path)  # by content, not by the file name
        if kind == "jsonl":
            items = ((f"line {n}", obj if err is None else _BadQuestion(err, None)) for n, obj, err in data)
        else:
            if isinstance(data, dict) and "answers" in data:
                data = [data]
            if not isinstance(data, list):
                raise io.InputError(path, "", f"expected a JSON list of questions, got {type(data).__name__}")
            items = ((f"question {i}", q) for i, q in enumerate(data))
        for where, q in items:
            answers = q.get("answers") if isinstance(q, dict) else None
            if isinstance(q, _BadQuestion):
                yield where, q
            elif not isinstance(q, dict):
                yield where, _BadQuestion(f"question is {type(q).__name__}, expected an object", q)
            elif not isinstance(answers, list) or not answers:
                yield where, _BadQuestion("`answers` missing or empty", q)
            else:
                for k, ans in enumerate(answers):
                    yield f"{where} answer {k}", (q, k, ans)

    def _user_text(self, q: dict) -> str:
        """Question + description, cleaned once per question (answers share it)."""
        cached = getattr(self, "_user_cache", None)
        if cached and cached[0] is q:
            return cached[1]
        question = need_text(q.get("question"), "`question`")
        desc = q.get("description")
        if desc is not None and not isinstance(desc, str):
            raise Reject(f"`description` is {type(desc).__name__}, expected text")
        desc = clean(desc)
        user = question + ("\n" + desc if desc else "")
        self._user_cache = (q, user)
        return user

    def convert(self, raw, path: Path, position):
        if isinstance(raw, _BadQuestion):
            raise Reject(raw.reason)
        q, k, ans = raw
        user = self._user_text(q)
        if isinstance(ans, dict):
            ans = ans.get("answer_text")
        answer = forum_clean(need_text(ans, f"answer {k} `answer_text`"), self.ctx.tally.note)
        if not answer:
            raise Reject(f"answer {k} is empty after the forum clean-up")
        qid = q.get("questionID", q.get("question_id"))
        qid = str(qid) if isinstance(qid, (str, int)) and not isinstance(qid, bool) else \
            f"{self.file_key(path)}-{str(position).split()[1]}"
        note = self.ctx.tally.note
        messages = to_messages(speech(USER, user, note) + speech(ASSISTANT, answer, note), note=note)
        return [schema.make(messages, id=f"psyqa/{qid}/a{k}", group=f"psyqa/{qid}", source=self.source, lang="zh",
                            topic=topic_of(q.get("keywords")), license=LICENSE,
                            keywords=",".join(_KEYWORD_SPLIT.split(q["keywords"])) if isinstance(q.get("keywords"), str) else None)]
