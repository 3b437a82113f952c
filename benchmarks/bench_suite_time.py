"""Benchmark: the test suite's wall time (`make test`, pytest-xdist workers), with its ratio.

    .venv/bin/python benchmarks/bench_suite_time.py [--workers 2] [--baseline-seconds 1457 | --vs-serial]
                                                    [--pytest-args "-x tests/core"]

Runs `make test WORKERS=N` once and prints its wall time and the pass/fail line. The ratio is
against --baseline-seconds (a time measured before, e.g. 1457 s = the 24 min 17 s of one process),
or with --vs-serial against `make test WORKERS=0` run in the same invocation (doubles the cost).
The goal of #23 item 4: the whole suite in 10 minutes on this 2-core machine. Slow: run by hand.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_suite(workers: int, pytest_args: str) -> tuple[float, str, int]:
    """(wall seconds, pytest's summary line, exit code) of one `make test`."""
    cmd = ["make", "-s", "test", f"WORKERS={workers}"] + ([f"PYTEST_ARGS={pytest_args}"] if pytest_args else [])
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    secs = time.perf_counter() - t0
    lines = [ln for ln in (p.stdout + p.stderr).splitlines() if re.search(r"\d+ (passed|failed|error)", ln)]
    return secs, (lines[-1].strip("= ") if lines else f"(no pytest summary; exit {p.returncode})"), p.returncode


def _clock(s: float) -> str:
    return f"{int(s // 60)} min {s % 60:.0f} s"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=2, help="pytest-xdist workers (make test WORKERS=N)")
    ap.add_argument("--baseline-seconds", type=float, help="a wall time to compare with, measured before")
    ap.add_argument("--vs-serial", action="store_true", help="also run WORKERS=0 in this run and compare")
    ap.add_argument("--pytest-args", default="", help="extra pytest arguments (a subset while trying it out)")
    a = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start")
    secs, summary, rc = run_suite(a.workers, a.pytest_args)
    print(f"make test WORKERS={a.workers}: {_clock(secs)} ({secs:.0f} s) wall; {summary}; exit {rc}")
    base, what = a.baseline_seconds, "the given baseline"
    if a.vs_serial:
        base, summary0, _ = run_suite(0, a.pytest_args)
        print(f"make test WORKERS=0: {_clock(base)} ({base:.0f} s) wall; {summary0}")
        what = "WORKERS=0 in this run"
    if base:
        print(f"ratio: {secs / base:.2f}x the time of {what} ({_clock(base)}); goal: under 10 min "
              f"({'met' if secs < 600 else 'not met'})")
    sys.exit(rc)


if __name__ == "__main__":
    main()
