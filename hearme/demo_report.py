"""Render the demo's report.md from its metrics.json content."""

from __future__ import annotations

import json
import os
from pathlib import Path

JUDGE_HOWTO = (
    "Set `HEARME_JUDGE_BASE_URL` and `HEARME_JUDGE_MODEL` (and the key in `OPENAI_API_KEY`) "
    "and re-run `hearme demo` to add the four-dimension judge and the identity/crisis probes, "
    "or run `hearme judge` / `hearme probe` on the predictions directly."
)


def _rel(out: Path, p: str | None) -> str:
    if not p:
        return ""
    try:
        return os.path.relpath(p, out)
    except ValueError:
        return p


def _table(rows: list[list], head: list[str]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _fmt(v) -> str:
    return f"{v:.2f}" if isinstance(v, float) else str(v)


def render(out: Path, m: dict) -> str:
    s = ["# HearMe demo report", ""]
    s += [f"- base model: `{m['model']}`" + (" (offline tiny model, random weights: scores are near zero by design)"
                                              if "tiny-model" in str(m["model"]) else ""),
          f"- offline: {m['offline']}", f"- total time: {m['timing'].get('total', '?')} s", ""]

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
            for png in sorted(card.parent.glob("*.png"))[:4]:
                s += [f"![{png.stem}]({_rel(out, str(png))})"]
            s += [""]

    s += ["## 2. Training (LoRA, `llamafactory-cli train`)", "",
          "Each run is a shipped recipe plus the overrides listed under Notes; the resolved YAML is in `configs/`.", ""]
    runs = [("stage 1: self-cognition", m.get("stage1")), ("stage 2: counseling, from the stage-1 adapter", m["train"]),
            ("Tibetan", m.get("tibetan_train"))]
    rows = [[label, f"`{t['recipe']}`", _fmt(t.get("train_loss")), _fmt(t.get("train_runtime")), _fmt(t.get("epoch")),
             f"`{_rel(out, t['adapter'])}`"] for label, t in runs if t]
    s += [_table(rows, ["run", "recipe", "train loss", "runtime (s)", "epochs", "adapter"]), ""]
    for label, t in runs:
        if t and t.get("loss_curve"):
            s += [f"![{label}]({_rel(out, t['loss_curve'])})"]
    s += [""]

    s += ["## 3. Prediction metrics (LLaMA-Factory `predict_with_generate`)", ""]
    keys = ["predict_bleu-4", "predict_rouge-1", "predict_rouge-2", "predict_rouge-l"]
    bo = m.get("tibetan_predict", {})
    s += [_table([[k, _fmt(m[k]), _fmt(bo.get(k, ""))] for k in keys],
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
        s += [_table([[lang] + [_fmt(v.get(c, "–")) for c in cols] for lang, v in by_lang.items() if isinstance(v, dict)],
                     ["lang"] + cols), ""]

    s += ["## 4. Merged model (`llamafactory-cli export`)", "", f"`{_rel(out, m['merged_model'])}`", ""]

    if m.get("tibetan"):
        tib = m["tibetan"]
        s += ["## 5. Tibetan pipeline leg (`hearme tibetan ...`)", ""]
        s += [f"- {line}" for line in tib.get("summary", [])] or ["```json", json.dumps(tib, ensure_ascii=False, indent=1)[:3000], "```"]
        s += ["", f"Outputs: `{_rel(out, str(out / 'tibetan'))}/`", ""]

    s += ["## 6. LLM judge and probes", ""]
    j = m.get("judge")
    if j and not j.get("skipped"):
        s += ["```json", json.dumps(j, ensure_ascii=False, indent=1)[:3000], "```", ""]
    else:
        s += [f"Skipped: no judge endpoint configured. {JUDGE_HOWTO}", ""]

    if m.get("training_report"):
        tr = m["training_report"]
        s += ["## 7. Bilingual training report", "",
              f"`hearme report` built the course-style report (中文 / English) from these artifacts: "
              f"[{_rel(out, tr['markdown'])}]({_rel(out, tr['markdown'])}) and the self-contained "
              f"[{_rel(out, tr['html'])}]({_rel(out, tr['html'])}).", ""]

    s += ["## Timing", "", _table([[k, v] for k, v in m["timing"].items()], ["step", "seconds"]), ""]
    if m.get("notes"):
        s += ["## Notes", ""] + [f"- {n}" for n in m["notes"]] + [""]
    s += ["## Reproduce", "", "Each LLaMA-Factory step's resolved YAML is in `configs/`; re-run one with e.g.",
          "", "```bash", f"llamafactory-cli train {_rel(out, str(out / 'configs' / 'stage1_selfcog.yaml'))}", "```", ""]
    return "\n".join(s)
