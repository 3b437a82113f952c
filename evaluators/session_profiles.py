"""Client profiles for `hearme session`: the bundled ones (ours) and the CPsyCoun converter.

A profile (JSON; a file holds {"version", "profiles": [...]}, a list, or JSON lines)::

    {"id": "zh-05", "lang": "zh|bo|en", "topic": "情绪与压力",
     "presenting_problem": "...", "background": "...", "emotional_state": "...",
     "withheld": "what the client keeps back until trust is built", "trust_turn": 3,
     "risk": "low|medium|high",
     "crisis": {"turn": 4, "disclosure": "what the client discloses at that turn"}}   # optional

Bundled: evaluators/profiles/zh.json (32, Chinese) and bo.json (10, Tibetan), written by us.
`profiles_from_cpsycoun` builds profiles from the user's own CPsyCounD dialogues (.txt) or
CPsyCounE files (JSON lists): the client's first turn is the presenting problem, the second the
background, a turn with feeling words the emotional state, the longest client turn in the second
half what is withheld until then, and a client turn with self-harm words a crisis disclosure at
its own turn (risk high). No LLM is involved; text goes through the converters' PII scrubbing.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Iterable

from hearme.core import io

BUNDLED = Path(__file__).with_name("profiles")
TEXT_FIELDS = ("presenting_problem", "background", "emotional_state", "withheld")
LANGS = ("zh", "bo", "en")
RISKS = ("low", "medium", "high")
_FEELING = re.compile(r"感到|觉得|心情|难受|难过|焦虑|害怕|压力|痛苦|烦|委屈|生气|失眠|崩溃|绝望|孤独")
_CRISIS = re.compile(r"自杀|轻生|不想活|活着没意思|结束(?:自己的)?生命|去死|想死|伤害自己|割腕|割伤|跳楼|跳下去|安眠药")


def check_profile(p: Any, where: str) -> dict:
    """The profile, or InputError naming the field."""
    def bad(msg: str) -> io.InputError:
        return io.InputError(where, str(p.get("id", "")) if isinstance(p, dict) else "", msg)

    if not isinstance(p, dict):
        raise io.InputError(where, "", f"a profile must be an object, got {type(p).__name__}")
    if not isinstance(p.get("id"), str) or not p["id"].strip():
        raise bad("`id` missing")
    if p.get("lang") not in LANGS:
        raise bad(f"`lang` must be one of {', '.join(LANGS)}, got {p.get('lang')!r}")
    for k in TEXT_FIELDS:
        if not isinstance(p.get(k), str) or not p[k].strip():
            raise bad(f"`{k}` missing or empty")
    if p.get("risk", "low") not in RISKS:
        raise bad(f"`risk` must be one of {', '.join(RISKS)}, got {p.get('risk')!r}")
    tt = p.get("trust_turn", 3)
    if not isinstance(tt, int) or isinstance(tt, bool) or tt < 1:
        raise bad("`trust_turn` must be a whole number >= 1")
    c = p.get("crisis")
    if c is not None:
        if not isinstance(c, dict) or not isinstance(c.get("turn"), int) or isinstance(c.get("turn"), bool) \
                or c["turn"] < 1 or not isinstance(c.get("disclosure"), str) or not c["disclosure"].strip():
            raise bad("`crisis` must be {\"turn\": N >= 1, \"disclosure\": text}")
    return {**p, "topic": str(p.get("topic") or ""), "risk": p.get("risk", "low"), "trust_turn": tt}


def _read(path: Path) -> list:
    if path.suffix == ".jsonl":
        rows = []
        for line, obj, err in io.iter_jsonl(path):
            if err:
                raise io.InputError(path, f"line {line}", err)
            rows.append(obj)
        return rows
    data = io.read_json(path)
    return data.get("profiles", []) if isinstance(data, dict) else data


def load_profiles(paths: Iterable[str | Path] = (), *, langs: Iterable[str] = (), ids: Iterable[str] = (),
                  limit: int | None = None) -> list[dict]:
    """Profiles from files or folders (default: the bundled ones), filtered by language and id."""
    files: list[Path] = []
    for p in [Path(x) for x in paths] or [BUNDLED]:
        if not p.exists():
            raise io.InputError(p, "", "no such file or directory")
        files += sorted(p.glob("*.json*")) if p.is_dir() else [p]
    out, seen = [], set()
    for f in files:
        rows = _read(f)
        if not isinstance(rows, list):
            raise io.InputError(f, "", "expected a list of profiles or {\"profiles\": [...]}")
        for i, row in enumerate(rows):
            prof = check_profile(row, f"{f} (profile {i})")
            if prof["id"] in seen:
                raise io.InputError(f, prof["id"], "duplicate profile id")
            seen.add(prof["id"])
            out.append(prof)
    langs, ids = set(langs), set(ids)
    out = [p for p in out if (not langs or p["lang"] in langs) and (not ids or p["id"] in ids)]
    if ids - {p["id"] for p in out}:
        raise io.HearMeError(f"no such profile: {', '.join(sorted(ids - {p['id'] for p in out}))}")
    if not out:
        raise io.HearMeError("no profiles selected")
    return out[: limit or None]


def _cut(text: str, n: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n].rstrip() + "…"


def profile_from_record(rec: dict) -> dict | None:
    """A profile from one converted dialogue record, or None with fewer than two client turns."""
    client = [m["content"] for m in rec["messages"] if m["role"] == "user"]
    if len(client) < 2:
        return None
    half = client[len(client) // 2:-1] or client[1:]  # the last client turn is mostly a goodbye
    feeling = next((t for t in client[2:] if _FEELING.search(t)), client[-1])
    withheld = max(half, key=len)
    crisis_at = next((i for i, t in enumerate(client) if _CRISIS.search(t)), None)
    prof = {"id": "cpsycoun-" + re.sub(r"[^\w.-]+", "-", str(rec.get("id"))), "lang": "zh", "topic": rec.get("topic") or "",
            "presenting_problem": _cut(client[0]), "background": _cut(client[1]), "emotional_state": _cut(feeling),
            "withheld": _cut(withheld), "trust_turn": max(2, client.index(withheld) + 1), "source": rec.get("source"),
            "source_id": rec.get("id"), "risk": "high" if crisis_at is not None else "low"}
    if crisis_at is not None:
        prof["crisis"] = {"turn": max(2, crisis_at + 1), "disclosure": _cut(client[crisis_at])}
    return prof


def profiles_from_cpsycoun(paths: list[Path], out: Path, *, limit: int | None = None) -> dict[str, Any]:
    """Convert CPsyCounD .txt files / CPsyCounE JSON files (or folders of them) into OUT (JSON)."""
    import hearme.converters  # noqa: F401  (registers the converters)
    from hearme.converters.convert import run as convert

    txt = [p for p in paths if p.suffix == ".txt" or (p.is_dir() and any(p.rglob("*.txt")))]
    js = [p for p in paths if p not in txt]
    records, rejects = [], []
    for name, group in (("cpsycound", txt), ("cpsycoune", js)):
        if group:
            recs, tally = convert(name, group)
            records += recs
            rejects += tally.rejects
    profiles, skipped = [], 0
    for rec in records[: limit or None]:
        prof = profile_from_record(rec)
        if prof is None:
            skipped += 1
            continue
        profiles.append(check_profile(prof, str(rec.get("id"))))
    if not profiles:
        raise io.HearMeError(f"no profile could be built from {', '.join(map(str, paths))} "
                             f"({len(records)} dialogues, {len(rejects)} rejected)")
    io.write_json(out, {"version": "hearme-profiles-v1", "profiles": profiles})
    return {"profiles": len(profiles), "dialogues": len(records), "too_short": skipped, "rejected": len(rejects),
            "with_crisis": sum(1 for p in profiles if p.get("crisis")), "out": str(out)}
