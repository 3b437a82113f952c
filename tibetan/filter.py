"""Tibetan-aware quality filter for translated dialogues (the paper's §3.4, made explicit).

Per utterance: script purity, Chinese left in, malformed (or merged) syllables, stutters and
repetition, length bounds, and with a syllable-trigram modified-KN LM: unknown syllables, the
word-order check (the utterance must score far better than shuffles of its own syllables) and
optionally an absolute LM score. Without LM flags the shipped default model is used (the
bundled Tibetan lines plus the bo_words.txt word list). A dialogue fails when any utterance
fails (`--on-fail dialogue`), or keeps its clean leading exchanges (`--on-fail truncate`).
Every rejection carries its reasons; every utterance's measurements go to `<out>.scores.jsonl`.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from hearme.core import io, schema
from hearme.core.progress import bar as progress_bar
from hearme.tibetan import text as T
from hearme.tibetan.ngram import KNTrigram
from hearme.tibetan.filter_lm import OrderCheck, Threshold
from hearme.tibetan.filter_scan import scan


@dataclass
class Checks:
    """Thresholds of the cheap per-utterance checks."""

    max_foreign: float = 0.05           # share of letters that are not Tibetan
    allow_scripts: tuple[str, ...] = ("tibetan", "latin", "han")  # others (Georgian, Lao, Oriya...) fail at once
    max_han: int = 0                    # Han characters allowed (a Chinese word or clause left untranslated)
    max_malformed: float = 0.05         # share of malformed (or merged) syllables
    max_run: int = 3                    # identical syllables in a row
    max_doubled: float = 0.2            # share of syllables repeating the one before (stutters), with >= 3 of them
    max_repeat: float = 0.5             # share of repeated syllable 3-grams (with >= 8 of them)
    max_unknown: float = 0.3            # share of tokens the LM has never seen (only with an LM)
    min_syllables: int = 1
    max_syllables: int = 1000
    roles: tuple[str, ...] = ("user", "assistant")


def measure(text: str, checks: Checks) -> tuple[dict, list[str]]:
    """The cheap measurements of one utterance and the reasons it fails (empty = passes)."""
    norm = T.normalize(text)
    syls = T.syllables(norm, norm=False)
    census = _census(norm, syls)
    letters = sum(census.values())
    tib = census.get("tibetan", 0)
    han = census.get("han", 0)
    foreign = 1 - tib / letters if letters else 1.0
    malformed = 1 - sum(map(_well_formed, syls)) / len(syls) if syls else 0.0
    doubled = sum(map(str.__eq__, syls, syls[1:]))
    run = _longest_run(syls) if doubled else min(len(syls), 1)  # no neighbours alike: runs of one
    repeat = _repeat_share(syls)
    m = {"syllables": len(syls), "foreign": round(foreign, 4), "han": han, "malformed": round(malformed, 4),
         "run": run, "doubled": doubled, "repeat": round(repeat, 4), "zero_width": T.count_zero_width(text)}
    reasons = []
    if not letters:
        reasons.append("script: no letters")
    else:
        odd = {k: v for k, v in census.items() if k not in checks.allow_scripts}
        if foreign > checks.max_foreign or odd:
            others = ", ".join(f"{k} {v}" for k, v in sorted(census.items(), key=lambda kv: -kv[1]) if k != "tibetan")
            reasons.append(f"script: {foreign:.0%} non-Tibetan letters ({others})")
    if tib and han > checks.max_han:
        reasons.append(f"chinese: {han} Han characters left in a Tibetan utterance")
    if malformed > checks.max_malformed:
        reasons.append(f"malformed: {malformed:.0%} of {len(syls)} syllables")
    if run > checks.max_run:
        reasons.append(f"repetition: the same syllable {run} times in a row")
    elif doubled >= 3 and doubled / max(len(syls) - 1, 1) > checks.max_doubled:
        reasons.append(f"stutter: {doubled} of {len(syls)} syllables repeat the one before")
    elif repeat > checks.max_repeat:
        reasons.append(f"repetition: {repeat:.0%} of syllable 3-grams repeat")
    if letters and not checks.min_syllables <= len(syls) <= checks.max_syllables:
        reasons.append(f"length: {len(syls)} syllables (allowed {checks.min_syllables}..{checks.max_syllables})")
    return m, reasons


def _census(norm: str, syls: list[str]) -> dict[str, int]:
    """text.script_census of normalized text whose syllables are already found (one scan less)."""
    n_tib = sum(map(len, syls)) + norm.count("\u0f18") + norm.count("\u0f19")
    rest = T._NON_LETTER_FAST.sub("", norm)
    if not rest:
        return {"tibetan": n_tib} if n_tib else {}
    counts = {"tibetan": n_tib} if n_tib else {}
    last = "unknown"
    for ch in rest:
        if unicodedata.category(ch)[0] not in "LM":
            continue
        script = T.script_of(ch)
        if script == "inherited":
            script = last
        counts[script] = counts.get(script, 0) + 1
        last = script
    return counts


_well_formed = functools.lru_cache(maxsize=1 << 18)(T.is_well_formed)  # syllables repeat: judge each once


def _longest_run(syls: list[str]) -> int:
    best = cur = 0
    prev = None
    for s in syls:
        cur = cur + 1 if s == prev else 1
        best = max(best, cur)
        prev = s
    return best


def _repeat_share(syls: list[str], n: int = 3, min_grams: int = 8) -> float:
    if len(syls) - n + 1 < min_grams:
        return 0.0
    grams = list(zip(*(syls[i:] for i in range(n))))
    return 1 - len(set(grams)) / len(grams)


# ---------------------------------------------------------------- items

@dataclass
class Item:
    """One unit that is kept or rejected: a dialogue record, or a line of a text file."""

    position: str
    texts: list[str]                      # the utterances that are checked
    roles: list[str]
    record: dict | None = None            # None for text lines
    line: str | None = None


def load_items(path: Path, checks: Checks) -> tuple[list[Item], str]:
    """Records (.json/.jsonl) or lines (.txt); returns (items, kind)."""
    if path.suffix == ".txt":
        text, _ = io.read_text(path)
        items = [Item(f"line {i}", [ln], ["line"], line=ln) for i, ln in enumerate(text.splitlines(), 1) if ln.strip()]
        return items, "lines"
    items = []
    for i, rec in enumerate(io.load_records(path)):
        turns = [m for m in schema.dialogue_turns(rec) if m["role"] in checks.roles]
        items.append(Item(str(rec.get("id") or f"record {i}"), [m["content"] for m in turns],
                          [m["role"] for m in turns], record=rec))
    return items, "records"


def require_tibetan(path: Path, items: list[Item], min_share: float = 0.3) -> None:
    sample = "\n".join(t for it in items[:300] for t in it.texts)
    share = T.tibetan_share(sample)
    if share < min_share:
        lang = T.detect_lang(sample)
        raise io.InputError(path, "", f"does not look like Tibetan (Tibetan letters {share:.0%} of letters, "
                                      f"detected {lang!r}); the Tibetan filter needs Tibetan text — "
                                      f"translate it first with `hearme tibetan translate`")


# ---------------------------------------------------------------- the run

def run(inp: str | Path, out: str | Path, lm: KNTrigram | None, threshold: Threshold | None,
        checks: Checks | None = None, *, on_fail: str = "dialogue", min_exchanges: int = 1,
        workers: int = 1, progress: bool = True, order: OrderCheck | None = None, model: str | None = None,
        on_block=None) -> dict:
    """Filter `inp` into `out` (+ .rejected.jsonl, .scores.jsonl); returns the report dict.

    With `lm`: unknown-token share always, the absolute score when `threshold` is given, the
    word-order check when `order` (resolved) is given. `model` names the LM in the report.
    `workers` processes measure blocks of utterances (0: one per core); `on_block(done, total)`
    reports progress (the WebUI's bar)."""
    import time

    t0 = time.perf_counter()
    inp, out = Path(inp), Path(out)
    checks = checks or Checks()
    if on_fail not in ("dialogue", "truncate"):
        raise io.HearMeError(f"--on-fail must be dialogue or truncate, got {on_fail!r}")
    items, kind = load_items(inp, checks)
    if not items:
        raise io.InputError(inp, "", "nothing to filter (no records or lines)")
    require_tibetan(inp, items)
    flat = [t for it in items for t in it.texts]
    cutoff = threshold.cutoff if threshold is not None else None
    sc = scan(flat, lm, order, checks, measure, workers=workers, progress=progress, on_block=on_block,
              lm_cutoff=cutoff)
    lm_scores, unknown, order_z, order_gain = sc.lm, sc.unknown, sc.order_z, sc.order_gain

    tally = io.Tally()
    kept, score_rows, reasons_count = [], [], {}
    k = 0
    zero_width = 0
    bar = progress_bar(len(items), "filter", enabled=progress)
    for it in items:
        tally.read += 1
        turn_rows, first_bad = [], None
        bad_turns: list[str] = []
        for j, (txt, role) in enumerate(zip(it.texts, it.roles)):
            m, reasons = sc.cheap[k]
            zero_width += m["zero_width"]
            if lm_scores is not None:
                m["lm"] = round(float(lm_scores[k]), 4)
                m["unknown"] = round(float(unknown[k]), 4)
                if unknown[k] > checks.max_unknown:
                    reasons.append(f"vocabulary: {unknown[k]:.0%} of the tokens are unknown to the LM")
                if cutoff is not None and lm_scores[k] < cutoff:
                    reasons.append(f"lm: {lm_scores[k]:.2f} < {cutoff:.2f} log10 p/token")
            if order_z is not None:
                z = order_z[k]
                m["order_z"] = None if np.isnan(z) else round(float(z), 3)
                m["order_gain"] = None if np.isnan(z) else round(float(order_gain[k]), 4)
                if not np.isnan(z) and z < order.cutoff:
                    reasons.append(f"order: z {z:.1f} < {order.cutoff:.1f} (scores like its own syllables shuffled)")
            k += 1
            m.update(role=role, ok=not reasons)
            turn_rows.append(m)
            if reasons:
                first_bad = j if first_bad is None else first_bad
                bad_turns.append(f"{'line' if kind == 'lines' else f'turn {j + 1} {role}'}: {'; '.join(reasons)}")
                for r in reasons:
                    key = r.split(":", 1)[0]
                    reasons_count[key] = reasons_count.get(key, 0) + 1
        verdict = "kept"
        if first_bad is not None:
            kept_item = _truncate(it, first_bad, min_exchanges) if on_fail == "truncate" and kind == "records" else None
            if kept_item is None:
                reason = " | ".join(bad_turns[:3]) + (f" | (+{len(bad_turns) - 3} more turns)" if len(bad_turns) > 3 else "")
                tally.reject(inp, it.position, reason, it.record if it.record is not None else it.line)
                verdict = "rejected"
            else:
                kept.append(kept_item)
                tally.written += 1
                tally.note("truncated")
                verdict = "truncated"
        else:
            kept.append(it.record if kind == "records" else it.line)
            tally.written += 1
        score_rows.append({"position": it.position, "verdict": verdict, "turns": turn_rows})
        if bar:
            bar.update(1)
    if bar:
        bar.close()
    if zero_width:
        tally.note("zero-width characters removed before segmentation", zero_width)

    if kind == "records":
        io.write_records(out, kept)
    else:
        io.write_text(out, "".join(f"{ln}\n" for ln in kept))
    tally.write_rejects(out)
    io.write_jsonl(scores_path(out), score_rows)
    assert tally.balanced, tally.summary()
    report = {"input": str(inp), "output": str(out), "kind": kind, **tally.as_dict(),
              "rejected_by_check": reasons_count, "checks": asdict(checks), "on_fail": on_fail, "model": model,
              "lm": None if lm is None else {k2: lm.meta[k2] for k2 in ("sentences", "tokens", "vocab", "trigrams")},
              "threshold": None if threshold is None else {"mode": threshold.mode, "value": threshold.value,
                                                            "cutoff": threshold.cutoff, "reference": threshold.reference},
              "order": None if order is None or lm is None else asdict(order),
              "utterances": len(flat), "syllables": sum(m["syllables"] for m, _ in sc.cheap),
              "seconds": round(time.perf_counter() - t0, 3)}
    io.write_json(report_path(out), report)
    return report


def _truncate(it: Item, first_bad: int, min_exchanges: int) -> dict | None:
    """The record cut before the exchange holding the first failing utterance, if enough is left."""
    rec = it.record
    assert rec is not None
    turns = schema.dialogue_turns(rec)
    checked = [i for i, m in enumerate(turns) if m["role"] in ("user", "assistant")]
    cut = checked[first_bad] if first_bad < len(checked) else len(turns)
    cut -= cut % 2  # whole user/assistant exchanges only
    if cut // 2 < min_exchanges:
        return None
    sys_msg = schema.system_prompt(rec)
    out = dict(rec, messages=([{"role": "system", "content": sys_msg}] if sys_msg is not None else []) + turns[:cut])
    schema.validate(out)
    return out


def scores_path(out: Path) -> Path:
    return out.with_name(out.name.rsplit(".", 1)[0] + ".scores.jsonl")


def report_path(out: Path) -> Path:
    return out.with_name(out.name.rsplit(".", 1)[0] + ".filter.json")
