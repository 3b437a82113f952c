"""dataset_info.json: register record files the way LLaMA-Factory loads them.

Entries always use `formatting: sharegpt` with role/content tags; never `openai`,
which in LLaMA-Factory 0.9.5 appends "detailed thinking off" to the system prompt.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Iterable

from hearme.core import io, paths, schema

DATA_CONFIG = "dataset_info.json"

MESSAGES_ENTRY = {
    "formatting": "sharegpt",
    "columns": {"messages": "messages"},
    "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user",
             "assistant_tag": "assistant", "system_tag": "system"},
}
SHAREGPT_ENTRY = {
    "formatting": "sharegpt",
    "columns": {"messages": "conversations", "system": "system"},
    "tags": {"role_tag": "from", "content_tag": "value", "user_tag": "human", "assistant_tag": "gpt"},
}
# Preference sets (stage 3, schema.validate_preference): pairs for DPO/ORPO, labelled replies for KTO.
PAIR_ENTRY = {**SHAREGPT_ENTRY, "ranking": True,
              "columns": {**SHAREGPT_ENTRY["columns"], "chosen": "chosen", "rejected": "rejected"}}
KTO_ENTRY = {**SHAREGPT_ENTRY, "columns": {**SHAREGPT_ENTRY["columns"], "kto_tag": "kto_tag"}}


def registry_path(dataset_dir: str | os.PathLike | None = None) -> Path:
    return Path(dataset_dir or paths.dataset_dir()) / DATA_CONFIG


def load(dataset_dir=None) -> dict:
    path = registry_path(dataset_dir)
    if not path.exists():
        return {}
    info = io.read_json(path)
    if not isinstance(info, dict):
        raise io.InputError(path, "", "expected a JSON object of dataset entries")
    return info


def save(info: dict, dataset_dir=None) -> Path:
    # ASCII-escaped: LLaMA-Factory opens this file with the locale's encoding.
    with io.atomic_open(registry_path(dataset_dir)) as fh:
        json.dump(dict(sorted(info.items())), fh, ensure_ascii=True, indent=2)
        fh.write("\n")
    return registry_path(dataset_dir)


def record_meta(records: list[dict]) -> dict[str, str]:
    """source, license and lang of the records, each the sorted distinct values joined by commas."""
    def joined(key: str) -> str:
        return ",".join(sorted({str(r.get(key) or "") for r in records} - {""}))
    return {key: joined(key) for key in ("source", "license", "lang")}


def _read(records_file: Path) -> tuple[str, list[dict]]:
    """('messages' | 'sharegpt' | 'pair' | 'kto', records) for a records file; validates every record
    (a preference file's first bad item is refused with its line)."""
    items = io.read_items(records_file)
    kind = schema.preference_kind(items[0][1]) if items else None
    if kind:
        for where, item in items:
            try:
                schema.validate_preference(item)
            except schema.InvalidRecord as e:
                raise io.InputError(records_file, where, str(e)) from None
            if schema.preference_kind(item) != kind:
                raise io.InputError(records_file, where, f"a {schema.preference_kind(item) or 'SFT'} item in a file "
                                                         f"of {kind} items (one kind per file)")
        return kind, [item for _, item in items]
    recs = io.load_records(records_file, items=items)
    if not recs:
        raise io.InputError(records_file, "", "no records to register")
    first = items[0][1]
    return ("sharegpt" if isinstance(first, dict) and "conversations" in first else "messages"), recs


def entry_for(records_file, dataset_dir=None, *, source: str = "", license: str = "", lang: str = "") -> dict:
    """The dataset_info.json entry; source/license/lang not given come from the records."""
    records_file = Path(records_file).resolve()
    base = Path(dataset_dir or paths.dataset_dir()).resolve()
    style, recs = _read(records_file)
    try:
        file_name = str(records_file.relative_to(base))
    except ValueError:
        file_name = str(records_file)
    template = {"sharegpt": SHAREGPT_ENTRY, "pair": PAIR_ENTRY, "kto": KTO_ENTRY}.get(style, MESSAGES_ENTRY)
    entry = {"file_name": file_name, **copy.deepcopy(template)}
    given = {"source": source, "license": license, "lang": lang}
    derived = record_meta(recs)
    entry.update({k: v for k, v in ((k, given[k] or derived[k]) for k in given) if v})
    entry["records"] = len(recs)
    return entry


def register(records_file, name: str, dataset_dir=None, **meta) -> dict:
    """Add or update one entry; every record is validated so LLaMA-Factory skips nothing."""
    if not name or any(c in name for c in ", /\\"):
        raise io.HearMeError(f"invalid dataset name {name!r}: no commas, spaces or slashes")
    info = load(dataset_dir)
    info[name] = entry_for(records_file, dataset_dir, **meta)
    save(info, dataset_dir)
    return info[name]


def require(names: str | Iterable[str], info: dict | None = None, dataset_dir=None) -> list[str]:
    """Check dataset names (comma-separated or list); unknown names list the known ones."""
    info = load(dataset_dir) if info is None else info
    wanted = [n.strip() for n in (names.split(",") if isinstance(names, str) else names) if n.strip()]
    unknown = [n for n in wanted if n not in info]
    if unknown:
        known = ", ".join(sorted(info)) or "(none registered)"
        where = registry_path(dataset_dir)
        raise io.HearMeError(f"unknown dataset {', '.join(map(repr, unknown))} in {where}; known: {known}")
    return wanted


def file_of(name: str, dataset_dir=None) -> Path:
    info = load(dataset_dir)
    require(name, info)
    p = Path(info[name]["file_name"])
    return p if p.is_absolute() else Path(dataset_dir or paths.dataset_dir()) / p
