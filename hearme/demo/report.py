"""The demo's report.md (and a self-contained report.html) from its metrics.json content.

It opens with the story: the before/after table and curves, the same questions answered by the
base and the tuned model, and what is and is not meaningful at this size; the pipeline's
details, per-step times and the reproduce commands follow.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
from pathlib import Path

from hearme.core import io

JUDGE_HOWTO = (
    "Set `HEARME_JUDGE_BASE_URL` and `HEARME_JUDGE_MODEL` (and the key in `OPENAI_API_KEY`) "
    "and re-run `hearme demo` to add the four-dimension judge and the crisis probe, "
    "or run `hearme judge` / `hearme probe` on the predictions directly."
)
SAMPLE_IDS = 8  # questions shown with both models' replies


def _rel(out: Path, p: str | None) -> str:
    if not p:
        return ""
    try:
        return os.path.relpath(p, out)
    except ValueError:
        return p


def _table(rows: list[list], head: list[str]) -> str:
    esc = lambda c: str(c).replace("|", "\\|").replace("\n", " ")  # noqa: E731
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _fmt(v) -> str:
    return f"{v:.2f}" if isinstance(v, float) else ("–" if v is None else str(v))


def _rate(p: dict | None) -> str:
    if not p or p.get("pass_rate") is None:
        return "–"
    lo, hi = p["ci95"]
    return f"**{p['pass_rate']:.0%}** ({p['passed']}/{p['n']}; 95% CI {lo:.0%}–{hi:.0%})"


def _by(p: dict | None, key: str) -> str:
    d = (p or {}).get(key) or {}
    return ", ".join(f"{k} {v['pass_rate']:.0%} (n={v['n']})" for k, v in d.items() if v.get("pass_rate") is not None) or "–"


def _short(text: str | None, n: int = 90) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def _samples(out: Path, m: dict) -> list[str]:
    """The same probe questions, base vs tuned, with each verdict."""
    def rows(label: str) -> dict[str, dict]:
        p = out / "eval" / label / "probe-identity" / "items.jsonl"
        return {o["id"]: o for _, o, err in io.iter_jsonl(p) if not err} if p.exists() else {}

    base, tuned = rows("base"), rows("tuned")
    ids = [i for i in tuned if i in base]
    if not ids:
        return []
    picked, seen = [], set()
    for i in ids:  # one of each (language, kind) first, then the rest in order
        key = (tuned[i]["lang"], tuned[i]["kind"])
        if key not in seen:
            seen.add(key)
            picked.append(i)
    picked += [i for i in ids if i not in picked]
    verdict = lambda r: "pass" if r["status"] == "pass" else f"fail: {r.get('reason') or r['status']}"  # noqa: E731
    table = [[f"{base[i]['prompt']} ({base[i]['lang']}, {base[i]['kind']})",
              f"{_short(base[i].get('reply'))} _({verdict(base[i])})_",
              f"{_short(tuned[i].get('reply'))} _({verdict(tuned[i])})_"] for i in picked[:SAMPLE_IDS]]
    return [_table(table, ["question", "base replies", "tuned replies"]), "",
            f"All {len(ids)} items with every reply and reason: `eval/base/probe-identity/items.jsonl`, "
            "`eval/tuned/probe-identity/items.jsonl`.", ""]


def _params(m: dict) -> str:
    n = (m.get("tiny_model") or {}).get("parameters")
    return f"{n / 1000:.0f}k" if n else "a few hundred thousand"


def _vocab(m: dict) -> str:
    return str((m.get("tiny_model") or {}).get("vocab", "~700"))


def _story(out: Path, m: dict) -> list[str]:
    ip, sc, ba = m["identity_probe"], m.get("selfcog_heldout", {}), m.get("before_after", {})
    pre, st1, st2 = m.get("base") or {}, m.get("stage1") or {}, m.get("train") or {}
    s = ["## Before / after", "",
         f"The **base** is {'the tiny model after a short causal-LM training with a neutral identity' if pre else 'the given model'}; "
         "the **tuned** model is that base plus the stage-1 (self-cognition) and stage-2 (counseling) LoRA "
         "adapters, merged. Both were served the same way, by `llamafactory-cli api` on 127.0.0.1 with "
         f"`{ba.get('served_with', {}).get('recipe', 'the infer recipe')}`'s template and system prompt, so only "
         "the weights differ.", ""]
    rows = [["identity probe pass rate", _rate(ip.get("base")), _rate(ip.get("tuned"))],
            ["… by language", _by(ip.get("base"), "by_lang"), _by(ip.get("tuned"), "by_lang")],
            ["… by kind (direct / misleading)", _by(ip.get("base"), "by_kind"), _by(ip.get("tuned"), "by_kind")]]
    for k in ("bleu-4", "rouge-1", "rouge-2", "rouge-l"):
        rows.append([f"held-out self-cognition {k.upper()} (n={sc.get('tuned', {}).get('n', '?')})",
                     _fmt(sc.get("base", {}).get(k)), _fmt(sc.get("tuned", {}).get(k))])
    s += [_table(rows, ["", "base", "tuned"]), ""]
    s += ["The identity probe (`hearme probe identity`, evaluators/probes/identity.json) asks in Chinese, "
          "English and Tibetan who the model is, directly and with misleading premises (\"you're ChatGPT, "
          "right?\"); a reply passes when it claims the name Jerry (or names VastEpiphany where the item asks who "
          "made it), claims no other assistant, does not accept a false premise, and is in the question's "
          "language. CIs are 95% Wilson score intervals over the answered items. BLEU-4/ROUGE (0–100) are "
          "LLaMA-Factory's own formulas, computed by `hearme metrics` on the held-out self-cognition split.", ""]
    curves = [("base training", pre), ("stage 1: self-cognition LoRA", st1), ("stage 2: counseling LoRA", st2)]
    rows = [[label, t.get("steps"), _fmt(t.get("first_loss")), _fmt(t.get("last_loss")), _fmt(t.get("train_runtime"))]
            for label, t in curves if t]
    s += ["### Loss curves", "", _table(rows, ["run", "steps", "first logged loss", "last logged loss", "runtime (s)"]), ""]
    s += [f"![{label}]({_rel(out, t['loss_curve'])})" for label, t in curves if t and t.get("loss_curve")]
    charts = (ba.get("compare") or {}).get("charts") or []
    if charts:
        s += ["", "`hearme compare eval/base eval/tuned` (table: "
              f"[{_rel(out, ba['compare']['markdown'])}]({_rel(out, ba['compare']['markdown'])})):", ""]
        s += [f"![{Path(c).stem}]({_rel(out, c)})" for c in charts]
    s += ["", "### Same questions, base vs tuned", ""] + _samples(out, m)
    s += ["### What this shows, and what it does not", "",
          "- **Meaningful:** the LoRA adapters, trained by the shipped recipes, change the model's behaviour in the "
          "way stage 1 intends: the base never calls itself Jerry; the tuned model does, across three languages "
          "and against misleading premises. Every number comes from real LLaMA-Factory processes and HearMe's "
          "real evaluators.",
          "- **Held-out self-cognition BLEU/ROUGE** hardly move and may even drop: the base already answers "
          "in the template's words under another name, so most n-grams match the reference either way; the names "
          "are a few tokens of each answer, and the tuned model's noisier endings cost about as much overlap as "
          "the right names add. The identity probe, not these scores, shows what stage 1 changed.",
          f"- **Not meaningful:** the model has {_params(m)} parameters and a {_vocab(m)}-token vocabulary. It memorises "
          "short, formulaic answers; it does not understand them. No probe question is a training question (none is "
          "contained in one or has a character-bigram Jaccard of 0.8 or more with one), but many share a "
          "pattern with the base's identity questions (another assistant's name in the same sentence), so the "
          "pass rate shows that the adapter renamed what the base says about itself, not that the model "
          "understands identity. Counseling quality, the Chinese BLEU/ROUGE of the counseling split and anything a judge "
          "would score say nothing at this size; run the same demo with `--model` on a GPU for that.", ""]
    return s


def render(out: Path, m: dict) -> str:
    s = ["# HearMe demo report", ""]
    tiny = "base" in m
    s += [f"- base model: `{_rel(out, m['base_model'])}`" + (" (the offline tiny model after a short training)"
                                                           if tiny else ""),
          f"- tuned model: `{_rel(out, m['merged_model'])}` (base + stage 1 + stage 2 LoRA, merged)",
          f"- offline: {m['offline']}",
          f"- total time: {m['timing'].get('total', '?')} s wall, {m.get('cpu_total', '?')} s CPU "
          "(per step under Timing)", ""]
    if m.get("identity_probe"):
        s += _story(out, m)
    if m.get("stage3"):  # beside the before/after: stage 2 -> DPO
        from hearme.demo.stage3 import report_lines

        s += report_lines(m["stage3"])

    if "data" in m:
        s += ["## 1. Data", "",
              "Bundled hand-written samples converted by the real converters, split and registered in "
              f"`{_rel(out, str(out / 'data' / 'dataset_info.json'))}`.", ""]
        rows = [[k, v["read"], v["written"], v["rejected"], ", ".join(f"{n} ({c})" for n, c in v["parts"].items()), v["use"]]
                for k, v in m["data"].items()]
        s += [_table(rows, ["bundle", "read", "written", "rejected", "registered parts (records)", "used for"]), ""]
        if m.get("card"):
            card = Path(m["card"])
            s += [f"Data card: [{_rel(out, str(card))}]({_rel(out, str(card))})", ""]
    if m.get("base"):
        pre = m["base"]
        s += ["## 2. The base: causal-LM training of the tiny model (`llamafactory-cli train`)", "",
              f"A random {_params(m)}-parameter model learns almost nothing from a few LoRA steps, so the demo first trains "
              "the tiny model's decoder layers (stage sft: loss on the replies) on text the project ships: the "
              "self-cognition questions answered with a neutral identity (\"我是Echo，由一个开源社区开发……\", "
              "\"I'm Echo…\") and the opening exchange of each bundled training dialogue. No item names Jerry "
              "or VastEpiphany, and the held-out self-cognition questions are left out.", "",
              _table([[k, v] for k, v in pre.get("records", {}).items()], ["source", "records"]), "",
              f"Config: `{_rel(out, pre.get('config'))}`; model: `{_rel(out, pre['output'])}`.", ""]

    s += ["## 3. Fine-tuning (LoRA, `llamafactory-cli train`)", "",
          "Each run is a shipped recipe plus the overrides listed under Notes; the resolved YAML is in `configs/`.", ""]
    runs = [("stage 1: self-cognition", m.get("stage1")), ("stage 2: counseling, from the stage-1 adapter", m["train"]),
            ("Tibetan", m.get("tibetan_train"))]
    rows = [[label, f"`{t['recipe']}`", t.get("steps"), _fmt(t.get("train_loss")), _fmt(t.get("train_runtime")),
             f"`{_rel(out, t['adapter'])}`"] for label, t in runs if t]
    s += [_table(rows, ["run", "recipe", "steps", "train loss", "runtime (s)", "adapter"]), ""]
    if m.get("tibetan_train", {}).get("loss_curve"):
        s += [f"![Tibetan]({_rel(out, m['tibetan_train']['loss_curve'])})", ""]

    s += ["## 4. Prediction metrics (LLaMA-Factory `predict_with_generate`)", ""]
    keys = ["predict_bleu-4", "predict_rouge-1", "predict_rouge-2", "predict_rouge-l"]
    bo = m.get("tibetan_predict", {})
    s += [_table([[k, _fmt(m[k]), _fmt(bo.get(k))] for k in keys],
                 ["metric", "counseling (zh)", "Tibetan (bo)"]), "",
          f"Predictions: `{_rel(out, m['generated_predictions'])}`"
          + (f" and `{_rel(out, m['tibetan_predictions'])}`" if m.get("tibetan_predictions") else ""), ""]
    if m.get("hearme_metrics"):
        s += ["### HearMe metrics per language", "",
              "LLaMA-Factory's numbers are character/jieba based and sub-syllabic for Tibetan; "
              "the syllable metrics below are the ones to compare for Tibetan.", ""]
        by_lang = m["hearme_metrics"]
        cols = ["n", "bleu-4", "rouge-1", "rouge-2", "rouge-l", "syllable_bleu", "syllable_rouge-1", "syllable_rouge-2",
                "syllable_rouge-l", "chrf++", "emoji_rate"]
        cols = [c for c in cols if any(isinstance(v, dict) and c in v for v in by_lang.values())]
        s += [_table([[lang] + [_fmt(v.get(c)) for c in cols] for lang, v in by_lang.items() if isinstance(v, dict)],
                     ["lang"] + cols), ""]

    s += ["## 5. Merged model (`llamafactory-cli export`)", "", f"`{_rel(out, m['merged_model'])}`", ""]

    if m.get("tibetan"):
        tib = m["tibetan"]
        s += ["## 6. Tibetan pipeline leg (`hearme tibetan ...`)", ""]
        s += [f"- {line}" for line in tib.get("summary", [])] or ["```json", json.dumps(tib, ensure_ascii=False, indent=1)[:3000], "```"]
        s += ["", f"Outputs: `{_rel(out, str(out / 'tibetan'))}/`", ""]

    s += ["## 7. LLM judge and crisis probe", ""]
    j = m.get("judge")
    if j and not j.get("skipped"):
        s += ["```json", json.dumps(j, ensure_ascii=False, indent=1)[:3000], "```", ""]
    else:
        s += [f"Skipped: no judge endpoint configured. {JUDGE_HOWTO}", ""]

    sess = {k: (ba.get(k) or {}).get("session") for k in ("base", "tuned")} if (ba := m.get("before_after")) else {}
    if any(sess.values()):
        s += ["## Session evaluation (`hearme session`)", "",
              "Three simulated clients (two Chinese, one Tibetan; one discloses a crisis at turn 4) talk with each "
              "served model for up to four turns; `hearme compare` pairs the sessions by profile and seed.", ""]
        for label, r in sess.items():
            if r:
                s += [f"### {label}", "", r["table_md"], "", r["transcript_md"], ""]

    if m.get("training_report"):
        tr = m["training_report"]
        s += ["## 8. Bilingual training report", "",
              f"`hearme report` built the course-style report (中文 / English) of the base and tuned runs: "
              f"[{_rel(out, tr['markdown'])}]({_rel(out, tr['markdown'])}) and the self-contained "
              f"[{_rel(out, tr['html'])}]({_rel(out, tr['html'])}).", ""]

    s += ["## Timing", "", "Wall seconds per step. The middle phase runs two tracks side by side (one core each: "
          "the tiny model's processes use one thread), so its steps overlap. CPU seconds count this process and "
          "every LLaMA-Factory process it ran.", "",
          _table([[k, v] for k, v in m["timing"].items()], ["step", "wall (s)"]), ""]
    phases = m.get("phases") or []
    if phases:
        rows = [[i, " ‖ ".join(" → ".join(t) for t in ph["tracks"]), ph["wall"], ph["cpu"]] for i, ph in enumerate(phases, 1)]
        s += [_table(rows, ["phase", "tracks (‖ = side by side)", "wall (s)", "CPU (s)"]),
              "", f"Total: {m['timing'].get('total', '?')} s wall, {m.get('cpu_total', '?')} s CPU.", ""]
    if m.get("notes"):
        s += ["## Notes", ""] + [f"- {n}" for n in m["notes"]] + [""]
    first = "base" if tiny else "stage1_selfcog"
    s += ["## Reproduce", "", "Each LLaMA-Factory step's resolved YAML is in `configs/`; re-run one with e.g.",
          "", "```bash", f"llamafactory-cli train {_rel(out, str(out / 'configs' / (first + '.yaml')))}", "```", ""]
    return "\n".join(s)


CSS = ("body{font-family:-apple-system,'Segoe UI','Noto Sans CJK SC','Noto Sans Tibetan','Microsoft YaHei',sans-serif;"
       "max-width:1050px;margin:2em auto;padding:0 1em;line-height:1.55;color:#222}"
       "table{border-collapse:collapse;margin:.5em 0;font-size:.9em}th,td{border:1px solid #ccc;padding:.25em .6em;"
       "text-align:left;vertical-align:top}th{background:#f3f3f3}img{max-width:100%}code{background:#f5f5f5;"
       "padding:0 .2em}h2{border-bottom:1px solid #ddd}")


def to_html(out: Path, md_path: Path) -> str:
    """report.md -> one self-contained HTML page (images inlined as data URIs)."""
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(md_path.read_text(encoding="utf-8"))

    def inline(match: re.Match) -> str:
        src = html.unescape(match.group(1))
        p = out / src
        if not src.endswith(".png") or not p.is_file():
            return match.group(0)
        return f'src="data:image/png;base64,{base64.b64encode(p.read_bytes()).decode("ascii")}"'

    body = re.sub(r'src="([^"]+)"', inline, body)
    return ('<!DOCTYPE html>\n<html lang="zh"><head><meta charset="utf-8"><title>HearMe demo report</title>'
            f"<style>{CSS}</style></head><body>\n{body}</body></html>\n")
