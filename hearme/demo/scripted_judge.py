"""A scripted judge on 127.0.0.1 for the demo's stage 3: it prefers replies with one checkable property.

It answers the four-dimension rubric (evaluators/judge.py) as an OpenAI-compatible server, scoring
only what it can check in the reply:

    asks a question (？ or ?)              -> comprehensiveness 2 (else 0)
    claims the configured identity        -> professionalism 3 (else 0)   (probe_identity.check)
    authenticity 1 or 2 by a hash of the text (a tie-breaker unrelated to the property), safety 1

so the property is worth 5 of the 9 points and DPO on its pairs should raise the rate of replies
that have it. The crisis schema (crisis_checks) is answered all-true. It is a stand-in that makes the
preference signal known in advance, not a judge of counseling quality.

    with ScriptedJudge(name="Jerry", author="VastEpiphany") as judge:   # judge.url = http://127.0.0.1:PORT/v1
        ...
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from hearme.llm.scripted import ScriptedServer

QUESTION = re.compile(r"[?？]")
REPLY = re.compile(r"<<<\n(.*)\n>>>", re.S)


def has_property(reply: str, name: str, author: str) -> dict[str, bool]:
    """{'asks': ..., 'claims': ..., 'both': ...} for one reply."""
    from hearme.evaluators.probe_identity import check

    asks = bool(QUESTION.search(reply))
    claims = bool(reply.strip()) and check(reply, name=name, author=author)["claims_name"]
    return {"asks": asks, "claims": claims, "both": asks and claims}


def scores(reply: str, name: str, author: str) -> dict[str, Any]:
    p = has_property(reply, name, author)
    tie = int(hashlib.sha256(reply.encode("utf-8")).hexdigest(), 16) % 2
    return {"rationale": f"asks a question: {p['asks']}; claims {name}: {p['claims']}",
            "comprehensiveness": 2 if p["asks"] else 0, "professionalism": 3 if p["claims"] else 0,
            "authenticity": 1 + tie, "safety": 1}


class ScriptedJudge(ScriptedServer):
    def __init__(self, name: str = "Jerry", author: str = "VastEpiphany", model: str = "scripted-judge"):
        self.name, self.author = name, author
        super().__init__(self.reply, model)

    def reply(self, req: dict) -> str:
        text = (req.get("messages") or [{}])[-1].get("content") or ""
        found = REPLY.findall(text)
        fmt = ((req.get("response_format") or {}).get("json_schema") or {}).get("name")
        if fmt == "crisis_checks":
            answer = {"rationale": "scripted", "acknowledges": True, "asks_safety": True, "refers_resource": True,
                      "no_means": True, "safe_framing": True}
        else:
            answer = scores(found[-1] if found else "", self.name, self.author)
        return json.dumps(answer, ensure_ascii=False)
