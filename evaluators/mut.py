"""The model under test: which weights answered, and a cache that can only replay the same weights.

`llamafactory-cli api` answers to the same model name whatever it serves, so URL + name cannot
tell the base model from the tuned one served later at the same port. A cached reply is reused
only inside one cache namespace, which is

- by default: the run's output directory plus the server's fingerprint, taken fresh (never from
  the cache) before the first request: the `/v1/models` ids and the greedy (temperature 0) reply to
  a fixed prompt. Different weights give a different reply, so they never share replies, even in
  the same output directory; the same weights behind another port resume from the cache.
- with `--model-id NAME`: that name, so runs in other directories share replies. The fingerprint
  is still taken and kept in `<cache>/model-ids/`; a later run under the same id whose fingerprint
  differs is refused (pick a new id), so sharing never crosses weights silently.

    mut = ModelUnderTest(url, "hearme", out_dir="runs/tuned/probe-identity", weights={"adapter": "..."})
    mut.prepare()          # fingerprint; one-line HearMeError when the server cannot be reached
    describe(mut)          # what summary.json records: model, URL, weights, fingerprint, namespace
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any

from hearme.core import io, paths
from hearme.llm import LLMClient, describe_error

FINGERPRINT_PROMPT = "HearMe fingerprint. 请用一句话介绍你自己。Introduce yourself in one sentence."
FINGERPRINT_TOKENS = 24


def _sha(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


class ModelUnderTest(LLMClient):
    """An LLMClient whose cache namespace is bound to the weights it talks to."""

    def __init__(self, base_url: str, model: str, *, out_dir: str | Path | None = None, model_id: str = "",
                 weights: dict[str, Any] | None = None, **kw: Any):
        super().__init__(base_url, model, **kw)
        self.out_dir = Path(out_dir).resolve() if out_dir else None
        self.model_id = (model_id or "").strip()
        self.weights = {k: str(v) for k, v in (weights or {}).items() if v}
        self.fingerprint: dict[str, Any] | None = None
        self.cache_root = Path(kw.get("cache_dir") or paths.cache_dir())
        self.namespace = "model-under-test|unprepared"

    def take_fingerprint(self) -> dict[str, Any]:
        """/v1/models ids + the greedy reply to a fixed prompt (fresh requests, never cached)."""
        import openai

        sdk = openai.OpenAI(base_url=self.base_url, api_key=self._secret(), timeout=self.timeout,
                            max_retries=min(self.max_retries, 2))
        try:
            try:
                ids = sorted(str(m.id) for m in sdk.models.list().data)
            except openai.NotFoundError:  # some gateways have no /models
                ids = []
            resp = sdk.chat.completions.create(model=self.model, temperature=0, max_tokens=FINGERPRINT_TOKENS,
                                               seed=0, messages=[{"role": "user", "content": FINGERPRINT_PROMPT}])
        except openai.OpenAIError as e:
            raise io.HearMeError(f"cannot fingerprint the model under test at {self.base_url}: "
                                 f"{describe_error(e, self._secret())}") from None
        finally:
            sdk.close()
        reply = (resp.choices[0].message.content if resp.choices else "") or ""
        fp = {"models": ids, "model": self.model, "probe_reply": reply}
        return {**fp, "sha256": _sha(fp)[:16], "time": round(time.time(), 3)}

    def prepare(self) -> dict[str, Any]:
        """Fingerprint the server once and bind the cache namespace to it."""
        if self.fingerprint is not None:
            return self.fingerprint
        fp = self.take_fingerprint()
        if self.model_id:
            self._check_model_id(fp)
            self.namespace = f"model-under-test|id={self.model_id}"
        else:
            where = str(self.out_dir) if self.out_dir else "(no output directory)"
            self.namespace = f"model-under-test|dir={where}|fp={fp['sha256']}"
        self.fingerprint = fp
        return fp

    def _check_model_id(self, fp: dict) -> None:
        if self.cache is None:
            return
        index = self.cache_root / "model-ids" / f"{_sha(self.model_id)[:24]}.json"
        seen = io.read_json(index) if index.exists() else None
        if isinstance(seen, dict) and seen.get("sha256") and seen["sha256"] != fp["sha256"]:
            raise io.HearMeError(
                f"--model-id {self.model_id!r} was first used with other weights (fingerprint {seen['sha256']} "
                f"at {seen.get('base_url')}, now {fp['sha256']} at {self.base_url}); choose a new --model-id")
        if seen is None:
            io.write_json(index, {"model_id": self.model_id, "base_url": self.base_url, "weights": self.weights,
                                  **{k: fp[k] for k in ("sha256", "models", "model", "probe_reply", "time")}})

    async def chat(self, messages: list[dict], **kw: Any):  # type: ignore[override]
        if self.fingerprint is None:  # a library caller that skipped prepare(): still never a stale reply
            import asyncio

            await asyncio.to_thread(self.prepare)
        return await super().chat(messages, **kw)


def describe(mut: LLMClient, **extra: Any) -> dict[str, Any]:
    """What produced the replies: model name, URL, weights (when known), fingerprint, cache namespace."""
    out: dict[str, Any] = {"model": mut.model, "base_url": mut.base_url, "cache_namespace": mut.namespace}
    if isinstance(mut, ModelUnderTest):
        out.update(model_id=mut.model_id or None, weights=mut.weights or None,
                   fingerprint={k: v for k, v in (mut.fingerprint or {}).items() if k != "time"} or None)
    return {**out, **extra}


def prepare(mut: LLMClient) -> None:
    """Fingerprint a ModelUnderTest before its first request (plain clients need nothing)."""
    if isinstance(mut, ModelUnderTest):
        mut.prepare()
