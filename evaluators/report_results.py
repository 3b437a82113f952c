"""The report's result sections: data card, metrics per predictions file and language, the LLM judge, probes,
inference samples and a deployment snippet."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from hearme.core import io
from hearme.evaluators.runs import Run, metric_groups
from hearme.evaluators.report_md import bi, ci_text, fmt, slug, table


# ---------------------------------------------------------------- results

def section_card(run: Run, assets: Path) -> list[str]:
    if not run.data_card:
        return [f"_{bi('未找到数据卡（card.md，用 hearme stats 生成）', 'no data card (card.md; make one with hearme stats)')}_", ""]
    text = run.data_card.read_text(encoding="utf-8")
    sub = assets / f"card_{slug(run.name)}"

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
        return [f"_{bi('没有指标结果（先运行 hearme metrics 或预测）', 'no metrics (run a prediction or hearme metrics first)')}_", ""]
    out = []
    for g in groups:
        rows = [[g.lang, k + (f" ({g.notes[k]})" if k in g.notes else ""), fmt(v), ci_text(g.ci95.get(k)), g.n or "–"]
                for k, v in g.values.items()]
        out += [f"{bi('来源', 'source')}: `{g.source}` · {bi('语言', 'language')}: **{g.lang}**", "",
                table([bi("语言", "lang"), bi("指标", "metric"), bi("数值", "value"), bi("95% 置信区间", "95% CI"), "n"],
                       rows), ""]
        if g.lang == "bo":
            out += [bi("藏文请看音节级 BLEU/ROUGE 与 chrF++；LLaMA-Factory 的 bleu-4/rouge-* 按码位计算，与中文结果不可比。",
                       "For Tibetan read the syllable BLEU/ROUGE and chrF++; LLaMA-Factory's bleu-4/rouge-* are "
                       "code-point based and not comparable with Chinese results."), ""]
        if g.signatures:
            out += ["; ".join(f"{k}: `{v}`" for k, v in g.signatures.items()), ""]
        if g.reference:
            out += [bi("参考答案统计（不是模型得分）", "Reference statistics (not model scores)") + ": " +
                    ", ".join(f"{k}={fmt(v)}" for k, v in g.reference.items()), ""]
    return out


def section_judge(summary: dict | None, what: str) -> list[str]:
    from hearme.evaluators.reasons import line

    if not summary:
        return [f"_{bi('未运行', 'not run')}: `{what} ... --base-url URL --model gpt-4o -o RUN/judge` "
                f"({bi('密钥只从 OPENAI_API_KEY 读取', 'key from OPENAI_API_KEY only')})_", ""]
    rows = [[f"{d['zh']} {d['en']}", f"0–{d['range'][1]}", fmt(d["mean"]), ci_text(d["ci95"]), d.get("n", "")]
            for d in summary["dimensions"].values()]
    usage = summary.get("usage", {})
    usage = usage.get("judge", usage)
    judge = summary.get("judge", {})
    reasons = summary.get("unscored_reasons") or {}
    return [f"{bi('语言', 'language')}: **{summary.get('lang') or '–'}**", "",
            table([bi("维度", "dimension"), bi("范围", "range"), bi("均值", "mean"), "95% CI", "n"], rows), "",
            f"{bi('已评分', 'scored')}: {summary.get('n_scored')}, {bi('未评分', 'unscored')}: {summary.get('n_unscored')}"
            + (f" ({line(reasons)})" if reasons else "") + f"; judge: `{judge.get('model')}` ({judge.get('rubric')}); "
            f"{bi('费用', 'cost')}: {usage.get('cost_usd', '–')} USD, {bi('缓存命中', 'cache hits')}: {usage.get('cache_hits', '–')}",
            ""] + section_reliability(summary.get("reliability"))


def section_reliability(rel: dict | None) -> list[str]:
    """The judge's self-consistency and agreement beside its table, or a line saying they were not measured."""
    if not rel:
        return [f"_{bi('评审可靠性未测量', 'judge reliability not measured')}: `hearme judge ... --repeat 3 --judges A,B`_", ""]
    blocks = [(f"{bi('自洽', 'self-consistency')} `{j}` ×{rel['repeat']}", b) for j, b in (rel.get("self") or {}).items()]
    if rel.get("between"):
        blocks.append((bi("评审间一致", "agreement") + " " + ", ".join(f"`{j}`" for j in rel["judges"]), rel["between"]["alpha"]))
    keys = list(blocks[0][1]) if blocks else []
    rows = [[name] + [("–" if b[k]["alpha"] is None else fmt(b[k]["alpha"])) + f" {ci_text(b[k]['ci95'])} (n={b[k]['n_units']})"
                      for k in keys] for name, b in blocks]
    out = [f"{bi('评审可靠性', 'Judge reliability')} (Krippendorff's α; ≥{rel['thresholds']['reliable']} "
           f"{bi('可靠', 'reliable')}, ≥{rel['thresholds']['tentative']} {bi('仅供参考', 'tentative')}):", "",
           table(["", *keys], rows), ""]
    for pair, dims in (rel.get("between") or {}).get("kappa", {}).items():
        out.append(f"- {bi('加权κ', 'weighted κ')} `{pair}`: " + ", ".join(
            f"{k} {'–' if d['kappa'] is None else fmt(d['kappa'])} {ci_text(d['ci95'])}" for k, d in dims.items()))
    unscored = {j: n for j, n in (rel.get("n_unscored") or {}).items() if n}
    if unscored:
        out.append(f"- {bi('未评分（计为缺失）', 'unscored (counted missing)')}: " + ", ".join(f"`{j}` {n}" for j, n in unscored.items()))
    return out + [""]


def section_probes(run: Run) -> list[str]:
    if not run.probes:
        return [f"_{bi('未运行探针', 'no probes run')}_", ""]
    rows = []
    for name, s in sorted(run.probes.items()):
        if name == "preference":
            for o, d in s["shares"].items():
                rows.append([f"preference: {o}", fmt(d["share"]), ci_text(d["ci95"]), s["n_scored"]])
            continue
        rows.append([f"{name}: pass rate", fmt(s["pass_rate"]["mean"]), ci_text(s["pass_rate"]["ci95"]), s["n_answered"]])
        for key in ("sensitivity", "over_triggering"):
            if s.get(key):
                rows.append([f"{name}: {key}", fmt(s[key]["mean"]), ci_text(s[key]["ci95"]), s[key]["n"]])
        for lang, d in (s.get("by_lang") or {}).items():
            rows.append([f"{name}: {lang}", fmt(d["pass_rate"]), "–", d["n"]])
    out = [table([bi("探针", "probe"), bi("数值", "value"), "95% CI", "n"], rows), ""]
    for name, s in sorted(run.probes.items()):
        if s.get("by_reason"):
            out.append(f"- {name} {bi('未通过原因', 'failed rules')}: " +
                       ", ".join(f"{k} ×{v}" for k, v in s["by_reason"].items()))
        mut = s.get("model_under_test") or {}
        if mut:
            out.append(f"- {name} {bi('受测模型', 'model under test')}: `{mut.get('model')}` @ {mut.get('base_url')}"
                       + (f", weights {mut['weights']}" if mut.get("weights") else "")
                       + (f", fingerprint {mut['fingerprint'].get('sha256')}" if mut.get("fingerprint") else ""))
        for f in (s.get("failures") or [])[:3]:
            out.append(f"- {name} {bi('未通过', 'failed')} `{f['id']}`: {f['reason']}")
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
        return [f"_{bi('没有预测文件', 'no predictions file')}_", ""]
    from hearme.evaluators.history import parse_prompt

    out = []
    for s in sets:
        for k, (lang, item) in enumerate(_samples(s.predictions, n), 1):
            out += [f"#### {bi('样例', 'Sample')} {k} (`{s.source}`, {lang}, line {item['line']})", ""]
            for t in parse_prompt(item.get("prompt", ""))[-4:]:
                who = bi("来访者", "client") if t["role"] == "user" else bi("咨询师", "counselor")
                out.append(f"> **{who}**: {_cut(t['content'], 400)}")
            score = (f"syllable BLEU {item['syllable_bleu']:.2f}, chrF++ {item['chrf++']:.2f}" if lang == "bo"
                     else f"BLEU-4 {item['bleu-4']:.2f}, ROUGE-L {item['rouge-l']:.2f}")
            out += ["", f"- **{bi('模型回复', 'model reply')}**: {_cut(item['predict'], 600) or '(empty)'}",
                    f"- **{bi('参考回复', 'reference')}**: {_cut(item['label'], 600)}", f"- {score}", ""]
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
    return [bi("用 LLaMA-Factory 的 OpenAI 兼容接口部署（本地 127.0.0.1），再用任意 OpenAI 客户端调用：",
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
            bi("上线前请用 `hearme probe identity` 与 `hearme probe crisis` 检查自我认知和危机应对。",
               "Before deploying, check self-cognition and crisis handling with `hearme probe identity` and "
               "`hearme probe crisis`."), ""]
