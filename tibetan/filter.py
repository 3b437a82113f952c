"""Tibetan-aware quality filter for translated dialogues (the paper's §3.4, made explicit).

Per utterance: script purity, malformed-syllable ratio, degenerate repetition, length bounds
and a syllable-trigram modified-KN LM score. A dialogue fails when any utterance fails
(`--on-fail dialogue`), or keeps its clean leading exchanges (`--on-fail truncate`). Every
rejection carries its reasons; every utterance's measurements go to `<out>.scores.jsonl`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
import numpy as np

from hearme import io, schema
from hearme.progress import bar as progress_bar
from hearme.tibetan import text as T
from hearme.tibetan.ngram import KNTrigram

PAPER_RELATIVE = 0.85


@dataclass
class Checks:
    """Thresholds of the cheap per-utterance checks."""

    max_foreign: float = 0.05           # share of letters that are not Tibetan
    allow_scripts: tuple[str, ...] = ("tibetan", "latin", "han")  # others (Georgian, Lao, Oriya...) fail at once
    max_malformed: float = 0.05         # share of malformed syllables
    max_run: int = 3                    # identical syllables in a row
    max_repeat: float = 0.5             # share of repeated syllable 3-grams (with >= 8 of them)
    min_syllables: int = 1
    max_syllables: int = 1000
    roles: tuple[str, ...] = ("user", "assistant")


@dataclass
class Threshold:
    """LM threshold on the mean log10 probability per token.

    absolute: the value itself; percentile: that percentile of clean held-out scores;
    relative: keep when reference / score >= value, reference = median clean held-out score
    (1.0 = as fluent as typical clean text; the paper uses 0.85).
    """

    mode: str = "relative"
    value: float = PAPER_RELATIVE
    cutoff: float | None = None         # the resolved log10 cutoff
    reference: dict = field(default_factory=dict)

    def resolve(self, heldout_scores: np.ndarray | None) -> "Threshold":
        if self.mode == "absolute":
            self.cutoff = float(self.value)
            return self
        if heldout_scores is None or not len(heldout_scores):
            raise io.HearMeError(f"an LM threshold by {self.mode} needs clean held-out text (--heldout)")
        s = np.asarray(heldout_scores, dtype=float)
        self.reference = {"heldout_lines": int(s.size), "median": round(float(np.median(s)), 4),
                          "p5": round(float(np.percentile(s, 5)), 4), "min": round(float(s.min()), 4)}
        if self.mode == "percentile":
            if not 0 <= self.value <= 100:
                raise io.HearMeError(f"--lm-percentile must be within 0..100, got {self.value}")
            self.cutoff = float(np.percentile(s, self.value))
        elif self.mode == "relative":
            if not 0 < self.value <= 1.5:
                raise io.HearMeError(f"--lm-relative must be within (0, 1.5], got {self.value}")
            self.cutoff = float(np.median(s)) / self.value
        else:
            raise io.HearMeError(f"unknown threshold mode {self.mode!r} (absolute, percentile, relative)")
        return self

    def describe(self) -> str:
        return f"{self.mode} {self.value:g} -> log10 p/token >= {self.cutoff:.3f}"


def measure(text: str, checks: Checks) -> tuple[dict, list[str]]:
    """The cheap measurements of one utterance and the reasons it fails (empty = passes)."""
    census = T.script_census(text)
    letters = sum(census.values())
    tib = census.get("tibetan", 0)
    foreign = 1 - tib / letters if letters else 1.0
    syls = T.syllables(text)
    malformed = 1 - sum(map(T.is_well_formed, syls)) / len(syls) if syls else 0.0
    run = _longest_run(syls)
    repeat = _repeat_share(syls)
    m = {"syllables": len(syls), "foreign": round(foreign, 4), "malformed": round(malformed, 4), "run": run,
         "repeat": round(repeat, 4)}
    reasons = []
    if not letters:
        reasons.append("script: no letters")
    else:
        odd = {k: v for k, v in census.items() if k not in checks.allow_scripts}
        if foreign > checks.max_foreign or odd:
            others = ", ".join(f"{k} {v}" for k, v in sorted(census.items(), key=lambda kv: -kv[1]) if k != "tibetan")
            reasons.append(f"script: {foreign:.0%} non-Tibetan letters ({others})")
    if malformed > checks.max_malformed:
        reasons.append(f"malformed: {malformed:.0%} of {len(syls)} syllables")
    if run > checks.max_run:
        reasons.append(f"repetition: the same syllable {run} times in a row")
    elif repeat > checks.max_repeat:
        reasons.append(f"repetition: {repeat:.0%} of syllable 3-grams repeat")
    if letters and not checks.min_syllables <= len(syls) <= checks.max_syllables:
        reasons.append(f"length: {len(syls)} syllables (allowed {checks.min_syllables}..{checks.max_syllables})")
    return m, reasons


def _longest_run(syls: list[str]) -> int:
    best = cur = 0
    prev = None
    for s in syls:
        cur = cur + 1 if s == prev else 1
        best = max(best, cur)
        prev = s
    return best


def _repeat_share(syls: list[str], n: int = 3, min_grams: int = 8) -> float:
    grams = [tuple(syls[i:i + n]) for i in range(len(syls) - n + 1)]
    if len(grams) < min_grams:
        return 0.0
    return 1 - len(set(grams)) / len(grams)


def lm_score(lm: KNTrigram, texts: list[str], *, workers: int = 1, progress: bool = False) -> np.ndarray:
    """Mean log10 p/token per text, each sentence scored as `<s> ... </s>` (as corpus lines are).

    Scoring a multi-sentence utterance as one LM sentence would charge every inner shad -> new
    sentence transition as unseen; splitting at the shad matches how the corpus was trained.
    """
    per = [T.sentences(t) or [t] for t in texts]
    flat = [s for p in per for s in p]
    total, count, _ = lm.score_detail(flat, workers=workers, progress=progress, total=len(flat))
    ends = np.cumsum([len(p) for p in per])
    starts = ends - np.array([len(p) for p in per])
    tot = np.add.reduceat(total, starts) if len(flat) else np.zeros(0)
    cnt = np.add.reduceat(count, starts) if len(flat) else np.zeros(0)
    return tot / np.maximum(cnt, 1)


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
        workers: int = 1, progress: bool = True) -> dict:
    """Filter `inp` into `out` (+ .rejected.jsonl, .scores.jsonl); returns the report dict."""
    inp, out = Path(inp), Path(out)
    checks = checks or Checks()
    if on_fail not in ("dialogue", "truncate"):
        raise io.HearMeError(f"--on-fail must be dialogue or truncate, got {on_fail!r}")
    items, kind = load_items(inp, checks)
    if not items:
        raise io.InputError(inp, "", "nothing to filter (no records or lines)")
    require_tibetan(inp, items)
    flat = [t for it in items for t in it.texts]
    lm_scores = lm_score(lm, flat, workers=workers, progress=progress) if lm is not None else None
    cutoff = threshold.cutoff if threshold is not None else None

    tally = io.Tally()
    kept, score_rows, reasons_count = [], [], {}
    k = 0
    bar = progress_bar(len(items), "filter", enabled=progress)
    for it in items:
        tally.read += 1
        turn_rows, first_bad = [], None
        bad_turns: list[str] = []
        for j, (txt, role) in enumerate(zip(it.texts, it.roles)):
            m, reasons = measure(txt, checks)
            if lm_scores is not None:
                m["lm"] = round(float(lm_scores[k]), 4)
                if cutoff is not None and lm_scores[k] < cutoff:
                    reasons.append(f"lm: {lm_scores[k]:.2f} < {cutoff:.2f} log10 p/token")
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

    if kind == "records":
        io.write_records(out, kept)
    else:
        io.write_text(out, "".join(f"{ln}\n" for ln in kept))
    tally.write_rejects(out)
    io.write_jsonl(scores_path(out), score_rows)
    assert tally.balanced, tally.summary()
    report = {"input": str(inp), "output": str(out), "kind": kind, **tally.as_dict(),
              "rejected_by_check": reasons_count, "checks": asdict(checks), "on_fail": on_fail,
              "lm": None if lm is None else {k2: lm.meta[k2] for k2 in ("sentences", "tokens", "vocab", "trigrams")},
              "threshold": None if threshold is None else {"mode": threshold.mode, "value": threshold.value,
                                                            "cutoff": threshold.cutoff, "reference": threshold.reference}}
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


def heldout_split(lines: list[str], every: int = 10) -> tuple[list[str], list[str]]:
    """(train, held-out): every `every`-th line is held out when no separate held-out file is given."""
    if len(lines) < 2 * every:
        raise io.HearMeError(f"the LM corpus has {len(lines)} lines; give --heldout, or at least {2 * every} lines "
                             f"so that every {every}th can be held out")
    held = lines[every - 1::every]
    train = [ln for i, ln in enumerate(lines, 1) if i % every]
    return train, held


def lm_and_threshold(corpus=None, lm_path=None, heldout=None, lm_min: float | None = None,
                     lm_percentile: float | None = None, lm_relative: float | None = None, save_lm=None,
                     progress: bool = True) -> tuple[KNTrigram, Threshold]:
    """The LM (trained on `corpus` or loaded from `lm_path`) and its resolved threshold.

    One of lm_min / lm_percentile / lm_relative picks the mode (default: percentile 1). Without
    `heldout`, every 10th corpus line is held out for percentile/relative thresholds."""
    from hearme.tibetan import ngram

    modes = [(m, v) for m, v in (("absolute", lm_min), ("percentile", lm_percentile), ("relative", lm_relative))
             if v is not None]
    if len(modes) > 1:
        raise io.HearMeError("give one of --lm-min, --lm-percentile, --lm-relative")
    mode, value = modes[0] if modes else ("percentile", 1.0)
    if (corpus is None) == (lm_path is None):
        raise io.HearMeError("give --corpus (monolingual Tibetan text to train the LM) or --lm (a trained model), "
                             "or --no-lm")
    held = ngram.read_corpus(heldout) if heldout else None
    if corpus is not None:
        lines = ngram.read_corpus(corpus)
        if held is None and mode != "absolute":
            lines, held = heldout_split(lines)
        lm = ngram.KNTrigram.fit(lines, progress=progress)
        if save_lm:
            lm.save(save_lm)
    else:
        lm = ngram.KNTrigram.load(lm_path)
    threshold = Threshold(mode, float(value)).resolve(lm_score(lm, held) if held else None)
    return lm, threshold
