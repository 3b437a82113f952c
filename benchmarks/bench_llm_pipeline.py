"""Benchmark: translation and multi-turn rewriting through hearme.llm against a local endpoint
that answers in 1 s. 200 items at concurrency 16 must take <= 1.3 x the ideal 200/16 s.

The endpoint is tests/fake_openai.py in its own process; each run uses a fresh cache (every
request is paid), then a re-run shows the cache: no request reaches the server.

    .venv/bin/python benchmarks/bench_llm_pipeline.py [--items 200] [--concurrency 16] [--latency 1] [--repeats 2]
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

from hearme.core import io  # noqa: E402
from hearme.llm import LLMClient  # noqa: E402
from hearme.tibetan import multiturn  # noqa: E402
from hearme.tibetan import translate as tr  # noqa: E402

DIALOGUE = "\n".join(f"求助者：我第{k}次说起烦恼。\n支持者：我在认真听，第{k}次。" for k in range(1, 11))
TIBETAN = "ང་ལ་སེམས་ཁྲལ་ཆེན་པོ་ཡོད།"


def start_server(tmp: Path, latency: float) -> tuple[subprocess.Popen, str, Path]:
    script = {"latency": latency, "default": {"text": TIBETAN},
              "rules": [{"match": "改写成一段求助者与支持者之间的多轮对话", "replies": [{"text": DIALOGUE}], "sticky": True}]}
    (tmp / "script.json").write_text(json.dumps(script, ensure_ascii=False), encoding="utf-8")
    log = tmp / "requests.jsonl"
    proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "fake_openai.py"), "--port", "0", "--script",
                             str(tmp / "script.json"), "--log", str(log)], stdout=subprocess.PIPE, text=True)
    return proc, proc.stdout.readline().split()[1], log


def requests_seen(log: Path) -> int:
    return len(log.read_text(encoding="utf-8").splitlines()) if log.exists() else 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--items", type=int, default=200)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("--latency", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    n = a.items
    zh = [{"messages": [{"role": "user", "content": f"第{i}个问题：我最近很焦虑，晚上睡不着。"},
                        {"role": "assistant", "content": f"第{i}个回答：可以试试睡前放松。"}], "id": f"t{i}"}
          for i in range(n // 2)]  # two utterances each: n translation requests
    single = [{"messages": [{"role": "user", "content": f"第{i}个问题：我最近很焦虑。"},
                            {"role": "assistant", "content": "可以试试深呼吸。"}], "id": f"m{i}"} for i in range(n)]
    io.write_records(tmp / "zh.json", zh)
    io.write_records(tmp / "single.json", single)
    ideal = n / a.concurrency * a.latency
    server, url, log = start_server(tmp, a.latency)
    results: dict[str, list[float]] = {"translate": [], "multiturn": []}
    try:
        for r in range(a.repeats):
            for step in results:
                cache = tmp / f"cache-{step}-{r}"
                client = LLMClient(url, "fake", concurrency=a.concurrency, cache_dir=cache, progress=False)
                before = requests_seen(log)
                t0 = time.perf_counter()
                if step == "translate":
                    rep = tr.run(tmp / "zh.json", tmp / f"bo{r}.json", tr.LLMBackend(client), progress=False)
                else:
                    rep = multiturn.run(tmp / "single.json", tmp / f"mt{r}.json", client, progress=False)
                took = time.perf_counter() - t0
                paid = requests_seen(log) - before
                results[step].append(took)
                print(f"  run {r + 1} {step}: {paid} requests, written {rep['written']}, {took:.2f} s "
                      f"= {took / ideal:.3f} x ideal ({ideal:.2f} s)")
                if r == 0:
                    again = LLMClient(url, "fake", concurrency=a.concurrency, cache_dir=cache, progress=False)
                    before = requests_seen(log)
                    t0 = time.perf_counter()
                    if step == "translate":
                        tr.run(tmp / "zh.json", tmp / "bo-again.json", tr.LLMBackend(again), progress=False)
                    else:
                        multiturn.run(tmp / "single.json", tmp / "mt-again.json", again, progress=False)
                    print(f"    re-run from the cache: {requests_seen(log) - before} requests, "
                          f"{time.perf_counter() - t0:.2f} s")
    finally:
        server.kill()
        server.wait()
    for step, times in results.items():
        print(f"{step}: best {min(times):.2f} s ({min(times) / ideal:.3f} x ideal), worst {max(times):.2f} s, "
              f"spread {max(times) - min(times):.2f} s over {len(times)} runs (limit 1.3 x = {1.3 * ideal:.2f} s)")


if __name__ == "__main__":
    main()
