"""The disk cache: one JSON file per request, `<cache_dir>/llm/<ab>/<sha256>.json`, written atomically.

Key = sha256 of model, messages, sampling params, response_format (schema), prompt version and an
optional namespace; never the key or the base URL (see hearme/llm/__init__.py)."""


import hashlib
import json
import os
from pathlib import Path

from hearme.core import io


UNKEYED_PARAMS = {"timeout", "extra_headers", "extra_query"}  # do not change the answer
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
