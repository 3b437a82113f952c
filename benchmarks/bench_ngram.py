"""Benchmark: the syllable-trigram modified-KN LM at the paper's scale.

Trains on 10 M syllables and scores 36 M syllables (50k dialogues x 6.35 turns x 2 x 57.5
syllables) of a synthetic Zipfian Tibetan-like corpus; target <= 60 s. In the same run:
  - nltk's KneserNeyInterpolated on a small slice (the baseline: ~94 trigrams/s measured),
  - agreement with the independent slow reference (tests/kn_reference.py) within 1e-6.

    .venv/bin/python benchmarks/bench_ngram.py [--train 10e6] [--score 36e6] [--repeats 3] [--workers 1] [--diverse]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from hearme.tibetan import ngram, synth  # noqa: E402


def count_syllables(lines: list[str]) -> int:
    return sum(line.count("\u0f0b") + 1 for line in lines)


def bench_ours(train: list[str], test: list[str], workers: int) -> dict:
    t0 = time.perf_counter()
    lm = ngram.KNTrigram.fit(train)
    t1 = time.perf_counter()
    scores = lm.score(test, workers=workers)
    t2 = time.perf_counter()
    return {"fit": t1 - t0, "score": t2 - t1, "total": t2 - t0, "lm": lm, "mean": float(scores.mean())}


def bench_nltk(train: list[str], test: list[str], budget_s: float) -> dict:
    from nltk.lm import KneserNeyInterpolated
    from nltk.lm.preprocessing import padded_everygram_pipeline, pad_both_ends
    from nltk.util import ngrams

    sents = [ngram.lm_tokens(s) for s in train]
    t0 = time.perf_counter()
    model = KneserNeyInterpolated(3)
    data, vocab = padded_everygram_pipeline(3, sents)
    model.fit(data, vocab)
    fit = time.perf_counter() - t0
    done, t0 = 0, time.perf_counter()
    for s in test:
        for g in ngrams(pad_both_ends(ngram.lm_tokens(s), n=3), 3):
            model.logscore(g[-1], g[:-1])
            done += 1
        if time.perf_counter() - t0 > budget_s:
            break
    el = time.perf_counter() - t0
    return {"fit": fit, "trigrams": done, "seconds": el, "rate": done / el}


def check_reference(n_train: int = 20000, n_test: int = 300) -> float:
    from tests.kn_reference import ReferenceKN

    g = synth.Generator(n_syllables=400, n_words=600, seed=7)
    train, test = g.lines(n_train, 3, 20), g.lines(n_test * 12, 3, 20)[:n_test]
    ours = ngram.KNTrigram.fit(train).score(test)
    ref = ReferenceKN([ngram.lm_tokens(t) for t in train])
    slow = np.array([ref.mean_logprob(ngram.lm_tokens(t)) for t in test])
    return float(np.abs(ours - slow).max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--train", type=float, default=10e6, help="training syllables")
    ap.add_argument("--score", type=float, default=36e6, help="syllables to score")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=1, help="processes for scoring")
    ap.add_argument("--nltk-train", type=int, default=200_000, help="syllables nltk trains on")
    ap.add_argument("--nltk-seconds", type=float, default=5.0, help="time budget for nltk scoring")
    ap.add_argument("--diverse", action="store_true",
                    help="a harder corpus: 12k syllable types, 60k words, weaker word chains (more n-gram types)")
    a = ap.parse_args()

    t0 = time.perf_counter()
    gen = synth.Generator(n_syllables=12000, n_words=60000, seed=0, follow_p=0.3) if a.diverse else \
        synth.Generator(seed=0, n_words=20000, follow_p=0.5)
    train = gen.lines(int(a.train))
    test = gen.lines(int(a.score))
    n_train, n_test = count_syllables(train), count_syllables(test)
    print(f"corpus: train {n_train / 1e6:.2f} M syllables ({len(train)} lines), score {n_test / 1e6:.2f} M "
          f"syllables ({len(test)} lines); generated in {time.perf_counter() - t0:.1f} s (not timed below)")

    runs = []
    for r in range(a.repeats):
        res = bench_ours(train, test, a.workers)
        runs.append(res)
        print(f"  run {r + 1}: fit {res['fit']:.1f} s + score {res['score']:.1f} s = {res['total']:.1f} s "
              f"(PPL {10 ** -res['mean']:.2f})")
    totals = [x["total"] for x in runs]
    best = min(runs, key=lambda x: x["total"])
    m = best["lm"].meta
    print(f"model: vocabulary {m['vocab']}, {m['bigrams']} bigrams, {m['trigrams']} trigrams, "
          f"discounts {m['discounts']}")
    print(f"ours: best {min(totals):.1f} s, median {statistics.median(totals):.1f} s, spread "
          f"{max(totals) - min(totals):.1f} s over {len(totals)} runs (target <= 60 s, workers={a.workers}); "
          f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    ours_rate = (n_test + 2 * len(test)) / best["score"]  # predictions: every syllable, the final shad, </s>
    nl = bench_nltk(train[: max(1, int(len(train) * a.nltk_train / n_train))], test, a.nltk_seconds)
    print(f"nltk KneserNeyInterpolated (trained on {a.nltk_train / 1e3:.0f} k syllables): fit {nl['fit']:.1f} s, "
          f"{nl['trigrams']} trigrams in {nl['seconds']:.1f} s = {nl['rate']:.0f} trigrams/s")
    print(f"ours scores {ours_rate / 1e6:.2f} M trigrams/s with a 10 M-syllable model: "
          f"{ours_rate / nl['rate']:,.0f}x nltk's rate on a model 50x smaller")
    diff = check_reference()
    print(f"agreement with the independent reference (tests/kn_reference.py): max |diff| = {diff:.2e} "
          f"log10/token ({'OK' if diff < 1e-6 else 'FAIL'}, limit 1e-6)")


if __name__ == "__main__":
    main()
