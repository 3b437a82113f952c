"""hearme.llm against the scripted fake server over real HTTP (no mocked SDK)."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tests.fake_openai import FakeOpenAI
from hearme.core import io
from hearme.llm import (LLMClient, LLMConfig, LLMError, ParseError, extract_json, llm_options, request_key,
                        run_sync)

SCHEMA = {"type": "object", "additionalProperties": False, "required": ["rationale", "score"],
          "properties": {"rationale": {"type": "string"}, "score": {"type": "integer", "minimum": 0, "maximum": 3}}}


def msg(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


def client(srv: FakeOpenAI, tmp_path: Path, **kw) -> LLMClient:
    kw.setdefault("timeout", 2)
    kw.setdefault("max_retries", 2)
    return LLMClient(srv.url, "gpt-4o", cache_dir=tmp_path / "cache", progress=False, **kw)


def check_score(text: str) -> dict:
    obj = extract_json(text)
    if not isinstance(obj.get("score"), int) or not 0 <= obj["score"] <= 3:
        raise ValueError(f"score out of range: {obj.get('score')!r}")
    return obj


def test_map_keeps_order_and_cache_prevents_repeats(tmp_path):
    with FakeOpenAI() as srv:
        c = client(srv, tmp_path)
        reqs = [{"messages": msg(f"item-{i}"), "temperature": 0} for i in range(20)]
        first = c.map(reqs)
        assert [r.text for r in first] == [f"item-{i}" for i in range(20)]
        assert not any(r.cached for r in first) and c.stats.paid_calls == 20
        again = LLMClient(srv.url, "gpt-4o", cache_dir=tmp_path / "cache", progress=False).map(reqs)
        assert all(r.cached for r in again) and len(srv.requests) == 20
        # a different param is a different request
        c.map([{"messages": msg("item-0"), "temperature": 0.7}])
        assert len(srv.requests) == 21


def test_retry_after_429_and_5xx_come_from_the_sdk(tmp_path):
    script = {"rules": [{"match": "limited", "replies": [{"status": 429, "retry_after": 1}, {"status": 429}]},
                        {"match": "broken", "replies": [{"status": 500}, {"status": 503}]}]}
    with FakeOpenAI(script) as srv:
        c = client(srv, tmp_path, max_retries=3)
        t0 = time.time()
        a, b = c.map([{"messages": msg("limited")}, {"messages": msg("broken")}])
        assert a.text == "limited" and b.text == "broken"
        assert srv.count("limited") == 3 and srv.count("broken") == 3
        assert time.time() - t0 >= 1.0  # Retry-After: 1 was honoured
        assert c.stats.failures == 0


def test_exhausted_retries_hang_drop_and_garbage_end_as_one_line_errors(tmp_path):
    script = {"rules": [{"match": "always429", "replies": [{"status": 429, "retry_after": 0}], "sticky": True},
                        {"match": "hang", "replies": [{"sleep": 5}], "sticky": True},
                        {"match": "drop", "replies": [{"drop": True}]},
                        {"match": "html", "replies": [{"raw": "<html>busy</html>", "content_type": "text/html"}],
                         "sticky": True},  # malformed 200s are retried like a 5xx: they must keep failing
                        {"match": "badjson", "replies": [{"raw": "{nope", "content_type": "application/json"}],
                         "sticky": True}]}
    with FakeOpenAI(script) as srv:
        c = client(srv, tmp_path, timeout=0.5, max_retries=1)
        res = c.map([{"messages": msg(x)} for x in ("always429", "hang", "drop", "html", "badjson")])
        assert isinstance(res[0], LLMError) and "HTTP 429" in str(res[0])
        assert isinstance(res[1], LLMError) and "timed out" in str(res[1])
        assert res[2].text == "drop"  # the SDK retried the dropped connection
        assert isinstance(res[3], LLMError) and "malformed" in str(res[3])
        assert isinstance(res[4], LLMError) and "malformed" in str(res[4])
        assert all("\n" not in str(r) for r in res if isinstance(r, Exception))
        assert c.stats.failures == 4
        # failures are not cached: a later run asks again
        n = len(srv.requests)
        c.map([{"messages": msg("html")}])
        assert len(srv.requests) == n + 2  # the request and its one retry


def test_concurrency_is_bounded_and_parallel(tmp_path):
    with FakeOpenAI({"latency": 0.3}) as srv:
        c = client(srv, tmp_path, concurrency=4)
        c.map([{"messages": msg("warm")}])  # the SDK's import (about 1 s) is not part of what is timed
        t0 = time.time()
        c.map([{"messages": msg(f"c{i}")} for i in range(12)])
        took = time.time() - t0
        assert srv.max_in_flight == 4
        assert took < 12 * 0.3 / 2  # far from sequential (3.6 s); ideal is 0.9 s


@pytest.mark.parametrize("style", ["json", "fenced", "fullwidth", "prose"])
def test_chat_json_tolerates_servers_that_ignore_response_format(tmp_path, style):
    with FakeOpenAI({"ignore_response_format": True, "default": {"style": style, "fill": {"score": 2}}}) as srv:
        c = client(srv, tmp_path)
        r = run_sync(c, c.chat_json(msg("judge this"), schema=SCHEMA, check=check_score))
        assert r.data["score"] == 2 and r.attempts == 1
        assert srv.requests[0]["response_format"]["type"] == "json_schema"


def test_chat_json_reasks_then_raises_parse_error(tmp_path):
    script = {"rules": [{"match": "out-of-range", "replies": [{"fill": {"score": 7}}, {"fill": {"score": 1}}]},
                        {"match": "hopeless", "replies": [{"text": "I cannot rate this."}], "sticky": True}]}
    with FakeOpenAI(script) as srv:
        c = client(srv, tmp_path)
        r = run_sync(c, c.chat_json(msg("out-of-range"), schema=SCHEMA, check=check_score, reasks=2))
        assert r.data["score"] == 1 and r.attempts == 2
        assert "score out of range" in srv.requests[-1]["messages"][-1]["content"]
        with pytest.raises(ParseError) as ei:
            run_sync(c, c.chat_json(msg("hopeless"), schema=SCHEMA, check=check_score, reasks=2))
        assert len(ei.value.texts) == 3 and srv.count("hopeless") == 3
        # a re-run replays the same re-asks from the cache: nothing is paid twice
        n = len(srv.requests)
        with pytest.raises(ParseError):
            run_sync(c, c.chat_json(msg("hopeless"), schema=SCHEMA, check=check_score, reasks=2))
        assert len(srv.requests) == n


def test_server_rejecting_response_format_falls_back(tmp_path):
    script = {"queue": [{"status": 400, "error": "response_format json_schema is not supported"}],
              "schema": SCHEMA, "default": {"style": "fenced", "fill": {"score": 3}}}
    with FakeOpenAI(script) as srv:
        c = client(srv, tmp_path)
        r = run_sync(c, c.chat_json(msg("x"), schema=SCHEMA, check=check_score))
        assert r.data["score"] == 3 and not c.response_format_ok
        assert "response_format" not in srv.requests[-1]


def test_usage_cached_tokens_and_cost(tmp_path):
    with FakeOpenAI({"default": {"text": "ok", "usage": {"prompt_tokens": 1000, "completion_tokens": 100,
                                                         "cached_tokens": 800}}}) as srv:
        c = LLMClient(srv.url, "gpt-4o", cache_dir=tmp_path, progress=False, prices={"gpt-4o": (2.0, 10.0, 1.0)})
        c.map([{"messages": msg("a")}, {"messages": msg("b")}])
        c.map([{"messages": msg("a")}])
        d = c.stats.as_dict()
        assert d["paid_calls"] == 2 and d["cache_hits"] == 1 and d["cached_tokens"] == 1600
        # 2 × (200 fresh × 2 + 800 cached × 1 + 100 out × 10) / 1e6
        assert d["cost_usd"] == pytest.approx(2 * (400 + 800 + 1000) / 1e6)
        assert d["saved_by_cache_usd"] == pytest.approx((400 + 800 + 1000) / 1e6)


def test_prompt_prefix_caching_is_recorded(tmp_path):
    prefix = "RUBRIC " * 200
    with FakeOpenAI() as srv:
        c = client(srv, tmp_path)
        res = c.map([{"messages": [{"role": "system", "content": prefix}, {"role": "user", "content": f"q{i}"}]}
                     for i in range(3)])
        c2 = client(srv, tmp_path, concurrency=1)
        assert sum(r.usage.cached_tokens for r in res) >= len(prefix)  # later calls reused the prefix
        assert c2.stats.usage.cached_tokens == 0


def test_key_comes_from_env_and_never_reaches_disk(tmp_path, monkeypatch):
    secret = "sk-test-SECRET-4711"
    monkeypatch.setenv("MY_JUDGE_KEY", secret)
    script = {"rules": [{"match": "deny", "replies": [{"status": 401, "error": f"Incorrect API key {secret}"}]}]}
    with FakeOpenAI(script) as srv:
        c = LLMClient(srv.url, "gpt-4o", api_key_env="MY_JUDGE_KEY", cache_dir=tmp_path, progress=False)
        ok, denied = c.map([{"messages": msg("hello")}, {"messages": msg("deny")}])
        assert ok.text == "hello" and isinstance(denied, LLMError)
        assert secret not in str(denied) and secret not in repr(c)
        assert secret not in json.dumps(srv.requests)  # the key travels only in the header
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files and not any(secret in p.read_text(encoding="utf-8", errors="replace") for p in files)


def test_remote_endpoint_without_key_is_a_clear_error(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(io.HearMeError, match="OPENAI_API_KEY"):
        LLMClient("https://api.example.com/v1", "gpt-4o")


def test_cache_key_excludes_base_url_but_includes_namespace():
    k = request_key("m", msg("x"), {"temperature": 0})
    assert k == request_key("m", msg("x"), {"temperature": 0, "timeout": 3})
    assert k != request_key("m", msg("x"), {"temperature": 0}, namespace="run-b")
    assert k != request_key("m", msg("x"), {"temperature": 0}, prompt_version="v2")


def test_corrupt_or_partial_cache_files_are_misses(tmp_path):
    with FakeOpenAI() as srv:
        c = client(srv, tmp_path)
        r = c.map([{"messages": msg("p")}])[0]
        path = c.cache.path(r.key)
        path.write_text('{"key": "trunc', encoding="utf-8")  # as if torn (cannot happen with rename)
        (path.parent / ".x.json.123.tmp").write_text("{", encoding="utf-8")  # a kill -9 leftover
        again = c.map([{"messages": msg("p")}])[0]
        assert not again.cached and len(srv.requests) == 2
        assert c.map([{"messages": msg("p")}])[0].cached


def test_map_inside_a_running_loop_points_to_amap(tmp_path):
    with FakeOpenAI() as srv:
        c = client(srv, tmp_path)

        async def inner():
            with pytest.raises(RuntimeError, match="amap"):
                c.map([{"messages": msg("x")}])
            return (await c.amap([{"messages": msg("x")}]))[0].text

        assert asyncio.run(inner()) == "x"


def test_llm_options_decorator_gives_every_command_the_same_flags(tmp_path):
    app = typer.Typer()
    seen = {}

    @app.command()
    @llm_options()
    def go(name: str = typer.Argument(..., help="A name."), llm: LLMConfig = None):
        seen.update(vars(llm), name=name)

    res = CliRunner().invoke(app, ["bob", "--base-url", "http://127.0.0.1:9/v1", "--model", "m",
                                   "--concurrency", "3", "--price", "1,2"])
    assert res.exit_code == 0, res.output
    assert seen["base_url"].endswith("/v1") and seen["concurrency"] == 3 and seen["name"] == "bob"
    assert LLMConfig(**{k: v for k, v in seen.items() if k != "name"}).client(cache=False).stats.cost() is not None
    help_text = CliRunner().invoke(app, ["--help"]).output
    for flag in ("--base-url", "--model", "--api-key-env", "--concurrency", "--cache-dir"):
        assert flag in help_text
