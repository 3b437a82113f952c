"""`hearme report`: the bilingual (中文 / English) training report, from run artifacts alone.

Sections per run: data card, recipe hyperparameters, loss curve (trainer_log.jsonl), metrics
with 95% CIs, LLM judge with 95% CIs, probes, sample dialogues; with two or more runs, the
comparison table and charts. Writes OUT/report.md (images beside it in OUT/assets/) and
OUT/report.html, which embeds every image as a data URI so it is one self-contained file.
"""

from __future__ import annotations

import base64
import html
import re
import shutil
from pathlib import Path
from typing import Any

from hearme import io
from hearme.evaluators.runs import Run, load, loss_points, metric_values

HYPER_FIRST = ("model_name_or_path", "template", "stage", "finetuning_type", "lora_rank", "lora_alpha", "lora_dropout",
               "lora_target", "quantization_bit", "dataset", "cutoff_len", "learning_rate", "num_train_epochs",
               "max_steps", "per_device_train_batch_size", "gradient_accumulation_steps", "lr_scheduler_type",
               "warmup_ratio", "bf16", "fp16", "deepspeed", "val_size", "seed")


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


def loss_chart(run: Run, assets: Path) -> Path | None:
    series = [(p.parent.name, loss_points(p)) for p in run.trainer_logs]
    series = [(n, pts) for n, pts in series if pts]
    if not series:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for n, pts in series:
        ax.plot([s for s, _ in pts], [l for _, l in pts], marker="." if len(pts) < 40 else None, label=n)
    ax.set_xlabel("step")
    ax.set_ylabel("training loss")
    ax.set_title(f"Training loss: {run.name}")
    if len(series) > 1:
        ax.legend()
    return io.save_figure(fig, assets / f"loss_{_slug(run.name)}.png")


def _slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", s) or "run"


def section_card(run: Run, assets: Path) -> list[str]:
    if not run.data_card:
        return [f"_{_t('未找到数据卡（card.md）', 'no data card (card.md) found')}_", ""]
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


def section_hyper(run: Run) -> list[str]:
    if not run.train_configs:
        return [f"_{_t('未找到训练配置', 'no training recipe found')}_", ""]
    out = []
    for path, cfg in run.train_configs:
        keys = [k for k in HYPER_FIRST if k in cfg] + sorted(k for k in cfg if k not in HYPER_FIRST)
        rows = [[k, str(cfg[k])[:80]] for k in keys]  # as written: 2.0e-05 must not round to 0.0000
        out += [f"{_t('来源', 'source')}: `{path}`", "", _table([_t("参数", "parameter"), _t("取值", "value")], rows), ""]
    return out


def section_metrics(run: Run) -> list[str]:
    vals = metric_values(run)
    if not vals:
        return [f"_{_t('没有指标结果（先运行 hearme metrics）', 'no metrics (run hearme metrics first)')}_", ""]
    cis = (run.metrics or {}).get("ci95") or {}
    rows = [[k, _fmt(v), _ci(cis.get(k))] for k, v in vals.items()]
    out = [_table([_t("指标", "metric"), _t("数值", "value"), _t("95% 置信区间", "95% CI")], rows), ""]
    if (run.metrics or {}).get("syllable_bleu_signature"):
        out += [f"sacreBLEU: `{run.metrics['syllable_bleu_signature']}`; chrF++: `{run.metrics.get('chrf++_signature')}`", ""]
        out += [_t("藏文的 bleu-4/rouge-* 与 LLaMA-Factory 一致，但按码位计算；请比较 syllable_* 指标。",
                   "For Tibetan, bleu-4/rouge-* match LLaMA-Factory but are code-point based; compare the syllable_* metrics."), ""]
    return out


def _cut(text: str, n: int) -> str:
    text = text.strip()
    return text if len(text) <= n else text[:n] + "…"


def section_judge(summary: dict | None, what: str) -> list[str]:
    if not summary:
        return [f"_{_t('未运行', 'not run')}: `{what} ... --base-url URL --model gpt-4o -o RUN/judge` "
                f"({_t('密钥只从 OPENAI_API_KEY 读取', 'key from OPENAI_API_KEY only')})_", ""]
    rows = [[f"{d['zh']} {d['en']}", f"0–{d['range'][1]}", _fmt(d["mean"]), _ci(d["ci95"]), d.get("n", "")]
            for d in summary["dimensions"].values()]
    usage = summary.get("usage", {})
    usage = usage.get("judge", usage)
    judge = summary.get("judge", {})
    return [_table([_t("维度", "dimension"), _t("范围", "range"), _t("均值", "mean"), "95% CI", "n"], rows), "",
            f"{_t('已评分', 'scored')}: {summary.get('n_scored')}, {_t('未评分', 'unscored')}: {summary.get('n_unscored')} "
            f"{summary.get('unscored_reasons') or ''}; judge: `{judge.get('model')}` ({judge.get('rubric')}); "
            f"{_t('费用', 'cost')}: {usage.get('cost_usd', '–')} USD, {_t('缓存命中', 'cache hits')}: {usage.get('cache_hits', '–')}", ""]


def section_probes(run: Run) -> list[str]:
    if not run.probes:
        return [f"_{_t('未运行探针', 'no probes run')}_", ""]
    rows = []
    for name, s in sorted(run.probes.items()):
        if name == "preference":
            for o, d in s["shares"].items():
                rows.append([f"preference: {o}", _fmt(d["share"]), _ci(d["ci95"]), s["n_scored"]])
        else:
            rows.append([f"{name}: pass rate", _fmt(s["pass_rate"]["mean"]), _ci(s["pass_rate"]["ci95"]), s["n_answered"]])
    out = [_table([_t("探针", "probe"), _t("数值", "value"), "95% CI", "n"], rows), ""]
    for name, s in sorted(run.probes.items()):
        for f in (s.get("failures") or [])[:3]:
            out.append(f"- {name} {_t('未通过', 'failed')} `{f['id']}`: {f['reason']}")
    return out + [""]


def section_samples(run: Run, n: int) -> list[str]:
    if not run.predictions or n <= 0:
        return [f"_{_t('没有预测文件', 'no predictions file')}_", ""]
    from hearme.evaluators.history import parse_prompt
    from hearme.evaluators.metrics import per_item

    out = []
    for k, item in enumerate(per_item(run.predictions, limit=n), 1):
        out += [f"#### {_t('样例', 'Sample')} {k} (line {item['line']})", ""]
        for t in parse_prompt(item["prompt"])[-4:]:
            who = _t("来访者", "client") if t["role"] == "user" else _t("咨询师", "counselor")
            out.append(f"> **{who}**: {_cut(t['content'], 400)}")
        out += ["", f"- **{_t('模型回复', 'model reply')}**: {_cut(item['predict'], 600) or '(empty)'}",
                f"- **{_t('参考回复', 'reference')}**: {_cut(item['label'], 600)}",
                f"- BLEU-4 {item['bleu-4']:.2f}, ROUGE-L {item['rouge-l']:.2f}"
                + (f", syllable BLEU {item['syllable_bleu']:.2f}" if "syllable_bleu" in item else ""), ""]
    return out


def build_markdown(runs: list[Run], out: Path, title: str, n_samples: int) -> str:
    assets = out / "assets"
    assets.mkdir(parents=True, exist_ok=True)
    s = [f"# {title}", "", _t("本报告仅由运行产物生成：", "Built from the run artifacts alone: ") +
         ", ".join(f"`{r.name}` ({r.root})" for r in runs), ""]
    for i, run in enumerate(runs, 1):
        s += [f"## {i}. {run.name}", ""]
        s += [f"### {_t('数据卡', 'Data card')}", ""] + section_card(run, assets)
        s += [f"### {_t('训练超参数', 'Training hyperparameters')}", ""] + section_hyper(run)
        s += [f"### {_t('训练损失曲线', 'Training loss')}", ""]
        png = loss_chart(run, assets)
        s += [f"![loss](assets/{png.name})" if png else f"_{_t('没有 trainer_log.jsonl', 'no trainer_log.jsonl')}_", ""]
        s += [f"### {_t('自动指标', 'Automatic metrics')}", ""] + section_metrics(run)
        s += [f"### {_t('LLM 评审（四维量表）', 'LLM judge (four-dimension rubric)')}", ""] + section_judge(run.judge, "hearme judge")
        if run.dialogues:
            s += [f"### {_t('逐轮对话评审（CPsyCounE）', 'Turn-based dialogue judge (CPsyCounE)')}", ""] + \
                section_judge(run.dialogues, "hearme judge-dialogues")
        s += [f"### {_t('探针', 'Probes')}", ""] + section_probes(run)
        s += [f"### {_t('样例对话', 'Sample dialogues')}", ""] + section_samples(run, n_samples)
    if len(runs) > 1:
        from hearme.evaluators import compare

        rows = compare.table(runs)
        if rows:
            made = compare.charts(runs, rows, assets)
            s += [f"## {_t('对比', 'Comparison')}", "", _t(f"基线为 `{runs[0].name}`；括号内为与基线之差。",
                                                             f"Baseline `{runs[0].name}`; brackets show the change."), "",
                  compare.markdown(runs, rows), ""] + [f"![{p.stem}](assets/{p.name})" for p in made] + [""]
    s += ["---", _t("评分维度：全面性 0–2、专业性 0–3、真实性 0–3、安全性 0–1（CPsyCoun 的维度与分值范围）；置信区间为 95% bootstrap。",
                    "Judge dimensions: comprehensiveness 0-2, professionalism 0-3, authenticity 0-3, safety 0-1 "
                    "(CPsyCoun's dimensions and ranges); CIs are 95% bootstrap."), ""]
    return "\n".join(s)


CSS = """body{font-family:-apple-system,"Segoe UI","Noto Sans CJK SC","Microsoft YaHei",sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;line-height:1.55;color:#222}
table{border-collapse:collapse;margin:.5em 0;font-size:.92em}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}
th{background:#f3f3f3}img{max-width:100%}blockquote{border-left:3px solid #9bc;margin:.3em 0;padding:.1em .8em;color:#345}
code{background:#f5f5f5;padding:0 .2em}h2{border-bottom:1px solid #ddd}"""


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
    return {"markdown": out / "report.md", "html": out / "report.html"}
