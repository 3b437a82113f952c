"""Finding the input files: folders expanded in a stable order, links and unreadable entries reported, files keyed
by device and inode so that an input is never read twice or overwritten by an output."""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Iterable

from hearme.core import io


def expand_inputs(inputs: Iterable[str | os.PathLike], suffixes: tuple[str, ...],
                  exclude: Iterable[str | os.PathLike] = ()) -> list[tuple[Path, Path, str | None]]:
    """(file, the input it came from, problem or None): folders are walked in sorted order.

    Nothing is skipped silently: an unreadable folder, a broken or looping symbolic link and an
    entry that is not a regular file come back with their problem (one rejected unit each).
    `exclude`: this run's own output files, never read back as input."""
    out: list[tuple[Path, Path, str | None]] = []
    keys = {k for k in map(io.file_key, exclude) if k}
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found = _walk(p, suffixes, keys)
            if found and found[0][0] == p:  # the named folder itself cannot be read
                raise io.InputError(p, "", found[0][1] or "unreadable folder")
            if not found:
                raise io.InputError(p, "", f"no {'/'.join(suffixes)} files in this folder")
            out.extend((f, p, problem) for f, problem in found)
        elif p.exists():
            if not p.is_file():
                raise io.InputError(p, "", "not a regular file")
            out.append((p, p.parent, None))
        else:
            problem = _link_problem(p)
            raise io.InputError(p, "", problem or "no such file or folder")
    return out


def _link_problem(p: Path) -> str | None:
    """Why a path that does not resolve cannot be read: a broken or looping symbolic link."""
    if not p.is_symlink():
        return None
    try:
        os.stat(p)
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "symbolic link loop"
        return f"broken symbolic link (to {io.safe_text(os.readlink(p))})"
    return None


def _suffix(name: str) -> str:
    """Path(name).suffix without building a Path."""
    i = name.rfind(".")
    return name[i:] if 0 < i < len(name) - 1 else ""


def _child(folder: Path, name: str) -> Path:
    """folder / name without parsing the name again (tens of thousands of files per run)."""
    make = getattr(folder, "_make_child_relpath", None)  # CPython's own fast path (glob uses it)
    return make(name) if make is not None else folder / name


def _walk(root: Path, suffixes: tuple[str, ...], exclude: set[tuple[int, int]]) -> list[tuple[Path, str | None]]:
    """Every candidate file under `root` (symbolic links followed, each folder once), sorted."""
    found: list[tuple[Path, str, str | None]] = []  # (folder, name, problem); name "" = the folder itself
    seen: set[tuple[int, int]] = set()
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            st = folder.stat()
            key = (st.st_dev, st.st_ino)
            entries = list(os.scandir(folder))
        except OSError as e:
            found.append((folder, "", f"unreadable folder: {io.os_reason(e)}"))
            continue
        if key in seen:
            found.append((folder, "", "symbolic link loop (a folder already read)"))
            continue
        seen.add(key)
        for entry in entries:
            name = entry.name
            if name.startswith("."):  # hidden: temp files, commit journals, editor backups
                continue
            suffix = _suffix(name)
            wanted = suffix.lower() in suffixes
            try:
                is_dir = entry.is_dir()  # follows symbolic links
                is_file = not is_dir and entry.is_file()
            except OSError as e:
                if wanted or not suffix:
                    found.append((folder, name, _link_problem(_child(folder, name)) or f"unreadable: {io.os_reason(e)}"))
                continue
            if is_dir:
                stack.append(_child(folder, name))
            elif not wanted:
                if not is_file and entry.is_symlink() and not suffix:
                    found.append((folder, name, _link_problem(_child(folder, name)) or "unreadable symbolic link"))
                continue
            elif ".rejected." in name or (exclude and io.file_key(entry.path) in exclude):
                continue
            elif is_file:
                found.append((folder, name, None))
            else:
                found.append((folder, name, _link_problem(_child(folder, name)) or "not a regular file"))
    # Path order (part by part), compared as plain strings: "/" becomes "\x00", which sorts before any
    # character a part can hold (every path here starts with the same root). Files of one folder
    # only (SMILE's 55,165): the same order is their names' order.
    if len(seen) == 1 and all(name for _, name, _ in found):
        found.sort(key=lambda f: f[1])
    else:
        found.sort(key=lambda f: (f"{f[0]}/{f[1]}" if f[1] else str(f[0])).replace("/", "\x00"))
    return [(_child(folder, name) if name else folder, problem) for folder, name, problem in found]


def file_keys(paths: Iterable[Path]) -> dict[Path, str]:
    """The id part of each file whose stem another file shares: more of its path (two folders each
    holding data.json -> a/data, b/data). Any other file's is its stem (Converter.file_key), so
    every file's is stable and unique in the run."""
    by_stem: dict[str, list[Path]] = {}
    for p in paths:
        by_stem.setdefault(p.stem, []).append(p)
    keys: dict[Path, str] = {}
    for group in by_stem.values():
        if len(group) > 1:
            group = list(dict.fromkeys(group))  # a file named twice counts once
        if len(group) == 1:
            continue
        parts = [Path(p).resolve().with_suffix("").parts for p in group]
        for depth in range(2, max(len(x) for x in parts) + 1):
            tails = ["/".join(x[-depth:]) for x in parts]
            if len(set(tails)) == len(tails):
                break
        if len(set(tails)) < len(tails):  # same path but for the suffix: data.json and data.jsonl
            tails = [f"{t}{Path(p).suffix}" for p, t in zip(group, tails)]
        keys.update((p, t.replace(" ", "_")) for p, t in zip(group, tails))
    return keys
