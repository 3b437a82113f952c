"""The client: async, concurrency-limited, cached, costed; keys redacted from every error."""


import asyncio
import inspect
import os
import re
import time
from typing import Any, Awaitable, Callable, Iterable, Sequence
from urllib.parse import urlparse

from hearme.core import io, paths
from hearme.llm.cache import DiskCache, UNKEYED_PARAMS, request_key
from hearme.llm.structured import extract_json, json_schema_format
from hearme.llm.usage import ChatResult, Stats, Usage


DEFAULT_KEY_ENV = "OPENAI_API_KEY"
NO_KEY = "sk-no-key-needed"  # placeholder sent to loopback servers when no key is set
class LLMError(io.HearMeError):
    """A request that failed after the SDK's retries (one line, never contains the key)."""


class ParseError(LLMError):
    """Structured output could not be parsed or checked after the bounded re-asks."""

    def __init__(self, msg: str, texts: list[str], usage: "Usage"):
        super().__init__(msg)
        self.texts, self.usage = texts, usage

def is_loopback(base_url: str) -> bool:
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
        if is_loopback(self.base_url):
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
