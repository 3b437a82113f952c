"""`hearme compare`: base vs fine-tuned (the HearMeGLM report's Tables 5 and 6), with deltas and charts.

The first run is the baseline; every other column shows its value, the difference and the
relative change. Charts (PNG, Agg backend, ASCII labels so no font is missing a glyph):
metrics_bar.png (BLEU/ROUGE and, when present, the syllable metrics), judge_bar.png
(per-dimension means with 95% CI error bars) and judge_radar.png (means / dimension maximum).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hearme import io
from hearme.evaluators import rubric
from hearme.evaluators.runs import Run, load, metric_values

METRIC_ORDER = ("bleu-4", "rouge-1", "rouge-2", "rouge-l", "syllable_bleu", "syllable_bleu_sent", "syllable_rouge-1",
                "syllable_rouge-2", "syllable_rouge-l", "chrf++", "emoji_rate")


def judge_values(run: Run, source: str = "judge") -> dict[str, dict]:
    summ = run.judge if source == "judge" else run.dialogues
    if not summ:
        return {}
    return {k: summ["dimensions"][k] for k in rubric.KEYS if summ["dimensions"].get(k, {}).get("mean") is not None}


def probe_values(run: Run) -> dict[str, float]:
    out = {}
    for name in ("identity", "crisis"):
        p = run.probes.get(name)
        if p and p["pass_rate"]["mean"] is not None:
            out[f"{name}_pass_rate"] = p["pass_rate"]["mean"]
    pref = run.probes.get("preference")
    if pref:
        for o, d in pref["shares"].items():
            if d["share"] is not None:
                out[f"preference_{o}"] = d["share"]
    return out


def table(runs: list[Run]) -> list[dict[str, Any]]:
    """Rows: {"section", "metric", "values": [v or None per run], "ci95": [...]}."""
    rows = []
    mets = [metric_values(r) for r in runs]
    keys = [k for k in METRIC_ORDER if any(k in m for m in mets)] + \
        sorted({k for m in mets for k in m} - set(METRIC_ORDER))
    for k in keys:
        cis = [((r.metrics or {}).get("ci95") or {}).get(k) for r in runs]
        rows.append({"section": "metrics", "metric": k, "values": [m.get(k) for m in mets], "ci95": cis})
    for source in ("judge", "dialogues"):
        js = [judge_values(r, source) for r in runs]
        for key, lo, hi, zh, en in rubric.DIMENSIONS:
            if any(key in j for j in js):
                rows.append({"section": source, "metric": f"{en} {zh} (0-{hi})",
                             "values": [j[key]["mean"] if key in j else None for j in js],
                             "ci95": [j[key]["ci95"] if key in j else None for j in js]})
    ps = [probe_values(r) for r in runs]
    for k in sorted({k for p in ps for k in p}):
        rows.append({"section": "probes", "metric": k, "values": [p.get(k) for p in ps], "ci95": [None] * len(runs)})
    return rows


def _cell(v: float | None, base: float | None, ci: list | None, first: bool) -> str:
    if v is None:
        return "–"
    s = f"{v:.4f}" if abs(v) < 10 else f"{v:.2f}"
    if ci:
        s += f" [{ci[0]:.2f}, {ci[1]:.2f}]"
    if not first and base is not None:
        d = v - base
        s += f" ({d:+.4f}" + (f", {d / base:+.1%})" if base else ")")
    return s


def markdown(runs: list[Run], rows: list[dict]) -> str:
    head = ["section / 部分", "metric / 指标"] + [r.name + (" (baseline / 基线)" if i == 0 else " (Δ vs baseline)")
                                                  for i, r in enumerate(runs)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        base = row["values"][0]
        cells = [_cell(v, base, ci, i == 0) for i, (v, ci) in enumerate(zip(row["values"], row["ci95"]))]
        lines.append(f"| {row['section']} | {row['metric']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def charts(runs: list[Run], rows: list[dict], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    made = []
    names = [r.name for r in runs]
    width = 0.8 / max(len(runs), 1)
    mrows = [r for r in rows if r["section"] == "metrics" and r["metric"] != "emoji_rate"
             and any(v is not None for v in r["values"])]
    if mrows:
        fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(mrows)), 4))
        x = np.arange(len(mrows))
        for i, n in enumerate(names):
            ax.bar(x + i * width, [r["values"][i] or 0 for r in mrows], width, label=n)
        ax.set_xticks(x + width * (len(runs) - 1) / 2, [r["metric"] for r in mrows], rotation=30, ha="right")
        ax.set_ylabel("score (0-100)")
        ax.set_title("Similarity metrics")
        ax.legend()
        made.append(io.save_figure(fig, out / "metrics_bar.png"))
    jrows = [r for r in rows if r["section"] == "judge"] or [r for r in rows if r["section"] == "dialogues"]
    if jrows:
        labels = [r["metric"].split(" ")[0] for r in jrows]
        maxima = [hi for _, _, hi, _, _ in rubric.DIMENSIONS][: len(jrows)]
        fig, ax = plt.subplots(figsize=(7, 4))
        x = np.arange(len(jrows))
        for i, n in enumerate(names):
            vals = [r["values"][i] or 0 for r in jrows]
            err = [[max(0, v - (r["ci95"][i] or [v, v])[0]) for v, r in zip(vals, jrows)],
                   [max(0, (r["ci95"][i] or [v, v])[1] - v) for v, r in zip(vals, jrows)]]
            ax.bar(x + i * width, vals, width, yerr=err, capsize=3, label=n)
        ax.set_xticks(x + width * (len(runs) - 1) / 2, [f"{l} (0-{m})" for l, m in zip(labels, maxima)])
        ax.set_title("LLM judge, mean with 95% CI")
        ax.legend()
        made.append(io.save_figure(fig, out / "judge_bar.png"))
        angles = np.linspace(0, 2 * np.pi, len(jrows), endpoint=False).tolist()
        fig = plt.figure(figsize=(5, 5))
        ax = fig.add_subplot(polar=True)
        for i, n in enumerate(names):
            vals = [(r["values"][i] or 0) / m for r, m in zip(jrows, maxima)]
            ax.plot(angles + angles[:1], vals + vals[:1], label=n)
            ax.fill(angles + angles[:1], vals + vals[:1], alpha=0.15)
        ax.set_xticks(angles, labels)
        ax.set_ylim(0, 1)
        ax.set_title("Judge scores / maximum")
        ax.legend(loc="lower right", bbox_to_anchor=(1.15, -0.1))
        made.append(io.save_figure(fig, out / "judge_radar.png"))
    return made


def run(specs: list[str], out_dir: str | Path) -> dict[str, Any]:
    runs = [load(s) for s in specs]
    rows = table(runs)
    if not rows:
        raise io.HearMeError("nothing to compare: no metrics, judge or probe results found in "
                             + ", ".join(str(r.root) for r in runs))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md = markdown(runs, rows)
    made = charts(runs, rows, out)
    io.write_text(out / "comparison.md", "# Comparison / 对比\n\n" + md + "\n\n" +
                  "\n".join(f"![{p.stem}]({p.name})" for p in made) + "\n")
    result = {"runs": [{"name": r.name, "path": str(r.root)} for r in runs], "rows": rows,
              "charts": [str(p) for p in made], "markdown": md}
    io.write_json(out / "comparison.json", result)
    return result
