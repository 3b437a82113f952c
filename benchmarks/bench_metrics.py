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
import random
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
        t0 = time.perf_counter()
        proc = subprocess.run([str(Path(sys.executable).with_name("hearme")), "metrics", str(pred), "--lang", "zh",
                               "--json", str(Path(tmp) / "m.json")], capture_output=True, text=True)
        t_cli = time.perf_counter() - t0
        if proc.returncode:
            raise SystemExit(proc.stderr)
        ours = json.loads((Path(tmp) / "m.json").read_text(encoding="utf-8"))
        # 2) in this process: cold compute (includes the jieba dictionary load), then warm
        sys.path.insert(0, str(REPO))
        from hearme.evaluators import metrics

        t0 = time.perf_counter()
        metrics.compute(pred, "zh")
        t_cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        metrics.compute(pred, "zh")
        t_warm = time.perf_counter() - t0
    # 3) LLaMA-Factory's ComputeSimilarity on the same pairs (jieba is warm by now)
    import numpy as np
    from llamafactory.train.sft.metric import ComputeSimilarity
    from transformers import EvalPrediction

    texts = [t for pair in pairs for t in pair]
    preds = np.array([[2 * i + 1] for i in range(len(pairs))])
    labels = np.array([[2 * i + 2] for i in range(len(pairs))])
    t0 = time.perf_counter()
    ref = ComputeSimilarity(TableTokenizer(texts))(EvalPrediction(predictions=preds, label_ids=labels))
    t_lf = time.perf_counter() - t0
    equal = all(ours[k] == ref[k] for k in ("bleu-4", "rouge-1", "rouge-2", "rouge-l"))
    print(f"metrics: {a.n} predictions, {chars / a.n / 2:.0f} characters per text on average")
    print(f"  hearme metrics CLI, fresh process:     {t_cli:5.2f} s  {'PASS' if t_cli < 2 else 'over'} (target < 2 s)")
    print(f"  compute() cold (jieba dictionary load): {t_cold:5.2f} s")
    print(f"  compute() warm:                         {t_warm:5.2f} s")
    print(f"  LLaMA-Factory ComputeSimilarity (warm): {t_lf:5.2f} s")
    print(f"  speed-up, warm vs warm: {t_lf / t_warm:.1f}x; cold compute vs LLaMA-Factory warm: {t_lf / t_cold:.1f}x")
    print(f"  identical bleu-4/rouge-1/rouge-2/rouge-l: {equal}  ({ {k: round(ref[k], 4) for k in ref} })")


if __name__ == "__main__":
    main()
