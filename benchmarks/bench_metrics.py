"""`hearme metrics` on 1,045 synthetic predictions (the HearMeGLM report's test size).

Target: under 2 s. The baseline is LLaMA-Factory's own `ComputeSimilarity` loop on the same
pairs, measured in the same run (jieba already warm, so the baseline is not charged for the
dictionary load). Results must be equal. Predictions are built from the bundled Chinese
samples: 2-4 utterances per reference; the prediction keeps, replaces or drops each (fluent
text, as a fine-tuned model writes), 10% end with an emoji.

    .venv/bin/python benchmarks/bench_metrics.py [--n 1045]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def synthetic(n: int, seed: int = 0) -> list[tuple[str, str]]:
    utts = []
    for f in sorted((REPO / "data" / "samples" / "cpsycound").glob("*.txt")):
        utts += [u.split("：", 1)[-1].strip() for u in f.read_text(encoding="utf-8").splitlines() if "：" in u]
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        parts = rng.sample(utts, rng.randint(2, 4))
        label = "".join(parts)
        # a fluent prediction: some of the reference's sentences kept, others replaced or dropped
        pred = "".join(u if rng.random() < 0.5 else rng.choice(utts) for u in parts if rng.random() < 0.9)
        pairs.append((pred + ("😊" if rng.random() < 0.1 else ""), label + "\n"))
    return pairs


def _child_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


class TableTokenizer:
    pad_token_id = 0

    def __init__(self, texts):
        self.texts = [""] + texts

    def batch_decode(self, ids, skip_special_tokens=True):
        return [self.texts[int(r[0])] for r in ids]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=1045)
    a = ap.parse_args()
    pairs = synthetic(a.n)
    chars = sum(len(p) + len(l) for p, l in pairs)
    with tempfile.TemporaryDirectory() as tmp:
        pred = Path(tmp) / "generated_predictions.jsonl"
        pred.write_text("".join(json.dumps({"prompt": "", "predict": p, "label": l}, ensure_ascii=False) + "\n"
                                for p, l in pairs), encoding="utf-8")
        # 1) the whole CLI in a fresh process (interpreter start, imports, jieba dictionary load)
        t0, c0 = time.perf_counter(), _child_cpu()
        proc = subprocess.run([str(Path(sys.executable).with_name("hearme")), "metrics", str(pred), "--lang", "zh",
                               "--json", str(Path(tmp) / "m.json")], capture_output=True, text=True)
        t_cli, c_cli = time.perf_counter() - t0, _child_cpu() - c0
        if proc.returncode:
            raise SystemExit(proc.stderr)
        ours = json.loads((Path(tmp) / "m.json").read_text(encoding="utf-8"))
        # 2) in this process: cold compute (includes the jieba dictionary load), then warm
        sys.path.insert(0, str(REPO))
        from hearme.evaluators import metrics

        t0, c0 = time.perf_counter(), time.process_time()
        metrics.compute(pred, "zh")
        t_cold, c_cold = time.perf_counter() - t0, time.process_time() - c0
        t0, c0 = time.perf_counter(), time.process_time()
        metrics.compute(pred, "zh")
        t_warm, c_warm = time.perf_counter() - t0, time.process_time() - c0
        # worst case for the per-block cache: every jieba block segmented afresh, as if nothing repeated
        from hearme.evaluators import lf_similarity

        t0, c0 = time.perf_counter(), time.process_time()
        lf_similarity.mean_scores(lf_similarity.score_pairs(pairs, cache_blocks=False))
        t_nocache, c_nocache = time.perf_counter() - t0, time.process_time() - c0
    # 3) LLaMA-Factory's ComputeSimilarity on the same pairs (jieba is warm by now)
    import numpy as np
    from llamafactory.train.sft.metric import ComputeSimilarity
    from transformers import EvalPrediction

    texts = [t for pair in pairs for t in pair]
    preds = np.array([[2 * i + 1] for i in range(len(pairs))])
    labels = np.array([[2 * i + 2] for i in range(len(pairs))])
    t0, c0 = time.perf_counter(), time.process_time()
    ref = ComputeSimilarity(TableTokenizer(texts))(EvalPrediction(predictions=preds, label_ids=labels))
    t_lf, c_lf = time.perf_counter() - t0, time.process_time() - c0
    equal = all(ours[k] == ref[k] for k in ("bleu-4", "rouge-1", "rouge-2", "rouge-l"))
    load = os.getloadavg()[0]
    print(f"metrics: {a.n} predictions, {chars / a.n / 2:.0f} characters per text on average; "
          f"load average {load:.1f} on {os.cpu_count()} cores (wall time suffers when it exceeds the cores)")
    print(f"  {'':40} {'wall':>7} {'cpu':>7}")
    print(f"  {'hearme metrics CLI, fresh process':40} {t_cli:6.2f}s {c_cli:6.2f}s  "
          f"{'PASS' if min(t_cli, c_cli) < 2 else 'over'} (target < 2 s)")
    print(f"  {'compute() cold (jieba dictionary load)':40} {t_cold:6.2f}s {c_cold:6.2f}s")
    print(f"  {'compute() warm':40} {t_warm:6.2f}s {c_warm:6.2f}s")
    print(f"  {'BLEU/ROUGE warm, no block cache':40} {t_nocache:6.2f}s {c_nocache:6.2f}s  (no repeats: worst case)")
    print(f"  {'LLaMA-Factory ComputeSimilarity (warm)':40} {t_lf:6.2f}s {c_lf:6.2f}s")
    print(f"  speed-up vs LLaMA-Factory (cpu): warm {c_lf / c_warm:.1f}x, cold {c_lf / c_cold:.1f}x, "
          f"whole CLI {c_lf / c_cli:.1f}x, no block cache {c_lf / c_nocache:.1f}x")
    import jieba

    blocks = [b for t in set(texts) for b in jieba.re_han_default.split(t) if b and jieba.re_han_default.match(b)]
    print(f"  jieba blocks: {len(set(blocks))} distinct of {len(blocks)} (the per-block cache helps with repeats; "
          f"this synthetic set repeats more than real replies do)")
    print(f"  identical bleu-4/rouge-1/rouge-2/rouge-l: {equal}  ({ {k: round(ref[k], 4) for k in ref} })")


if __name__ == "__main__":
    main()
