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
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from hearme import io, paths, schema
from hearme.progress import bar as progress_bar
from hearme.tibetan import text as T
from hearme.tibetan.ngram import KNTrigram

PAPER_RELATIVE = 0.85
ORDER_PERCENTILE = 1.0   # the order cutoff: this percentile of clean held-out z ...
ORDER_MAX_CUTOFF = 2.33  # ... but never above the z that 1 % of randomly ordered text reaches
ORDER_SHUFFLES = 20
ORDER_MIN_TOKENS = 8     # shorter utterances carry too little order to judge
DEFAULT_FOLDS = 5


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
    han = census.get("han", 0)
    foreign = 1 - tib / letters if letters else 1.0
    syls = T.syllables(text)
    malformed = 1 - sum(map(T.is_well_formed, syls)) / len(syls) if syls else 0.0
    run = _longest_run(syls)
    doubled = sum(a == b for a, b in zip(syls, syls[1:]))
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
    return lm_measure(lm, texts, workers=workers, progress=progress)[0]


def lm_measure(lm: KNTrigram, texts: list[str], *, workers: int = 1, progress: bool = False
               ) -> tuple[np.ndarray, np.ndarray]:
    """(mean log10 p/token, share of tokens the LM has never seen) per text."""
    per = [T.sentences(t) or [t] for t in texts]
    flat = [s for p in per for s in p]
    total, count, oov = lm.score_detail(flat, workers=workers, progress=progress, total=len(flat))
    if not len(flat):
        return np.zeros(0), np.zeros(0)
    ends = np.cumsum([len(p) for p in per])
    starts = ends - np.array([len(p) for p in per])
    tot, cnt, unk = (np.add.reduceat(x, starts) for x in (total, count, oov))
    words = cnt - np.array([len(p) for p in per])  # </s> is not a word
    return tot / np.maximum(cnt, 1), unk / np.maximum(words, 1)


@dataclass
class OrderCheck:
    """The word-order check: keep an utterance whose z (KNTrigram.order_z) is at least the cutoff.

    The cutoff is the `percentile`-th percentile of the z of clean held-out text, scored by an
    LM that never saw it, capped at `max_cutoff`. Shuffled, reversed or randomly drawn syllables
    have z ~ N(0, 1), so 1 % of them pass at 2.33 whatever the held-out text; held-out lines by
    the corpus's own authors score higher than new text, and a stricter cutoff only costs clean
    lines (measured: real dialogue lines reach z 3.6-15 with the default model).
    """

    percentile: float = ORDER_PERCENTILE
    shuffles: int = ORDER_SHUFFLES
    min_tokens: int = ORDER_MIN_TOKENS
    max_cutoff: float = ORDER_MAX_CUTOFF
    cutoff: float | None = None
    reference: dict = field(default_factory=dict)

    def resolve(self, heldout_z: np.ndarray) -> "OrderCheck":
        if not 0 <= self.percentile <= 100:
            raise io.HearMeError(f"--order-percentile must be within 0..100, got {self.percentile}")
        z = np.asarray(heldout_z, dtype=float)
        z = z[~np.isnan(z)]
        if z.size < 20:
            raise io.HearMeError(f"the order check needs at least 20 clean held-out lines of {self.min_tokens}+ "
                                 f"syllables, got {z.size}; give more --heldout text or --no-order")
        pct = float(np.percentile(z, self.percentile))
        self.cutoff = min(pct, self.max_cutoff)
        self.reference = {"heldout_lines": int(z.size), "percentile_z": round(pct, 3), "median": round(float(np.median(z)), 3),
                          "min": round(float(z.min()), 3), "p1": round(float(np.percentile(z, 1)), 3),
                          "p5": round(float(np.percentile(z, 5)), 3),
                          "garbage_pass_rate": round(_normal_tail(self.cutoff), 4)}
        return self

    def scores(self, lm: KNTrigram, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        return lm.order_z(texts, shuffles=self.shuffles, min_tokens=self.min_tokens)

    def describe(self) -> str:
        capped = f", capped at {self.max_cutoff:g}" if self.cutoff < self.reference.get("percentile_z", self.cutoff) else ""
        return (f"percentile {self.percentile:g} of clean held-out z ({self.reference.get('percentile_z', 0):.2f}{capped}) "
                f"-> z >= {self.cutoff:.2f} (shuffled text passes ~{_normal_tail(self.cutoff):.1%}; "
                f"{self.min_tokens}+ syllables)")


def _normal_tail(z: float) -> float:
    """P(N(0, 1) >= z): how often a line whose order is random passes the cutoff."""
    import math

    return 0.5 * math.erfc(z / math.sqrt(2))


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
        workers: int = 1, progress: bool = True, order: OrderCheck | None = None, model: str | None = None) -> dict:
    """Filter `inp` into `out` (+ .rejected.jsonl, .scores.jsonl); returns the report dict.

    With `lm`: unknown-token share always, the absolute score when `threshold` is given, the
    word-order check when `order` (resolved) is given. `model` names the LM in the report."""
    inp, out = Path(inp), Path(out)
    checks = checks or Checks()
    if on_fail not in ("dialogue", "truncate"):
        raise io.HearMeError(f"--on-fail must be dialogue or truncate, got {on_fail!r}")
    items, kind = load_items(inp, checks)
    if not items:
        raise io.InputError(inp, "", "nothing to filter (no records or lines)")
    require_tibetan(inp, items)
    flat = [t for it in items for t in it.texts]
    lm_scores = unknown = order_z = order_gain = None
    if lm is not None:
        lm_scores, unknown = lm_measure(lm, flat, workers=workers, progress=progress)
        if order is not None:
            order_z, order_gain = order.scores(lm, flat)
    cutoff = threshold.cutoff if threshold is not None else None

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
            m, reasons = measure(txt, checks)
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
              "order": None if order is None or lm is None else asdict(order)}
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
                     progress: bool = True, words: bool = True) -> tuple[KNTrigram, Threshold]:
    """The LM (trained on `corpus` or loaded from `lm_path`) and its resolved absolute threshold."""
    lm, threshold, _ = lm_checks(corpus, lm_path, heldout, lm_min, lm_percentile, lm_relative, save_lm,
                                 progress=progress, words=words, order=None)
    assert threshold is not None
    return lm, threshold


def _threshold_mode(lm_min, lm_percentile, lm_relative, default: tuple[str, float] | None):
    modes = [(m, v) for m, v in (("absolute", lm_min), ("percentile", lm_percentile), ("relative", lm_relative))
             if v is not None]
    if len(modes) > 1:
        raise io.HearMeError("give one of --lm-min, --lm-percentile, --lm-relative")
    return modes[0] if modes else default


def with_words(lines: list[str], words: bool = True) -> list[str]:
    """LM training lines: the corpus, plus each word of the shipped list as a line when `words`."""
    return lines + list(T.words()) if words else lines


def lm_checks(corpus=None, lm_path=None, heldout=None, lm_min: float | None = None,
              lm_percentile: float | None = None, lm_relative: float | None = None, save_lm=None, *,
              progress: bool = True, words: bool = True, order: OrderCheck | None = None
              ) -> tuple[KNTrigram, Threshold | None, OrderCheck | None]:
    """A user's LM: trained on `corpus` (plus the shipped word list when `words`) or loaded from
    `lm_path`, with its absolute threshold (default: percentile 1) and, when `order` is given,
    the order check resolved on the same held-out lines. Without `heldout`, every 10th corpus
    line is held out."""
    from hearme.tibetan import ngram

    mode, value = _threshold_mode(lm_min, lm_percentile, lm_relative, ("percentile", 1.0))
    if (corpus is None) == (lm_path is None):
        raise io.HearMeError("give --corpus (monolingual Tibetan text to train the LM) or --lm (a trained model); "
                             "without either the shipped default model is used")
    held = ngram.read_corpus(heldout) if heldout else None
    if corpus is not None:
        lines = ngram.read_corpus(corpus)
        if held is None and (mode != "absolute" or order is not None):
            lines, held = heldout_split(lines)
        lm = ngram.KNTrigram.fit(with_words(lines, words), progress=progress)
        if save_lm:
            lm.save(save_lm)
    else:
        lm = ngram.KNTrigram.load(lm_path)
        if order is not None and held is None:
            raise io.HearMeError("the order check needs clean held-out text the model never saw: give --heldout "
                                 "with --lm, or --no-order")
    threshold = Threshold(mode, float(value)).resolve(lm_score(lm, held) if held else None)
    if order is not None:
        order.resolve(order.scores(lm, held)[0])
    return lm, threshold, order


# ---------------------------------------------------------------- the shipped default

BUNDLED = [paths.DATA / "samples" / "tibetan" / n for n in ("corpus_bo.txt", "heldout_bo.txt")]


@dataclass
class DefaultModel:
    lm: KNTrigram
    order: OrderCheck
    heldout_lm: np.ndarray     # cross-fitted scores of the bundled lines (for --lm-percentile and friends)
    lines: int
    words: int
    seconds: float

    def describe(self) -> str:
        return (f"default model: syllable-trigram KN LM on the {self.lines} bundled Tibetan lines + {self.words} words "
                f"of bo_words.txt (from bospell, MIT), built in {self.seconds:.1f} s")


def default_model(percentile: float = ORDER_PERCENTILE, shuffles: int = ORDER_SHUFFLES,
                  min_tokens: int = ORDER_MIN_TOKENS) -> DefaultModel:
    """The shipped default model (built once per process and setting; see _default_model)."""
    return _default_model(float(percentile), int(shuffles), int(min_tokens))


@functools.lru_cache(maxsize=4)
def _default_model(percentile: float, shuffles: int, min_tokens: int) -> DefaultModel:
    """The model `hearme tibetan filter` uses without LM flags, rebuilt from shipped files (deterministic).

    The LM trains on the bundled lines (data/samples/tibetan, our own writing) plus every word of
    the shipped word list as its own sentence (within-word syllable order). The order cutoff is
    the percentile of z over the bundled lines, each scored by an LM trained without its fold
    (5-fold cross-fitting), so the calibration text is held out but the final LM sees all of it.
    """
    from hearme.tibetan import ngram

    t0 = time.time()
    lines = [ln for p in BUNDLED for ln in ngram.read_corpus(p)]
    vocab = list(T.words())
    fold = np.arange(len(lines)) % DEFAULT_FOLDS
    z, lm_held = np.empty(len(lines)), np.empty(len(lines))
    order = OrderCheck(percentile, shuffles, min_tokens)
    for f in range(DEFAULT_FOLDS):
        lm_f = ngram.KNTrigram.fit(vocab + [ln for ln, g in zip(lines, fold) if g != f])
        held = [ln for ln, g in zip(lines, fold) if g == f]
        z[fold == f] = order.scores(lm_f, held)[0]
        lm_held[fold == f] = lm_score(lm_f, held)
    order.resolve(z)
    lm = ngram.KNTrigram.fit(vocab + lines)
    return DefaultModel(lm, order, lm_held, len(lines), len(vocab), time.time() - t0)


def default_checks(lm_min: float | None = None, lm_percentile: float | None = None, lm_relative: float | None = None,
                   *, order: bool = True, percentile: float = ORDER_PERCENTILE, shuffles: int = ORDER_SHUFFLES
                   ) -> tuple[DefaultModel, Threshold | None, OrderCheck | None]:
    """The default model with an optional absolute threshold (resolved on its cross-fitted scores)."""
    dm = default_model(percentile, shuffles)
    mode = _threshold_mode(lm_min, lm_percentile, lm_relative, None)
    threshold = Threshold(mode[0], float(mode[1])).resolve(dm.heldout_lm) if mode else None
    return dm, threshold, (dm.order if order else None)
