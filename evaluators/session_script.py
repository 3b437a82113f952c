"""A scripted simulated client: an OpenAI-compatible server on 127.0.0.1 that answers each turn with
the profile's own line for it (the text after session_sim.PLAN_LABEL in the director's note).

It is what `hearme demo` and the tests use when no simulator endpoint is configured: real HTTP,
reached through the one LLM client like any simulator, deterministic, free.

    with scripted_simulator() as url:    # http://127.0.0.1:PORT/v1, model name "scripted-client"
        sim = LLMClient(url, "scripted-client")
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

from hearme.evaluators.session_sim import PLAN_LABEL

MODEL = "scripted-client"


def scripted_reply(messages: list[dict]) -> str:
    """The plan line of the last director's note in the request."""
    for m in reversed(messages):
        text = m.get("content") or ""
        if PLAN_LABEL in text:
            return text.rsplit(PLAN_LABEL, 1)[1].strip().splitlines()[0].strip()
    return ""


class _Handler(BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:  # quiet
        pass

    def _send(self, obj: dict, status: int = 200) -> None:
        body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802
        self._send({"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "hearme"}]})

    def do_POST(self) -> None:  # noqa: N802
        try:
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        except json.JSONDecodeError:
            return self._send({"error": {"message": "body is not JSON"}}, 400)
        text = scripted_reply(body.get("messages") or [])
        n_in = sum(len(m.get("content") or "") for m in body.get("messages") or [])
        self._send({"id": "scripted", "object": "chat.completion", "created": int(time.time()), "model": MODEL,
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": n_in, "completion_tokens": len(text), "total_tokens": n_in + len(text)}})


@contextlib.contextmanager
def scripted_simulator() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
