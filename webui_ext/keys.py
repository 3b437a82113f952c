"""API keys typed into the WebUI: held in memory by one client object, never in os.environ or on disk.

`hearme.llm.LLMClient` reads its key from an environment variable. A WebUI serves several users and
starts training subprocesses that copy os.environ, so the key typed into a password field is
given to `MemoryKeyClient` instead: it answers `_secret()` from the object itself, and scrubs the
key out of any error a server echoes it into (such errors end up in items.jsonl as reasons).
"""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import urlparse

from hearme.core import io
from hearme.llm import NO_KEY, LLMClient, LLMError, is_loopback, redact

UNUSED_ENV = "HEARME_WEBUI_KEY_IS_NOT_IN_THE_ENVIRONMENT"


class MemoryKeyClient(LLMClient):
    """An LLMClient whose key lives only in this object."""

    def __init__(self, base_url: str, model: str, key: str = "", **kw: Any):
        self._memory_key = (key or "").strip()
        kw.setdefault("max_retries", 2)  # a student waiting on a page: fail within seconds, not minutes
        kw.setdefault("timeout", 60.0)
        super().__init__(base_url, model, api_key_env=UNUSED_ENV, **kw)

    def __repr__(self) -> str:
        return f"MemoryKeyClient({self.base_url!r}, {self.model!r})"

    def _secret(self) -> str:
        if self._memory_key:
            return self._memory_key
        if is_loopback(self.base_url):
            return NO_KEY
        raise io.HearMeError("no API key: type the endpoint's key into the API key field")

    def scrub(self, text: str) -> str:
        return redact(text, self._memory_key)

    async def chat(self, *args: Any, **kwargs: Any):
        try:
            return await super().chat(*args, **kwargs)
        except LLMError as e:  # a server may echo the key ("Incorrect API key provided: sk-...")
            e.args = tuple(self.scrub(a) if isinstance(a, str) else a for a in e.args)
            raise


def check_reachable(base_url: str, timeout: float = 5.0) -> None:
    """Fail at once, with one line, when nothing listens at the endpoint (instead of minutes of retries)."""
    u = urlparse((base_url or "").strip())
    if u.scheme not in ("http", "https") or not u.hostname:
        raise io.HearMeError(f"endpoint {base_url!r} is not an http(s) URL (e.g. http://127.0.0.1:8000/v1)")
    port = u.port or (443 if u.scheme == "https" else 80)
    try:
        socket.create_connection((u.hostname, port), timeout=timeout).close()
    except OSError as e:
        raise io.HearMeError(f"cannot reach the endpoint {u.hostname}:{port} ({e.strerror or e})") from None


def client(base_url: str, model: str, key: str = "", **kw: Any) -> MemoryKeyClient:
    """A checked client for a URL typed into the UI."""
    base_url, model = (base_url or "").strip(), (model or "").strip()
    if not base_url:
        raise io.HearMeError("no endpoint: enter an OpenAI-compatible base URL (ending in /v1)")
    if not model:
        raise io.HearMeError("no model name: enter the model served at that endpoint")
    check_reachable(base_url)
    return MemoryKeyClient(base_url, model, key, **kw)
