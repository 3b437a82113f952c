"""`hearme demo`: the whole pipeline, offline, on bundled samples and the tiny model.

bundled samples -> converters -> split + register -> LoRA train (recipe) -> predict with
metrics -> merge -> evaluators -> DIR/report.md + DIR/metrics.json

With `--model PATH` on a GPU machine the same steps run on a real base model, keeping
the recipe's own settings; only paths and the template are overridden.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any, Callable

from hearme import io, lf, paths, samples

TRAIN_RECIPE = "train/qwen2.5_stage2_counseling.yaml"
PREDICT_RECIPE = "predict/qwen2.5_counseling.yaml"
MERGE_RECIPE = "merge/qwen2.5_counseling.yaml"

TRAIN_SETS = "hearme_selfcog_train,hearme_counseling_zh_train,hearme_knowledge_zh,hearme_emoji_zh,hearme_tibetan_bo_train"
TEST_SETS = "hearme_counseling_zh_test,hearme_tibetan_bo_test"

# Settings that make the tiny model run in seconds on 2 CPU cores; a real model keeps the recipe's.
TINY_TRAIN = {"bf16": False, "per_device_train_batch_size": 4, "gradient_accumulation_steps": 1,
              "learning_rate": 2.0e-3, "cutoff_len": 512, "preprocessing_num_workers": 1,
              "dataloader_num_workers": 0, "logging_steps": 5, "warmup_ratio": 0.0}
TINY_PREDICT = {"bf16": False, "cutoff_len": 512, "max_new_tokens": 32, "per_device_eval_batch_size": 4,
                "preprocessing_num_workers": 1}


class Demo:
    def __init__(self, out: Path, model: str | None, template: str | None, max_steps: int):
        self.out = out
        self.model = model
        self.tiny = model is None
        self.template = template
        self.max_steps = max_steps
        self.data_dir = out / "data"
        self.results: dict[str, Any] = {"timing": {}}
        self.notes: list[str] = []

    # ------------------------------------------------------------ steps
    def step_model(self) -> None:
        if self.tiny:
            from hearme import tinymodel

            self.model = str(tinymodel.ensure(self.out / "tiny-model"))
        elif not Path(self.model).exists():
            raise io.HearMeError(f"--model {self.model}: no such directory (the demo never downloads models)")
        self.results["model"] = self.model

    def step_data(self) -> None:
        report = samples.build(self.data_dir, self.data_dir)
        self.results["data"] = report
        card = self._optional("hearme.converters.card", "build_card")
        if card:
            md = card(samples.records_by_bundle(self.data_dir), self.out / "card")
            self.results["card"] = str(md)

    def _lf(self, command: str, recipe: str, overrides: dict, name: str) -> float:
        cfg = lf.resolve_recipe(recipe, overrides)
        return lf.run(command, cfg, self.out / "configs" / f"{name}.yaml", self.out / "logs" / f"{name}.log")

    def _common(self) -> dict:
        c: dict[str, Any] = {"model_name_or_path": self.model, "dataset_dir": str(self.data_dir)}
        if self.template:
            c["template"] = self.template
        return c

    def step_train(self) -> None:
        out = self.out / "train"
        over = {**self._common(), "dataset": TRAIN_SETS, "output_dir": str(out), "max_steps": self.max_steps,
                "save_steps": self.max_steps}
        if self.tiny:
            over.update(TINY_TRAIN)
        self._lf("train", TRAIN_RECIPE, over, "train")
        res = json.loads((out / "train_results.json").read_text())
        self.results["adapter"] = str(out)
        self.results["train"] = {k: res.get(k) for k in ("train_loss", "train_runtime", "epoch")}
        self.results["train"]["recipe"] = f"recipes/{TRAIN_RECIPE}"
        self.results["train"]["loss_curve"] = str(out / "training_loss.png") if (out / "training_loss.png").exists() else None

    def step_predict(self) -> None:
        out = self.out / "predict"
        over = {**self._common(), "adapter_name_or_path": self.results["adapter"], "eval_dataset": TEST_SETS,
                "output_dir": str(out)}
        if self.tiny:
            over.update(TINY_PREDICT)
        self._lf("train", PREDICT_RECIPE, over, "predict")
        self.results["predict"] = json.loads((out / "predict_results.json").read_text())
        self.results["generated_predictions"] = str(out / "generated_predictions.jsonl")

    def step_merge(self) -> None:
        out = self.out / "merged"
        over = {**self._common(), "adapter_name_or_path": self.results["adapter"], "export_dir": str(out)}
        over.pop("dataset_dir")
        if self.tiny:
            over["export_size"] = 1
        self._lf("export", MERGE_RECIPE, over, "merge")
        self.results["merged_model"] = str(out)

    def step_metrics(self) -> None:
        compute = self._optional("hearme.evaluators.metrics", "compute_by_lang")
        if compute:
            self.results["hearme_metrics"] = compute(self.results["generated_predictions"])

    def step_tibetan(self) -> None:
        leg = self._optional("hearme.tibetan.demo", "demo_leg")
        if leg:
            self.results["tibetan"] = leg(self.out / "tibetan", self.model if self.tiny else None, self.data_dir)

    def step_judge(self) -> None:
        judge = self._optional("hearme.evaluators.demo", "demo_judge")
        if judge:
            self.results["judge"] = judge(self.out / "judge", self.results["generated_predictions"])

    # ------------------------------------------------------------ plumbing
    def _optional(self, module: str, attr: str) -> Callable | None:
        import importlib

        try:
            return getattr(importlib.import_module(module), attr)
        except (ModuleNotFoundError, AttributeError):
            self.notes.append(f"{module}.{attr} not available; step skipped")
            return None

    def steps(self) -> list[tuple[str, Callable[[], None]]]:
        return [("tiny model" if self.tiny else "check model", self.step_model),
                ("convert, split, register samples", self.step_data),
                ("train LoRA (llamafactory-cli train)", self.step_train),
                ("predict + BLEU/ROUGE (llamafactory-cli train, do_predict)", self.step_predict),
                ("merge adapter (llamafactory-cli export)", self.step_merge),
                ("HearMe metrics (incl. Tibetan)", self.step_metrics),
                ("Tibetan pipeline leg", self.step_tibetan),
                ("LLM judge + probes", self.step_judge)]


def run(out: str | Path, model: str | None = None, template: str | None = None, max_steps: int = 30) -> dict:
    from tqdm import tqdm

    paths.set_offline()
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    demo = Demo(out, model, template, max_steps)
    steps = demo.steps()
    t_all = time.time()
    with tqdm(total=len(steps), desc="hearme demo", unit="step", dynamic_ncols=True) as bar:
        for i, (label, fn) in enumerate(steps, 1):
            bar.set_postfix_str(label)
            tqdm.write(f"[{i}/{len(steps)}] {label}")
            t0 = time.time()
            fn()
            demo.results["timing"][label] = round(time.time() - t0, 1)
            bar.update(1)
    demo.results["timing"]["total"] = round(time.time() - t_all, 1)
    metrics = write_outputs(demo)
    print(f"\nreport:  {out / 'report.md'}\nmetrics: {out / 'metrics.json'}")
    print("  " + "  ".join(f"{k}={metrics[k]:.2f}" for k in
                           ("predict_bleu-4", "predict_rouge-1", "predict_rouge-2", "predict_rouge-l")))
    return metrics


def write_outputs(demo: Demo) -> dict:
    from hearme import demo_report

    r = demo.results
    metrics = {k: v for k, v in r["predict"].items() if k.startswith("predict_")}
    metrics.update({"adapter": r["adapter"], "merged_model": r["merged_model"],
                    "generated_predictions": r["generated_predictions"], "train": r["train"],
                    "timing": r["timing"], "model": r["model"], "offline": os.environ.get("HF_HUB_OFFLINE") == "1"})
    for key in ("hearme_metrics", "tibetan", "judge", "data", "card"):
        if key in r:
            metrics[key] = r[key]
    metrics["notes"] = demo.notes
    io.write_json(demo.out / "metrics.json", metrics)
    io.write_text(demo.out / "report.md", demo_report.render(demo.out, metrics))
    return metrics
