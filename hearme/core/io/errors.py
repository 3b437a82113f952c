"""Errors for the user: one line, no traceback (HearMeError), naming the input or output at fault."""

from __future__ import annotations

import os


class HearMeError(Exception):
    """An error for the user: printed as one line, no traceback."""


class InputError(HearMeError):
    def __init__(self, path: str | os.PathLike, where: str, msg: str):
        super().__init__(f"{safe_text(str(path))}: {where}: {msg}" if where else f"{safe_text(str(path))}: {msg}")
        self.path, self.where, self.msg = str(path), where, msg


class OutputError(HearMeError):
    """An output that cannot be written (read-only folder, full disk, not a regular file...)."""


def safe_text(text: str) -> str:
    """`text` with unencodable characters (lone surrogates, undecodable file names) as \\udXXX escapes."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def os_reason(e: OSError) -> str:
    """`Permission denied`, `No space left on device`, ... (the OS's words, without the errno)."""
    return e.strerror or type(e).__name__
