"""Training throughput (real tokens/s) and peak memory of a train recipe, packed vs unpacked.

Both runs train one epoch over the same dialogues in the same invocation:
  unpacked  the report's literal setting: neat_packing off, per_device_train_batch_size 6
  packed    the recipe as shipped (neat_packing on, its batch and cutoff)
Real tokens = the dialogues' tokens (no padding), taken from the unpacked run, where
LLaMA-Factory's effective-token count has no padding (packed rows are padded to the cutoff,
so its own number over-counts there). tokens/s = real tokens / train_runtime.

CPU (any machine): the offline tiny model (hidden 256, 4 layers) -> the packed/unpacked ratio.
GPU: --arch qwen2.5-7b | glm4-9b builds a random-weight model from the real architecture
(throughput and memory do not depend on weight values), caps the process at --cap-gib
with torch.cuda.set_per_process_memory_fraction, and reports tokens/s against the report's
~809 tokens/s (8.75 M tokens in 10,820 s on one RTX 4090) plus peak allocated memory.

    .venv/bin/python benchmarks/bench_train_throughput.py                       # CPU, tiny
    python benchmarks/bench_train_throughput.py --arch qwen2.5-7b --dialogues 400   # GPU
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import time
from pathlib import Path

REPORT_TOKENS_PER_S = 8_751_792 / 10_820.14
PHRASES = ["我最近总是失眠，心里很烦，不知道该怎么办。", "听起来你最近承受了很多压力，愿意多说一点吗？", "工作上的事情让我喘不过气来。",
           "这种感觉一定很辛苦，你已经坚持了很久。", "我和父母总是因为小事吵架。", "被最亲近的人误解会很难受。🤗",
           "我们可以一起想一想，哪些事情可以先放一放。", "谢谢你，我感觉好一点了。", "你并不孤单，我一直在这里支持你。🙂"]
ARCHS = {  # published config.json values; weights are random
    "qwen2.5-7b": ("Qwen2Config", dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28,
                                       num_attention_heads=28, num_key_value_heads=4, vocab_size=152064,
                                       max_position_embeddings=32768, rope_theta=1e6, tie_word_embeddings=False)),
    "glm4-9b": ("Glm4Config", dict(hidden_size=4096, intermediate_size=13696, num_hidden_layers=40, num_attention_heads=32,
                                   num_key_value_heads=2, head_dim=128, vocab_size=151552, attention_bias=True,
                                   max_position_embeddings=32768, tie_word_embeddings=False)),
}


def dialogues(n: int, seed: int, scale: int) -> list[dict]:
    """Counseling-shaped dialogues with a wide length spread (1-8 turns, 1-scale phrases a turn)."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        msgs = []
        for _ in range(rnd.choice([1, 1, 2, 2, 3, 4, 6, 8])):
            for role in ("user", "assistant"):
                msgs.append({"role": role, "content": "".join(rnd.choice(PHRASES) for _ in range(rnd.randint(1, scale)))})
        out.append({"messages": msgs, "id": f"b{i}", "source": "bench", "lang": "zh"})
    return out


def build_model(arch: str, out: Path) -> Path:
    from hearme.lf import tinymodel

    if arch == "tiny":
        return tinymodel.ensure(out) if (out / "hearme_tiny.json").exists() else Path(tinymodel.build(out, hidden=256, layers=4)["path"])
    import torch
    import transformers

    tinymodel.ensure(out.parent / "tokenizer")  # a tokenizer whose ids fit any vocabulary
    if not (out / "config.json").exists():
        cls_name, kw = ARCHS[arch]
        cfg = getattr(transformers, cls_name)(**kw)
        with torch.device("cuda" if torch.cuda.is_available() else "cpu"):
            model = transformers.AutoModelForCausalLM.from_config(cfg, dtype=torch.bfloat16)
        model.save_pretrained(out)
        for f in (out.parent / "tokenizer").iterdir():
            if f.name.startswith(("tokenizer", "special_tokens", "chat_template")):
                (out / f.name).write_bytes(f.read_bytes())
    return out


def worker(cfg_path: str, cap_gib: float) -> None:
    """One training run in this process; prints a JSON line with runtime and peak memory."""
    import resource

    import torch
    import yaml

    if torch.cuda.is_available() and cap_gib:
        total = torch.cuda.get_device_properties(0).total_memory / 1024**3
        torch.cuda.set_per_process_memory_fraction(min(1.0, cap_gib / total))
    from llamafactory.train.tuner import run_exp

    cfg = yaml.safe_load(Path(cfg_path).read_text())
    run_exp(cfg)
    res = json.loads((Path(cfg["output_dir"]) / "all_results.json").read_text())
    peak = (torch.cuda.max_memory_allocated() / 1024**3 if torch.cuda.is_available()
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2)
    print("BENCH " + json.dumps({"runtime": res["train_runtime"], "epoch": res.get("epoch", 1.0),
                                 "effective_tokens_per_sec": res.get("effective_tokens_per_sec"), "peak_gib": peak,
                                 "device": "cuda" if torch.cuda.is_available() else "cpu"}))


def run_one(name: str, cfg: dict, out: Path, cap: float) -> dict:
    from hearme.lf import runner as lf

    path = lf.dump_yaml(cfg, out / f"{name}.yaml")
    log = out / f"{name}.log"
    t0 = time.time()
    with open(log, "w") as fh:
        proc = subprocess.run([sys.executable, __file__, "--worker", str(path), "--cap-gib", str(cap)], stdout=subprocess.PIPE,
                              stderr=fh, text=True, env=lf.child_env())
    line = next((l for l in proc.stdout.splitlines() if l.startswith("BENCH ")), None)
    if proc.returncode or line is None:
        raise SystemExit(f"{name} run failed (see {log})")
    res = json.loads(line[6:])
    res["wall"] = time.time() - t0
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default="train/qwen2.5_stage2_counseling.yaml")
    ap.add_argument("--arch", default="tiny", choices=["tiny", *ARCHS])
    ap.add_argument("--dialogues", type=int, default=240)
    ap.add_argument("--scale", type=int, default=3, help="max phrases per turn (longer dialogues)")
    ap.add_argument("--cap-gib", type=float, default=24.0)
    ap.add_argument("--out", default="runs/bench")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        return worker(a.worker, a.cap_gib)

    import torch

    from hearme.core import io, paths, registry
    from hearme.lf import runner as lf, recipes

    paths.set_offline()
    out = Path(a.out).resolve()
    model = build_model(a.arch, out / f"model-{a.arch}")
    data = out / "data"
    io.write_records(data / "bench.json", dialogues(a.dialogues, 0, a.scale))
    registry.register(data / "bench.json", "bench", data)
    cfg = lf.resolve_recipe(a.recipe)
    base = {"model_name_or_path": str(model), "dataset": "bench", "dataset_dir": str(data), "eval_dataset": None,
            "eval_strategy": "no", "adapter_name_or_path": None, "num_train_epochs": 1, "max_steps": -1,
            "save_strategy": "no", "plot_loss": False, "include_effective_tokens_per_second": True, "logging_steps": 50,
            "preprocessing_num_workers": 1, "dataloader_num_workers": 0, "report_to": "none"}
    notes = []
    if not torch.cuda.is_available():
        over, notes = recipes.tiny_overrides(cfg, model)
        base.update({k: v for k, v in over.items() if k in ("bf16", "fp16", "enable_liger_kernel", "flash_attn", "optim")})
        base["cutoff_len"] = min(int(cfg.get("cutoff_len", 2048)), 1024)
    elif cfg.get("enable_liger_kernel") and __import__("importlib").util.find_spec("liger_kernel") is None:
        base["enable_liger_kernel"] = False
        notes.append("liger-kernel not installed: off")
    runs = {"unpacked": {**base, "neat_packing": False, "packing": False, "per_device_train_batch_size": 6},
            "packed": {**base}}
    results = {}
    for name, over in runs.items():
        results[name] = run_one(name, lf.resolve_recipe(a.recipe, {**over, "output_dir": str(out / name)}), out, a.cap_gib)
    u, p = results["unpacked"], results["packed"]
    real_tokens = u["effective_tokens_per_sec"] * u["runtime"] / u["epoch"]
    for r in results.values():
        r["tokens_per_s"] = real_tokens / r["runtime"]
    summary = {"recipe": a.recipe, "arch": a.arch, "device": u["device"], "real_tokens": int(real_tokens),
               "notes": notes, "runs": results, "packed_over_unpacked": p["tokens_per_s"] / u["tokens_per_s"]}
    if u["device"] == "cuda":
        summary["packed_over_report_4090"] = p["tokens_per_s"] / REPORT_TOKENS_PER_S
    io.write_json(out / "bench_results.json", summary)
    print(f"recipe {a.recipe} | arch {a.arch} | device {u['device']} | {int(real_tokens)} real tokens, 1 epoch")
    for n in notes:
        print(f"  note: {n}")
    for name, r in results.items():
        print(f"  {name:<9} {r['tokens_per_s']:10.0f} tokens/s   train {r['runtime']:7.1f} s   peak {r['peak_gib']:6.2f} GiB")
    print(f"  packed / unpacked = {summary['packed_over_unpacked']:.2f}x")
    if "packed_over_report_4090" in summary:
        print(f"  packed / report (809 tokens/s on a 4090) = {summary['packed_over_report_4090']:.2f}x")


if __name__ == "__main__":
    main()
