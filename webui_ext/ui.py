"""Small helpers shared by the HearMe tabs: status lines, visible errors, uploaded files."""

from __future__ import annotations

import json
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from hearme.core import io, schema
from hearme.webui_ext import labels

@dataclass
class Ctx:
    """What every HearMe tab may use."""

    lang: Any  # LLaMA-Factory's `top.lang` dropdown; every handler takes it as its first input
    dataset_dir: Path  # the registry directory (dataset_info.json)
    engine: Any  # LLaMA-Factory's Engine: `engine.manager.get_elem_by_id("top.model_path")`
    work_dir: Path  # the server's working directory, where LLaMA-Factory writes saves/


USER_ERRORS = (io.HearMeError, schema.InvalidRecord, OSError, ValueError, json.JSONDecodeError)


def ok(text: str) -> str:
    return f"✅ {text}"


def error_text(e: BaseException, secrets: Iterable[str] = (), uploads: Iterable[Path] = ()) -> str:
    """One line for the user; known input errors keep their message, others name their type.

    Uploaded files are named by their own name, not gradio's temp path."""
    from hearme.llm import redact

    text = str(e) if isinstance(e, USER_ERRORS) else f"{type(e).__name__}: {e}"
    for s in secrets:  # before anything cuts the text: a cut key must not survive as a fragment
        text = redact(text, s)
    for p in uploads:
        text = text.replace(str(p), Path(p).name)
    return io.safe_text(" ".join(text.split())[:600] or type(e).__name__)


def fail(lang: str | None, e: BaseException | str, secrets: Iterable[str] = (), uploads: Iterable[Path] = ()) -> str:
    """Show a toast and return the Markdown status for an error; the server keeps running."""
    import gradio as gr

    secrets = tuple(s for s in secrets if s)
    if isinstance(e, BaseException):
        if not isinstance(e, USER_ERRORS):  # a bug: keep the traceback in the server log (scrubbed)
            from hearme.llm import redact

            tb = "".join(traceback.format_exception(type(e), e, e.__traceback__))
            for s in secrets:
                tb = redact(tb, s)
            sys.stderr.write(io.safe_text(tb))
        text = error_text(e, secrets, uploads)
    else:
        from hearme.llm import redact

        text = e
        for s in secrets:
            text = redact(text, s)
        text = io.safe_text(text)
    message = labels.msg("error", lang, msg=text)
    gr.Warning(message)
    return f"❌ {message}"


def paths_of(files: Any) -> list[Path]:
    """Uploaded files (gr.File with type='filepath': a path, a list of paths, or None) as Paths."""
    if not files:
        return []
    items = files if isinstance(files, (list, tuple)) else [files]
    return [Path(getattr(f, "name", f)) for f in items if f]


def table(rows: list[dict], columns: list[str]) -> Any:
    """A pandas DataFrame with fixed columns (empty tables keep their headers)."""
    import pandas as pd

    def cell(v: Any) -> Any:  # gradio cannot send text that is not valid UTF-8 (the page would hang)
        return io.safe_text(v) if isinstance(v, str) else v

    return pd.DataFrame([{c: cell(r.get(c, "")) for c in columns} for r in rows], columns=columns)


def short(text: Any, n: int = 80) -> str:
    text = "" if text is None else io.safe_text(str(text))
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"
