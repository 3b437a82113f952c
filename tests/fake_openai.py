"""A scripted OpenAI-compatible server (stdlib only) for fault injection on 127.0.0.1.

Serves `POST /v1/chat/completions` and `GET /v1/models`. Real HTTP, so it exercises the
real SDK (retries, timeouts, Retry-After) in-process and in subprocess CLIs alike.

In-process::

    from tests.fake_openai import FakeOpenAI    # tests/ is a package; pytest puts the repo on sys.path
    with FakeOpenAI({"rules": [{"match": "item-3", "replies": [{"status": 429, "retry_after": 0}]}]}) as srv:
        client = LLMClient(srv.url, "fake-judge")   # srv.url = "http://127.0.0.1:PORT/v1"
        ...
        srv.requests        # list of request bodies (dicts), in arrival order
        srv.count("item-3") # requests whose messages contain the substring
        srv.max_in_flight   # the most requests answered at once (concurrency checks)

Subprocess (for CLI tests and other teammates)::

    python tests/fake_openai.py --port 0 --script script.json --latency 1 --log requests.jsonl
    # prints "READY http://127.0.0.1:PORT/v1" on stdout once listening; --log appends one
    # JSON line per request ({"t": time, "body": {...}}), flushed at once (survives kill -9)

Script (a dict, or a JSON file with the same shape)::

    {"latency": 0.0,                      # seconds before every reply
     "ignore_response_format": false,     # true = behave like llamafactory-cli api
     "default": {"mode": "auto"},         # reply when nothing below matches
     "queue": [REPLY, ...],               # consumed by the next requests, whatever they are
     "rules": [{"match": "substring of the request's messages",
                "replies": [REPLY, ...],  # consumed in order by matching requests
                "sticky": false,          # true: the last reply repeats forever
                "model": "judge-b",       # optional: only requests for this model
                "seed": 43}]}             # optional: only requests with this seed

REPLY (every key optional)::

    {"sleep": 2.0}                         # extra latency; more than the client timeout = a hang
    {"status": 429, "retry_after": 1}      # an OpenAI-style error body, optional Retry-After
    {"status": 500}                        # any status >= 400 gives an error body
    {"drop": true}                         # close the connection without answering
    {"raw": "<html>oops", "content_type": "text/html"}   # a garbage 200 body
    {"text": "reply content"}              # a normal completion with this content; "{request_hash}"
                                           # in it becomes 12 hex digits of sha256(messages, seed), so
                                           # each distinct request gets its own (repeatable) reply
    {"raw": '{"choices": []}'}             # (with "raw") a 200 that is valid JSON but no completion
    {"status": 401, "error": "bad key {key}"}   # "{key}" in error/text/raw = the request's bearer key
                                           # (a server that echoes the key, for redaction tests)
    {"mode": "echo"}                       # content = the last user message
    {"mode": "auto", "style": "fenced", "fill": {"safety": 0}}
        # auto: an object built from the request's json_schema (or the script's "schema" when
        # the request has none): strings "ok", integers the schema maximum, booleans true, enums
        # the last value; overridden by `fill`, then by markers [[fake:{"field": value}]] in the
        # messages (later ones win). No schema at all: echo the last user message.
        # style: json (default) | fenced (```json) | fullwidth (NFKC-foldable) | prose (an
        # example [0,0,0,0] first, the JSON last; the default when response_format is ignored)
        # | list ([a, b, ...] of the numeric fields)
    {"usage": {"prompt_tokens": 10, "completion_tokens": 5, "cached_tokens": 4}}
        # default usage: prompt = characters of all messages, completion = characters of the
        # reply, cached = characters of the first message when that exact prefix was seen before
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MARKER = re.compile(r"\[\[fake:(\{.*?\})\]\]")
FULLWIDTH = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in '{}[]:,"0123456789'})


def _from_schema(schema: dict) -> dict:
    out: dict[str, Any] = {}
    for name, prop in (schema.get("properties") or {}).items():
        t = prop.get("type")
        if "enum" in prop:
            out[name] = prop["enum"][-1]
        elif t == "integer" or t == "number":
            out[name] = prop.get("maximum", 1)
        elif t == "boolean":
            out[name] = True
        elif t == "array":
            out[name] = []
        else:
            out[name] = "ok"
    return out


def _render(obj: dict, style: str) -> str:
    plain = json.dumps(obj, ensure_ascii=False)
    if style == "fenced":
        return f"好的，评估如下：\n```json\n{json.dumps(obj, ensure_ascii=False, indent=2)}\n```"
    if style == "fullwidth":
        return "评估结果：" + plain.translate(FULLWIDTH)
    if style == "prose":
        return f'按照格式 "[0, 0, 0, 0]" 输出。经过逐步思考，结论如下：{plain}'
    if style == "list":
        nums = [v for v in obj.values() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        return "格式示例 [0, 0, 0, 0]。最终评分：" + json.dumps(nums)
    return plain


class _State:
    def __init__(self, script: dict):
        self.script = script
        self.queue = list(script.get("queue") or [])
        self.rules = [dict(r, replies=list(r.get("replies") or [])) for r in script.get("rules") or []]
        self.lock = threading.Lock()
        self.requests: list[dict] = []
        self.prefixes: set[str] = set()
        self.log = None
        self.in_flight = self.max_in_flight = 0

    def pick(self, body: dict) -> dict:
        blob = json.dumps(body.get("messages"), ensure_ascii=False)
        with self.lock:
            if self.queue:
                return self.queue.pop(0)
            for rule in self.rules:
                if (rule.get("match", "") in blob and rule["replies"] and rule.get("model", body.get("model")) == body.get("model")
                        and rule.get("seed", body.get("seed")) == body.get("seed")):
                    if len(rule["replies"]) == 1 and rule.get("sticky"):
                        return rule["replies"][0]
                    return rule["replies"].pop(0)
        return self.script.get("default") or {"mode": "auto"}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    state: _State

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _send(self, status: int, body: bytes, ctype: str = "application/json", headers: dict | None = None) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in (headers or {}).items():
                self.send_header(k, str(v))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self) -> None:
        if self.path.rstrip("/").endswith("/models"):
            self._send(200, json.dumps({"object": "list", "data": [{"id": "fake-model", "object": "model"}]}).encode())
        else:
            self._send(404, b'{"error": {"message": "not found"}}')

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if len(raw) < length:  # the client died mid-request (kill -9): no request arrived, nothing to log
            return
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            return self._send(400, b'{"error": {"message": "invalid JSON body"}}')
        st = self.state
        with st.lock:
            st.requests.append(body)
            if st.log is not None:
                st.log.write(json.dumps({"t": time.time(), "body": body}, ensure_ascii=False) + "\n")
                st.log.flush()
        if not self.path.rstrip("/").endswith("/chat/completions"):
            return self._send(404, b'{"error": {"message": "not found"}}')
        reply = st.pick(body)
        with st.lock:
            st.in_flight += 1
            st.max_in_flight = max(st.max_in_flight, st.in_flight)
        try:
            self._reply(body, reply)
        finally:
            with st.lock:
                st.in_flight -= 1

    def _reply(self, body: dict, reply: dict) -> None:
        st = self.state
        time.sleep(float(st.script.get("latency", 0.0)) + float(reply.get("sleep", 0.0)))
        if reply.get("drop"):
            self.close_connection = True
            return
        status = int(reply.get("status", 200))
        if status >= 400:
            headers = {"Retry-After": reply["retry_after"]} if "retry_after" in reply else {}
            msg = self._echo_key(reply.get("error", f"fake error {status}"))
            err = {"error": {"message": msg, "type": "fake", "code": status}}
            return self._send(status, json.dumps(err).encode(), headers=headers)
        if "raw" in reply:
            return self._send(200, self._echo_key(str(reply["raw"])).encode(), reply.get("content_type", "application/json"))
        text = self._echo_key(self._content(body, reply))
        self._send(200, json.dumps(self._completion(body, text, reply), ensure_ascii=False).encode("utf-8"))

    def _echo_key(self, text: str) -> str:
        auth = self.headers.get("Authorization") or ""
        return text.replace("{key}", auth.split(" ", 1)[-1]) if "{key}" in text else text

    def _content(self, body: dict, reply: dict) -> str:
        if "text" in reply:
            text = str(reply["text"])
            if "{request_hash}" in text:
                blob = json.dumps([body.get("messages"), body.get("seed")], ensure_ascii=False, sort_keys=True)
                text = text.replace("{request_hash}", hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12])
            return text
        msgs = body.get("messages") or []
        ignored = bool(self.state.script.get("ignore_response_format"))
        schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("schema")
        schema = schema or self.state.script.get("schema")
        if reply.get("mode") == "echo" or schema is None:
            users = [m.get("content", "") for m in msgs if m.get("role") == "user"]
            return str(users[-1] if users else "")
        obj = _from_schema(schema)
        obj.update(reply.get("fill") or {})
        for m in msgs:
            for marker in MARKER.findall(str(m.get("content", ""))):
                obj.update(json.loads(marker))
        return _render(obj, reply.get("style") or ("prose" if ignored else "json"))

    def _completion(self, body: dict, text: str, reply: dict) -> dict:
        msgs = body.get("messages") or []
        first = str(msgs[0].get("content", "")) if msgs else ""
        with self.state.lock:
            seen = first in self.state.prefixes
            self.state.prefixes.add(first)
        usage = {"prompt_tokens": sum(len(str(m.get("content", ""))) for m in msgs), "completion_tokens": len(text),
                 "cached_tokens": len(first) if seen else 0}
        usage.update(reply.get("usage") or {})
        cached = usage.pop("cached_tokens")
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        usage["prompt_tokens_details"] = {"cached_tokens": cached}
        return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()),
                "model": body.get("model", "fake-model"), "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                             "finish_reason": "stop"}],
                "usage": usage}


class FakeOpenAI:
    """The server in a background thread; a context manager. `url` ends in /v1."""

    def __init__(self, script: dict | None = None, port: int = 0, log_path: str | None = None):
        self.state = _State(script or {})
        handler = type("Handler", (_Handler,), {"state": self.state})
        server_cls = type("Server", (ThreadingHTTPServer,), {"request_queue_size": 256})  # default 5 drops bursts
        self.httpd = server_cls(("127.0.0.1", port), handler)
        self.httpd.daemon_threads = True
        if log_path:
            self.state.log = open(log_path, "a", encoding="utf-8")
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def requests(self) -> list[dict]:
        return self.state.requests

    @property
    def max_in_flight(self) -> int:
        """The most requests it was answering at once."""
        return self.state.max_in_flight

    def count(self, substring: str) -> int:
        return sum(substring in json.dumps(b.get("messages"), ensure_ascii=False) for b in self.requests)

    def start(self) -> "FakeOpenAI":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        if self.state.log is not None:
            self.state.log.close()

    def __enter__(self) -> "FakeOpenAI":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description="Scripted OpenAI-compatible fake server (see module docstring).")
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 = pick a free one)")
    ap.add_argument("--script", help="JSON file with the script")
    ap.add_argument("--latency", type=float, help="seconds before every reply (overrides the script)")
    ap.add_argument("--log", help="append one JSON line per request to this file")
    ap.add_argument("--ignore-response-format", action="store_true", help="behave like llamafactory-cli api")
    a = ap.parse_args(argv)
    script = json.load(open(a.script, encoding="utf-8")) if a.script else {}
    if a.latency is not None:
        script["latency"] = a.latency
    if a.ignore_response_format:
        script["ignore_response_format"] = True
    srv = FakeOpenAI(script, port=a.port, log_path=a.log)
    print(f"READY {srv.url}", flush=True)
    try:
        srv.httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main(sys.argv[1:])
