"""`hearme demo`: the whole pipeline, offline, on bundled samples and the tiny model, with a
before/after that shows the model learning.

tiny random model -> bundled samples converted, split, registered -> a short causal-LM
pretraining (the base) -> stage 1 self-cognition LoRA -> stage 2 counseling LoRA -> merge
(the tuned model) -> predict + BLEU/ROUGE -> base and tuned served with `llamafactory-cli api`:
identity probe + held-out self-cognition + `hearme compare` -> stage 3: preference pairs from the
stage-2 model (scripted judge) + DPO, a property's rate before/after -> Tibetan LoRA and pipeline leg
-> metrics.json -> bilingual training report -> DIR/report.md + DIR/report.html

Every model step is real LLaMA-Factory. With `--model PATH` on a GPU machine the same steps
run on a real base model (no pretraining), keeping the recipes' own settings.
"""

from __future__ import annotations

import json
import os
import resource
import threading
import time
from pathlib import Path
from typing import Any, Callable

from hearme.core import io, paths
from hearme.demo import samples
from hearme.lf import runner as lf

STAGE1 = "train/qwen2.5_stage1_selfcog.yaml"
STAGE2 = "train/qwen2.5_stage2_counseling.yaml"
TIBETAN = "train/qwen2.5_tibetan_qlora.yaml"
PREDICT = "predict/qwen2.5_counseling.yaml"
PREDICT_BO = "predict/qwen2.5_tibetan.yaml"
MERGE = "merge/qwen2.5_counseling.yaml"
INFER = "infer/qwen2.5_counseling.yaml"

# Tiny-model CPU overrides of the LoRA recipes. The recipes' 5e-5 moves a 120k-parameter model
# nowhere in a few dozen steps; everything else (rank, alpha, targets, template, system prompt,
# schedule, data) stays the recipe's.
TINY_SIZE = {"hidden": 128, "layers": 2}  # the demo's tiny model: wider than `hearme tiny-model`'s default
TINY_BASE_STEPS = 1600  # the base's causal-LM training
TINY_STEPS = 300  # stage 1 LoRA
TINY_EXTRA = {"learning_rate": 2.0e-2, "warmup_ratio": 0.0, "warmup_steps": 0, "per_device_train_batch_size": 8,
              "gradient_accumulation_steps": 1, "logging_steps": 5}
TINY_NO_EVAL = {"eval_strategy": "no", "load_best_model_at_end": False, "save_strategy": "no",
                "early_stopping_steps": None, "metric_for_best_model": None, "greater_is_better": None}
TINY_STAGE2_LR = 1.0e-3  # stage 2 continues the adapter gently, so the identity it learnt survives
TINY_OTHER_STEPS = 30  # stage 2 and the Tibetan QLoRA (at most --max-steps): they show the path, not a result


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (LLaMA-Factory runs as children)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class Demo:
    def __init__(self, out: Path, model: str | None, template: str | None, max_steps: int, base_steps: int):
        self.out = out
        self.model = model
        self.tiny = model is None
        self.template = template
        self.max_steps = max_steps
        self.base_steps = base_steps
        self.data_dir = out / "data"
        self.results: dict[str, Any] = {"timing": {}, "phases": []}
        self.notes: list[str] = []
        # Set when stage 2 has written its adapter / the merge its model, or when any step failed:
        # predict and the tuned evaluation (side track) wait on them.
        self.adapter_done = threading.Event()
        self.merge_done = threading.Event()

    # ------------------------------------------------------------ steps
    def step_model(self) -> None:
        if self.tiny:
            from hearme.lf import tinymodel

            path = self.out / "tiny-model"
            if not (path / "hearme_tiny.json").exists():
                tinymodel.build(path, **TINY_SIZE)
            self.model = str(path)
            self.results["tiny_model"] = tinymodel.describe(self.model)
        elif not Path(self.model).exists():
            raise io.HearMeError(f"--model {self.model}: no such directory (the demo never downloads models)")
        self.results["model"] = self.model
        self.results["base_model"] = self.model

    def step_data(self) -> None:
        report = samples.build(self.data_dir, self.data_dir)
        self.results["data"] = report
        from hearme.converters.card import build_card

        entries = {b.name: {"source": b.source, "license": samples.LICENSE} for b in samples.BUNDLES}
        md = build_card(samples.records_by_bundle(self.data_dir), self.out / "card", entries=entries)
        self.results["card"] = str(md)

    def step_base(self) -> None:
        from hearme.demo import base as demo_base

        counts = demo_base.register_dataset(self.data_dir)
        out = self.out / "base"
        cfg = demo_base.config(self.model, self.data_dir, out, self.base_steps)
        # The base trains alone (nothing else runs in the setup phase): it may use every core.
        threads = {"OMP_NUM_THREADS": str(min(4, os.cpu_count() or 1))}
        lf.run("train", cfg, self.out / "configs" / "base.yaml", self.out / "logs" / "base.log", env=threads)
        self.results["base"] = {**self._train_result(out, None), "records": counts,
                                "config": str(self.out / "configs" / "base.yaml")}
        self.results["base_model"] = str(out)
        self.notes.append(f"base: the random tiny model after {self.base_steps} steps of causal-LM training "
                          f"(stage sft, decoder layers, lr {demo_base.TRAIN_ARGS['learning_rate']:g}) on the "
                          "neutral-identity self-cognition questions, about 700 pattern-made identity questions "
                          "(none contains or is near a probe prompt) and the bundled dialogues' opening exchanges; "
                          "no Jerry/VastEpiphany item is in it")

    def _recipe(self, command: str, recipe: str, name: str, *, adapter: str | None = None,
                extra: dict | None = None, max_steps: int | None = None) -> Path:
        """Run a shipped recipe; the tiny model gets `tiny_overrides`, a real model keeps the recipe."""
        from hearme.lf.recipes import tiny_overrides

        cfg = lf.resolve_recipe(recipe)
        out = self.out / name
        base = self.results["base_model"]
        steps = max_steps or self.max_steps
        if self.tiny:
            over, notes = tiny_overrides(cfg, base, dataset_dir=self.data_dir, output_dir=out, adapter=adapter,
                                         max_steps=steps, cutoff_len=256)
            self.notes += [f"{name}: {n}" for n in notes if f"{name}: {n}" not in self.notes]
            if cfg.get("do_train"):
                over.update(TINY_EXTRA)
                if cfg.get("eval_strategy", "no") != "no" or cfg.get("load_best_model_at_end"):
                    over.update(TINY_NO_EVAL)
                    note = (f"{name}: no per-epoch evaluation, checkpoints or early stopping (the held-out split's "
                            "paraphrases cannot rank checkpoints of a model this small)")
                    if note not in self.notes:
                        self.notes.append(note)
            if cfg.get("do_predict"):
                over.update(max_new_tokens=48, per_device_eval_batch_size=4)
            if command == "export":  # export's parser has no precision flags
                over.update(bf16=None, fp16=None)
        else:
            over = {"model_name_or_path": base, "adapter_name_or_path": adapter}
            over["export_dir" if command == "export" else "output_dir"] = str(out)
            if command != "export":
                over["dataset_dir"] = str(self.data_dir)
            if cfg.get("do_train"):
                over.update(max_steps=steps, save_steps=steps)
        if self.template:
            over["template"] = self.template
        over.update(extra or {})
        lf.run(command, lf.apply_overrides(cfg, over), self.out / "configs" / f"{name}.yaml",
               self.out / "logs" / f"{name}.log")
        return out

    def _train_result(self, out: Path, recipe: str | None) -> dict:
        res = json.loads((out / "train_results.json").read_text())
        png = out / "training_loss.png"
        log = [json.loads(ln) for ln in (out / "trainer_log.jsonl").read_text().splitlines() if ln.strip()]
        losses = [e["loss"] for e in log if isinstance(e.get("loss"), (int, float))]
        return {"recipe": f"recipes/{recipe}" if recipe else None, "output": str(out), "adapter": str(out),
                "train_loss": res.get("train_loss"), "first_loss": losses[0] if losses else None,
                "last_loss": losses[-1] if losses else None, "steps": log[-1].get("current_steps") if log else None,
                "train_runtime": res.get("train_runtime"), "epoch": res.get("epoch"),
                "loss_curve": str(png) if png.exists() else None}

    def step_stage1(self) -> None:
        out = self._recipe("train", STAGE1, "stage1_selfcog")
        self.results["stage1"] = self._train_result(out, STAGE1)

    def step_stage2(self) -> None:
        steps = min(TINY_OTHER_STEPS, self.max_steps) if self.tiny else self.max_steps
        out = self._recipe("train", STAGE2, "stage2_counseling", adapter=self.results["stage1"]["adapter"],
                           max_steps=steps, extra={"learning_rate": TINY_STAGE2_LR} if self.tiny else None)
        self.results["train"] = self._train_result(out, STAGE2)
        self.results["adapter"] = str(out)
        self.adapter_done.set()

    def step_merge(self) -> None:
        out = self._recipe("export", MERGE, "merged", adapter=self.results["adapter"],
                           extra={"export_size": 1} if self.tiny else None)
        self.results["merged_model"] = str(out)
        self.merge_done.set()

    def step_predict(self) -> None:
        self.adapter_done.wait()
        if "adapter" not in self.results:
            raise io.HearMeError("predict: no stage-2 adapter (an earlier step failed)")
        out = self._recipe("train", PREDICT, "predict_counseling", adapter=self.results["adapter"])
        self.results["predict"] = json.loads((out / "predict_results.json").read_text())
        self.results["generated_predictions"] = str(out / "generated_predictions.jsonl")

    def _evaluate(self, label: str, model: str) -> None:
        from hearme.demo import evaluate as demo_eval

        infer = lf.resolve_recipe(INFER)
        template = self.template or infer.get("template", "qwen")
        system = infer.get("default_system")
        heldout = io.load_records(self.data_dir / "hearme_selfcog_val.json")
        self.results.setdefault("before_after", {})["served_with"] = {
            "recipe": f"recipes/{INFER}", "template": template, "default_system": system}
        self.results["before_after"][label] = demo_eval.evaluate(model, self.out / "eval" / label, template=template,
                                                                 system=system, heldout=heldout)

    def step_eval_base(self) -> None:
        self._evaluate("base", self.results["base_model"])

    def step_eval_tuned(self) -> None:
        self.merge_done.wait()
        if "merged_model" not in self.results:
            raise io.HearMeError("after: no merged model (an earlier step failed)")
        self._evaluate("tuned", self.results["merged_model"])

    def step_compare(self) -> None:
        from hearme.evaluators import compare

        made = compare.run([f"base={self.out / 'eval' / 'base'}", f"tuned={self.out / 'eval' / 'tuned'}"],
                           self.out / "compare")
        self.results["before_after"]["compare"] = {"markdown": str(self.out / "compare" / "comparison.md"),
                                                   "charts": made.get("charts", [])}

    def step_tibetan_train(self) -> None:
        out = self._recipe("train", TIBETAN, "tibetan_qlora",
                           max_steps=min(TINY_OTHER_STEPS, self.max_steps) if self.tiny else None)
        self.results["tibetan_train"] = self._train_result(out, TIBETAN)
        pred = self._recipe("train", PREDICT_BO, "predict_tibetan", adapter=str(out))
        self.results["tibetan_predict"] = json.loads((pred / "predict_results.json").read_text())
        self.results["tibetan_predictions"] = str(pred / "generated_predictions.jsonl")

    def step_metrics(self) -> None:
        from hearme.evaluators.metrics import compute

        self.results["hearme_metrics"] = {"zh": compute(self.results["generated_predictions"], lang="zh"),
                                          "bo": compute(self.results["tibetan_predictions"], lang="bo")}

    def step_tibetan(self) -> None:
        from hearme.demo.tibetan import demo_leg

        self.results["tibetan"] = demo_leg(self.out / "tibetan", self.model if self.tiny else None, self.data_dir)

    def step_stage3(self) -> None:
        from hearme.demo import evaluate as demo_eval, stage3

        infer = lf.resolve_recipe(INFER)
        self.results["stage3"] = stage3.run(self, self._recipe, template=self.template or infer.get("template", "qwen"),
                                            system=infer.get("default_system"), name=demo_eval.NAME,
                                            author=demo_eval.AUTHOR)

    def step_judge(self) -> None:
        from hearme.demo.judge import demo_judge

        self.results["judge"] = demo_judge(self.out / "judge", self.results["generated_predictions"],
                                           model_path=self.results["merged_model"], template=self.template or "qwen")

    # ------------------------------------------------------------ plumbing
    def phases(self) -> list[list[list[tuple[str, Callable[[], None]]]]]:
        """Phases run one after another; the tracks of a phase run side by side (two cores)."""
        setup = [("tiny model" if self.tiny else "check model", self.step_model),
                 ("convert, split, register samples + data card", self.step_data)]
        if self.tiny:
            setup.append(("base: causal-LM training of the tiny model (neutral identity)", self.step_base))
        # predict needs only the stage-2 adapter and the tuned evaluation only the merged model: both run
        # in the side track (it waits on them) while the Chinese track goes on to stage 3.
        chinese = [("stage 1: self-cognition LoRA", self.step_stage1),
                   ("stage 2: counseling LoRA from the stage-1 adapter", self.step_stage2),
                   ("merge adapter (llamafactory-cli export)", self.step_merge),
                   ("stage 3: preference pairs (scripted judge) + DPO, property before/after", self.step_stage3)]
        side = [("before: the base served (llamafactory-cli api), identity probe + held-out self-cognition",
                 self.step_eval_base),
                ("Tibetan LoRA + predict", self.step_tibetan_train),
                ("Tibetan pipeline leg", self.step_tibetan),
                ("predict + BLEU/ROUGE on the held-out counseling split", self.step_predict),
                ("after: the tuned model served, identity probe + held-out self-cognition", self.step_eval_tuned)]
        final = [("hearme compare (base vs tuned)", self.step_compare),
                 ("HearMe metrics (incl. Tibetan)", self.step_metrics),
                 ("LLM judge + crisis probe", self.step_judge)]
        if not self.tiny:  # one GPU: a 7B training run and a served 7B model do not fit side by side
            return [[setup], [chinese], [side], [final]]  # stage 2 and the merge are done before the side waits
        return [[setup], [chinese, side], [final]]


def run(out: str | Path, model: str | None = None, template: str | None = None, max_steps: int | None = None,
        base_steps: int | None = None) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    from tqdm import tqdm

    paths.set_offline()
    if model is None:
        # Tiny matrices gain nothing from a second thread, and spinning threads stall on a busy machine;
        # the demo runs two tracks side by side instead.
        os.environ.setdefault("OMP_NUM_THREADS", "1")
    max_steps = max_steps or (TINY_STEPS if model is None else 30)
    base_steps = base_steps or TINY_BASE_STEPS
    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    demo = Demo(out, model, template, max_steps, base_steps)
    phases = demo.phases()
    total = sum(len(track) for phase in phases for track in phase) + 1
    done = [0]
    t_all, c_all = time.time(), cpu_seconds()
    with tqdm(total=total, desc="hearme demo", unit="step", dynamic_ncols=True) as bar:
        def run_track(track: list[tuple[str, Callable[[], None]]]) -> None:
            for label, fn in track:
                tqdm.write(f"[start] {label}")
                t0 = time.time()
                try:
                    fn()
                except BaseException:
                    demo.adapter_done.set()  # nothing waits for a step that will never run
                    demo.merge_done.set()
                    raise
                demo.results["timing"][label] = round(time.time() - t0, 1)
                done[0] += 1
                bar.update(1)

        for i, phase in enumerate(phases, 1):
            c0, t0 = cpu_seconds(), time.time()
            if len(phase) == 1:
                run_track(phase[0])
            else:
                with ThreadPoolExecutor(len(phase)) as pool:
                    for f in [pool.submit(run_track, track) for track in phase]:
                        f.result()  # the first failure stops the demo with its own message
            demo.results["phases"].append({"tracks": [[label for label, _ in t] for t in phase],
                                           "wall": round(time.time() - t0, 1), "cpu": round(cpu_seconds() - c0, 1)})
        label = "metrics.json, bilingual training report, report.md/html"
        tqdm.write(f"[start] {label}")
        metrics = write_outputs(demo, t_all, c_all, label)
        bar.update(1)
    print(f"\nmetrics: {out / 'metrics.json'}")
    print(f"report:  {out / 'report.html'}")
    for line in headline(metrics):
        print(line)
    return metrics


def headline(m: dict) -> list[str]:
    """The three numbers that matter: identity pass rate before and after, and the run time."""
    ip = m.get("identity_probe") or {}
    lines = []
    for label in ("base", "tuned"):
        p = ip.get(label)
        if p and p.get("pass_rate") is not None:
            lo, hi = p["ci95"]
            lines.append(f"identity probe, {label:<5}: {p['pass_rate']:.0%} pass (95% CI {lo:.0%}-{hi:.0%}, "
                         f"{p['passed']}/{p['n']})")
    lines.append(f"total time: {m['timing'].get('total', 0):.0f} s wall, {m['cpu_total']:.0f} s CPU "
                 "(the demo and every LLaMA-Factory process it ran)")
    return lines


def write_outputs(demo: Demo, t_all: float, c_all: float, label: str) -> dict:
    """metrics.json first (every number), then the training report that reads it, then the report."""
    from hearme.demo import report as demo_report

    r = demo.results
    metrics = {k: v for k, v in r["predict"].items() if k.startswith("predict_")}
    metrics.update({"adapter": r["adapter"], "merged_model": r["merged_model"],
                    "generated_predictions": r["generated_predictions"], "train": r["train"],
                    "model": r["model"], "base_model": r["base_model"],
                    "offline": os.environ.get("HF_HUB_OFFLINE") == "1"})
    ba = r.get("before_after")
    if ba:
        metrics["identity_probe"] = {k: ba[k]["identity_probe"] for k in ("base", "tuned")}
        metrics["selfcog_heldout"] = {k: ba[k]["selfcog_heldout"] for k in ("base", "tuned")}
        metrics["before_after"] = ba
    for key in ("tiny_model", "base", "stage1", "tibetan_train", "tibetan_predict", "tibetan_predictions",
                "hearme_metrics", "tibetan", "judge", "data", "card", "stage3"):
        if key in r:
            metrics[key] = r[key]
    metrics["notes"] = demo.notes
    metrics["timing"], metrics["phases"] = r["timing"], r["phases"]
    metrics["cpu_total"] = round(cpu_seconds() - c_all, 1)
    io.write_json(demo.out / "metrics.json", metrics)

    from hearme.evaluators import report

    t0 = time.time()
    specs = [f"base={demo.out / 'eval' / 'base'}", f"tuned={demo.out / 'eval' / 'tuned'}"] if ba else [str(demo.out)]
    made = report.run(specs, demo.out / "training_report")
    metrics["training_report"] = {k: str(v) for k, v in made.items()}
    r["timing"][label] = round(time.time() - t0, 1)
    r["timing"]["total"] = round(time.time() - t_all, 1)
    metrics["cpu_total"] = round(cpu_seconds() - c_all, 1)
    io.write_json(demo.out / "metrics.json", metrics)
    io.write_text(demo.out / "report.md", demo_report.render(demo.out, metrics))
    io.write_text(demo.out / "report.html", demo_report.to_html(demo.out, demo.out / "report.md"))
    return metrics
