"""A scripted OpenAI-compatible endpoint on 127.0.0.1: real HTTP, deterministic, free.

The demo's scripted judge and scripted simulated client answer through it; `answer(request)`
returns the reply text for one chat request (the JSON body, `messages` and all).

    with ScriptedServer(lambda req: "你好", model="scripted") as srv:   # srv.url = http://127.0.0.1:PORT/v1
        LLMClient(srv.url, srv.model).chat(...)
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable


class ScriptedServer:
    def __init__(self, answer: Callable[[dict], str], model: str):
        self.answer, self.model = answer, model
        self.n_requests = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def _send(self, obj: dict, status: int = 200) -> None:
                body = json.dumps(obj, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                self._send({"object": "list", "data": [{"id": server.model, "object": "model", "owned_by": "hearme"}]})

            def do_POST(self) -> None:  # noqa: N802
                try:
                    req = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                except json.JSONDecodeError:
                    return self._send({"error": {"message": "body is not JSON"}}, 400)
                server.n_requests += 1
                self._send(server.completion(req))

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)

    def completion(self, req: dict) -> dict:
        text = self.answer(req)
        n_in = sum(len(m.get("content") or "") for m in req.get("messages") or [])
        return {"id": "scripted", "object": "chat.completion", "created": int(time.time()), "model": self.model,
                "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}],
                "usage": {"prompt_tokens": n_in, "completion_tokens": len(text), "total_tokens": n_in + len(text)}}

    def __enter__(self) -> "ScriptedServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.http.shutdown()
        self.http.server_close()
        self.thread.join(5)
