"""Convert + scrub + dedup + split of the real upstream releases, against a plain json.load.

Inputs (your own clones; nothing of them is bundled): all CPsyCounD dialogues (3,084 .txt),
EmoLLM datasets/data.json, aiwei.json, tiangou.json, and all SMILE dialogues (55,165 .json):
about 62,800 dialogues. Goal (issue 23): the whole pipeline in <= 2x the baseline's wall time, the
median of --repeat runs of both, back to back. The pipeline here includes writing the split parts;
the figure for the issue's four stages alone (convert + scrub + dedup + split) is printed too.

Baseline, measured in the same run on the same files: reading every file (json.load for .json,
a plain read for CPsyCounD's .txt). Wall and CPU seconds (this process + its workers) are
printed for each stage, because other processes may share the cores. The page cache is warmed
first so that neither side pays for the disk. Then the "done when" figures of issue 10: inline
speaker labels, narrator parentheticals, duplicate ids, dedup removals under the threshold,
the split's leak check, and PII per 1,000 dialogues. Last, how much a second process gains on
this machine: two identical conversions at once against one alone (--no-scaling skips it).

    .venv/bin/python benchmarks/bench_converters.py [--root ../upstream] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path


def _find(root: Path, *candidates: str) -> Path:
    for c in candidates:
        if (root / c).exists():
            return root / c
    raise SystemExit(f"not found under {root}: {' or '.join(candidates)} (give --root, the folder of your clones)")


def inputs(root: Path) -> dict[str, list[Path]]:
    emo = _find(root, "SmartFlowAI+EmoLLM/datasets", "EmoLLM/datasets")
    return {"cpsycound": [_find(root, "CAS-SIAT-XinHai+CPsyCoun/CPsyCounD/Data", "CPsyCoun/CPsyCounD/Data")],
            "emollm": [emo / "data.json", emo / "aiwei.json", emo / "tiangou.json"],
            "smile": [_find(root, "qiuhuachuan+smile/data", "smile/data")]}


def _files(paths: list[Path]) -> list[Path]:
    out = []
    for p in paths:
        out.extend(sorted(f for f in p.iterdir() if f.is_file()) if p.is_dir() else [p])
    return out


def _cpu() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class Clock:
    def __init__(self):
        self.rows: list[tuple[str, float, float]] = []

    def __call__(self, name: str):
        clock = self

        class _Stage:
            def __enter__(self):
                self.t, self.c = time.perf_counter(), _cpu()

            def __exit__(self, *exc):
                clock.rows.append((name, time.perf_counter() - self.t, _cpu() - self.c))
        return _Stage()


def baseline(files: list[Path]) -> None:
    for f in files:
        with open(f, encoding="utf-8-sig") as fh:
            if f.suffix == ".json":
                json.load(fh)
            else:
                fh.read()


def datasketch_baseline(records: list[dict], sample: int) -> float:
    """Seconds that datasketch's MinHash + MinHashLSH (the usual way) would take on all records,
    measured on a random sample with the same shingles and threshold, scaled linearly."""
    import random

    from datasketch import MinHash, MinHashLSH

    from hearme.converters.dedup import dialogue_text, normalize

    chosen = random.Random(1).sample(records, min(sample, len(records)))
    t = time.perf_counter()
    lsh = MinHashLSH(threshold=0.8, num_perm=32)
    for i, rec in enumerate(chosen):
        norm = normalize(dialogue_text(rec))
        m = MinHash(num_perm=32)
        m.update_batch([norm[j:j + 5].encode() for j in range(max(1, len(norm) - 4))])
        lsh.query(m)
        lsh.insert(str(i), m)
    return (time.perf_counter() - t) * len(records) / len(chosen)


def two_process_scaling(files: list[Path], share: int = 4) -> tuple[float, list[float]]:
    """How much two processes gain on this machine: the wall seconds of one conversion of every
    share-th SMILE file alone, and of two identical ones at the same time (forked, one process each).
    The pipeline's second process can gain at most what the second of these shows."""
    from hearme.converters import run_with_corpus

    sample = files[::share]

    def at_once(n: int) -> list[float]:
        running = []
        for _ in range(n):
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(r)
                t = time.perf_counter()
                run_with_corpus("smile", sample, scrub=True, workers=1)
                os.write(w, repr(time.perf_counter() - t).encode())
                os._exit(0)
            os.close(w)
            running.append((pid, r))
        out = []
        for pid, r in running:
            with os.fdopen(r) as fh:
                out.append(float(fh.read() or "nan"))
            os.waitpid(pid, 0)
        return out

    return at_once(1)[0], at_once(2)


def _in_child(fn):
    """fn() in a forked process, its (picklable) result returned here; its exception raised here."""
    import pickle

    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            out = pickle.dumps((True, fn()))
        except BaseException as e:  # noqa: BLE001 - raised again in the parent
            out = pickle.dumps((False, RuntimeError(f"{type(e).__name__}: {e}")))
        with os.fdopen(w, "wb") as fh:
            fh.write(out)
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        data = fh.read()
    os.waitpid(pid, 0)
    ok, value = pickle.loads(data)
    if not ok:
        raise value
    return value


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", type=Path, default=Path(__file__).resolve().parents[2] / "upstream",
                    help="folder holding the CPsyCoun, EmoLLM and smile clones")
    ap.add_argument("--workers", type=int, default=None, help="conversion processes [default: 2 if a core is free, else 1]")
    ap.add_argument("--keep", type=Path, default=None, help="keep the split parts here")
    ap.add_argument("--repeat", type=int, default=3, help="runs of baseline + pipeline; the median ratio is reported")
    ap.add_argument("--baseline-sample", type=int, default=2000, help="records the datasketch baseline runs on")
    ap.add_argument("--no-scaling", action="store_true", help="skip the two-process scaling check at the end")
    args = ap.parse_args()

    from hearme.core import io
    from hearme.converters import run_with_corpus
    from hearme.converters.common import INLINE_LABEL, _PAREN, _parenthetical
    from hearme.converters.dedup import Corpus, dedup
    from hearme.converters.split import split_records

    sources = inputs(args.root)
    files = _files([p for ps in sources.values() for p in ps])
    for f in files:  # warm the page cache (not timed)
        f.read_bytes()
    print(f"{len(files)} files, {sum(f.stat().st_size for f in files) / 1e6:.0f} MB; machine load "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")

    def one_run():
        """Baseline and pipeline back to back, so that both meet the same load."""
        clock = Clock()
        with clock("baseline: json.load every file"):
            baseline(files)
        base_wall, base_cpu = clock.rows[-1][1:]
        out_dir = args.keep or Path(tempfile.mkdtemp(prefix="hearme-bench-"))
        t0, c0 = time.perf_counter(), _cpu()
        with clock("convert + scrub, all sources"):
            # the workers also normalise the text and compute MinHash signatures (dedup.Corpus)
            results = [run_with_corpus(fmt, ps, scrub=True, workers=args.workers) for fmt, ps in sources.items()]
        records = [r for recs, _, _ in results for r in recs]
        stats: dict = {}
        with clock("dedup (exact + near, verified)"):
            corpus = Corpus.concat([c for _, _, c in results])  # shared with the split
            kept, removals = dedup(records, stats=stats, corpus=corpus)
        report: dict = {}
        with clock("split 70/15/15 (grouped)"):
            parts = split_records(kept, ratios="70/15/15", seed=42, report=report,
                                  corpus=corpus.subset(stats["kept_index"]))
        four_wall = time.perf_counter() - t0  # the four stages: convert + scrub + dedup + split
        with clock("write the three parts"):
            io.write_records_many([(out_dir / f"bench_{name}.json", recs) for name, recs in parts.items()],
                                  encoded=corpus.encoded)  # the rows made in the conversion
        total_wall, total_cpu = time.perf_counter() - t0, _cpu() - c0
        if args.keep is None:
            shutil.rmtree(out_dir, ignore_errors=True)
        timing = (clock, base_wall, base_cpu, total_wall, total_cpu, four_wall)
        tallies = {fmt: tally for fmt, (_, tally, _) in zip(sources, results)}
        return timing, (records, tallies, stats, removals, report)

    # Warm-up, not timed: imports and the scrub's and dedup's lookup tables, on a few files.
    for fmt, ps in sources.items():
        run_with_corpus(fmt, _files(ps)[:20], scrub=True, workers=1)
    runs = []
    for rep in range(args.repeat):
        # Every run but the last in a fresh forked process, as one command would run: in one process,
        # a run after another finds the heap the first left, and its forked worker makes this
        # process pay copy-on-write for it (measured: the conversion 0.5 s slower from the 2nd run on).
        last = rep == args.repeat - 1
        if last:
            timing, kept_for_figures = one_run()
        else:
            timing = _in_child(lambda: one_run()[0])
        runs.append(timing)
        clock, base_wall, base_cpu, total_wall, total_cpu, four_wall = timing
        print(f"run {rep + 1}/{args.repeat}: pipeline {total_wall:.2f}s wall {total_cpu:.2f}s cpu, json.load "
              f"{base_wall:.2f}s wall {base_cpu:.2f}s cpu -> {total_wall / base_wall:.2f}x wall "
              f"({four_wall / base_wall:.2f}x before the write), "
              f"{total_cpu / base_cpu:.2f}x cpu (load {os.getloadavg()[0]:.1f})", flush=True)
    records, tallies, stats, removals, report = kept_for_figures
    clock, base_wall, base_cpu, total_wall, total_cpu, _ = sorted(runs, key=lambda r: r[3] / r[1])[len(runs) // 2]
    dedup_wall = next(w for n, w, _ in clock.rows if n.startswith("dedup"))
    base_dedup = datasketch_baseline(records, args.baseline_sample)

    from hearme.converters.convert import default_workers

    used = args.workers or default_workers(len(_files(sources["smile"])))
    print(f"\nconversion processes for the big folders: {used}"
          + ("" if args.workers else " (2 when the load leaves a core free; --workers sets it)"))
    print(f"\nthe median run of {len(runs)} (by wall ratio):")
    print(f"{'stage':38s} {'wall':>7s} {'cpu':>7s}")
    for name, wall, cpu in clock.rows:
        print(f"{name:38s} {wall:6.2f}s {cpu:6.2f}s")
    print(f"{'pipeline total':38s} {total_wall:6.2f}s {total_cpu:6.2f}s   cpu/2 = {total_cpu / 2:.2f}s")
    walls = sorted(r[3] / r[1] for r in runs)
    cpus = sorted(r[4] / r[2] for r in runs)
    print(f"ratio to the json.load baseline, median of {len(runs)}: wall {walls[len(runs) // 2]:.2f}x "
          f"(runs {', '.join(f'{x:.2f}' for x in walls)}), cpu {cpus[len(runs) // 2]:.2f}x; goal: wall <= 2x")
    fours = sorted(r[5] / r[1] for r in runs)
    print(f"the issue's four stages alone (convert + scrub + dedup + split, the write left out), median of "
          f"{len(runs)}: wall {fours[len(runs) // 2]:.2f}x (runs {', '.join(f'{x:.2f}' for x in fours)})")
    print(f"this run: wall {total_wall / base_wall:.2f}x, cpu {total_cpu / base_cpu:.2f}x "
          f"(wall much above cpu/2 means the cores were shared); machine load now {os.getloadavg()[0]:.1f}")

    print("\nper source:")
    for fmt, t in tallies.items():
        notes = {k: v for k, v in t.notes.items() if not k.startswith(("encoding", "pii"))}
        print(f"  {fmt:10s} {t.summary()}  {json.dumps(notes, ensure_ascii=False)}")
    labels = sum(any(INLINE_LABEL.search(m["content"]) for m in r["messages"]) for r in records)
    narr = sum(1 for r in records for m in r["messages"] for p in _PAREN.finditer(m["content"])
               if len(p.group(1)) >= 40 and _parenthetical(p, None, r["source"] == "CPsyCounD") == "")
    asides = sum(1 for r in records for m in r["messages"] for p in _PAREN.finditer(m["content"]) if len(p.group(1)) >= 40)
    ids = Counter(r["id"] for r in records)
    print(f"\ndone-when figures on {len(records)} dialogues:")
    print(f"  records with a speaker label inside a message: {labels}")
    print(f"  narrator parentheticals of 40+ characters left: {narr} "
          f"(spoken asides of 40+ characters kept: {asides})")
    print(f"  duplicate ids: {sum(n - 1 for n in ids.values() if n > 1)}")
    print(f"  dedup speed: {dedup_wall:.2f} s (signatures made in the conversion stage) vs datasketch per-record "
          f"MinHash + LSH ~{base_dedup:.1f} s (a {args.baseline_sample}-record sample, scaled) -> "
          f"{base_dedup / dedup_wall:.0f}x")
    print(f"  dedup: {len(removals)} removed ({stats['removed_near']} near), {stats['candidates_checked']} "
          f"candidate pairs checked exactly, {stats['candidates_below_threshold']} of them under 0.8 and kept; "
          f"removals under the threshold: {stats['removed_below_threshold']}")
    print(f"  split: {report['records']} records in {report['groups']} groups "
          f"(joined {json.dumps(report['joined'], ensure_ascii=False)}), largest group {report['largest_group']}; "
          f"stratified {report['stratified']}")
    print("  leak check, cross-part pairs: " + ", ".join(f"{k}: {v}" for k, v in report["leaks"].items()))
    pii = Counter()
    for t in tallies.values():
        pii.update({k[4:]: v for k, v in t.notes.items() if k.startswith("pii ")})
    print("  PII scrubbed per 1,000 dialogues: " + ", ".join(
        f"{k} {1000 * v / len(records):.2f}" for k, v in sorted(pii.items())))

    if not args.no_scaling:
        alone, pair = two_process_scaling(_files(sources["smile"]))
        gain = 2 * alone / (sum(pair) / 2)
        print(f"\ntwo-process scaling (a quarter of SMILE converted by one process, then by two at once): alone "
              f"{alone:.2f}s, together {pair[0]:.2f}s and {pair[1]:.2f}s -> each {sum(pair) / 2 / alone:.2f}x slower; "
              f"two processes do {gain:.2f}x the work of one on this machine (2.00 would be perfect)")


if __name__ == "__main__":
    main()
