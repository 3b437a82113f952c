"""`hearme report`: the bilingual (中文 / English) training report, from run artifacts alone.

Built for the course's assignment (the HearMeGLM report): per run, in this order

1. application direction, 2. data source and processing (the data card), 3. the split and its
rationale - editable: their text comes from OUT/sections.yaml, written with defaults on the first
run; edit it and re-run -; 4. the hyperparameter table (the recipe YAML when one is found, and the
trainer's own saved arguments: training_args.bin read with a restricted loader, trainer_state.json,
adapter_config.json), 5. train and eval loss curves, 6. metrics per predictions file and language
(Tibetan: syllable BLEU/ROUGE and chrF++ first, LLaMA-Factory's code-point numbers marked not
comparable), 7. the LLM judge with 95% CIs and unscored counts with reasons, 8. probes, 9.
inference samples, 10. a deployment snippet; with two or more runs, the paired comparison.
Writes OUT/report.md (images in OUT/assets/) and OUT/report.html (images inlined: one file).
"""

from __future__ import annotations

import base64
import html
import importlib
import re
import shutil
from pathlib import Path
from typing import Any

from hearme import io
from hearme.evaluators.runs import Run, files, load, loss_points, metric_groups, state_points

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


def _t(zh: str, en: str) -> str:
    return f"{zh} / {en}"


def _table(head: list[str], rows: list[list[Any]]) -> str:
    esc = lambda c: str(c).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] +
                     ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows])


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 10 else f"{v:.2f}"
    return "–" if v is None else str(v)


def _ci(ci: list | None) -> str:
    return f"[{ci[0]:.2f}, {ci[1]:.2f}]" if ci else "–"


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s) or "run"


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
        from hearme import registry

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
        out += [f"{_t('训练配置', 'recipe')}: `{path}`", "", _table([_t("参数", "parameter"), _t("取值", "value")], rows), ""]
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
            out += [f"{_t('训练器保存的参数', 'saved by the trainer')}: `{d}`", "",
                    _table([_t("参数", "parameter"), _t("取值", "value")], rows), ""]
    return out or [f"_{_t('未找到训练配置或训练器保存的参数', 'no recipe and no trainer arguments found')}_", ""]


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
    return io.save_figure(fig, assets / f"loss_{_slug(run.name)}.png"), any(ev for _, _, ev in series)


# ---------------------------------------------------------------- results

def section_card(run: Run, assets: Path) -> list[str]:
    if not run.data_card:
        return [f"_{_t('未找到数据卡（card.md，用 hearme stats 生成）', 'no data card (card.md; make one with hearme stats)')}_", ""]
    text = run.data_card.read_text(encoding="utf-8")
    sub = assets / f"card_{_slug(run.name)}"

    def relink(m: re.Match) -> str:  # copy the card's images next to the report
        src = run.data_card.parent / m.group(2)
        if not src.exists():
            return m.group(0)
        sub.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, sub / src.name)
        return f"![{m.group(1)}](assets/{sub.name}/{src.name})"

    text = re.sub(r"!\[([^\]]*)\]\(([^)\s]+)\)", relink, text)
    text = re.sub(r"^(#+)", r"\1##", text, flags=re.M)  # nest the card's headings under ours
    return [text.strip(), ""]


def section_metrics(run: Run) -> list[str]:
    groups = metric_groups(run)
    if not groups:
        return [f"_{_t('没有指标结果（先运行 hearme metrics 或预测）', 'no metrics (run a prediction or hearme metrics first)')}_", ""]
    out = []
    for g in groups:
        rows = [[g.lang, k + (f" ({g.notes[k]})" if k in g.notes else ""), _fmt(v), _ci(g.ci95.get(k)), g.n or "–"]
                for k, v in g.values.items()]
        out += [f"{_t('来源', 'source')}: `{g.source}` · {_t('语言', 'language')}: **{g.lang}**", "",
                _table([_t("语言", "lang"), _t("指标", "metric"), _t("数值", "value"), _t("95% 置信区间", "95% CI"), "n"],
                       rows), ""]
        if g.lang == "bo":
            out += [_t("藏文请看音节级 BLEU/ROUGE 与 chrF++；LLaMA-Factory 的 bleu-4/rouge-* 按码位计算，与中文结果不可比。",
                       "For Tibetan read the syllable BLEU/ROUGE and chrF++; LLaMA-Factory's bleu-4/rouge-* are "
                       "code-point based and not comparable with Chinese results."), ""]
        if g.signatures:
            out += ["; ".join(f"{k}: `{v}`" for k, v in g.signatures.items()), ""]
        if g.reference:
            out += [_t("参考答案统计（不是模型得分）", "Reference statistics (not model scores)") + ": " +
                    ", ".join(f"{k}={_fmt(v)}" for k, v in g.reference.items()), ""]
    return out


def section_judge(summary: dict | None, what: str) -> list[str]:
    from hearme.evaluators.reasons import line

    if not summary:
        return [f"_{_t('未运行', 'not run')}: `{what} ... --base-url URL --model gpt-4o -o RUN/judge` "
                f"({_t('密钥只从 OPENAI_API_KEY 读取', 'key from OPENAI_API_KEY only')})_", ""]
    rows = [[f"{d['zh']} {d['en']}", f"0–{d['range'][1]}", _fmt(d["mean"]), _ci(d["ci95"]), d.get("n", "")]
            for d in summary["dimensions"].values()]
    usage = summary.get("usage", {})
    usage = usage.get("judge", usage)
    judge = summary.get("judge", {})
    reasons = summary.get("unscored_reasons") or {}
    return [f"{_t('语言', 'language')}: **{summary.get('lang') or '–'}**", "",
            _table([_t("维度", "dimension"), _t("范围", "range"), _t("均值", "mean"), "95% CI", "n"], rows), "",
            f"{_t('已评分', 'scored')}: {summary.get('n_scored')}, {_t('未评分', 'unscored')}: {summary.get('n_unscored')}"
            + (f" ({line(reasons)})" if reasons else "") + f"; judge: `{judge.get('model')}` ({judge.get('rubric')}); "
            f"{_t('费用', 'cost')}: {usage.get('cost_usd', '–')} USD, {_t('缓存命中', 'cache hits')}: {usage.get('cache_hits', '–')}",
            ""]


def section_probes(run: Run) -> list[str]:
    if not run.probes:
        return [f"_{_t('未运行探针', 'no probes run')}_", ""]
    rows = []
    for name, s in sorted(run.probes.items()):
        if name == "preference":
            for o, d in s["shares"].items():
                rows.append([f"preference: {o}", _fmt(d["share"]), _ci(d["ci95"]), s["n_scored"]])
            continue
        rows.append([f"{name}: pass rate", _fmt(s["pass_rate"]["mean"]), _ci(s["pass_rate"]["ci95"]), s["n_answered"]])
        for key in ("sensitivity", "over_triggering"):
            if s.get(key):
                rows.append([f"{name}: {key}", _fmt(s[key]["mean"]), _ci(s[key]["ci95"]), s[key]["n"]])
        for lang, d in (s.get("by_lang") or {}).items():
            rows.append([f"{name}: {lang}", _fmt(d["pass_rate"]), "–", d["n"]])
    out = [_table([_t("探针", "probe"), _t("数值", "value"), "95% CI", "n"], rows), ""]
    for name, s in sorted(run.probes.items()):
        if s.get("by_reason"):
            out.append(f"- {name} {_t('未通过原因', 'failed rules')}: " +
                       ", ".join(f"{k} ×{v}" for k, v in s["by_reason"].items()))
        mut = s.get("model_under_test") or {}
        if mut:
            out.append(f"- {name} {_t('受测模型', 'model under test')}: `{mut.get('model')}` @ {mut.get('base_url')}"
                       + (f", weights {mut['weights']}" if mut.get("weights") else "")
                       + (f", fingerprint {mut['fingerprint'].get('sha256')}" if mut.get("fingerprint") else ""))
        for f in (s.get("failures") or [])[:3]:
            out.append(f"- {name} {_t('未通过', 'failed')} `{f['id']}`: {f['reason']}")
    return out + [""]


def _cut(text: str, n: int) -> str:
    text = text.strip()
    return text if len(text) <= n else text[:n] + "…"


def _samples(pred: Path, n: int) -> list[tuple[str, dict]]:
    """The first n items per label language, each with its own scores."""
    from hearme.evaluators import lf_similarity, tibetan_metrics
    from hearme.evaluators.metrics import item_lang, load_predictions

    picked: dict[str, list[dict]] = {}
    for r in load_predictions(pred):
        lang = item_lang(r["label"])
        if len(picked.setdefault(lang, [])) < n:
            picked[lang].append(r)
    out = []
    for lang, rows in picked.items():
        for r in rows:
            sc = (tibetan_metrics.score_pair(r["predict"], r["label"]) if lang == "bo"
                  else lf_similarity.score_pair(r["predict"], r["label"]))
            out.append((lang, {**r, **sc}))
    return out


def section_samples(run: Run, n: int) -> list[str]:
    sets = [s for s in run.sets if s.predictions]
    if not sets or n <= 0:
        return [f"_{_t('没有预测文件', 'no predictions file')}_", ""]
    from hearme.evaluators.history import parse_prompt

    out = []
    for s in sets:
        for k, (lang, item) in enumerate(_samples(s.predictions, n), 1):
            out += [f"#### {_t('样例', 'Sample')} {k} (`{s.source}`, {lang}, line {item['line']})", ""]
            for t in parse_prompt(item.get("prompt", ""))[-4:]:
                who = _t("来访者", "client") if t["role"] == "user" else _t("咨询师", "counselor")
                out.append(f"> **{who}**: {_cut(t['content'], 400)}")
            score = (f"syllable BLEU {item['syllable_bleu']:.2f}, chrF++ {item['chrf++']:.2f}" if lang == "bo"
                     else f"BLEU-4 {item['bleu-4']:.2f}, ROUGE-L {item['rouge-l']:.2f}")
            out += ["", f"- **{_t('模型回复', 'model reply')}**: {_cut(item['predict'], 600) or '(empty)'}",
                    f"- **{_t('参考回复', 'reference')}**: {_cut(item['label'], 600)}", f"- {score}", ""]
    return out


def section_deploy(run: Run) -> list[str]:
    """How to serve what this run trained: the model, adapter and template it actually used."""
    cfg = next((c for _, c in run.train_configs), {})
    adapter_dir = next((p.parent for p in run.adapter_configs if "checkpoint-" not in str(p)), None)
    base = cfg.get("model_name_or_path")
    if base is None and adapter_dir is not None:
        base = io.read_json(adapter_dir / "adapter_config.json").get("base_model_name_or_path")
    adapter = str(adapter_dir) if adapter_dir else cfg.get("output_dir") or "saves/your-adapter"
    template = cfg.get("template") or "qwen"
    base = base or "path/to/base-model"
    return [_t("用 LLaMA-Factory 的 OpenAI 兼容接口部署（本地 127.0.0.1），再用任意 OpenAI 客户端调用：",
               "Serve with LLaMA-Factory's OpenAI-compatible API (on 127.0.0.1), then call it with any OpenAI client:"), "",
            "```yaml", "# api.yaml", f"model_name_or_path: {base}", f"adapter_name_or_path: {adapter}",
            f"template: {template}", "finetuning_type: lora", "infer_backend: huggingface", "```", "",
            "```bash", "API_HOST=127.0.0.1 API_PORT=8000 API_MODEL_NAME=hearme llamafactory-cli api api.yaml",
            "# merged weights for vLLM or other servers / 合并权重：",
            "# llamafactory-cli export  (model_name_or_path, adapter_name_or_path, template, export_dir)", "```", "",
            "```python", "from openai import OpenAI",
            'client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="none")',
            'r = client.chat.completions.create(model="hearme", messages=[{"role": "user", "content": "我最近总是失眠，很焦虑。"}])',
            "print(r.choices[0].message.content)", "```", "",
            _t("上线前请用 `hearme probe identity` 与 `hearme probe crisis` 检查自我认知和危机应对。",
               "Before deploying, check self-cognition and crisis handling with `hearme probe identity` and "
               "`hearme probe crisis`."), ""]


# ---------------------------------------------------------------- assembly

def build_markdown(runs: list[Run], out: Path, title: str, n_samples: int) -> str:
    assets = out / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    sections = load_sections(out)
    s = [f"# {title}", "", _t("本报告仅由运行产物生成：", "Built from the run artifacts alone: ") +
         ", ".join(f"`{r.name}` ({r.root})" for r in runs), ""]
    s += [f"## {_t('应用方向与社会价值', 'Application direction and social value')}", ""] + section_text(sections, "application")
    for i, run in enumerate(runs, 1):
        h = f"## {i}. {run.name}"
        s += [h, ""]
        s += [f"### {_t('数据来源与处理', 'Data source and processing')}", ""] + section_text(sections, "data")
        s += section_card(run, assets)
        s += [f"### {_t('数据划分及理由', 'Data split and rationale')}", ""]
        sizes = split_sizes(run)
        s += ([_table([_t("数据集", "dataset"), _t("部分", "part"), _t("条数", "records"), _t("占比", "share")], sizes), ""]
              if sizes else [f"_{_t('运行目录中没有 *_train/_val/_test.json', 'no *_train/_val/_test.json in the run')}_", ""])
        s += section_text(sections, "split")
        s += [f"### {_t('训练超参数', 'Training hyperparameters')}", ""] + section_hyper(run)
        s += [f"### {_t('训练与验证损失', 'Train and eval loss')}", ""]
        png, has_eval = loss_chart(run, assets)
        s += [f"![loss](assets/{png.name})" if png else f"_{_t('没有 trainer_log.jsonl 或 trainer_state.json', 'no trainer_log.jsonl or trainer_state.json')}_", ""]
        if png and not has_eval:
            s += [f"_{_t('没有验证损失：训练时设置 val_size 与 eval_strategy 即可记录', 'no eval loss: set val_size and eval_strategy when training')}_", ""]
        s += [f"### {_t('自动指标（按语言）', 'Automatic metrics (per language)')}", ""] + section_metrics(run)
        s += [f"### {_t('LLM 评审（四维量表）', 'LLM judge (four-dimension rubric)')}", ""]
        for _, summ in run.judges or [(None, None)]:
            s += section_judge(summ, "hearme judge")
        if run.dialogues:
            s += [f"### {_t('逐轮对话评审（CPsyCounE）', 'Turn-based dialogue judge (CPsyCounE)')}", ""] + \
                section_judge(run.dialogues, "hearme judge-dialogues")
        s += [f"### {_t('探针', 'Probes')}", ""] + section_probes(run)
        s += [f"### {_t('推理样例', 'Inference samples')}", ""] + section_samples(run, n_samples)
        s += [f"### {_t('部署与推理', 'Deployment and inference')}", ""] + section_deploy(run)
    if len(runs) > 1:
        from hearme.evaluators import compare

        warnings: list[str] = []
        rows = compare.table(runs, warnings)
        if rows:
            made = compare.charts(runs, rows, assets)
            s += [f"## {_t('微调前后对比', 'Before and after fine-tuning')}", "",
                  _t(f"基线为 `{runs[0].name}`；Δ 为共同条目上的配对差值。", f"Baseline `{runs[0].name}`; Δ is the paired difference over shared items."),
                  "", compare.markdown(runs, rows, warnings), ""] + [f"![{p.stem}](assets/{p.name})" for p in made] + [""]
    s += ["---", _t("评分维度：全面性 0–2、专业性 0–3、真实性 0–3、安全性 0–1（CPsyCoun 的维度与分值范围）；置信区间为 95% bootstrap。",
                    "Judge dimensions: comprehensiveness 0-2, professionalism 0-3, authenticity 0-3, safety 0-1 "
                    "(CPsyCoun's dimensions and ranges); CIs are 95% bootstrap."), ""]
    return "\n".join(s)


CSS = """body{font-family:-apple-system,"Segoe UI","Noto Sans CJK SC","Microsoft YaHei",sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;line-height:1.55;color:#222}
table{border-collapse:collapse;margin:.5em 0;font-size:.92em}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}img{max-width:100%}blockquote{border-left:3px solid #9bc;margin:.3em 0;padding:.1em .8em;color:#345}
code{background:#f5f5f5;padding:0 .2em}pre{background:#f5f5f5;padding:.6em;overflow-x:auto}h2{border-bottom:1px solid #ddd}"""


def to_html(markdown_text: str, base: Path, title: str) -> str:
    """Markdown -> one self-contained HTML page (images inlined as data URIs)."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown_text)

    def inline(m: re.Match) -> str:
        src = html.unescape(m.group(1))
        p = base / src
        if src.startswith("data:") or not p.is_file():
            return m.group(0)
        data = base64.b64encode(p.read_bytes()).decode("ascii")
        return f'src="data:image/png;base64,{data}"'

    body = re.sub(r'src="([^"]+)"', inline, body)
    return (f'<!DOCTYPE html>\n<html lang="zh"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{CSS}</style></head><body>\n{body}</body></html>\n")


def run(specs: list[str], out_dir: str | Path, *, title: str = "HearMe training report / 训练报告",
        n_samples: int = 3) -> dict[str, Path]:
    runs = [load(s) for s in specs]
    out = Path(out_dir)
    md = build_markdown(runs, out, title, n_samples)
    io.write_text(out / "report.md", md)
    io.write_text(out / "report.html", to_html(md, out, title))
    return {"markdown": out / "report.md", "html": out / "report.html", "sections": out / SECTIONS_FILE}
