"""The flags every LLM command shares (`--base-url`, `--model`, `--api-key-env`, ...) and LLMConfig."""


import functools
import inspect
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from hearme.core import io
from hearme.llm.client import DEFAULT_KEY_ENV, LLMClient


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
