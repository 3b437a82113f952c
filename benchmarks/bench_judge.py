"""Judge throughput: 150 items (the HearMeGLM report's evaluation size) against a local
OpenAI-compatible server that answers every request in 1 s, at concurrency 16.

Target: wall time <= 1.3 x 150/16 s. The baseline is the sequential loop the report used
(one request at a time), measured in the same run on a subset and extrapolated linearly
(every request costs the same 1 s, so the extrapolation is exact up to overhead).

    .venv/bin/python benchmarks/bench_judge.py [--items 150] [--concurrency 16] [--latency 1.0] [--seq-items 8]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def start_server(latency: float) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "fake_openai.py"), "--port", "0",
                             "--latency", str(latency)], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line.startswith("READY "):
        raise SystemExit(f"fake server did not start: {line!r}")
    return proc, line.split()[1]


def write_items(path: Path, n: int) -> Path:
    rows = [{"prompt": f"<|im_start|>user\n第{i}位来访者：我最近压力很大，晚上总是睡不着。<|im_end|>\n<|im_start|>assistant\n",
             "predict": f"听起来你最近很辛苦（{i}）。能说说压力主要来自哪里吗？", "label": "参考回复"} for i in range(n)]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


def timed_judge(url: str, pred: Path, out: Path, concurrency: int) -> tuple[float, dict]:
    from hearme.evaluators import judge
    from hearme.llm import LLMClient

    with tempfile.TemporaryDirectory() as cache:  # a fresh cache: every item is a paid call
        client = LLMClient(url, "gpt-4o", api_key_env="BENCH_NO_KEY", concurrency=concurrency, cache_dir=cache,
                           progress=False)
        t0 = time.perf_counter()
        summary = judge.run(pred, out, client)
        return time.perf_counter() - t0, summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=150)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--latency", type=float, default=1.0)
    ap.add_argument("--seq-items", type=int, default=8, help="items for the sequential baseline (extrapolated)")
    a = ap.parse_args()
    server, url = start_server(a.latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            pred = write_items(tmp / "p.jsonl", a.items)
            seq_pred = write_items(tmp / "s.jsonl", a.seq_items)
            t_seq, _ = timed_judge(url, seq_pred, tmp / "seq", concurrency=1)
            t_par, summary = timed_judge(url, pred, tmp / "par", a.concurrency)
    finally:
        server.terminate()
        server.wait()
    assert summary["n_scored"] == a.items, summary["n_unscored"]
    ideal = a.items / a.concurrency * a.latency
    limit = 1.3 * ideal
    seq_total = t_seq / a.seq_items * a.items
    print(f"judge: {a.items} items, server latency {a.latency:.1f} s, concurrency {a.concurrency}")
    print(f"  concurrent:  {t_par:6.2f} s   ideal {ideal:.2f} s, limit 1.3x = {limit:.2f} s  ->  "
          f"{t_par / ideal:.2f}x ideal  {'PASS' if t_par <= limit else 'FAIL'}")
    print(f"  sequential:  {t_seq:6.2f} s for {a.seq_items} items = {t_seq / a.seq_items:.3f} s/item, "
          f"extrapolated to {a.items}: {seq_total:.1f} s")
    print(f"  speed-up vs the sequential loop: {seq_total / t_par:.1f}x")


if __name__ == "__main__":
    main()
