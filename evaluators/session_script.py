"""A scripted simulated client: an OpenAI-compatible server on 127.0.0.1 that answers each turn with
the profile's own line for it (the text after session_sim.PLAN_LABEL in the director's note).

It is what `hearme demo` and the tests use when no simulator endpoint is configured: real HTTP,
reached through the one LLM client like any simulator, deterministic, free.

    with scripted_simulator() as url:    # http://127.0.0.1:PORT/v1, model name "scripted-client"
        sim = LLMClient(url, "scripted-client")
"""

from __future__ import annotations

import contextlib
from typing import Iterator

from hearme.evaluators.session_sim import PLAN_LABEL
from hearme.llm.scripted import ScriptedServer

MODEL = "scripted-client"


# Said instead of a plan line the client has already said (the gate rejects a client repeating itself).
FOLLOW_UP = {"zh": ["我还想再说说这种感觉。", "这几天我一直在想这件事。", "说出来以后，好像没那么堵了。",
                    "我不知道接下来该怎么办。"],
             "bo": ["ངས་ད་དུང་སེམས་ཚོར་འདི་སྐོར་བཤད་འདོད།", "ཉིན་འདི་དག་ལ་དོན་དག་འདི་ངས་རྟག་ཏུ་བསམ་གྱི་ཡོད།",
                    "ང་ད་ནས་ཅི་བྱེད་དགོས་མིན་ཤེས་ཀྱི་མི་འདུག"]}


def scripted_reply(messages: list[dict]) -> str:
    """The plan line of the last director's note in the request, or a follow-up once it was said."""
    for m in reversed(messages):
        text = m.get("content") or ""
        if PLAN_LABEL in text:
            line = text.rsplit(PLAN_LABEL, 1)[1].strip().splitlines()[0].strip()
            said = [x.get("content") for x in messages if x.get("role") == "assistant"]  # the client's turns
            if line not in said:
                return line
            options = FOLLOW_UP["bo" if any("\u0f00" <= c <= "\u0fff" for c in line) else "zh"]
            return next((o for o in options if o not in said), options[len(said) % len(options)])
    return ""


@contextlib.contextmanager
def scripted_simulator() -> Iterator[str]:
    with ScriptedServer(lambda req: scripted_reply(req.get("messages") or []), MODEL) as server:
        yield server.url
