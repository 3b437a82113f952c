"""What `hearme tibetan filter` keeps and rejects as shipped (no LM flags), per class of line.

    .venv/bin/python benchmarks/tibetan_filter_table.py [--real README.md] [--paper SEED.txt] [--per-line 5]
    .venv/bin/python benchmarks/tibetan_filter_table.py --scale 36e6 [--repeats 3] [--decisions F | --expect F]

Sources, each measured on its own:
- real: the Tibetan dialogue lines of the Tibetan paper's released README (Shajiu/LLM,
  Tibetan_Mental_Health_Chat), read at run time from --real and never copied (skipped when absent);
- ours: the utterances of data/samples/firefly/tibetan_dialogues.jsonl (our own writing, not in
  the default model's training lines);
- garbage built from each (hearme.tibetan.garbage: shuffled, reversed, random syllables of the
  same vocabulary, stutters, a Chinese word, a Chinese clause, other scripts) and the paper's
  Figure 3 lines, read from --paper at run time (skipped when absent).

Nothing here was tuned on: the thresholds come from the shipped held-out lines. Runs the real
CLI twice per source (default and --no-lm) and prints the time ratio of the two; --speed N
also times the order check against plain LM scoring on N utterances of ~57 syllables (the
paper's mean), in the same run.

--scale N builds N syllables of dialogue-like lines (2-4 of our bundled utterances joined in a
random order, ~55 syllables each like the paper's 57.5; 15 % of them broken into one of the
garbage classes) and times the shipped filter (no LM flags) against the same filter with
--no-order, in the same run, `--repeats` times; it prints both times, the ratio and the rates.
--decisions F writes the kept/rejected verdict per line, --expect F compares with one written
before (the decision-equality check of a change to the filter).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hearme.core import io, paths  # noqa: E402
from hearme.tibetan import garbage  # noqa: E402
from hearme.tibetan import text as T  # noqa: E402

REAL = Path("/work/upstream/Shajiu+LLM/Tibetan_Mental_Health_Chat/README.md")
PAPER = Path("/work/shared/seeds/000_7aa1fa54340ac4b0.txt")
HEARME = [sys.executable, "-m", "hearme.cli"]  # the CLI of the interpreter running this script


def real_lines(path: Path) -> list[str]:
    """The `"human"` / `"assistant"` values of the README's JSON example that are Tibetan."""
    text = path.read_text(encoding="utf-8")
    vals = [m.group(1) for m in re.finditer(r'"(?:human|assistant)"\s*:\s*"([^"]*)"', text)]
    return [v for v in vals if T.tibetan_share(v) > 0.9]


def figure3_lines(path: Path) -> list[str]:
    """The Q:/A: lines before the "Figure 3" caption, without the Chinese glosses in brackets."""
    lines = path.read_text(encoding="utf-8").splitlines()
    end = next(i for i, ln in enumerate(lines) if ln.startswith("Figure 3"))
    out = []
    for ln in lines[max(0, end - 20):end]:
        m = re.match(r"^[QA]:\s*(.*)$", ln.strip())
        if m:
            body = re.sub(r"\s*[(（][^()（）]*[)）]\s*$", "", m.group(1)).strip()
            census = T.script_census(body)
            if body and census.get("han", 0) < sum(census.values()) / 2:  # the question in Chinese is not garbage
                out.append(body)
    return out


def ours() -> list[str]:
    recs = [json.loads(x) for x in (paths.DATA / "samples" / "firefly" / "tibetan_dialogues.jsonl")
            .read_text(encoding="utf-8").splitlines() if x.strip()]
    return [t[k] for r in recs for t in r["conversation"] for k in ("human", "assistant")]


def run_filter(lines: list[str], work: Path, *flags: str) -> tuple[dict[int, str], float, str]:
    """{line number: reason} of the rejected lines, seconds, and the CLI's output."""
    inp, out = work / "in.txt", work / "out.txt"
    io.write_text(inp, "".join(ln.replace("\n", " ") + "\n" for ln in lines))
    t0 = time.perf_counter()
    p = subprocess.run([*HEARME, "tibetan", "filter", str(inp), "-o", str(out), *flags],
                       capture_output=True, text=True)
    secs = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"filter failed: {p.stderr}")
    rejected = {}
    rp = io.rejected_path(out)
    if rp.exists():
        for x in rp.read_text(encoding="utf-8").splitlines():
            r = json.loads(x)
            rejected[int(r["position"].split()[-1])] = r["reason"]
    return rejected, secs, p.stdout


def checks_of(reason: str) -> list[str]:
    body = reason.split(":", 1)[1] if reason.startswith("line:") else reason
    return sorted({part.strip().split(":", 1)[0] for part in body.split(";")})


def table(name: str, classes: dict[str, list[str]], work: Path) -> tuple[list[str], float, float]:
    lines, labels = [], []
    for cls, ls in classes.items():
        lines += ls
        labels += [cls] * len(ls)
    rejected, secs, stdout = run_filter(lines, work)
    _, secs_cheap, _ = run_filter(lines, work, "--no-lm")
    rows = [f"| {name}: class | lines | kept | rejected | rejected by (checks that fired) |", "|---|---|---|---|---|"]
    for cls in classes:
        idx = [i for i, lab in enumerate(labels, 1) if lab == cls]
        rej = [i for i in idx if i in rejected]
        by = Counter(c for i in rej for c in checks_of(rejected[i]))
        share = len(rej) / len(idx) if idx else 0
        kept_share = 1 - share
        rows.append(f"| {cls} | {len(idx)} | {kept_share:.0%} | {share:.0%} | "
                    + (", ".join(f"{c} {n}" for c, n in by.most_common()) or "-") + " |")
    first = stdout.splitlines()[:2]
    return rows + [""] + [f"    {x}" for x in first], secs, secs_cheap


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--real", type=Path, default=REAL, help="README.md with the released Tibetan dialogue")
    ap.add_argument("--paper", type=Path, default=PAPER, help="the Tibetan paper as text (for its Figure 3)")
    ap.add_argument("--per-line", type=int, default=5, help="variants per line for the random classes")
    ap.add_argument("--speed", type=int, default=0, help="also time the order check on this many utterances")
    ap.add_argument("--scale", type=float, default=0, help="time the shipped filter on this many syllables instead")
    ap.add_argument("--repeats", type=int, default=1, help="with --scale: timed runs of each setting")
    ap.add_argument("--decisions", type=Path, help="with --scale: write each line's verdict here")
    ap.add_argument("--expect", type=Path, help="with --scale: compare the verdicts with this file")
    a = ap.parse_args()
    if a.scale:
        from bench_filter_scale import scale

        return scale(a.scale, a.repeats, a.decisions, a.expect, run_filter)
    fig3 = figure3_lines(a.paper) if a.paper.exists() else []
    sources = {"ours (bundled dialogues)": ours()}
    if a.real.exists():
        sources["real (paper's released dialogue)"] = real_lines(a.real)
    else:
        print(f"(skipping real lines: {a.real} not found)")
    with tempfile.TemporaryDirectory() as tmp:
        for name, clean in sources.items():
            classes = {"clean": clean, **garbage.build(clean, per_line=a.per_line)}
            if fig3:
                classes["paper Figure 3"] = fig3
            rows, secs, cheap = table(name, classes, Path(tmp))
            print("\n".join(rows))
            print(f"    time: default {secs:.1f} s, --no-lm {cheap:.1f} s (ratio {secs / cheap:.2f}x; "
                  f"includes building the default model)\n")
    if a.speed:
        speed(a.speed)


def speed(n: int) -> None:
    import random

    from hearme.tibetan import filter_lm as FL
    from hearme.tibetan import ngram

    dm = FL.default_model()
    lines = [ln for p in FL.BUNDLED for ln in ngram.read_corpus(p)]
    rng = random.Random(0)
    utts = [" ".join(rng.sample(lines, 5)) for _ in range(n)]
    syl = sum(len(T.syllables(u)) for u in utts)
    t0 = time.perf_counter()
    FL.lm_score(dm.lm, utts)
    t1 = time.perf_counter()
    dm.order.scores(dm.lm, utts)
    t2 = time.perf_counter()
    print(f"speed, {n} utterances, {syl} syllables: LM score {t1 - t0:.2f} s ({syl / (t1 - t0) / 1e6:.2f} M syl/s); "
          f"order check ({dm.order.shuffles} shuffles) {t2 - t1:.2f} s ({syl / (t2 - t1) / 1e3:.0f} k syl/s); "
          f"ratio {(t2 - t1) / (t1 - t0):.1f}x")


if __name__ == "__main__":
    main()
