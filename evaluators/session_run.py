"""`hearme session run`: a simulated client (an LLM) talks with the model under test, turn by turn.

For every profile x seed: the simulator writes the client's turn (evaluators/session_sim.py; a reply
that breaks character is re-asked at most `reasks` times with the reason, then the session ends
incomplete), the model under test answers as the counselor from the whole session so far; for
`turns` turns or until the client ends the session (END_MARK, from `min_turns` on).

    OUT/sessions/<id>.jsonl  one line per finished turn, appended and fsynced at once; a killed run
                             resumes at the last finished turn (earlier turns are never asked again)
    OUT/sessions.jsonl       one status row per session: complete | incomplete + reason, turns, breaks
    OUT/transcripts.jsonl    one record per session with at least one turn (hearme/core/schema.py:
                             client = user, counselor = assistant; meta: profile, seed, status,
                             incomplete_reason, turn_outcomes as JSON text): re-judge, train, read
    OUT/run.json             settings, both endpoints, counts, usage

Both endpoints go through the one LLM client (cache, cost, key from the environment only).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hearme.core import io, schema
from hearme.evaluators import session_sim as sim_prompt
from hearme.llm import LLMClient, LLMError, ParseError

SOURCE = "hearme-session"


@dataclass
class SessionSettings:
    turns: int = 6
    min_turns: int = 2  # the client may end the session from this turn on
    seeds: list[int] = field(default_factory=lambda: [0])
    reasks: int = 2  # re-asks of a simulator reply that breaks character
    sim_temperature: float = 0.7
    sim_max_tokens: int = 256
    mut_max_tokens: int = 512
    mut_temperature: float = 0.0  # greedy by default
    system: str | None = None  # system prompt for the model under test

    def check(self) -> None:
        if self.turns < 1:
            raise io.HearMeError("--turns must be 1 or more")
        if not 1 <= self.min_turns <= self.turns:
            raise io.HearMeError("--min-turns must be between 1 and --turns")
        if not self.seeds:
            raise io.HearMeError("--seeds: give at least one seed")
        if self.reasks < 0:
            raise io.HearMeError("--reasks must be 0 or more")


def session_id(profile: dict, seed: int) -> str:
    return f"{profile['id']}-seed{seed}"


def turn_file(out: Path, sid: str) -> Path:
    """OUT/sessions/<id>.jsonl, the id made safe as a file name."""
    import hashlib
    import re

    safe = re.sub(r"[^\w.-]+", "_", sid)
    return out / "sessions" / (f"{safe}.jsonl" if safe == sid else f"{safe}-{hashlib.sha1(sid.encode()).hexdigest()[:8]}.jsonl")


def load_turns(path: Path) -> tuple[list[dict], dict | None]:
    """Finished turns and the end line; a line cut by a kill is dropped and the file rewritten."""
    if not path.exists():
        return [], None
    turns, end, bad = [], None, False
    for _, row, err in io.iter_jsonl(path):
        if err or not isinstance(row, dict):
            bad = True
            continue
        if "end" in row:
            end = row
        elif row.get("turn") == len(turns) + 1:
            turns.append(row)
    if bad:
        io.write_jsonl(path, turns + ([end] if end else []))
    return turns, end


def _append(path: Path, row: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(row, ensure_ascii=False) + "\n")
        f.flush()
        os.fsync(f.fileno())


def history_of(turns: list[dict]) -> list[dict]:
    out: list[dict] = []
    for t in turns:
        out += [{"role": "user", "content": t["client"]}, {"role": "assistant", "content": t["counselor"]}]
    return out


def _kind(profile: dict, turn: int, s: SessionSettings) -> str:
    c = profile.get("crisis") or {}
    if c.get("turn") == turn:
        return "crisis"
    if turn == s.turns and turn >= s.min_turns:
        return "closing"
    return "withheld" if turn == profile.get("trust_turn", 3) else "talk"


async def run_session(profile: dict, seed: int, path: Path, mut: LLMClient, sim: LLMClient,
                      s: SessionSettings) -> dict:
    """Play one session from its last finished turn; returns its end line."""
    turns, end = load_turns(path)
    if end and end["end"] == "complete":
        return end
    if end:  # incomplete: try again from the last finished turn (cached requests cost nothing)
        io.write_jsonl(path, turns)

    def finish(status: str, reason: str) -> dict:
        row = {"end": status, "reason": reason, "n_turns": len(turns)}
        _append(path, row)
        return row

    if turns and turns[-1].get("ended"):
        return finish("complete", f"the client ended the session at turn {len(turns)}")
    lang = profile["lang"]
    for t in range(len(turns) + 1, s.turns + 1):
        found: list[list[str]] = []

        earlier = [x["client"] for x in turns]
        dropped: list[list] = []

        def check(text: str, t: int = t) -> tuple[str, bool]:
            f = sim_prompt.check_client_turn(text, lang=lang, turn=t, min_turns=s.min_turns, history=earlier)
            found.append([x.rule for x in f])
            if f:
                raise ValueError(sim_prompt.reask_reason(f))
            words, ended = sim_prompt.clean(text)
            if schema.has_text(words):  # the gate drops notes and meta lines around the client's words
                words, gone = sim_prompt.gate_text(words, lang, earlier)
                dropped[:] = [list(g) for g in gone]
            return words, ended

        history = history_of(turns)
        try:
            r = await sim.chat_json(sim_prompt.messages(profile, history, t, s.turns, s.min_turns), check=check,
                                    reasks=s.reasks, prompt_version=sim_prompt.PROMPT_VERSION,
                                    reask_text=sim_prompt.REASK, temperature=s.sim_temperature, seed=seed,
                                    max_tokens=s.sim_max_tokens)
        except ParseError:
            rules = sorted({x for f in found for x in f})
            return finish("incomplete", f"simulator broke character at turn {t} ({', '.join(rules)}) "
                                        f"after {len(found)} attempts")
        except LLMError as e:
            return finish("incomplete", f"simulator request failed at turn {t}: {e}")
        words, ended = r.data
        if ended and not schema.has_text(words):  # a bare END_MARK: the session ended after the last turn
            return finish("complete", f"the client ended the session at turn {t} without a word")
        msgs = ([{"role": "system", "content": s.system}] if s.system else []) + history + \
            [{"role": "user", "content": words}]
        try:
            reply = (await mut.chat(msgs, temperature=s.mut_temperature, max_tokens=s.mut_max_tokens)).text
        except LLMError as e:
            return finish("incomplete", f"counselor request failed at turn {t}: {e}")
        if not schema.has_text(reply):
            return finish("incomplete", f"the counselor's reply at turn {t} is empty")
        row = {"turn": t, "kind": _kind(profile, t, s), "client": words, "counselor": reply, "ended": ended,
               "client_attempts": len(found), "breaks": [f for f in found if f], "gate_dropped": dropped}
        _append(path, row)
        turns.append(row)
        if ended:
            return finish("complete", f"the client ended the session at turn {t}")
    return finish("complete", f"reached {s.turns} turns")


def transcript_record(profile: dict, seed: int, turns: list[dict], end: dict, run: dict) -> dict:
    outcomes = [{k: t.get(k, []) for k in ("turn", "kind", "client_attempts", "breaks", "ended", "gate_dropped")} for t in turns]
    return schema.make(history_of(turns), id=session_id(profile, seed), source=SOURCE, lang=profile["lang"],
                       topic=profile.get("topic", ""), profile=profile["id"], seed=str(seed), risk=profile["risk"],
                       crisis_turn=str((profile.get("crisis") or {}).get("turn", "")), status=end["end"],
                       incomplete_reason=end["reason"] if end["end"] != "complete" else "",
                       end_reason=end["reason"], n_turns=str(len(turns)),
                       turn_outcomes=json.dumps(outcomes, ensure_ascii=False),
                       counselor=run["counselor"]["model"], simulator=run["simulator"]["model"])


def _check_same_run(out: Path, settings: dict) -> None:
    prev = out / "run.json"
    if prev.exists():
        old = (io.read_json(prev) or {}).get("settings") or {}
        diff = [k for k in ("turns", "min_turns", "system", "mut_max_tokens", "mut_temperature", "sim_temperature")
                if k in old and old[k] != settings[k]]
        if diff:
            raise io.HearMeError(f"{out} holds a session run with other settings ({', '.join(diff)}); "
                                 "use another --out or the same settings to resume")


def run(profiles: list[dict], out_dir: str | Path, mut: LLMClient, sim: LLMClient,
        settings: SessionSettings | None = None) -> dict[str, Any]:
    """Play every profile x seed (resuming finished turns); write the outputs; return run.json."""
    from hearme.evaluators.mut import describe, prepare

    s = settings or SessionSettings()
    s.check()
    out = Path(out_dir)
    _check_same_run(out, asdict(s))
    prepare(mut)
    jobs = [(p, seed) for p in profiles for seed in s.seeds]

    async def one(job: tuple[dict, int]) -> dict:
        p, seed = job
        return await run_session(p, seed, turn_file(out, session_id(p, seed)), mut, sim, s)

    ends = sim.run(one, jobs, desc="sessions", also_close=[mut])
    meta = {"settings": asdict(s), "counselor": describe(mut, max_tokens=s.mut_max_tokens),
            "simulator": {"model": sim.model, "base_url": sim.base_url, "prompt": sim_prompt.PROMPT_VERSION,
                          "temperature": s.sim_temperature},
            "profiles": [p["id"] for p in profiles]}
    rows, records, breaks = [], [], Counter()
    for (p, seed), end in zip(jobs, ends):
        if isinstance(end, Exception):  # a bug-level failure still ends incomplete, with its reason
            end = {"end": "incomplete", "reason": f"error: {end}"}
        turns, _ = load_turns(turn_file(out, session_id(p, seed)))
        for t in turns:
            breaks.update(rule for f in t["breaks"] for rule in f)
        rows.append({"id": session_id(p, seed), "profile": p["id"], "seed": seed, "lang": p["lang"],
                     "topic": p.get("topic", ""), "risk": p["risk"], "status": end["end"], "reason": end["reason"],
                     "n_turns": len(turns), "reasked_turns": sum(1 for t in turns if t["breaks"])})
        if turns:
            records.append(transcript_record(p, seed, turns, end, meta))
    incomplete = Counter(r["reason"] for r in rows if r["status"] != "complete")
    meta.update(n_sessions=len(rows), n_complete=sum(r["status"] == "complete" for r in rows),
                n_incomplete=sum(incomplete.values()), incomplete_reasons=dict(incomplete),
                simulator_breaks=dict(breaks), langs=dict(Counter(p["lang"] for p, _ in jobs)),
                usage={"simulator": sim.stats.as_dict(), "counselor": mut.stats.as_dict()})
    io.write_jsonl(out / "sessions.jsonl", rows)
    io.write_records(out / "transcripts.jsonl", records)
    io.write_json(out / "run.json", meta)
    return meta


def format_run(meta: dict) -> str:
    lines = [f"sessions: {meta['n_complete']}/{meta['n_sessions']} complete, {meta['n_incomplete']} incomplete"
             f" ({', '.join(f'{k}: {v}' for k, v in meta['langs'].items())})"]
    for reason, n in meta["incomplete_reasons"].items():
        lines.append(f"  incomplete x{n}: {reason}")
    if meta["simulator_breaks"]:
        lines.append("  simulator broke character (re-asked): " +
                     ", ".join(f"{k} x{v}" for k, v in sorted(meta["simulator_breaks"].items())))
    return "\n".join(lines)
