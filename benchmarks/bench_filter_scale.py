"""`tibetan_filter_table.py --scale N`: the shipped filter at the paper's scale, against --no-order.

The corpus: dialogue-like lines of 2-4 of our bundled utterances joined in a random order (the
paper's utterances average 57.5 syllables), 15 % of them broken into one garbage class of
hearme.tibetan.garbage. Deterministic. Both settings run the real CLI in the same run.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import tempfile
from pathlib import Path

from hearme.tibetan import garbage as G
from hearme.tibetan import text as T

GARBAGE_SHARE = 0.15


def corpus(n_syllables: float, seed: int = 0) -> tuple[list[str], list[str]]:
    """(lines, class of each line) with about `n_syllables` syllables."""
    import tibetan_filter_table as TT

    rng = random.Random(seed)
    base = TT.ours()
    vocab = sorted({s for ln in base for s in T.syllables(ln)})
    broken = {"shuffled": G.shuffled, "reversed": G.reversed_order,
              "random": lambda ln, r: G.random_syllables(ln, r, vocab), "stutter": G.stutter,
              "chinese word": G.chinese_word, "chinese clause": G.chinese_clause, "other script": G.other_script}
    names = sorted(broken)
    lines, labels, n = [], [], 0
    while n < n_syllables:
        u = " ".join(rng.sample(base, rng.randint(2, 4)))
        cls = "clean"
        if rng.random() < GARBAGE_SHARE:
            cls = rng.choice(names)
            u = broken[cls](u, rng)
        lines.append(u)
        labels.append(cls)
        n += len(T.syllables(u))
    return lines, labels


def _child_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def scale(n: float, repeats: int, decisions: Path | None, expect: Path | None, run_filter) -> None:
    lines, labels = corpus(n)
    syl = sum(len(T.syllables(x)) for x in lines)
    print(f"corpus: {len(lines):,} lines, {syl / 1e6:.2f} M syllables ({syl / len(lines):.1f} per line), "
          f"{sum(c != 'clean' for c in labels):,} broken; {os.cpu_count()} cores")
    times: dict[str, list[float]] = {"shipped": [], "--no-order": []}
    cpu: dict[str, list[float]] = {"shipped": [], "--no-order": []}
    verdicts = None
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(repeats):
            for name, flags in (("shipped", ()), ("--no-order", ("--no-order",))):
                before = _child_cpu()
                rejected, secs, _ = run_filter(lines, Path(tmp), *flags)
                times[name].append(secs)
                cpu[name].append(_child_cpu() - before)
                if name == "shipped" and verdicts is None:
                    verdicts = ["rejected" if i in rejected else "kept" for i in range(1, len(lines) + 1)]
            print(f"  run {r + 1}: shipped {times['shipped'][-1]:.1f} s, --no-order {times['--no-order'][-1]:.1f} s, "
                  f"ratio {times['shipped'][-1] / times['--no-order'][-1]:.2f}x (CPU {cpu['shipped'][-1]:.1f} s vs "
                  f"{cpu['--no-order'][-1]:.1f} s, {cpu['shipped'][-1] / cpu['--no-order'][-1]:.2f}x; load average "
                  f"{os.getloadavg()[0]:.1f})")
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"shipped filter: median {med['shipped']:.1f} s = {len(lines) / med['shipped']:,.0f} lines/s, "
          f"{syl / med['shipped'] / 1e6:.2f} M syllables/s (target <= 90 s at 36 M syllables)")
    print(f"order check: median ratio {med['shipped'] / med['--no-order']:.2f}x the filter without it "
          f"({med['--no-order']:.1f} s; target <= 1.5x); CPU seconds (all processes) "
          f"{statistics.median(cpu['shipped']):.1f} vs {statistics.median(cpu['--no-order']):.1f}")
    by = {}
    for v, c in zip(verdicts, labels):
        by.setdefault(c, [0, 0])[v == "rejected"] += 1
    print("  " + "; ".join(f"{c}: {k + r} lines, {r / (k + r):.1%} rejected" for c, (k, r) in sorted(by.items())))
    if decisions:
        decisions.write_text(json.dumps(verdicts))
    if expect:
        old = json.loads(expect.read_text())
        diff = [i for i, (a, b) in enumerate(zip(old, verdicts), 1) if a != b]
        same = len(old) == len(verdicts) and not diff
        print(f"decisions vs {expect}: {'IDENTICAL' if same else 'DIFFERENT'} ({len(diff)} of {len(verdicts)} lines differ"
              + (f"; first: {diff[:10]}" if diff else "") + ")")
