"""`hearme cv`: the Tibetan paper's k-fold protocol on any train recipe.

The records of the recipe's datasets are split into k folds (hearme.converters.split,
seeded); for each fold the recipe trains on the other k-1 folds and LLaMA-Factory predicts
the held-out fold with generation. The report gives mean ± sd over folds of BLEU-4 and
ROUGE-1/2/L (LLaMA-Factory's numbers), plus the Tibetan-aware metrics of
hearme.evaluators.metrics where that module is installed.
"""

from __future__ import annotations

import math
from pathlib import Path
from collections.abc import Callable
from typing import Any

from hearme.core import io, registry
from hearme.lf import runner as lf

LF_METRICS = ("predict_bleu-4", "predict_rouge-1", "predict_rouge-2", "predict_rouge-l")
# Keys a train recipe may carry that only make sense with its own validation split.
EVAL_ONLY = ("eval_dataset", "val_size", "early_stopping_steps", "load_best_model_at_end", "metric_for_best_model",
             "greater_is_better", "eval_steps", "per_device_eval_batch_size")
# Keys a derived predict config copies from the train recipe.
MODEL_KEYS = ("model_name_or_path", "template", "default_system", "trust_remote_code", "flash_attn", "finetuning_type",
              "quantization_bit", "quantization_method", "quantization_type", "double_quantization", "cutoff_len",
              "bf16", "fp16", "use_cpu", "preprocessing_num_workers", "enable_thinking", "infer_dtype")
PREDICT_DEFAULTS = {"stage": "sft", "do_predict": True, "predict_with_generate": True, "overwrite_output_dir": True,
                    "report_to": "none", "per_device_eval_batch_size": 8, "max_new_tokens": 512, "do_sample": False}


def folds(records: list[dict], kfold: int, seed: int) -> list[tuple[list[dict], list[dict]]]:
    from hearme.converters.split import split_records

    parts = split_records(records, kfold=kfold, seed=seed)
    return [(parts[f"fold{i}_train"], parts[f"fold{i}_test"]) for i in range(kfold)]


def mean_sd(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    return mean, sd


def train_config(recipe: str, fold_train: str, data_dir: Path, out: Path, overrides: dict) -> dict:
    cfg = lf.resolve_recipe(recipe)
    for k in EVAL_ONLY:
        cfg.pop(k, None)
    cfg.update({"dataset": fold_train, "dataset_dir": str(data_dir), "output_dir": str(out), "eval_strategy": "no",
                "do_train": True, "overwrite_output_dir": True})
    return _apply(cfg, overrides)


def predict_config(train_cfg: dict, predict_recipe: str | None, adapter: Path, fold_test: str, data_dir: Path,
                   out: Path, overrides: dict) -> dict:
    if predict_recipe:
        cfg = lf.resolve_recipe(predict_recipe)
    else:
        cfg = {k: train_cfg[k] for k in MODEL_KEYS if k in train_cfg}
        cfg.update(PREDICT_DEFAULTS)
    cfg.update({"adapter_name_or_path": str(adapter), "eval_dataset": fold_test, "dataset_dir": str(data_dir),
                "output_dir": str(out)})
    cfg.pop("dataset", None)
    return _apply(cfg, overrides)


def _apply(cfg: dict, overrides: dict) -> dict:
    for k, v in overrides.items():
        if v is None:
            cfg.pop(k, None)
        else:
            cfg[k] = v
    return cfg


def extra_metrics(pred_file: Path) -> dict[str, float]:
    """hearme.evaluators.metrics (syllable BLEU/ROUGE, chrF++ ...) when that module is there."""
    try:
        from hearme.evaluators import metrics
    except ImportError:
        return {}
    scores = metrics.compute(pred_file)
    return {f"hearme_{k}": float(v) for k, v in scores.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "n" and not k.startswith("n_")}


def run_cv(recipe: str, out: Path, *, kfold: int = 5, seed: int = 42, datasets: str | None = None,
           dataset_dir: Path | None = None, predict_recipe: str | None = None, overrides: dict | None = None,
           progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    overrides = overrides or {}
    base = lf.resolve_recipe(recipe)
    names = datasets or base.get("dataset")
    if not names:
        raise io.HearMeError(f"{recipe}: no `dataset` to split; pass --dataset NAMES")
    src_dir = dataset_dir or overrides.get("dataset_dir") or base.get("dataset_dir")
    wanted = registry.require(names, dataset_dir=src_dir)
    records = [r for n in wanted for r in io.load_records(registry.file_of(n, src_dir))]
    if len(records) < kfold:
        raise io.HearMeError(f"{len(records)} records cannot make {kfold} folds")

    out = Path(out)
    data_dir = out / "data"
    rows = []
    for i, (train, test) in enumerate(folds(records, kfold, seed)):
        say = progress or (lambda s: None)
        tr, te = f"cv_fold{i}_train", f"cv_fold{i}_test"
        io.write_records(data_dir / f"{tr}.json", train)
        io.write_records(data_dir / f"{te}.json", test)
        registry.register(data_dir / f"{tr}.json", tr, data_dir)
        registry.register(data_dir / f"{te}.json", te, data_dir)
        fold = out / f"fold{i}"
        say(f"fold {i + 1}/{kfold}: train on {len(train)} records")
        tcfg = train_config(recipe, tr, data_dir, fold / "adapter", overrides)
        lf.run("train", tcfg, fold / "configs" / "train.yaml", fold / "logs" / "train.log")
        say(f"fold {i + 1}/{kfold}: predict {len(test)} records")
        pcfg = predict_config(tcfg, predict_recipe, fold / "adapter", te, data_dir, fold / "predict", overrides)
        lf.run("train", pcfg, fold / "configs" / "predict.yaml", fold / "logs" / "predict.log")
        res = io.read_json(fold / "predict" / "predict_results.json")
        row = {"fold": i, "train": len(train), "test": len(test)}
        row.update({k.removeprefix("predict_"): float(res[k]) for k in LF_METRICS if k in res})
        row.update(extra_metrics(fold / "predict" / "generated_predictions.jsonl"))
        rows.append(row)

    keys = [k for k in rows[0] if k not in ("fold", "train", "test")]
    summary = {k: dict(zip(("mean", "sd"), mean_sd([r[k] for r in rows]))) for k in keys}
    result = {"recipe": str(recipe), "kfold": kfold, "seed": seed, "datasets": wanted, "records": len(records),
              "folds": rows, "summary": summary}
    io.write_json(out / "cv_results.json", result)
    io.write_text(out / "cv_report.md", format_report(result))
    return result


def format_report(result: dict) -> str:
    lines = [f"# {result['kfold']}-fold cross-validation: {result['recipe']}", "",
             f"{result['records']} records from {', '.join(result['datasets'])}, seed {result['seed']}.", "",
             "| metric | mean ± sd | " + " | ".join(f"fold {r['fold']}" for r in result["folds"]) + " |",
             "|---|---|" + "---|" * len(result["folds"])]
    for k, s in result["summary"].items():
        per = " | ".join(f"{r[k]:.2f}" for r in result["folds"])
        lines.append(f"| {k} | {s['mean']:.2f} ± {s['sd']:.2f} | {per} |")
    return "\n".join(lines) + "\n"
