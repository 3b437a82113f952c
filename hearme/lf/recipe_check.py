"""`hearme recipes check`: parse recipes with LLaMA-Factory's own parsers, without weights or GPU.

Each recipe is parsed by the function behind `llamafactory-cli` for its kind
(train/predict: `get_train_args`, merge/infer: `get_infer_args`) with the model swapped
for the offline tiny model and outputs sent to a temp dir. HearMe adds what the parsers
check only later (after loading a 7 B model) or never: unknown keys with suggestions,
dataset names against dataset_info.json, template names, contradictory settings, and a
peak-memory estimate for one 24 GB card (hearme.lf.memory). Anything that cannot be checked
on this machine is reported as a note, never skipped silently.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from hearme.core import io, paths, registry
from hearme.lf import runner as lf, plugin as lf_plugin, memory

KINDS = ("train", "predict", "merge", "infer")
EFFICIENT_EOS = {"chatglm3", "glm4", "baichuan2"}  # templates that refuse train_on_prompt


@dataclass
class Report:
    path: Path
    kind: str
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    memory: dict[str, float] | None = None
    arch: str = "?"
    cpu: list[tuple[str, object, str]] = field(default_factory=list)  # overrides without a CUDA GPU

    @property
    def ok(self) -> bool:
        return not self.errors


def find_recipes(targets: list[Path] | None = None) -> list[Path]:
    """YAML files named on the command line, or every recipe under the given folders."""
    found: list[Path] = []
    for t in targets or [paths.RECIPES]:
        t = Path(t)
        if t.is_dir():
            found += sorted(p for p in t.rglob("*.y*ml") if p.suffix in (".yaml", ".yml"))
        elif t.exists():
            found.append(t)
        else:
            raise io.InputError(t, "", "no such recipe or folder")
    if not found:
        raise io.HearMeError(f"no recipes (*.yaml) under {', '.join(map(str, targets or [paths.RECIPES]))}")
    return found


def recipe_kind(path: Path, cfg: dict) -> str:
    for part in reversed(path.parts[:-1]):
        if part in KINDS:
            return part
    if cfg.get("export_dir"):
        return "merge"
    if cfg.get("do_predict"):
        return "predict"
    return "train" if cfg.get("do_train") or cfg.get("stage") else "infer"


def _uses_lf_parser(kind: str, cfg: dict) -> str:
    """'train' (get_train_args) or 'infer' (get_infer_args)."""
    if kind == "predict" and cfg.get("infer_backend", "huggingface") != "huggingface":
        return "infer"  # vLLM batch prediction is driven by hearme, parsed as inference args
    return "train" if kind in ("train", "predict") else "infer"


def known_keys(parser: str) -> set[str]:
    from llamafactory.hparams import (
        DataArguments,
        FinetuningArguments,
        GeneratingArguments,
        ModelArguments,
        TrainingArguments,
    )

    classes = [ModelArguments, DataArguments, FinetuningArguments, GeneratingArguments]
    if parser == "train":
        classes.append(TrainingArguments)
    return {f.name for c in classes for f in dataclasses.fields(c) if f.init}


def _names(value) -> list[str]:
    if not value:
        return []
    items = value.split(",") if isinstance(value, str) else value
    return [str(x).strip() for x in items if str(x).strip()]


def check_datasets(cfg: dict, dataset_dir: Path | None) -> list[str]:
    wanted = _names(cfg.get("dataset")) + _names(cfg.get("eval_dataset"))
    if not wanted:
        return []
    where = Path(dataset_dir or cfg.get("dataset_dir", "data"))
    if str(where).startswith(("ONLINE", "REMOTE:")):
        return []
    if not dataset_dir and not where.is_absolute() and not registry.registry_path(where).exists():
        where = paths.BUNDLED / where  # a shipped recipe's `dataset_dir: .` is the bundled registry
    info = registry.load(where)
    missing = [n for n in wanted if n not in info]
    if not missing:
        return []
    known = ", ".join(sorted(info)) or "(none: no dataset_info.json there)"
    return [f"unknown dataset {', '.join(map(repr, missing))} in {registry.registry_path(where)}; known: {known}"]


def check_template(cfg: dict) -> list[str]:
    name = cfg.get("template")
    if not name:
        return []
    from llamafactory.data.template import TEMPLATES

    if name in lf_plugin.PLUGIN_TEMPLATES:
        if lf_plugin.active():
            return []
        return [(f"template {name!r} comes from the HearMe plugin, which is not active here: "
                 f"run `hearme recipes plugin install` (LLaMA-Factory would stop with 'Template {name} does not exist')")]
    if name in TEMPLATES:
        return []
    close = difflib.get_close_matches(name, list(TEMPLATES) + list(lf_plugin.PLUGIN_TEMPLATES), n=3)
    return [f"unknown template {name!r}" + (f"; did you mean {', '.join(close)}?" if close else "")]


def check_deepspeed(cfg: dict) -> tuple[list[str], int]:
    """Errors for the deepspeed JSON, and its ZeRO stage (0 when none)."""
    ds = cfg.get("deepspeed")
    if not ds:
        return [], 0
    p = Path(ds)
    if not p.is_absolute() and not p.exists():
        p = paths.BUNDLED / ds
    if not p.exists():
        return [f"deepspeed config {ds} not found"], 0
    try:
        stage = int(json.loads(p.read_text(encoding="utf-8")).get("zero_optimization", {}).get("stage", 0))
    except (ValueError, TypeError) as e:
        return [f"deepspeed config {ds} is not valid JSON ({e})"], 0
    errors = [] if stage in (1, 2, 3) else [f"deepspeed config {ds}: zero_optimization.stage must be 1, 2 or 3"]
    if stage == 3 and cfg.get("predict_with_generate"):
        errors.append("predict_with_generate is incompatible with DeepSpeed ZeRO-3")
    return errors, stage


def contradictions(cfg: dict, kind: str) -> list[str]:
    """Settings LLaMA-Factory accepts at parse time but that fail (or silently do nothing) later."""
    err = []
    has_eval = bool(cfg.get("eval_dataset")) or float(cfg.get("val_size", 0) or 0) > 0
    if cfg.get("early_stopping_steps") is not None:
        if str(cfg.get("eval_strategy", "no")) == "no":
            err.append("early_stopping_steps needs eval_strategy steps or epoch (EarlyStoppingCallback asserts)")
        if not cfg.get("metric_for_best_model") and not cfg.get("load_best_model_at_end"):
            err.append("early_stopping_steps needs metric_for_best_model (or load_best_model_at_end)")
        if not has_eval:
            err.append("early_stopping_steps needs validation data (eval_dataset or val_size)")
    if str(cfg.get("eval_strategy", "no")) != "no" and kind == "train" and not has_eval:
        err.append("eval_strategy is set but there is no eval_dataset or val_size")
    if cfg.get("neat_packing") and str(cfg.get("flash_attn")) == "fa2" and int(cfg.get("per_device_train_batch_size", 1)) > 1:
        err.append("neat_packing with flash_attn fa2 needs per_device_train_batch_size 1 (collator asserts)")
    model = str(cfg.get("model_name_or_path", "")).lower()
    if cfg.get("quantization_bit") and ("chatglm" in model or cfg.get("template") == "chatglm3"):
        err.append("LLaMA-Factory 0.9.5 refuses quantized ChatGLM models")
    if cfg.get("train_on_prompt") and cfg.get("template") in EFFICIENT_EOS:
        err.append(f"train_on_prompt is refused by the efficient-eos template {cfg.get('template')}")
    if cfg.get("export_quantization_bit") and cfg.get("adapter_name_or_path"):
        err.append("merge the adapter before quantizing the export (export_quantization_bit)")
    if cfg.get("infer_backend") == "vllm":
        if cfg.get("quantization_bit"):
            err.append("vLLM cannot load bitsandbytes quantization (quantization_bit)")
        if len(_names(cfg.get("adapter_name_or_path"))) > 1:
            err.append("vLLM takes a single adapter: merge them first")
    return err


def _missing(module: str) -> bool:
    return importlib.util.find_spec(module) is None


def parse_overrides(cfg: dict, parser: str, tiny_model: Path, tmp: Path) -> tuple[dict, list[str]]:
    """The recipe as LLaMA-Factory parses it here: tiny model, temp outputs, and no GPU-only extras."""
    import torch

    out = dict(cfg)
    notes = []
    out["model_name_or_path"] = str(tiny_model)
    if "output_dir" in out or parser == "train":
        out["output_dir"] = str(tmp / "out")
    if out.get("export_dir"):
        out["export_dir"] = str(tmp / "export")
    if out.get("dataset_dir") and not Path(out["dataset_dir"]).exists():
        out["dataset_dir"] = str(tmp)
    if out.get("deepspeed"):
        out.pop("deepspeed")
        notes.append("deepspeed: checked by HearMe (JSON, ZeRO stage); LLaMA-Factory refuses it outside torchrun")
    if out.get("enable_liger_kernel") and _missing("liger_kernel"):
        out["enable_liger_kernel"] = False
        notes.append("liger-kernel is not installed here (it needs a CUDA GPU): parsed with it off")
    if out.get("infer_backend") in ("vllm", "sglang") and _missing(out["infer_backend"]):
        notes.append(f"{out['infer_backend']} is not installed here: parsed with the huggingface engine")
        out["infer_backend"] = "huggingface"
    if parser == "train" and (out.get("bf16") or out.get("fp16")) and not torch.cuda.is_available():
        out["use_cpu"] = True  # transformers refuses bf16 without a GPU unless use_cpu is set
    if out.get("quantization_bit") and _missing("bitsandbytes"):
        notes.append("bitsandbytes is not installed: the 4-bit settings are parsed but not loadable here")
    return out, notes


def lf_parse(parser: str, cfg: dict) -> None:
    from llamafactory.hparams import get_infer_args, get_train_args

    (get_train_args if parser == "train" else get_infer_args)(cfg)


def estimate(cfg: dict, kind: str, world_size: int, zero_stage: int) -> tuple[str, dict[str, float] | None]:
    model = str(cfg.get("model_name_or_path", ""))
    arch = memory.find_arch(model) or memory.find_arch(str(cfg.get("adapter_name_or_path", "")))
    if arch is None:
        return "unknown", None
    if kind == "train":
        return arch.name, memory.train_estimate(arch, cfg, world_size if zero_stage else 1, zero_stage)
    if kind == "merge" and cfg.get("export_device", "cpu") == "cpu":
        return arch.name, {"total": 0.0}
    if cfg.get("infer_backend") == "vllm":
        util = float(cfg.get("vllm_gpu_util", 0.7))
        return arch.name, {"weights": memory.weight_bytes(arch, None) / memory.GiB, "total": util * memory.CARD_GIB}
    return arch.name, memory.generate_estimate(arch, cfg)


def check(path: Path, *, tiny_model: Path, dataset_dir: Path | None = None, world_size: int = 2) -> Report:
    cfg = lf.load_yaml(path)
    kind = recipe_kind(path, cfg)
    rep = Report(path, kind)
    parser = _uses_lf_parser(kind, cfg)
    unknown = sorted(set(cfg) - known_keys(parser))
    for k in unknown:
        close = difflib.get_close_matches(k, known_keys(parser), n=1)
        rep.errors.append(f"unknown key {k!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    rep.errors += check_datasets(cfg, dataset_dir)
    rep.errors += check_template(cfg)
    ds_errors, zero = check_deepspeed(cfg)
    rep.errors += ds_errors + contradictions(cfg, kind)
    if not unknown:
        with tempfile.TemporaryDirectory(prefix="hearme-check-") as tmp:
            parsed, rep.notes = parse_overrides(cfg, parser, tiny_model, Path(tmp))
            try:
                lf_parse(parser, parsed)
            except (ValueError, TypeError, ImportError, RuntimeError) as e:
                rep.errors.append(f"LLaMA-Factory: {str(e).splitlines()[0] if str(e) else type(e).__name__}")
    from hearme.lf import recipes

    rep.cpu = recipes.cpu_overrides(cfg)
    rep.arch, rep.memory = estimate(cfg, kind, world_size, zero)
    if rep.memory is None:
        rep.notes.append("unknown base architecture: no memory estimate")
    elif memory.reference_note(cfg, rep.memory):
        rep.notes.append(memory.reference_note(cfg, rep.memory))
    if rep.memory is not None and rep.memory["total"] > memory.LIMIT_GIB:
        rep.errors.append(f"estimated peak {rep.memory['total']:.1f} GiB > {memory.LIMIT_GIB:.0f} GiB on a 24 GB card")
    if zero:
        rep.notes.append(f"ZeRO-{zero}: memory is per GPU with {world_size} GPUs")
    return rep


def run_checks(targets: list[Path] | None, *, tiny_model: Path | None = None, dataset_dir: Path | None = None,
               world_size: int = 2) -> list[Report]:
    os.environ.setdefault("LLAMAFACTORY_VERBOSITY", "WARN")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    paths.set_offline()
    recipes = find_recipes(targets)  # bad paths fail before any model work
    if tiny_model is None:
        from hearme.lf import tinymodel

        tiny_model = tinymodel.ensure(paths.cache_dir() / "tiny-model")
    return [check(p, tiny_model=Path(tiny_model), dataset_dir=dataset_dir, world_size=world_size) for p in recipes]


def _rel(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(paths.BUNDLED))
    except ValueError:
        return str(p)


def cpu_command(r: Report) -> str:
    """The exact command that runs recipe r on a machine without a CUDA GPU."""
    from hearme.lf.recipes import cli_value

    command = {"merge": "export", "infer": "chat"}.get(r.kind, "train")
    return " ".join([f"llamafactory-cli {command} {_rel(r.path)}", *(f"{k}={cli_value(v)}" for k, v, _ in r.cpu)])


def format_reports(reports: list[Report]) -> str:
    lines = []
    for r in reports:
        lines.append(f"{'ok  ' if r.ok else 'FAIL'} {r.kind:<8} {_rel(r.path)}")
        lines += [f"       error: {e}" for e in r.errors]
        lines += [f"       note:  {n}" for n in r.notes]
        if r.cpu:
            lines.append(f"       cpu:   {cpu_command(r)}")
    if any(r.cpu for r in reports):
        lines += ["", "Without a CUDA GPU, run the `cpu:` command shown under a recipe, or `hearme train RECIPE`",
                  "(it adds those overrides itself). Why each one:"]
        lines += [f"  {k}: {why}" for k, why in sorted({(k, why) for r in reports for k, _, why in r.cpu})]
    lines += ["", f"Estimated peak GPU memory, GiB (one {memory.CARD_GIB:.0f} GB card; fail above {memory.LIMIT_GIB:.0f}):",
              f"{'recipe':<56} {'base':<14} {'weights':>7} {'lora+opt':>8} {'activ.':>7} {'logits':>7} {'total':>6}"]
    for r in reports:
        m = r.memory or {}
        cols = [f"{m[k]:7.1f}" if k in m else f"{'-':>7}" for k in ("weights", "lora+optimizer", "activations", "logits")]
        total = f"{m['total']:6.1f}" if m else f"{'?':>6}"
        if r.kind == "merge" and m and m["total"] == 0:
            total = "   cpu"
        lines.append(f"{_rel(r.path):<56} {r.arch:<14} {' '.join(cols[:1])} {cols[1]:>8} {cols[2]} {cols[3]} {total}")
    return "\n".join(lines)
