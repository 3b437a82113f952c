"""Benchmark: batched multi-turn IFD vs the one-sample-at-a-time loop (Cherry LLM's way).

Same model (the offline tiny model, or --model PATH), same dialogues, same values: the batched
path must be >= 4x faster and agree within 1e-4.

The dialogues are built from the bundled Tibetan and Chinese samples. By default each has
--exchanges 10 user/assistant pairs, the minimum `hearme tibetan multiturn` writes (SMILE);
`--exchanges 0` keeps the bundled dialogues as they are (3-5 exchanges). On a CPU the forward
passes are compute-bound, so the speed-up tracks the ratio of tokens each path pushes through
the model, printed as "token ratio": the one-at-a-time loop re-reads the whole history for every
answer, the batched path reads each dialogue once.

    .venv/bin/python benchmarks/bench_ifd.py [--dialogues 64] [--exchanges 10] [--repeats 3] [--model PATH] [--device cpu]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hearme.core import paths  # noqa: E402


def dialogues(n: int, exchanges: int = 0) -> list[dict]:
    """n dialogues from the bundled samples; with exchanges > 0, pairs are chained to that many."""
    from hearme.core import schema
    from hearme.converters.convert import run as convert

    bo, _ = convert("firefly", [paths.DATA / "samples" / "firefly" / "tibetan_dialogues.jsonl"], scrub=False)
    zh, _ = convert("smile", [paths.DATA / "samples" / "smile"], scrub=False)
    pool = bo + zh
    if not exchanges:
        return [dict(pool[i % len(pool)], id=f"d{i}") for i in range(n)]
    pairs = [t for rec in pool for t in zip(*[iter(schema.dialogue_turns(rec))] * 2)]
    out = []
    for i in range(n):
        msgs = [m for k in range(exchanges) for m in pairs[(i * 7 + k) % len(pairs)]]
        out.append({"messages": msgs, "id": f"d{i}", "source": "bench", "lang": "mixed", "topic": ""})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dialogues", type=int, default=64)
    ap.add_argument("--exchanges", type=int, default=10, help="pairs per dialogue; 0 = bundled as is")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", help="causal LM directory [default: build the offline tiny model]")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--max-batch-tokens", type=int, default=8192)
    a = ap.parse_args()
    paths.set_offline()
    from hearme.lf import tinymodel
    from hearme.tibetan import ifd

    model = a.model
    if not model:  # a context long enough for whole 10-exchange dialogues, as real models have
        model = Path(tempfile.mkdtemp()) / "tiny"
        tinymodel.build(model, max_positions=4096)
    sc = ifd.Scorer(model, device=a.device, max_batch_tokens=a.max_batch_tokens)
    recs = dialogues(a.dialogues, a.exchanges)
    turns = sum(len(sc.encode(r).turns) for r in recs)
    tokens = sum(len(sc.encode(r).ids) for r in recs)
    print(f"model {model} on {sc.device}; {len(recs)} dialogues, {turns} assistant turns, {tokens} tokens")
    sc.score(recs[:4])  # warm-up
    fast, slow = [], []
    for r in range(a.repeats):
        t0 = time.perf_counter()
        b = sc.score(recs, batched=True)
        t1 = time.perf_counter()
        s = sc.score(recs, batched=False)
        t2 = time.perf_counter()
        fast.append(t1 - t0)
        slow.append(t2 - t1)
        diff = max(abs(x["ifd"] - y["ifd"]) for rb, rs in zip(b, s) for x, y in zip(rb["turns"], rs["turns"]))
        print(f"  run {r + 1}: batched {t1 - t0:.2f} s, one-at-a-time {t2 - t1:.2f} s, "
              f"speed-up {(t2 - t1) / (t1 - t0):.1f}x, max |IFD diff| {diff:.1e}")
    pb, ps = sc.passes(recs, shared=True)[0], sc.passes(recs, shared=False)[0]
    tok_b, tok_s = sum(len(p.ids) for p in pb), sum(len(p.ids) for p in ps)
    ratios = [y / x for x, y in zip(fast, slow)]
    print(f"passes: {len(pb)} batched (one CAS pass per dialogue) vs {len(ps)} one-at-a-time; "
          f"tokens {tok_b} vs {tok_s}, token ratio {tok_s / tok_b:.1f}x")
    print(f"speed-up: best {max(ratios):.1f}x, median {statistics.median(ratios):.1f}x, spread "
          f"{max(ratios) - min(ratios):.1f}x over {len(ratios)} runs (target >= 4x, values within 1e-4)")


if __name__ == "__main__":
    main()
