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

STAGE1 = "train/qwen2.5_stage1_selfcog.yaml"
STAGE2 = "train/qwen2.5_stage2_counseling.yaml"
TIBETAN = "train/qwen2.5_tibetan_qlora.yaml"
PREDICT = "predict/qwen2.5_counseling.yaml"
PREDICT_BO = "predict/qwen2.5_tibetan.yaml"
MERGE = "merge/qwen2.5_counseling.yaml"

# The tiny model learns nothing at the recipes' learning rates in a few dozen steps.
TINY_EXTRA = {"learning_rate": 2.0e-3, "warmup_ratio": 0.0, "per_device_train_batch_size": 4,
              "gradient_accumulation_steps": 1, "logging_steps": 5}


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

            self.notes.append(f"tiny model: every train recipe runs max_steps={self.max_steps}, cutoff_len=384, fp32, "
                              "learning_rate 2e-3, batch 4 (a real --model keeps the recipe's own values)")

            self.model = str(tinymodel.ensure(self.out / "tiny-model"))
        elif not Path(self.model).exists():
            raise io.HearMeError(f"--model {self.model}: no such directory (the demo never downloads models)")
        self.results["model"] = self.model

    def step_data(self) -> None:
        report = samples.build(self.data_dir, self.data_dir)
        self.results["data"] = report
        from hearme.converters.card import build_card

        md = build_card(samples.records_by_bundle(self.data_dir), self.out / "card")
        self.results["card"] = str(md)

    def _recipe(self, command: str, recipe: str, name: str, *, adapter: str | None = None,
                extra: dict | None = None) -> Path:
        """Run a shipped recipe; the tiny model gets `tiny_overrides`, a real model keeps the recipe."""
        from hearme.recipes import tiny_overrides

        cfg = lf.resolve_recipe(recipe)
        out = self.out / name
        if self.tiny:
            over, notes = tiny_overrides(cfg, self.model, dataset_dir=self.data_dir, output_dir=out, adapter=adapter,
                                         max_steps=self.max_steps, cutoff_len=384)
            self.notes += [f"{name}: {n}" for n in notes if f"{name}: {n}" not in self.notes]
            if cfg.get("do_train"):
                over.update(TINY_EXTRA)
            if cfg.get("do_predict"):
                over.update(max_new_tokens=32, per_device_eval_batch_size=4)
            if command == "export":  # export's parser has no precision flags
                over.update(bf16=None, fp16=None)
        else:
            over = {"model_name_or_path": self.model, "adapter_name_or_path": adapter}
            over["export_dir" if command == "export" else "output_dir"] = str(out)
            if command != "export":
                over["dataset_dir"] = str(self.data_dir)
            if cfg.get("do_train"):
                over.update(max_steps=self.max_steps, save_steps=self.max_steps)
        if self.template:
            over["template"] = self.template
        over.update(extra or {})
        lf.run(command, lf.apply_overrides(cfg, over), self.out / "configs" / f"{name}.yaml",
               self.out / "logs" / f"{name}.log")
        return out

    def _train_result(self, out: Path, recipe: str) -> dict:
        res = json.loads((out / "train_results.json").read_text())
        png = out / "training_loss.png"
        return {"recipe": f"recipes/{recipe}", "adapter": str(out), "train_loss": res.get("train_loss"),
                "train_runtime": res.get("train_runtime"), "epoch": res.get("epoch"),
                "loss_curve": str(png) if png.exists() else None}

    def step_stage1(self) -> None:
        out = self._recipe("train", STAGE1, "stage1_selfcog")
        self.results["stage1"] = self._train_result(out, STAGE1)

    def step_stage2(self) -> None:
        out = self._recipe("train", STAGE2, "stage2_counseling", adapter=self.results["stage1"]["adapter"])
        self.results["train"] = self._train_result(out, STAGE2)
        self.results["adapter"] = str(out)

    def step_predict(self) -> None:
        out = self._recipe("train", PREDICT, "predict_counseling", adapter=self.results["adapter"])
        self.results["predict"] = json.loads((out / "predict_results.json").read_text())
        self.results["generated_predictions"] = str(out / "generated_predictions.jsonl")

    def step_tibetan_train(self) -> None:
        out = self._recipe("train", TIBETAN, "tibetan_qlora")
        self.results["tibetan_train"] = self._train_result(out, TIBETAN)
        pred = self._recipe("train", PREDICT_BO, "predict_tibetan", adapter=str(out))
        self.results["tibetan_predict"] = json.loads((pred / "predict_results.json").read_text())
        self.results["tibetan_predictions"] = str(pred / "generated_predictions.jsonl")

    def step_merge(self) -> None:
        out = self._recipe("export", MERGE, "merged", adapter=self.results["adapter"],
                           extra={"export_size": 1} if self.tiny else None)
        self.results["merged_model"] = str(out)

    def step_metrics(self) -> None:
        from hearme.evaluators.metrics import compute

        self.results["hearme_metrics"] = {"zh": compute(self.results["generated_predictions"], lang="zh"),
                                          "bo": compute(self.results["tibetan_predictions"], lang="bo")}

    def step_tibetan(self) -> None:
        from hearme.tibetan.demo import demo_leg

        self.results["tibetan"] = demo_leg(self.out / "tibetan", self.model if self.tiny else None, self.data_dir)

    def step_judge(self) -> None:
        from hearme.evaluators.demo import demo_judge

        self.results["judge"] = demo_judge(self.out / "judge", self.results["generated_predictions"],
                                           model_path=self.results["merged_model"], template=self.template or "qwen")

    def step_training_report(self) -> None:
        from hearme.evaluators import report

        made = report.run([str(self.out)], self.out / "training_report")
        self.results["training_report"] = {k: str(v) for k, v in made.items()}

    # ------------------------------------------------------------ plumbing
    def steps(self) -> list[tuple[str, Callable[[], None]]]:
        return [("tiny model" if self.tiny else "check model", self.step_model),
                ("convert, split, register samples + data card", self.step_data),
                ("stage 1: self-cognition LoRA", self.step_stage1),
                ("stage 2: counseling LoRA from the stage-1 adapter", self.step_stage2),
                ("predict + BLEU/ROUGE on the held-out split", self.step_predict),
                ("merge adapter (llamafactory-cli export)", self.step_merge),
                ("Tibetan LoRA + predict", self.step_tibetan_train),
                ("HearMe metrics (incl. Tibetan)", self.step_metrics),
                ("Tibetan pipeline leg", self.step_tibetan),
                ("LLM judge + probes", self.step_judge),
                ("bilingual training report (hearme report)", self.step_training_report)]


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
    for key in ("stage1", "tibetan_train", "tibetan_predict", "tibetan_predictions", "hearme_metrics", "tibetan",
                "judge", "data", "card", "training_report"):
        if key in r:
            metrics[key] = r[key]
    metrics["notes"] = demo.notes
    io.write_json(demo.out / "metrics.json", metrics)
    io.write_text(demo.out / "report.md", demo_report.render(demo.out, metrics))
    return metrics
