"""The Evaluate (HearMe) tab: metrics, LLM judge, run comparison and probes, all through hearme.evaluators.

Results go where the CLI would put them, so `hearme compare` / `hearme report` find them later:
`<run>/hearme_metrics.json`, `<run>/hearme_judge/`, and under `<work dir>/saves/`: hearme_uploads/
(uploaded predictions), hearme_compare/ and hearme_probes/. Keys typed here stay in memory
(webui_ext/keys.py).
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from hearme.core import io
from hearme.webui_ext import keys, labels, ui

PRED_NAME = "generated_predictions.jsonl"
SEARCH_DIRS = ("saves", "runs")
METRIC_COLS = ["metric", "all", "95% CI"]
JUDGE_COLS = ["dimension", "维度", "range", "mean", "95% CI", "scored"]
PROBE_COLS = ["probe", "pass rate", "95% CI", "answered", "unanswered"]
HIDDEN_KEYS = ("n_syllables_pred", "n_syllables_label")


# ---------------------------------------------------------------- predictions files

def list_predictions(work_dir: Path, limit: int = 200) -> list[str]:
    """generated_predictions.jsonl under the work dir's saves/ and runs/, newest first."""
    found = []
    for d in SEARCH_DIRS:
        root = Path(work_dir) / d
        if root.is_dir():
            found += [p for p in root.rglob(PRED_NAME) if p.is_file()]
    found.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    return [str(p) for p in found[:limit]]


def keep_upload(upload: Path, work_dir: Path) -> Path:
    """Check an uploaded predictions file, then copy it to saves/hearme_uploads/<stem>-<sha>/ (atomic)."""
    from hearme.evaluators.metrics import load_predictions

    if upload.suffix.lower() != ".jsonl":
        raise io.InputError(upload.name, "", f"wrong file type {upload.suffix or '(none)'}: expected a {PRED_NAME} (.jsonl)")
    load_predictions(upload)  # broken JSON or missing fields: an error before anything is copied
    data = upload.read_bytes()
    dest = Path(work_dir) / "saves" / "hearme_uploads" / f"{upload.stem}-{hashlib.sha256(data).hexdigest()[:8]}" / PRED_NAME
    with io.atomic_open(dest, "wb") as fh:
        fh.write(data)
    return dest


def _pred_path(pred: str | None, lang: str | None = "en") -> Path:
    if not pred or not str(pred).strip():
        raise io.HearMeError(labels.msg("no_pred", lang))
    p = Path(str(pred).strip()).expanduser()
    if not p.is_file():
        raise io.InputError(p, "", "no such file")
    return p


# ---------------------------------------------------------------- metrics

def _fmt(v: Any) -> str:
    return f"{v:.4f}".rstrip("0").rstrip(".") if isinstance(v, float) else str(v)


def metrics_table(result: dict) -> Any:
    by_lang = result.get("by_lang") or {}
    cols = ["metric", "all", *sorted(by_lang), "95% CI"]
    rows = []
    for key, val in result.items():
        if isinstance(val, bool) or not isinstance(val, (int, float)) or key in HIDDEN_KEYS:
            continue
        ci = (result.get("ci95") or {}).get(key)
        row = {"metric": key, "all": _fmt(val), "95% CI": f"[{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci else ""}
        for lang, sub in by_lang.items():
            row[lang] = _fmt(sub[key]) if isinstance(sub.get(key), (int, float)) else ""
        rows.append(row)
    return ui.table(rows, cols)


def compute_metrics(pred: str, lang: str) -> tuple[Path, dict]:
    """`hearme metrics` for one file; the JSON goes beside it as hearme_metrics.json."""
    from hearme.evaluators import metrics

    path = _pred_path(pred)
    tally = io.Tally()
    result = metrics.compute(path, lang or "auto", tally)
    out = path.parent / "hearme_metrics.json"
    io.write_json(out, result)
    if tally.rejects:
        tally.write_rejects(out)
    return out, result


def on_metrics(lang, pred, mlang):
    try:
        _, result = compute_metrics(pred, mlang)
    except Exception as e:  # noqa: BLE001
        return ui.fail(lang, e), ui.table([], METRIC_COLS)
    inp = result.get("input", {})
    status = labels.msg("metrics_done", lang, n=result.get("n"), file=pred)
    if inp.get("rejected"):
        status += f" ({inp['rejected']} unreadable lines skipped)"
    return ui.ok(status), metrics_table(result)


# ---------------------------------------------------------------- judge

def judge_table(summary: dict) -> Any:
    rows = []
    for key, d in summary["dimensions"].items():
        ci = d.get("ci95") or [None, None]
        rows.append({"dimension": d.get("en", key), "维度": d.get("zh", ""), "range": f"{d['range'][0]}-{d['range'][1]}",
                     "mean": _fmt(d["mean"]) if d.get("mean") is not None else "n/a",
                     "95% CI": f"[{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci[0] is not None else "",
                     "scored": summary["n_scored"]})
    t = summary.get("total") or {}
    if t:
        ci = t.get("ci95") or [None, None]
        rows.append({"dimension": "total", "维度": "总分", "range": f"{t['range'][0]}-{t['range'][1]}",
                     "mean": _fmt(t["mean"]) if t.get("mean") is not None else "n/a",
                     "95% CI": f"[{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci[0] is not None else "",
                     "scored": summary["n_scored"]})
    return ui.table(rows, JUDGE_COLS)


def run_judge(pred: str, base_url: str, model: str, key: str, limit: int | None, rubric_lang: str) -> dict:
    from hearme.evaluators import judge

    path = _pred_path(pred)
    client = keys.client(base_url, model, key, concurrency=4)
    settings = judge.JudgeSettings(lang=rubric_lang if rubric_lang in ("zh", "en") else "zh")
    return judge.run(path, path.parent / "hearme_judge", client, settings, limit=limit or None)


def on_judge(lang, pred, base_url, model, key, limit, rubric_lang="zh", progress=None):
    if progress is not None:
        progress(0, desc="judge")
    try:
        summary = run_judge(pred, base_url, model, key, int(limit or 0), rubric_lang)
    except Exception as e:  # noqa: BLE001
        return ui.fail(lang, e, secrets=[key]), ui.table([], JUDGE_COLS)
    status = labels.msg("judge_done", lang, n=summary["n_items"], model=model, scored=summary["n_scored"],
                        unscored=summary["n_unscored"])
    reasons = summary.get("unscored_reasons") or {}
    if reasons:
        status += "  \nunscored: " + ", ".join(f"{k} ×{v}" for k, v in reasons.items())
    if summary["n_items"] and not summary["n_scored"]:  # e.g. a wrong key: every request failed
        return ui.fail(lang, status, secrets=[key]), judge_table(summary)
    return ui.ok(status), judge_table(summary)


# ---------------------------------------------------------------- compare

def _ensure_metrics(pred: Path) -> None:
    if not (pred.parent / "hearme_metrics.json").exists():
        compute_metrics(str(pred), "auto")


def _run_name(p: Path, taken: set[str]) -> str:
    name = p.parent.name or "run"
    if name in taken:
        name = f"{p.parent.parent.name}/{name}"
    taken.add(name)
    return name.replace("=", "_")


def run_compare(pred: str, other: str, work_dir: Path) -> dict:
    from hearme.evaluators import compare

    a, b = _pred_path(pred), _pred_path(other)
    for p in (a, b):
        _ensure_metrics(p)
    taken: set[str] = set()
    na, nb = _run_name(a, taken), _run_name(b, taken)
    out = Path(work_dir) / "saves" / "hearme_compare" / time.strftime("%Y%m%d-%H%M%S")
    return compare.run([f"{na}={a.parent}", f"{nb}={b.parent}"], out)


def on_compare(lang, pred, other, work_dir: Path):
    try:
        result = run_compare(pred, other, work_dir)
    except Exception as e:  # noqa: BLE001
        return ui.fail(lang, e), [], ""
    names = [r["name"] for r in result["runs"]]
    gallery = [(c, Path(c).stem) for c in result["charts"]]
    return ui.ok(labels.msg("compare_done", lang, a=names[0], b=names[1])), gallery, result["markdown"]


# ---------------------------------------------------------------- probes

def _probe_row(s: dict) -> dict:
    pr = s["pass_rate"]
    ci = pr.get("ci95") or [None, None]
    return {"probe": s["probe"], "pass rate": f"{pr['mean']:.1%}" if pr.get("mean") is not None else "n/a",
            "95% CI": f"[{ci[0]:.1%}, {ci[1]:.1%}]" if ci[0] is not None else "",
            "answered": s["n_answered"], "unanswered": s["n_unanswered"]}


def run_probes(url, model, key, name, author, judge_url, judge_model, judge_key, work_dir: Path) -> list[dict]:
    """Identity always; crisis when a judge endpoint is configured (it grades the replies)."""
    from hearme.evaluators import probe_crisis, probe_identity

    tag = time.strftime("%Y%m%d-%H%M%S")
    mut = keys.client(url, model or "gpt-3.5-turbo", key, concurrency=4,
                      namespace=f"model-under-test|{(url or '').rstrip('/')}|{model}|webui-{tag}")
    out = Path(work_dir) / "saves" / "hearme_probes" / tag
    if not (name or "").strip() or not (author or "").strip():
        raise io.HearMeError("enter the expected counselor name and author for the identity probe")
    summaries = [probe_identity.run(mut, out / "identity", name=name.strip(), author=author.strip())]
    if (judge_url or "").strip() and (judge_model or "").strip():
        judge = keys.client(judge_url, judge_model, judge_key, concurrency=4)
        summaries.append(probe_crisis.run(mut, judge, out / "crisis"))
    return summaries


def on_probes(lang, url, model, key, name, author, judge_url, judge_model, judge_key, work_dir: Path, progress=None):
    if progress is not None:
        progress(0, desc="probes")
    try:
        summaries = run_probes(url, model, key, name, author, judge_url, judge_model, judge_key, work_dir)
    except Exception as e:  # noqa: BLE001
        return ui.fail(lang, e, secrets=[key, judge_key]), ui.table([], PROBE_COLS)
    rows = [_probe_row(s) for s in summaries]
    text = "; ".join(f"{r['probe']} {r['pass rate']}" for r in rows)
    if len(summaries) == 1:
        text += " (crisis probe: configure the judge above)" if lang != "zh" else "（危机探测需要先配置上方的评审端点）"
    return ui.ok(labels.msg("probe_done", lang, summary=text)), ui.table(rows, PROBE_COLS)


# ---------------------------------------------------------------- layout

def create(ctx: "ui.Ctx") -> dict[str, Any]:
    import gradio as gr

    work_dir = ctx.work_dir
    with gr.Column():
        intro = gr.Markdown()
        with gr.Row():
            pred = gr.Dropdown(choices=list_predictions(work_dir), value=None, allow_custom_value=True, scale=4,
                               elem_id="hm-eval-pred")
            refresh = gr.Button(scale=1, elem_id="hm-eval-refresh")
        with gr.Row():
            upload = gr.File(file_count="single", type="filepath", scale=3, height=120, elem_id="hm-eval-upload")
            mlang = gr.Radio(choices=["auto", "zh", "bo"], value="auto", scale=1, elem_id="hm-eval-lang")
        metrics_btn = gr.Button(variant="primary", elem_id="hm-eval-metrics-btn")
        status = gr.Markdown(elem_id="hm-eval-status")
        mtable = gr.Dataframe(value=ui.table([], METRIC_COLS), interactive=False, elem_id="hm-eval-metrics")

        judge_head = gr.Markdown()
        with gr.Row():
            base_url = gr.Textbox(placeholder="https://api.openai.com/v1", scale=3, elem_id="hm-eval-base-url")
            model = gr.Textbox(placeholder="gpt-4o", scale=2, elem_id="hm-eval-model")
            api_key = gr.Textbox(type="password", scale=2, elem_id="hm-eval-api-key")
            limit = gr.Number(value=0, precision=0, minimum=0, scale=1, elem_id="hm-eval-limit")
            rubric = gr.Radio(choices=["zh", "en"], value="zh", scale=1, elem_id="hm-eval-rubric")
        judge_btn = gr.Button(variant="primary", elem_id="hm-eval-judge-btn")
        judge_status = gr.Markdown(elem_id="hm-eval-judge-status")
        jtable = gr.Dataframe(value=ui.table([], JUDGE_COLS), interactive=False, elem_id="hm-eval-judge")

        compare_head = gr.Markdown()
        with gr.Row():
            other = gr.Dropdown(choices=list_predictions(work_dir), value=None, allow_custom_value=True, scale=3,
                                elem_id="hm-eval-other")
            other_upload = gr.File(file_count="single", type="filepath", scale=2, height=120, elem_id="hm-eval-other-upload")
        compare_btn = gr.Button(elem_id="hm-eval-compare-btn")
        compare_status = gr.Markdown(elem_id="hm-eval-compare-status")
        chart = gr.Gallery(columns=3, height="auto", object_fit="contain", elem_id="hm-eval-chart")
        compare_md = gr.Markdown(elem_id="hm-eval-compare-md")

        probe_head = gr.Markdown()
        with gr.Row():
            probe_url = gr.Textbox(placeholder="http://127.0.0.1:8000/v1", scale=3, elem_id="hm-eval-probe-url")
            probe_model = gr.Textbox(value="gpt-3.5-turbo", scale=2, elem_id="hm-eval-probe-model")
            probe_key = gr.Textbox(type="password", scale=2, elem_id="hm-eval-probe-key")
            probe_name = gr.Textbox(value="Jerry", scale=1, elem_id="hm-eval-probe-name")
            probe_author = gr.Textbox(value="VastEpiphany", scale=1, elem_id="hm-eval-probe-author")
        probe_btn = gr.Button(elem_id="hm-eval-probe-btn")
        probe_status = gr.Markdown(elem_id="hm-eval-probe-status")
        ptable = gr.Dataframe(value=ui.table([], PROBE_COLS), interactive=False, elem_id="hm-eval-probes")
        from hearme.webui_ext import session_view  # base vs tuned simulated sessions, side by side

        sessions = session_view.create(ctx, [base_url, model, api_key])

    def on_refresh():
        found = list_predictions(work_dir)
        return gr.update(choices=found), gr.update(choices=found)

    def on_upload(lang, f, cur):
        """Uploaded predictions are checked, kept under saves/, and selected."""
        if not f:
            return gr.update(), gr.update()
        try:
            dest = keep_upload(Path(f), work_dir)
        except Exception as e:  # noqa: BLE001
            return gr.update(value=cur), ui.fail(lang, e, uploads=[Path(f)])
        return gr.update(choices=list_predictions(work_dir), value=str(dest)), ui.ok(f"{Path(f).name} → {dest}")

    def judge_fn(lang, p, u, m, k, n, r, progress=gr.Progress(track_tqdm=True)):
        return on_judge(lang, p, u, m, k, n, r, progress)

    def probe_fn(lang, u, m, k, nm, au, ju, jm, jk, progress=gr.Progress(track_tqdm=True)):
        return on_probes(lang, u, m, k, nm, au, ju, jm, jk, work_dir, progress)

    refresh.click(on_refresh, None, [pred, other], queue=False)
    pred.focus(on_refresh, None, [pred, other], queue=False)
    other.focus(on_refresh, None, [pred, other], queue=False)
    upload.upload(on_upload, [ctx.lang, upload, pred], [pred, status])
    other_upload.upload(on_upload, [ctx.lang, other_upload, other], [other, compare_status])
    metrics_btn.click(on_metrics, [ctx.lang, pred, mlang], [status, mtable])
    judge_btn.click(judge_fn, [ctx.lang, pred, base_url, model, api_key, limit, rubric], [judge_status, jtable])
    compare_btn.click(lambda la, p, o: on_compare(la, p, o, work_dir), [ctx.lang, pred, other],
                      [compare_status, chart, compare_md])
    probe_btn.click(probe_fn, [ctx.lang, probe_url, probe_model, probe_key, probe_name, probe_author,
                               base_url, model, api_key], [probe_status, ptable])
    return {"eval.intro": intro, "eval.pred": pred, "eval.refresh_btn": refresh, "eval.upload": upload,
            "eval.lang": mlang, "eval.metrics_btn": metrics_btn, "eval.metrics": mtable,
            "eval.judge_head": judge_head, "eval.base_url": base_url, "eval.model": model, "eval.api_key": api_key,
            "eval.limit": limit, "eval.rubric": rubric, "eval.judge_btn": judge_btn, "eval.summary": jtable,
            "eval.compare_head": compare_head, "eval.other": other, "eval.other_upload": other_upload,
            "eval.compare_btn": compare_btn, "eval.chart": chart, "eval.probe_head": probe_head,
            "eval.probe_url": probe_url, "eval.probe_model": probe_model, "eval.probe_key": probe_key,
            "eval.probe_name": probe_name, "eval.probe_author": probe_author, "eval.probe_btn": probe_btn,
            "eval.probe_table": ptable, **sessions}
