"""`hearme export hf`: registered datasets -> a Hugging Face dataset folder (Parquet + dataset card).

The folder holds `data/<split>-<fingerprint>-00000-of-00001.parquet` and a `README.md` whose YAML header is the
one the Hub reads (configs with their splits, license, language, size category, task), so
`datasets.load_dataset(DIR)` loads it with its splits and `huggingface-cli upload` can share it.
The card body is HearMe's data card (`hearme stats`), with its plots in `card/`.

Registered names ending in _train, _val/_validation or _test become those splits; a prefix
(`hearme_counseling_zh`) takes all three. A source whose license forbids redistribution (PsyQA)
is refused unless the user states the copy is for private use.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path

from hearme.core import io, registry

SPLIT_SUFFIX = {"_train": "train", "_val": "validation", "_validation": "validation", "_dev": "validation",
                "_test": "test"}
# License strings of the records -> the Hub's identifiers.
HUB_LICENSE = (("apache-2.0", "apache-2.0"), ("apache 2.0", "apache-2.0"), ("cc by 4.0", "cc-by-4.0"),
               ("cc-by-4.0", "cc-by-4.0"), ("cc by-nc 4.0", "cc-by-nc-4.0"), ("mit", "mit"))
NO_REDISTRIBUTION = re.compile(r"no[ -]redistribution|not (?:be )?redistribut|forbids redistribution", re.I)
SIZES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
         (10_000_000, "1M<n<10M"))


def resolve_splits(names: list[str], info: dict) -> dict[str, str]:
    """split -> registered name, from names or prefixes. A name without a split suffix is `train`."""
    splits: dict[str, str] = {}

    def add(split: str, name: str) -> None:
        if split in splits and splits[split] != name:
            raise io.HearMeError(f"two datasets for split {split!r}: {splits[split]} and {name}; "
                                 f"export them into separate folders")
        splits[split] = name

    for name in names:
        if name in info:
            suffix = next((s for s in SPLIT_SUFFIX if name.endswith(s)), None)
            add(SPLIT_SUFFIX[suffix] if suffix else "train", name)
            continue
        found = [(SPLIT_SUFFIX[s], name + s) for s in SPLIT_SUFFIX if name + s in info]
        if not found:
            registry.require(name, info)  # the error lists the known names
        for split, full in found:
            add(split, full)
    return dict(sorted(splits.items(), key=lambda kv: ("train", "validation", "test").index(kv[0])))


def _rows(name: str, entry: dict, dataset_dir) -> list[dict]:
    """The entry's items as written (SFT records validated; preference items as they are)."""
    path = registry.file_of(name, dataset_dir)
    if entry.get("ranking") or entry.get("columns", {}).get("kto_tag"):
        return [item for _, item in io.read_items(path)]
    return io.load_records(path)


def _licenses(rows: list[dict], entry: dict) -> set[str]:
    """The records' licenses, or the entry's where the records state none (the registry joins with commas)."""
    found = {str(r["license"]) for r in rows if r.get("license")}
    return found or {lic.strip() for lic in str(entry.get("license") or "").split(",") if lic.strip()}


def _table(rows: list[dict]):
    """An Arrow table whose columns are the union of the rows' keys (missing values null)."""
    import pyarrow as pa

    keys: dict[str, None] = {}
    for row in rows:
        keys.update(dict.fromkeys(row))
    return pa.Table.from_pylist([{k: row.get(k) for k in keys} for row in rows])


def hub_license(licenses: set[str]) -> dict:
    """The card's license fields: a Hub identifier, or `other` with the stated licenses."""
    ids = set()
    for lic in licenses:
        low = lic.lower()
        ids.add(next((hub for key, hub in HUB_LICENSE if low.startswith(key)), "other"))
    if len(ids) == 1 and ids != {"other"}:
        return {"license": ids.pop()}
    stated = "; ".join(sorted(licenses)) or "not stated"
    return {"license": "other", "license_name": "mixed" if len(licenses) > 1 else "custom",
            "license_details": stated}


def size_category(n: int) -> str:
    return next((label for limit, label in SIZES if n < limit), "n>10M")


def fingerprint(data: dict[str, list[dict]]) -> str:
    h = hashlib.sha256()
    for split, rows in data.items():
        h.update(split.encode() + json.dumps(rows, ensure_ascii=False, sort_keys=True).encode("utf-8"))
    return h.hexdigest()[:8]


def _yaml_header(splits: dict[str, str], counts: dict[str, int], langs: list[str], lic: dict,
                 preference: bool, pretty: str, tag: str) -> str:
    import yaml

    header = {
        "configs": [{"config_name": "default", "default": True,
                     "data_files": [{"split": s, "path": f"data/{s}-{tag}-*.parquet"} for s in splits]}],
        **lic,
        "language": langs,
        "size_categories": [size_category(sum(counts.values()))],
        "task_categories": ["text-generation"],
        "tags": ["mental-health", "counseling", "llama-factory", "hearme"] + (["preference", "dpo"] if preference else []),
        "pretty_name": pretty,
    }
    return "---\n" + yaml.safe_dump(header, allow_unicode=True, sort_keys=False) + "---\n"


def export(names: list[str], out_dir, *, dataset_dir=None, private_use: bool = False,
           overwrite: bool = False) -> dict:
    """Write the folder; returns {'dir', 'splits': {split: (name, rows)}, 'license', 'private_use'}."""
    import pyarrow.parquet as pq

    out = Path(out_dir)
    info = registry.load(dataset_dir)
    splits = resolve_splits(names, info)
    if out.exists() and not out.is_dir():
        raise io.HearMeError(f"{out} is a file; give a folder to write")
    if out.exists() and any(out.iterdir()) and not overwrite:
        raise io.HearMeError(f"{out} exists and is not empty; pass --overwrite to replace it")
    data = {s: _rows(n, info[n], dataset_dir) for s, n in splits.items()}
    empty = [splits[s] for s, rows in data.items() if not rows]
    if empty:
        raise io.HearMeError(f"nothing to export in {', '.join(empty)}")

    licenses = set().union(*(_licenses(rows, info[splits[s]]) for s, rows in data.items()))
    restricted = sorted(lic for lic in licenses if NO_REDISTRIBUTION.search(lic))
    if restricted and not private_use:
        raise io.HearMeError(f"the license of this data forbids redistribution ({'; '.join(restricted)}); "
                             f"export it only for your own use, with --private-use")
    langs = sorted({lang for rows in data.values() for r in rows
                    for lang in str(r.get("lang") or "").split(",") if lang and lang != "mixed"})
    preference = any(info[n].get("ranking") for n in splits.values())
    counts = {s: len(rows) for s, rows in data.items()}
    lic = hub_license(licenses)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        (tmp / "data").mkdir()
        # The content's fingerprint is in the file pattern: `datasets` caches a local folder by its
        # name and patterns, so a re-export into the same folder would otherwise load the old rows.
        tag = fingerprint(data)
        for split, rows in data.items():
            pq.write_table(_table(rows), tmp / "data" / f"{split}-{tag}-00000-of-00001.parquet")
        body = _card_body(splits, data, tmp / "card", dataset_dir, preference)
        note = ""
        if restricted:
            note = (f"\n> **Private use only.** This copy holds data whose license forbids redistribution "
                    f"({'; '.join(restricted)}). Do not upload or share it.\n")
        table = ["| split | dataset | rows |", "|---|---|---|"] + [
            f"| {s} | {splits[s]} | {counts[s]} |" for s in splits]
        pretty = os.path.commonprefix(list(splits.values())).rstrip("_") or next(iter(splits.values()))
        text = (_yaml_header(splits, counts, langs, lic, preference, pretty, tag)
                + f"\n# {pretty}\n\nExported by HearMe (`hearme export hf`) from LLaMA-Factory datasets "
                  f"registered in `dataset_info.json`. Load it with `datasets.load_dataset(\"<this folder>\")`.\n"
                + note + "\n" + "\n".join(table) + "\n\n" + body)
        (tmp / "README.md").write_text(text, encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return {"dir": out, "splits": {s: (splits[s], counts[s]) for s in splits}, "license": lic,
            "private_use": bool(restricted)}


def _card_body(splits: dict[str, str], data: dict[str, list[dict]], card_dir: Path, dataset_dir,
               preference: bool) -> str:
    """HearMe's data card for SFT records (plots linked from card/); preference sets get a short note."""
    if preference:
        return ("Preference pairs: each row holds the conversation so far and a `chosen` and a `rejected` "
                "reply, with the scores and the rule that paired them.\n")
    from hearme.converters.card import build_card

    card = build_card({splits[s]: rows for s, rows in data.items()}, card_dir, dataset_dir=dataset_dir)
    text = card.read_text(encoding="utf-8")
    text = re.sub(r"\]\((?!https?:|/)([^)]+\.png)\)", r"](card/\1)", text)
    return re.sub(r"^# ", "## ", text, flags=re.M)
