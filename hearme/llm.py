"""The ONE LLM client: any OpenAI-compatible endpoint, async, concurrency-limited, cached, costed.

Batch use (rewriting, translation, judging)::

    from hearme.llm import LLMClient
    client = LLMClient("https://api.openai.com/v1", "gpt-4o", api_key_env="OPENAI_API_KEY", concurrency=16)
    reqs = [{"messages": [{"role": "user", "content": "你好"}], "temperature": 0}, ...]
    for r in client.map(reqs, desc="translate"):        # same order; never raises per item
        if isinstance(r, Exception):                    # LLMError after the SDK's own retries
            print("failed:", r)
        else:
            print(r.text, r.usage.prompt_tokens, r.cached)
    print(client.stats.line())                          # paid calls, cache hits, tokens, cost

Async use::

    r = await client.chat(messages, temperature=0, max_tokens=512)
    r = await client.chat_json(messages, schema=SCHEMA, check=validate)   # r.data = parsed object
    results = client.run(lambda item: my_coroutine(client, item), items, desc="judge")

Structured output: `chat_json` sends `response_format={"type": "json_schema", ...}`; when a
server ignores it (LLaMA-Factory does) or rejects it, the reply is parsed tolerantly (NFKC,
fenced JSON, the last JSON object) and a failed parse or check is re-asked a bounded number of
times with the reason, then raised as `ParseError` carrying every raw reply.

Retries: 429 (honouring Retry-After), 408/409, 5xx, timeouts and dropped connections are
retried by the SDK itself (`max_retries`, `timeout`). A 200 whose body is not a chat completion
(an HTML page, empty `choices`, truncated JSON) passes the SDK's retry logic, so `chat` retries
it the same way: the SDK's backoff, at most `max_retries` times, then an LLMError.

Cache: one JSON file per request, `<cache_dir>/llm/<ab>/<sha256>.json`, written atomically
(temp file + rename), so concurrent writers and kill -9 never leave a partial entry, and a
re-run or resumed job never pays twice. Key = sha256 of model, messages, sampling params,
response_format (schema), prompt version and an optional namespace. The base URL is NOT in
the key: the same judge behind another gateway or port is the same judge. Endpoints that
serve *different* weights under one model name (e.g. `llamafactory-cli api`, which always
answers to its API_MODEL_NAME) must pass `namespace=` (the evaluators bind it to the served
weights: evaluators/mut.py).

Keys: read from the environment only (`OPENAI_API_KEY` or `api_key_env`); never stored in
the cache, logs, errors or reports. Loopback endpoints may run without a key.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import inspect
import json
import os
import re
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, Optional, Sequence
from urllib.parse import urlparse

from hearme import io, paths

DEFAULT_KEY_ENV = "OPENAI_API_KEY"
NO_KEY = "sk-no-key-needed"  # placeholder sent to loopback servers when no key is set
UNKEYED_PARAMS = {"timeout", "extra_headers", "extra_query"}  # do not change the answer

# USD per 1M tokens: (input, output, cached input). List prices as of 2024-2025, not
# re-verified; override with `prices=`, HEARME_PRICES='{"model": [in, out, cached]}' or --price.
PRICES: dict[str, tuple[float, float, float]] = {
    "gpt-4o-mini": (0.15, 0.60, 0.075),
    "gpt-4o": (2.50, 10.00, 1.25),
    "gpt-4.1-mini": (0.40, 1.60, 0.10),
    "gpt-4.1": (2.00, 8.00, 0.50),
    "gpt-4-turbo": (10.00, 30.00, 10.00),
    "deepseek-chat": (0.27, 1.10, 0.07),
}


class LLMError(io.HearMeError):
    """A request that failed after the SDK's retries (one line, never contains the key)."""


class ParseError(LLMError):
    """Structured output could not be parsed or checked after the bounded re-asks."""

    def __init__(self, msg: str, texts: list[str], usage: "Usage"):
        super().__init__(msg)
        self.texts, self.usage = texts, usage


# ---------------------------------------------------------------- results and accounting

@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0  # the part of prompt_tokens served from the provider's prompt cache

    @classmethod
    def from_sdk(cls, u: Any) -> "Usage":
        if u is None:
            return cls()
        details = getattr(u, "prompt_tokens_details", None)
        return cls(int(getattr(u, "prompt_tokens", 0) or 0), int(getattr(u, "completion_tokens", 0) or 0),
                   int(getattr(details, "cached_tokens", 0) or 0) if details is not None else 0)

    def __add__(self, o: "Usage") -> "Usage":
        return Usage(self.prompt_tokens + o.prompt_tokens, self.completion_tokens + o.completion_tokens,
                     self.cached_tokens + o.cached_tokens)

    def as_dict(self) -> dict:
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens,
                "cached_tokens": self.cached_tokens}


@dataclass
class ChatResult:
    text: str
    usage: Usage
    cached: bool  # True when answered from the on-disk cache (nothing paid)
    model: str = ""
    finish_reason: Optional[str] = None
    key: str = ""
    data: Any = None  # chat_json: the parsed object
    attempts: int = 1  # chat_json: requests made, re-asks included
    system_fingerprint: Optional[str] = None


def price_for(model: str, prices: dict[str, Sequence[float]] | None = None) -> tuple[float, float, float] | None:
    """Longest model-name prefix match in `prices` (then HEARME_PRICES, then PRICES)."""
    table: dict[str, Sequence[float]] = dict(PRICES)
    env = os.environ.get("HEARME_PRICES")
    if env:
        try:
            table.update(json.loads(env))
        except json.JSONDecodeError:
            raise io.HearMeError("HEARME_PRICES is not valid JSON ({\"model\": [in, out, cached]})") from None
    table.update(prices or {})
    hits = [k for k in table if model == k or model.startswith(k)]
    if not hits:
        return None
    p = list(table[max(hits, key=len)])
    return (float(p[0]), float(p[1]), float(p[2] if len(p) > 2 else p[0]))


@dataclass
class Stats:
    """What a client did: paid calls vs cache hits, tokens, cost."""

    model: str = ""
    paid_calls: int = 0
    cache_hits: int = 0
    failures: int = 0
    malformed_retries: int = 0  # 200 replies that were not a chat completion, asked again
    usage: Usage = field(default_factory=Usage)  # paid calls only
    saved: Usage = field(default_factory=Usage)  # what the cache hits would have cost
    prices: dict | None = None

    def cost(self, usage: Usage | None = None) -> float | None:
        p = price_for(self.model, self.prices)
        if p is None:
            return None
        u = usage or self.usage
        fresh = max(u.prompt_tokens - u.cached_tokens, 0)
        return (fresh * p[0] + u.cached_tokens * p[2] + u.completion_tokens * p[1]) / 1e6

    def as_dict(self) -> dict:
        cost, saved = self.cost(), self.cost(self.saved)
        return {"model": self.model, "paid_calls": self.paid_calls, "cache_hits": self.cache_hits,
                "failures": self.failures, "malformed_retries": self.malformed_retries, **self.usage.as_dict(),
                "cost_usd": None if cost is None else round(cost, 6),
                "saved_by_cache_usd": None if saved is None else round(saved, 6)}

    def line(self) -> str:
        c = self.cost()
        money = f"${c:.4f}" if c is not None else "cost n/a (no price for this model)"
        return (f"{self.model}: {self.paid_calls} paid calls, {self.cache_hits} cache hits, {self.failures} failed; "
                f"tokens in={self.usage.prompt_tokens} (cached {self.usage.cached_tokens}) "
                f"out={self.usage.completion_tokens}; {money}")


# ---------------------------------------------------------------- cache

def request_key(model: str, messages: list[dict], params: dict, prompt_version: str = "", namespace: str = "") -> str:
    """sha256 over everything that determines the answer (never the key or the base URL)."""
    keyed = {k: v for k, v in params.items() if k not in UNKEYED_PARAMS}
    blob = json.dumps({"model": model, "messages": messages, "params": keyed, "prompt_version": prompt_version,
                       "namespace": namespace}, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class DiskCache:
    """One file per key, written atomically: safe under concurrency and kill -9."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root) / "llm"

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> dict | None:
        try:
            return json.loads(self.path(key).read_text(encoding="utf-8"))
        except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
            return None

    def put(self, key: str, entry: dict) -> None:
        io.write_json(self.path(key), entry, indent=None)


# ---------------------------------------------------------------- tolerant JSON

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)


def nfkc(text: str) -> str:
    """Fold full-width brackets, digits and punctuation (for parsing judge output only)."""
    return unicodedata.normalize("NFKC", text)


def extract_json(text: str) -> Any:
    """The last JSON object in a reply: plain, fenced, full-width or wrapped in prose.

    Raises ValueError with a short reason when there is none.
    """
    t = nfkc(text or "").strip()
    if not t:
        raise ValueError("empty reply")
    for block in reversed([m.group(1).strip() for m in _FENCE.finditer(t)]):
        try:
            obj = json.loads(block)
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            return obj
    dec, found, pos = json.JSONDecoder(), None, 0
    while (start := t.find("{", pos)) >= 0:  # top-level objects left to right; keep the last
        try:
            obj, pos = dec.raw_decode(t, start)
        except json.JSONDecodeError:
            pos = start + 1
            continue
        if isinstance(obj, dict):
            found = obj
    if found is None:
        raise ValueError("no JSON object in the reply")
    return found


def json_schema_format(name: str, schema: dict) -> dict:
    return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": True}}


# ---------------------------------------------------------------- the client

def _is_loopback(base_url: str) -> bool:
    host = (urlparse(base_url).hostname or "").lower()
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


FRAGMENT = 8  # a run of this many characters of the key is treated as the key


def redact(text: str, secret: str | None) -> str:
    """`text` with the key and every fragment of it of FRAGMENT+ characters replaced by ***.

    Applied before anything truncates, logs, caches or writes a server's words: a key cut in
    two by a length limit must not survive as a prefix or suffix."""
    if not text or not secret or secret == NO_KEY:
        return text
    n = min(FRAGMENT, len(secret))
    covered = bytearray(len(text))
    hit = False
    for i in range(len(secret) - n + 1):
        gram, start = secret[i:i + n], 0
        while (pos := text.find(gram, start)) >= 0:
            covered[pos:pos + n] = b"\x01" * n
            hit, start = True, pos + 1
    if not hit:
        return text
    out, i = [], 0
    while i < len(text):
        if covered[i]:
            while i < len(text) and covered[i]:
                i += 1
            out.append("***")
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def describe_error(e: BaseException, secret: str | None = None) -> str:
    """One line for an SDK exception: the key (and any fragment of it) removed first, then cut."""
    import openai

    if isinstance(e, openai.APITimeoutError):
        msg = "request timed out (after the SDK's retries)"
    elif isinstance(e, openai.APIConnectionError):
        msg = f"cannot connect: {e.__cause__ or e}"
    elif isinstance(e, openai.APIStatusError):
        body = e.message if isinstance(e.message, str) else str(e.message)
        msg = f"HTTP {e.status_code}: {body}"
    else:
        msg = f"{type(e).__name__}: {e}"
    return " ".join(redact(msg, secret).split())[:400]


# The SDK's own backoff (openai/_constants.py): 0.5 s doubling to 8 s, minus up to 25 % jitter.
RETRY_INITIAL_DELAY, RETRY_MAX_DELAY = 0.5, 8.0


def retry_delay(attempt: int) -> float:
    """Seconds before retry number attempt + 1, as the SDK waits before its own retries."""
    import random

    return min(RETRY_INITIAL_DELAY * 2.0 ** attempt, RETRY_MAX_DELAY) * (1 - 0.25 * random.random())


def malformed_completion(resp: Any, redact_fn: Callable[[str], str] = str) -> str | None:
    """Why an SDK result is not a usable chat completion (None when it is); `redact_fn` runs
    on the body before it is cut."""
    choices = getattr(resp, "choices", None)
    if not isinstance(choices, list):
        return f"not a chat completion: {redact_fn(str(resp))[:200]!r}"
    if not choices:
        return "empty `choices`"
    if getattr(choices[0], "message", None) is None:
        return "no `message` in the first choice"
    return None


class LLMClient:
    """An OpenAI-compatible chat endpoint with a semaphore, SDK retries, disk cache and accounting."""

    def __init__(self, base_url: str, model: str, *, api_key_env: str = DEFAULT_KEY_ENV, concurrency: int = 16,
                 cache_dir: str | os.PathLike | None = None, cache: bool = True, timeout: float = 120.0,
                 max_retries: int = 6, prices: dict[str, Sequence[float]] | None = None, namespace: str = "",
                 progress: bool = True):
        if not base_url:
            raise io.HearMeError("no endpoint: pass --base-url (an OpenAI-compatible URL ending in /v1)")
        if not model:
            raise io.HearMeError("no model name: pass --model")
        if concurrency < 1:
            raise io.HearMeError("--concurrency must be at least 1")
        self.base_url, self.model = base_url.rstrip("/"), model
        self.api_key_env, self.concurrency = api_key_env, concurrency
        self.timeout, self.max_retries, self.namespace, self.progress = timeout, max_retries, namespace, progress
        self.cache = DiskCache(cache_dir or paths.cache_dir()) if cache else None
        self.stats = Stats(model=model, prices=prices)
        self.response_format_ok = True  # set False once a server rejects response_format
        self._state: dict[int, tuple[Any, asyncio.Semaphore, Any]] = {}
        self._secret()  # fail early, with one line, when a remote endpoint has no key

    def __repr__(self) -> str:  # never shows the key
        return f"LLMClient({self.base_url!r}, {self.model!r}, concurrency={self.concurrency})"

    def _secret(self) -> str:
        key = os.environ.get(self.api_key_env or DEFAULT_KEY_ENV)
        if key:
            return key
        if _is_loopback(self.base_url):
            return NO_KEY
        raise io.HearMeError(f"no API key: set the environment variable {self.api_key_env} "
                             f"(or name another one with --api-key-env)")

    def _redact(self, text: str) -> str:
        try:
            return redact(text, self._secret())
        except io.HearMeError:
            return text

    def _loop_state(self) -> tuple[Any, asyncio.Semaphore]:
        """One AsyncOpenAI + semaphore per event loop (httpx pools are bound to a loop)."""
        from openai import AsyncOpenAI

        loop = asyncio.get_running_loop()
        st = self._state.get(id(loop))
        if st is None or st[2] is not loop:
            sdk = AsyncOpenAI(base_url=self.base_url, api_key=self._secret(), timeout=self.timeout,
                              max_retries=self.max_retries)
            st = (sdk, asyncio.Semaphore(self.concurrency), loop)
            self._state[id(loop)] = st
        return st[0], st[1]

    async def aclose(self) -> None:
        loop = asyncio.get_running_loop()
        st = self._state.pop(id(loop), None)
        if st is not None:
            await st[0].close()

    # ------------------------------------------------ one request

    async def chat(self, messages: list[dict], *, prompt_version: str = "", **params: Any) -> ChatResult:
        """One chat completion, from the cache when this exact request was answered before."""
        key = request_key(self.model, messages, params, prompt_version, self.namespace)
        if self.cache is not None:
            hit = await asyncio.to_thread(self.cache.get, key)
            if hit is not None:
                usage = Usage(**hit.get("usage", {}))
                self.stats.cache_hits += 1
                self.stats.saved = self.stats.saved + usage
                return ChatResult(hit["text"], usage, True, hit.get("model", self.model), hit.get("finish_reason"),
                                  key, system_fingerprint=hit.get("system_fingerprint"))
        sdk, sem = self._loop_state()
        async with sem:
            resp = await self._create(sdk, messages, params)
        choices = resp.choices
        usage = Usage.from_sdk(getattr(resp, "usage", None))
        text = self._redact(choices[0].message.content or "")  # a reply that echoes the key is never cached
        self.stats.paid_calls += 1
        self.stats.usage = self.stats.usage + usage
        result = ChatResult(text, usage, False, getattr(resp, "model", "") or self.model, choices[0].finish_reason,
                            key, system_fingerprint=getattr(resp, "system_fingerprint", None))
        if self.cache is not None:
            entry = {"key": key, "model": self.model, "text": text, "finish_reason": result.finish_reason,
                     "usage": usage.as_dict(), "system_fingerprint": result.system_fingerprint,
                     "prompt_version": prompt_version, "time": round(time.time(), 3),
                     "request": {"messages": messages, "params": {k: v for k, v in params.items()
                                                                  if k not in UNKEYED_PARAMS}}}
            await asyncio.to_thread(self.cache.put, key, entry)
        return result

    async def _create(self, sdk: Any, messages: list[dict], params: dict) -> Any:
        """One completion. A 200 whose body is not a chat completion (an HTML page, empty `choices`,
        truncated JSON) is retried like a 5xx: the SDK's backoff, at most `max_retries` times."""
        import openai

        for attempt in range(self.max_retries + 1):
            try:
                resp = await sdk.chat.completions.create(model=self.model, messages=messages, **params)
                problem = malformed_completion(resp, self._redact)
            except openai.APIResponseValidationError as e:
                problem = f"not a chat completion ({' '.join(self._redact(str(e)).split())[:200]})"
            except openai.OpenAIError as e:
                self.stats.failures += 1
                raise LLMError(describe_error(e, self._secret())) from None
            except ValueError as e:  # the body is not JSON (truncated, HTML)
                problem = f"not JSON ({' '.join(self._redact(str(e)).split())[:200]})"
            if problem is None:
                return resp
            if attempt < self.max_retries:
                self.stats.malformed_retries += 1
                await asyncio.sleep(retry_delay(attempt))
        self.stats.failures += 1
        raise LLMError(f"malformed response from the server after {self.max_retries + 1} attempts: {problem}")

    async def chat_json(self, messages: list[dict], *, schema: dict | None = None, name: str = "answer",
                        check: Callable[[str], Any] | None = None, reasks: int = 2, prompt_version: str = "",
                        reask_text: str = "Your previous answer could not be used ({reason}). "
                                          "Reply again with only the JSON object, nothing else.",
                        **params: Any) -> ChatResult:
        """Structured output: json_schema first, tolerant parsing, then bounded re-asks.

        `check(text)` returns the parsed object or raises ValueError(reason); the default is
        `extract_json`. Raises ParseError after 1 + reasks failed attempts.
        """
        check = check or extract_json
        msgs, texts, usage = list(messages), [], Usage()
        for attempt in range(1, reasks + 2):
            p = dict(params)
            if schema is not None and self.response_format_ok:
                p["response_format"] = json_schema_format(name, schema)
            try:
                r = await self.chat(msgs, prompt_version=prompt_version, **p)
            except LLMError as e:
                if "response_format" in p and re.match(r"HTTP (400|422)\b", str(e)):
                    self.response_format_ok = False  # this server rejects json_schema: parse prose instead
                    p.pop("response_format")
                    r = await self.chat(msgs, prompt_version=prompt_version, **p)
                else:  # malformed 200s were already retried in chat(): a bounded count
                    raise
            usage = usage + r.usage
            texts.append(r.text)
            try:
                r.data = check(r.text)
            except ValueError as e:
                reason = str(e) or "unparsable"
                msgs = msgs + [{"role": "assistant", "content": r.text or "(empty)"},
                               {"role": "user", "content": reask_text.format(reason=reason)}]
                continue
            r.usage, r.attempts = usage, attempt
            return r
        raise ParseError(f"no valid answer after {reasks + 1} attempts: {reason}", texts, usage)

    # ------------------------------------------------ many requests

    async def arun(self, fn: Callable[[Any], Awaitable[Any]], items: Sequence[Any], desc: str = "llm") -> list[Any]:
        """Await fn(item) for every item with a tqdm bar; exceptions come back in place."""
        from tqdm.auto import tqdm

        results: list[Any] = [None] * len(items)
        queue: asyncio.Queue[int] = asyncio.Queue()
        for i in range(len(items)):
            queue.put_nowait(i)
        bar = tqdm(total=len(items), desc=desc, unit="item", disable=not self.progress, dynamic_ncols=True)

        async def worker() -> None:
            while True:
                try:
                    i = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                try:
                    results[i] = await fn(items[i])
                except Exception as e:  # kept in place; the caller decides
                    results[i] = e if isinstance(e, LLMError) else LLMError(self._redact(f"{type(e).__name__}: {e}"))
                bar.update(1)
                bar.set_postfix_str(self._postfix(), refresh=False)

        try:
            await asyncio.gather(*(worker() for _ in range(min(self.concurrency, len(items)) or 1)))
        finally:
            bar.close()
        return results

    def _postfix(self) -> str:
        c = self.stats.cost()
        return f"paid={self.stats.paid_calls} cached={self.stats.cache_hits} fail={self.stats.failures}" + \
            (f" ${c:.4f}" if c is not None else "")

    async def amap(self, requests: Sequence[dict], desc: str = "llm") -> list[ChatResult | Exception]:
        """Each request is {"messages": [...], **params}."""
        async def one(req: dict) -> ChatResult:
            req = dict(req)
            return await self.chat(req.pop("messages"), **req)

        return await self.arun(one, requests, desc)

    def map(self, requests: Sequence[dict], desc: str = "llm") -> list[ChatResult | Exception]:
        """Sync wrapper of amap: runs its own event loop (use `await amap` inside a loop)."""
        return run_sync(self, self.amap(requests, desc))

    def run(self, fn: Callable[[Any], Awaitable[Any]], items: Sequence[Any], desc: str = "llm",
            also_close: Iterable["LLMClient"] = ()) -> list[Any]:
        """Sync wrapper of arun for custom per-item coroutines (several calls per item)."""
        return run_sync(self, self.arun(fn, items, desc), also_close)


def run_sync(client: LLMClient, coro: Awaitable[Any], also_close: Iterable[LLMClient] = ()) -> Any:
    """asyncio.run(coro), closing the clients' connection pools on the way out."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        if inspect.iscoroutine(coro):
            coro.close()
        raise RuntimeError("LLMClient.map/run called inside an event loop; use `await client.amap/arun`")

    async def main() -> Any:
        try:
            return await coro
        finally:
            for c in (client, *also_close):
                await c.aclose()

    return asyncio.run(main())


# ---------------------------------------------------------------- shared CLI options

@dataclass
class LLMConfig:
    """The flags every LLM command shares; `.client()` builds the LLMClient."""

    base_url: Optional[str] = None
    model: Optional[str] = None
    api_key_env: str = DEFAULT_KEY_ENV
    concurrency: int = 16
    cache_dir: Optional[Path] = None
    no_cache: bool = False
    timeout: float = 120.0
    max_retries: int = 6
    price: Optional[str] = None

    @property
    def configured(self) -> bool:
        return bool(self.base_url and self.model)

    @classmethod
    def from_env(cls, prefix: str = "HEARME_LLM") -> "LLMConfig":
        """<prefix>_BASE_URL, <prefix>_MODEL, <prefix>_API_KEY_ENV; the evaluators use HEARME_JUDGE
        (that is how `hearme demo` finds a judge). `configured` is False when either is unset."""
        return cls(base_url=os.environ.get(f"{prefix}_BASE_URL"), model=os.environ.get(f"{prefix}_MODEL"),
                   api_key_env=os.environ.get(f"{prefix}_API_KEY_ENV") or DEFAULT_KEY_ENV)

    def prices(self) -> dict | None:
        if not self.price:
            return None
        try:
            vals = [float(x) for x in self.price.split(",")]
        except ValueError:
            vals = []
        if len(vals) not in (2, 3):
            raise io.HearMeError(f"--price must be IN,OUT or IN,OUT,CACHED: USD per 1M tokens, got {self.price!r}")
        return {self.model or "": vals}

    def client(self, **overrides: Any) -> LLMClient:
        kw: dict[str, Any] = dict(api_key_env=self.api_key_env, concurrency=self.concurrency,
                                  cache_dir=self.cache_dir, cache=not self.no_cache, timeout=self.timeout,
                                  max_retries=self.max_retries, prices=self.prices())
        kw.update(overrides)
        return LLMClient(self.base_url or "", self.model or "", **kw)


def _llm_params(required: bool, env: str) -> list[inspect.Parameter]:
    import typer

    def opt(name: str, annotation: Any, default: Any, *flags: str, **kw: Any) -> inspect.Parameter:
        return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation,
                                 default=typer.Option(default, *flags, **kw))

    need = ... if required else None
    return [
        opt("llm_base_url", Optional[str], need, "--base-url", envvar=f"{env}_BASE_URL",
            help=f"OpenAI-compatible endpoint, e.g. https://api.openai.com/v1."),
        opt("llm_model", Optional[str], need, "--model", envvar=f"{env}_MODEL",
            help=f"Model name at that endpoint, e.g. gpt-4o."),
        opt("llm_api_key_env", str, DEFAULT_KEY_ENV, "--api-key-env",
            help="Name of the environment variable holding the API key (the key itself is never a flag)."),
        opt("llm_concurrency", int, 16, "--concurrency", min=1, help="Requests in flight at once."),
        opt("llm_cache_dir", Optional[Path], None, "--cache-dir",
            help="Request cache directory (default: HEARME_CACHE_DIR or .hearme_cache)."),
        opt("llm_no_cache", bool, False, "--no-cache", help="Neither read nor write the request cache."),
        opt("llm_timeout", float, 120.0, "--timeout", help="Seconds per request before the SDK retries it."),
        opt("llm_max_retries", int, 6, "--max-retries", min=0,
            help="Retries for 429/5xx/timeouts (by the SDK) and for 200 replies that are not a chat completion."),
        opt("llm_price", Optional[str], None, "--price",
            help="IN,OUT or IN,OUT,CACHED: USD per 1M tokens for cost accounting (overrides the built-in table)."),
    ]


def llm_options(required: bool = True, env_prefix: str = "HEARME_LLM") -> Callable:
    """Decorator for typer commands: adds the shared LLM flags and passes `llm: LLMConfig`.

        @app.command("translate")
        @llm_options()
        def translate(src: Path, llm: LLMConfig): client = llm.client(); ...

    --base-url/--model also read <env_prefix>_BASE_URL/_MODEL (the evaluators use HEARME_JUDGE).
    """
    def deco(fn: Callable) -> Callable:
        sig = inspect.signature(fn)
        extra = _llm_params(required, env_prefix)
        names = [p.name for p in extra]

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            vals = {n[len("llm_"):]: kwargs.pop(n) for n in names if n in kwargs}
            return fn(*args, llm=LLMConfig(**vals), **kwargs)

        params = [p for p in sig.parameters.values() if p.name != "llm"]
        wrapper.__signature__ = sig.replace(parameters=params + extra)  # type: ignore[attr-defined]
        wrapper.__annotations__ = {k: v for k, v in getattr(fn, "__annotations__", {}).items() if k != "llm"}
        return wrapper

    return deco
