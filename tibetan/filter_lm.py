"""The filter's language-model side: the syllable-trigram LM score, the word-order check (an utterance must
score far better than shuffles of its own syllables), the LM threshold (absolute, percentile or the
paper's relative rule) measured on held-out lines, and the shipped default model (the bundled Tibetan
lines plus the bo_words.txt word list)."""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass, field

import numpy as np

from hearme.core import io, paths
from hearme.tibetan import text as T
from hearme.tibetan.ngram import KNTrigram


PAPER_RELATIVE = 0.85
ORDER_PERCENTILE = 1.0   # the order cutoff: this percentile of clean held-out z ...
ORDER_MAX_CUTOFF = 2.33  # ... but never above the z that 1 % of randomly ordered text reaches
ORDER_SHUFFLES = 20
ORDER_MIN_TOKENS = 8     # shorter utterances carry too little order to judge
DEFAULT_FOLDS = 5


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
    """The word-order check: keep an utterance whose z (hearme.tibetan.order) is at least the cutoff.

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
    skip_settled: bool = True  # no shuffles for an utterance another check already rejects (z: null)

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
        from hearme.tibetan.order import order_z

        return order_z(lm, texts, shuffles=self.shuffles, min_tokens=self.min_tokens)

    def describe(self) -> str:
        capped = f", capped at {self.max_cutoff:g}" if self.cutoff < self.reference.get("percentile_z", self.cutoff) else ""
        return (f"percentile {self.percentile:g} of clean held-out z ({self.reference.get('percentile_z', 0):.2f}{capped}) "
                f"-> z >= {self.cutoff:.2f} (shuffled text passes ~{_normal_tail(self.cutoff):.1%}; "
                f"{self.min_tokens}+ syllables)")


def _normal_tail(z: float) -> float:
    """P(N(0, 1) >= z): how often a line whose order is random passes the cutoff."""
    import math

    return 0.5 * math.erfc(z / math.sqrt(2))


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
