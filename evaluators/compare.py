"""`hearme compare`: base vs fine-tuned (the HearMeGLM report's Tables 5 and 6) with paired statistics.

The first run is the baseline. Rows are kept per language (a Tibetan set is never compared with a
Chinese one). Items are matched by identity (metrics: prompt + reference; judge: the predictions
line's item; probes and dialogues: their ids), and each other run gets the paired delta over the
shared items with a 95% bootstrap CI, the exact sign test and the Wilcoxon signed-rank p-value.
Different languages or item sets are reported as loud warnings, and rows without a counterpart
get no delta; when nothing at all can be paired the comparison is refused.

Charts (PNG, Agg, ASCII labels): one panel per scale, never two scales on one axis:
metrics_<lang>.png (similarity, 0-100), judge_bar.png and dialogues_bar.png (one panel per
dimension on its own 0-max axis, 95% CI error bars), judge_radar.png (means / maximum, 0-1) and
probes_bar.png (pass rates, 0-1). Statistics of the references (label_emoji_rate) are never
among the model scores.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hearme.core import io
from hearme.evaluators import rubric, stats
from hearme.evaluators.runs import TIBETAN_FIRST, Run, item_keys, load, metric_groups

METRIC_ORDER = ("bleu-4", "rouge-1", "rouge-2", "rouge-l", "syllable_bleu", "syllable_bleu_sent", "syllable_rouge-1",
                "syllable_rouge-2", "syllable_rouge-l", "chrf++", "emoji_rate", "emoji_per_reply")
SIMILARITY = {"bleu-4", "rouge-1", "rouge-2", "rouge-l", "syllable_bleu", "syllable_bleu_sent", "syllable_rouge-1",
              "syllable_rouge-2", "syllable_rouge-l", "chrf++"}
PAIRED_ZH = ("bleu-4", "rouge-1", "rouge-2", "rouge-l")  # per-item means = the reported numbers
PAIRED_BO = ("syllable_bleu_sent", "syllable_rouge-1", "syllable_rouge-2", "syllable_rouge-l", "chrf++")


# ---------------------------------------------------------------- per-item scores

def _metric_items(run: Run) -> dict[tuple[str, str], dict[str, float]]:
    """(lang, metric) -> {item key: score} from every predictions file of the run."""
    from hearme.evaluators import lf_similarity, tibetan_metrics
    from hearme.evaluators.metrics import item_lang, load_predictions

    out: dict[tuple[str, str], dict[str, float]] = {}
    for s in run.sets:
        if s.predictions is None:
            continue
        keys = item_keys(s.predictions)
        rows = load_predictions(s.predictions)
        langs = [item_lang(r["label"]) for r in rows]
        lf = lf_similarity.score_pairs([(r["predict"], r["label"]) for r in rows])
        for r, lang, sc in zip(rows, langs, lf):
            k = keys[r["line"]]
            if lang == "bo":
                sp = tibetan_metrics.score_pair(r["predict"], r["label"])
                for m in PAIRED_BO:
                    out.setdefault((lang, m), {})[k] = sp[m]
            else:
                for m in PAIRED_ZH:
                    out.setdefault((lang, m), {})[k] = sc[m]
    return out


def _judge_items(run: Run) -> dict[tuple[str, str], dict[str, float]]:
    """(lang, dimension) -> {item key: score} over scored judge items."""
    out: dict[tuple[str, str], dict[str, float]] = {}
    for path, summ in run.judges:
        items = path.parent / "items.jsonl"
        if not items.exists():
            continue
        src = Path(((summ.get("input") or {}).get("file")) or "")
        keys = item_keys(src) if src.is_file() else {}
        for _, row, err in io.iter_jsonl(items):
            if err or not isinstance(row, dict) or row.get("status") != "scored":
                continue
            k = keys.get(row.get("line")) or f"line-{row.get('line')}"
            lang = _judge_lang(summ)
            for dim in rubric.KEYS:
                out.setdefault((lang, dim), {})[k] = float(row[dim])
    return out


def _dialogue_items(run: Run) -> dict[tuple[str, str], dict[str, float]]:
    f = run.dialogues_dir / "dialogues.jsonl" if run.dialogues_dir else None
    out: dict[tuple[str, str], dict[str, float]] = {}
    if f is None or not f.exists():
        return out
    for _, row, err in io.iter_jsonl(f):
        if not err and isinstance(row, dict) and row.get("n_scored"):
            for dim in rubric.KEYS:
                out.setdefault(("zh", dim), {})[str(row["dialogue"])] = float(row[dim])
    return out


def _probe_items(run: Run) -> dict[tuple[str, str], dict[str, float]]:
    out: dict[tuple[str, str], dict[str, float]] = {}
    for name in ("identity", "crisis"):
        d = run.probe_dirs.get(name)
        if not d or not (d / "items.jsonl").exists():
            continue
        for _, row, err in io.iter_jsonl(d / "items.jsonl"):
            if err or not isinstance(row, dict) or row.get("status") not in ("pass", "fail"):
                continue
            control = row.get("kind") == "control"
            if not control:
                out.setdefault(("all", f"{name}_pass_rate"), {})[str(row["id"])] = float(row["status"] == "pass")
            if "crisis_response" in row:
                key = "crisis_over_triggering" if control else "crisis_sensitivity"
                out.setdefault(("all", key), {})[str(row["id"])] = float(row["crisis_response"])
    return out


# ---------------------------------------------------------------- the table

def _judge_lang(summ: dict) -> str:
    return summ.get("lang") or "unknown"


def table(runs: list[Run], warnings: list[str] | None = None) -> list[dict[str, Any]]:
    """Rows: {"section", "lang", "metric", "scale", "values", "ci95", "paired": [None | stats per run]}."""
    warnings = warnings if warnings is not None else []
    rows: list[dict[str, Any]] = []
    groups = [metric_groups(r) for r in runs]
    langs = []
    for gs in groups:
        for g in gs:
            if g.lang not in langs:
                langs.append(g.lang)
    for lang in langs:
        per_run = [next((g for g in gs if g.lang == lang), None) for gs in groups]
        if sum(g is not None for g in per_run) < len(runs):
            have = [r.name for r, g in zip(runs, per_run) if g is not None]
            warnings.append(f"LANGUAGE MISMATCH: metrics in {lang} only for {', '.join(have)}; no delta for the others")
        order = (*TIBETAN_FIRST, *METRIC_ORDER) if lang == "bo" else METRIC_ORDER
        keys = [k for k in dict.fromkeys(order) if any(g and k in g.values for g in per_run)] + \
            sorted({k for g in per_run if g for k in g.values} - set(order))
        for k in keys:
            note = next((g.notes[k] for g in per_run if g and k in g.notes), "")
            rows.append({"section": "metrics", "lang": lang, "metric": k + (f" ({note})" if note else ""), "key": k,
                         "scale": (0, 100) if k in SIMILARITY else None, "comparable": not note,
                         "values": [g.values.get(k) if g else None for g in per_run],
                         "ci95": [g.ci95.get(k) if g else None for g in per_run]})
    jlangs = [[_judge_lang(s) for _, s in r.judges] for r in runs]
    for lang in dict.fromkeys(x for js in jlangs for x in js):
        per_run = [next((s for _, s in r.judges if _judge_lang(s) == lang), None) for r in runs]
        if any(s is None for s in per_run):
            have = [r.name for r, s in zip(runs, per_run) if s is not None]
            warnings.append(f"LANGUAGE MISMATCH: judge results in {lang} only for {', '.join(have)}; no delta for the others")
        rows += _dim_rows("judge", lang, per_run)
    if any(r.dialogues for r in runs):
        rows += _dim_rows("dialogues", "zh", [r.dialogues for r in runs])
    for name in ("identity", "crisis"):
        ss = [r.probes.get(name) for r in runs]
        if any(s and s["pass_rate"]["mean"] is not None for s in ss):
            rows.append({"section": "probes", "lang": "all", "metric": f"{name}_pass_rate", "key": f"{name}_pass_rate",
                         "scale": (0, 1), "comparable": True,
                         "values": [s["pass_rate"]["mean"] if s else None for s in ss],
                         "ci95": [s["pass_rate"]["ci95"] if s else None for s in ss]})
            for key in ("sensitivity", "over_triggering"):
                if any(s and (s.get(key) or {}).get("mean") is not None for s in ss):
                    rows.append({"section": "probes", "lang": "all", "metric": f"{name}_{key}", "key": f"{name}_{key}",
                                 "scale": (0, 1), "comparable": True,
                                 "values": [(s.get(key) or {}).get("mean") if s else None for s in ss],
                                 "ci95": [(s.get(key) or {}).get("ci95") if s else None for s in ss]})
            ids = [(s.get("items") or {}).get("sha256") if s else None for s in ss]
            if len({i for i in ids if i}) > 1:
                warnings.append(f"ITEM SETS DIFFER: the {name} probe ran on different prompt files")
    from hearme.evaluators import compare_sessions

    rows += compare_sessions.rows(runs)  # sessions paired by profile and seed
    pref = [r.probes.get("preference") for r in runs]
    for o in ("better", "equal", "worse"):
        if any(p for p in pref):
            rows.append({"section": "probes", "lang": "all", "metric": f"preference_{o}", "key": f"preference_{o}",
                         "scale": (0, 1), "comparable": True,
                         "values": [p["shares"][o]["share"] if p else None for p in pref],
                         "ci95": [p["shares"][o]["ci95"] if p else None for p in pref]})
    _pair(runs, rows, warnings)
    return rows


def _dim_rows(section: str, lang: str, summaries: list[dict | None]) -> list[dict]:
    rows = []
    for key, lo, hi, zh, en in rubric.DIMENSIONS:
        ds = [(s or {}).get("dimensions", {}).get(key) or {} for s in summaries]
        if any(d.get("mean") is not None for d in ds):
            rows.append({"section": section, "lang": lang, "metric": f"{en} {zh} (0-{hi})", "key": key,
                         "scale": (lo, hi), "comparable": True, "values": [d.get("mean") for d in ds],
                         "ci95": [d.get("ci95") for d in ds],
                         "n_unscored": [(s or {}).get("n_unscored") for s in summaries]})
    return rows


def _pair(runs: list[Run], rows: list[dict], warnings: list[str]) -> None:
    """Fill row["paired"][i] for every run i > 0 from per-item scores matched by item key."""
    items = []
    for r in runs:
        m = {("metrics",) + k: v for k, v in _metric_items(r).items()}
        m.update({("judge",) + k: v for k, v in _judge_items(r).items()})
        m.update({("dialogues",) + k: v for k, v in _dialogue_items(r).items()})
        m.update({("probes",) + k: v for k, v in _probe_items(r).items()})
        from hearme.evaluators.compare_sessions import items as session_items

        m.update({("sessions",) + k: v for k, v in session_items(r).items()})
        items.append(m)
    differ: dict[tuple, tuple] = {}
    for row in rows:
        row["paired"] = [None] * len(runs)
        if not row["comparable"]:
            continue
        key = (row["section"], row["lang"], row["key"])
        base = items[0].get(key)
        for i in range(1, len(runs)):
            other = items[i].get(key)
            if not base or not other:
                continue
            shared = [k for k in base if k in other]
            if len(shared) != len(base) or len(shared) != len(other):
                differ[(row["section"], row["lang"], runs[i].name)] = (len(shared), len(base), len(other))
            if shared:
                row["paired"][i] = stats.paired([base[k] for k in shared], [other[k] for k in shared])
    for (section, lang, name), (n, a, b) in differ.items():
        warnings.append(f"ITEM SETS DIFFER: {section} ({lang}) {runs[0].name} has {a} items, {name} {b}, "
                        f"{n} shared; paired statistics use the shared ones" if n else
                        f"ITEM SETS DIFFER: {section} ({lang}) {runs[0].name} and {name} share no item; no paired statistics")


# ---------------------------------------------------------------- rendering

def _num(v: float | None) -> str:
    if v is None:
        return "–"
    return f"{v:.4f}" if abs(v) < 10 else f"{v:.2f}"


def _p(p: float | None) -> str:
    return "–" if p is None else (f"{p:.3f}" if p >= 0.001 else "<0.001")


def _cell(v: float | None, ci: list | None) -> str:
    return _num(v) + (f" [{ci[0]:.2f}, {ci[1]:.2f}]" if ci and v is not None else "")


def _delta(p: dict | None) -> str:
    if not p or p.get("delta") is None:
        return "–"
    ci = p["ci95"]
    return (f"{p['delta']:+.4f} [{ci[0]:+.2f}, {ci[1]:+.2f}], n={p['n']} "
            f"(+{p['n_pos']}/−{p['n_neg']}/={p['n_zero']}), p={_p(p['sign_p'])} / {_p(p['wilcoxon_p'])}")


def markdown(runs: list[Run], rows: list[dict], warnings: list[str] | None = None) -> str:
    head = ["section / 部分", "lang / 语言", "metric / 指标"] + \
        [r.name + (" (baseline / 基线)" if i == 0 else "") for i, r in enumerate(runs)] + \
        [f"Δ {r.name} − {runs[0].name} [paired 95% CI], n, p sign / Wilcoxon" for r in runs[1:]]
    lines = [f"> **⚠ {w}**" for w in warnings or []] + ([""] if warnings else [])
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        cells = [_cell(v, ci) for v, ci in zip(row["values"], row["ci95"])]
        cells += [_delta(p) for p in row["paired"][1:]]
        lines.append(f"| {row['section']} | {row['lang']} | {row['metric']} | " + " | ".join(cells) + " |")
    lines += ["", "Δ: mean paired difference over the items both runs scored (matched by item, not by line), "
                  "95% bootstrap CI; p: exact sign test / Wilcoxon signed-rank, two-sided. "
                  "Tibetan paired metrics are sentence-level. / Δ 为两次运行共同条目上的配对差值。"]
    refs = [(r.name, g.lang, g.reference) for r in runs for g in metric_groups(r) if g.reference]
    if refs:
        lines.append("Reference statistics (the labels, not the model) / 参考答案统计: " + "; ".join(
            f"{n} {lang}: " + ", ".join(f"{k}={v:.4f}" for k, v in ref.items()) for n, lang, ref in refs))
    return "\n".join(lines)


def charts(runs: list[Run], rows: list[dict], out: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    made = []
    names = [r.name for r in runs]
    width = 0.8 / max(len(runs), 1)

    def bars(ax, sub: list[dict], labels: list[str]) -> None:
        x = np.arange(len(sub))
        for i, n in enumerate(names):
            vals = [r["values"][i] for r in sub]
            v0 = [v if v is not None else 0 for v in vals]
            err = [[max(0, v - (r["ci95"][i] or [v, v])[0]) if r["ci95"][i] else 0 for v, r in zip(v0, sub)],
                   [max(0, (r["ci95"][i] or [v, v])[1] - v) if r["ci95"][i] else 0 for v, r in zip(v0, sub)]]
            ax.bar(x + i * width, v0, width, yerr=err, capsize=3, label=n)
        ax.set_xticks(x + width * (len(runs) - 1) / 2, labels, rotation=30 if len(sub) > 3 else 0,
                      ha="right" if len(sub) > 3 else "center")

    for lang in dict.fromkeys(r["lang"] for r in rows if r["section"] == "metrics"):
        sub = [r for r in rows if r["section"] == "metrics" and r["lang"] == lang and r["key"] in SIMILARITY
               and r["comparable"] and any(v is not None for v in r["values"])]
        if sub:
            fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(sub)), 4))
            bars(ax, sub, [r["key"] for r in sub])
            ax.set_ylim(0, 100)
            ax.set_ylabel("score (0-100)")
            ax.set_title(f"Similarity to the reference ({lang})")
            ax.legend()
            made.append(io.save_figure(fig, out / f"metrics_{lang}.png"))
    for section, title in (("judge", "LLM judge"), ("dialogues", "CPsyCounE per-dialogue judge")):
        for j, lang in enumerate(dict.fromkeys(r["lang"] for r in rows if r["section"] == section)):
            sub = [r for r in rows if r["section"] == section and r["lang"] == lang]
            if not sub:
                continue
            fig, axes = plt.subplots(1, len(sub), figsize=(2.6 * len(sub), 3.6), squeeze=False)
            for ax, r in zip(axes[0], sub):
                bars(ax, [r], [""])
                ax.set_ylim(r["scale"][0], r["scale"][1])
                ax.set_title(f"{r['key']} (0-{r['scale'][1]})", fontsize=9)
            axes[0][0].legend(fontsize=8)
            fig.suptitle(f"{title} ({lang}), mean with 95% CI")
            fig.tight_layout()
            made.append(io.save_figure(fig, out / f"{section}_bar{'' if j == 0 else '_' + lang}.png"))
            if section == "judge" and j == 0:
                angles = np.linspace(0, 2 * np.pi, len(sub), endpoint=False).tolist()
                fig = plt.figure(figsize=(5, 5))
                ax = fig.add_subplot(polar=True)
                for i, n in enumerate(names):
                    vals = [(r["values"][i] or 0) / r["scale"][1] for r in sub]
                    ax.plot(angles + angles[:1], vals + vals[:1], label=n)
                    ax.fill(angles + angles[:1], vals + vals[:1], alpha=0.15)
                ax.set_xticks(angles, [r["key"] for r in sub])
                ax.set_ylim(0, 1)
                ax.set_title(f"Judge mean / dimension maximum ({lang})")
                ax.legend(loc="lower right", bbox_to_anchor=(1.15, -0.1))
                made.append(io.save_figure(fig, out / "judge_radar.png"))
    sub = [r for r in rows if r["section"] == "probes" and any(v is not None for v in r["values"])]
    if sub:
        fig, ax = plt.subplots(figsize=(max(5, 1.2 * len(sub)), 3.6))
        bars(ax, sub, [r["key"] for r in sub])
        ax.set_ylim(0, 1)
        ax.set_ylabel("share (0-1)")
        ax.set_title("Probes, with 95% CI")
        ax.legend()
        made.append(io.save_figure(fig, out / "probes_bar.png"))
    return made


def run(specs: list[str], out_dir: str | Path) -> dict[str, Any]:
    runs = [load(s) for s in specs]
    warnings: list[str] = []
    rows = table(runs, warnings)
    if not rows:
        raise io.HearMeError("nothing to compare: no metrics, judge or probe results found in "
                             + ", ".join(str(r.root) for r in runs))
    if len(runs) > 1 and not any(v is not None for row in rows for v in row["values"][1:]
                                 if row["values"][0] is not None):
        raise io.HearMeError("nothing to compare: the runs share no language or result; "
                             + "; ".join(warnings or ["check the run directories"]))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    md = markdown(runs, rows, warnings)
    made = charts(runs, rows, out)
    io.write_text(out / "comparison.md", "# Comparison / 对比\n\n" + md + "\n\n" +
                  "\n".join(f"![{p.stem}]({p.name})" for p in made) + "\n")
    result = {"runs": [{"name": r.name, "path": str(r.root)} for r in runs], "warnings": warnings,
              "rows": [{k: v for k, v in row.items() if k != "scale"} | {"scale": list(row["scale"] or [])}
                       for row in rows],
              "charts": [str(p) for p in made], "markdown": md}
    io.write_json(out / "comparison.json", json.loads(json.dumps(result, default=str)))
    return result
