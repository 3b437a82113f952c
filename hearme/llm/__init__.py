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

Modules: usage (tokens, prices, stats), cache (the disk cache), structured (tolerant JSON),
client (LLMClient), options (the shared CLI flags and LLMConfig).

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

from hearme.llm.usage import PRICES, Usage, ChatResult, price_for, Stats  # noqa: F401,E501
from hearme.llm.cache import UNKEYED_PARAMS, request_key, DiskCache  # noqa: F401,E501
from hearme.llm.structured import nfkc, extract_json, json_schema_format  # noqa: F401,E501
from hearme.llm.client import DEFAULT_KEY_ENV, NO_KEY, LLMError, ParseError, FRAGMENT, is_loopback, redact, describe_error, retry_delay, malformed_completion, LLMClient, run_sync  # noqa: F401,E501
from hearme.llm.options import LLMConfig, llm_options  # noqa: F401,E501
