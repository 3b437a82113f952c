"""The report's training sections: the editable text (sections.yaml), split sizes, the hyperparameter table
(recipe YAML, training_args.bin read with a restricted loader, trainer_state.json, adapter_config.json) and the loss chart."""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Any

from hearme.core import io
from hearme.evaluators.runs import Run, files, loss_points, state_points
from hearme.evaluators.report_md import bi, slug, table


HYPER_FIRST = ("model_name_or_path", "template", "stage", "finetuning_type", "lora_rank", "lora_alpha", "lora_dropout",
               "lora_target", "quantization_bit", "dataset", "cutoff_len", "learning_rate", "num_train_epochs",
               "max_steps", "per_device_train_batch_size", "gradient_accumulation_steps", "lr_scheduler_type",
               "warmup_ratio", "bf16", "fp16", "deepspeed", "val_size", "seed")
TRAINER_ARGS = ("learning_rate", "num_train_epochs", "max_steps", "per_device_train_batch_size",
                "per_device_eval_batch_size", "gradient_accumulation_steps", "lr_scheduler_type", "warmup_ratio",
                "warmup_steps", "weight_decay", "max_grad_norm", "optim", "seed", "bf16", "fp16", "eval_strategy",
                "eval_steps", "save_steps", "logging_steps", "output_dir")
ADAPTER_KEYS = ("base_model_name_or_path", "peft_type", "r", "lora_alpha", "lora_dropout", "target_modules")
SAFE_MODULES = ("transformers.", "accelerate.", "llamafactory.", "peft.", "enum.")
SECTIONS_FILE = "sections.yaml"
DEFAULT_SECTIONS = {
    "application": {
        "zh": "心理健康咨询：为说中文和藏语的来访者提供共情、专业、安全的支持性对话。焦虑和抑郁常见，"
              "而病耻感和咨询资源不足（藏语尤甚）让许多人得不到及时的疏导；本模型用于辅助而不是替代专业咨询师，"
              "遇到危机时引导来访者寻求专业与紧急帮助。",
        "en": "Mental-health counseling: empathetic, professional and safe supportive dialogue for Chinese- and "
              "Tibetan-speaking clients. Anxiety and depression are common, while stigma and scarce counseling "
              "resources (scarcer still in Tibetan) keep many people from timely support; the model assists, and does "
              "not replace, professional counselors, and points people in crisis to professional and emergency help."},
    "data": {
        "zh": "数据来源与处理：见下方数据卡（来源、许可、对话与话语长度统计）。转换器把各来源统一成一种记录格式，"
              "逐条核算读取 = 写出 + 拒绝，拒绝原因写入旁路文件；对个人信息做脱敏。请在此补充你的具体来源与处理步骤。",
        "en": "Data source and processing: see the data card below (sources, licenses, dialogue and utterance length "
              "statistics). The converters bring every source into one record format, account read = written + "
              "rejected with the reasons in a side file, and scrub personal information. Add your own sources and "
              "steps here."},
    "split": {
        "zh": "按对话分组划分（hearme split，固定随机种子），同一段对话的各轮不会同时出现在训练集和测试集；"
              "验证集用于监控验证损失、选择检查点，测试集只用于最终的预测与指标。请按你的比例说明理由。",
        "en": "Split by dialogue group (hearme split, fixed seed), so the turns of one conversation never straddle "
              "train and test; the validation set tracks eval loss and picks checkpoints, the test set is used only "
              "for the final predictions and metrics. Explain your ratios here."},
}


# ---------------------------------------------------------------- editable sections

def load_sections(out: Path) -> dict:
    """OUT/sections.yaml (written with the defaults on the first run, then only read)."""
    import yaml

    path = out / SECTIONS_FILE
    if not path.exists():
        io.write_text(path, "# Edit these paragraphs and re-run `hearme report`; they are kept.\n"
                            "# 修改下面的段落后重新运行 `hearme report`，修改会保留。\n"
                      + yaml.safe_dump(DEFAULT_SECTIONS, allow_unicode=True, sort_keys=False, width=100))
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as e:
        raise io.InputError(path, "", f"not valid YAML: {' '.join(str(e).split())[:160]}") from None
    if not isinstance(data, dict):
        raise io.InputError(path, "", "expected application/data/split, each with zh and en")
    return {k: {**DEFAULT_SECTIONS[k], **(data.get(k) or {})} for k in DEFAULT_SECTIONS}


def section_text(sections: dict, key: str) -> list[str]:
    s = sections[key]
    return [f"**中文**：{str(s.get('zh', '')).strip()}", "", f"**English**: {str(s.get('en', '')).strip()}", "",
            f"_<!-- {SECTIONS_FILE}: {key} -->_", ""]


_SPLIT = re.compile(r"(.+)_(train|val|valid|validation|dev|test)(?:\.json)?$")


def _count(path: Path) -> int | None:
    try:
        data = io.read_json(path)
    except io.HearMeError:
        return None
    return len(data) if isinstance(data, list) else None


def split_sizes(run: Run) -> list[list[Any]]:
    """Records per split part: *_train/_val/_test.json files in the run, else the datasets its recipe
    names, looked up in the recipe's dataset_dir registry (the split as it was used)."""
    found: dict[str, dict[str, int]] = {}
    for p in files(run.root):
        m = _SPLIT.match(p.name)
        if m and p.suffix == ".json" and (n := _count(p)) is not None:
            found.setdefault(m.group(1), {})[m.group(2)] = n
    if not found:
        from hearme.core import registry

        wanted: list[tuple[str, str]] = []  # (dataset name, dataset_dir)
        for _, cfg in run.train_configs:
            wanted += [(x.strip(), cfg.get("dataset_dir") or ".") for key in ("dataset", "eval_dataset")
                       for x in str(cfg.get(key) or "").split(",") if x.strip()]
        for card in run.model_cards:
            wanted += [(n, ".") for n in _model_card_datasets(card)]
        for name, ddir in wanted:
            try:
                info = registry.load(ddir)
            except (io.HearMeError, OSError):
                continue
            m = _SPLIT.match(name)
            group = m.group(1) if m else name
            siblings = [k for k in info if _SPLIT.match(k) and _SPLIT.match(k).group(1) == group] if m else [name]
            for sib in siblings:
                try:
                    n = _count(registry.file_of(sib, ddir))
                except (io.HearMeError, KeyError, OSError):
                    n = None
                if n is not None:
                    part = _SPLIT.match(sib).group(2) if _SPLIT.match(sib) else "all"
                    found.setdefault(group, {})[part] = n
    rows = []
    for name, parts in found.items():
        total = sum(parts.values())
        for part, n in parts.items():
            rows.append([name, part, n, f"{n / total:.1%}" if total else "–"])
    return rows


# ---------------------------------------------------------------- hyperparameters

def trainer_args(path: Path) -> dict | None:
    """training_args.bin through torch's weights-only loader, allowing only trainer/config classes;
    None when it holds anything else (then it is not unpickled at all)."""
    try:
        import torch

        names = torch.serialization.get_unsafe_globals_in_checkpoint(str(path))
        if not all(n.startswith(SAFE_MODULES) for n in names):
            return None
        objs = []
        for n in names:
            mod, _, attr = n.rpartition(".")
            objs.append(getattr(importlib.import_module(mod), attr))
        with torch.serialization.safe_globals(objs):
            args = torch.load(str(path), weights_only=True, map_location="cpu")
    except Exception:  # noqa: BLE001  (an unreadable file just has no table)
        return None
    out = {}
    for k in TRAINER_ARGS:
        v = getattr(args, k, None)
        if v is not None and v != "":
            out[k] = getattr(v, "value", v)
    return out


def _model_card_datasets(path: Path) -> list[str]:
    """Dataset names from the Trainer's model card: "on the A, the B and the C datasets"."""
    m = re.search(r"fine-tuned version of .*? on the (.+?) datasets?\.", path.read_text(encoding="utf-8", errors="replace"))
    return [x.strip() for x in re.split(r",? and the |, the ", m.group(1))] if m else []


def _model_card_hypers(path: Path) -> dict:
    """The Trainer's README.md 'Training hyperparameters' list (and the dataset it names)."""
    text = path.read_text(encoding="utf-8", errors="replace")
    out = {}
    names = _model_card_datasets(path)
    if names:
        out["dataset"] = ",".join(names)
    block = text.split("### Training hyperparameters", 1)[-1].split("###", 1)[0] if "### Training hyperparameters" in text else ""
    for k, v in re.findall(r"^- ([\w ]+): (.+)$", block, flags=re.M):
        out[k.strip()] = v.strip()
    return out


def section_hyper(run: Run) -> list[str]:
    out = []
    for path, cfg in run.train_configs:
        keys = [k for k in HYPER_FIRST if k in cfg] + sorted(k for k in cfg if k not in HYPER_FIRST)
        rows = [[k, str(cfg[k])[:80]] for k in keys]  # as written: 2.0e-05 must not round to 0.0000
        out += [f"{bi('训练配置', 'recipe')}: `{path}`", "", table([bi("参数", "parameter"), bi("取值", "value")], rows), ""]
    for bin_path in sorted({p.parent / "training_args.bin" for p in run.trainer_states} |
                           set(run.root.glob("**/training_args.bin"))):
        if "checkpoint-" in str(bin_path) or not bin_path.exists():
            continue
        rows = [[k, str(v)[:80]] for k, v in (trainer_args(bin_path) or {}).items()]
        d = bin_path.parent
        adapter = d / "adapter_config.json"
        if adapter.exists():
            cfg = io.read_json(adapter)
            rows += [[f"lora: {k}", str(sorted(v) if isinstance(v := cfg.get(k), list) else v)[:80]]
                     for k in ADAPTER_KEYS if cfg.get(k) is not None]
        if (d / "README.md").exists():
            known = {r[0] for r in rows}
            rows += [[f"card: {k}", v[:80]] for k, v in _model_card_hypers(d / "README.md").items() if k not in known]
        if rows:
            out += [f"{bi('训练器保存的参数', 'saved by the trainer')}: `{d}`", "",
                    table([bi("参数", "parameter"), bi("取值", "value")], rows), ""]
    return out or [f"_{bi('未找到训练配置或训练器保存的参数', 'no recipe and no trainer arguments found')}_", ""]


# ---------------------------------------------------------------- loss

def loss_chart(run: Run, assets: Path) -> tuple[Path | None, bool]:
    """Train and eval loss per training directory; returns (png, has_eval_loss)."""
    series = []
    dirs = {p.parent for p in run.trainer_states} | {p.parent for p in run.trainer_logs}
    for d in sorted(dirs):
        state, log = d / "trainer_state.json", d / "trainer_log.jsonl"
        train = state_points(state, "loss") if state.exists() else []
        ev = state_points(state, "eval_loss") if state.exists() else []
        if not train and log.exists():
            train = loss_points(log)
        if not ev and log.exists():
            ev = loss_points(log, "eval_loss")
        name = d.relative_to(run.root).as_posix() if d != run.root else run.name
        if train or ev:
            series.append((name, train, ev))
    if not series:
        return None, False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for n, train, ev in series:
        if train:
            ax.plot([s for s, _ in train], [v for _, v in train], marker="." if len(train) < 40 else None,
                    label=f"{n}: train")
        if ev:
            ax.plot([s for s, _ in ev], [v for _, v in ev], marker="o", linestyle="--", label=f"{n}: eval")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(f"Train and eval loss: {run.name}")
    ax.legend(fontsize=8)
    return io.save_figure(fig, assets / f"loss_{slug(run.name)}.png"), any(ev for _, _, ev in series)
