"""The Tibetan tab: segment and normalize text, run the quality filter, run IFD selection (hearme.tibetan).

Outputs go to `<work dir>/saves/hearme_tibetan/<dataset>/` (filtered.json, ifd_selected.json and
their .rejected/.scores side files); either result can be registered under a new name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hearme.core import io, paths
from hearme.webui_ext import labels, ui

REJECT_COLS = ["position", "reason"]
IFD_COLS = ["id", "topic", "ifd", "selected"]
SAMPLES = paths.DATA / "samples" / "tibetan"
RECORD_SUFFIXES = (".json", ".jsonl")


def segment(lang, text: str):
    """(normalized, syllables, stats line)."""
    from hearme.tibetan import text as T

    if not (text or "").strip():
        return "", "", ""
    syls = T.syllables(text)
    return T.normalize(text), T.segment(text), labels.msg("bo_stats", lang, syllables=len(syls),
                                                          ratio=T.well_formed_ratio(text))


def resolve_input(dataset: str | None, upload: Any, dataset_dir: Path) -> tuple[Path, str]:
    """(records file, a name for outputs) from an upload or a registered dataset."""
    from hearme.core import registry

    files = ui.paths_of(upload)
    if files:
        f = files[0]
        if f.suffix.lower() not in RECORD_SUFFIXES:
            raise io.InputError(f.name, "", f"wrong file type {f.suffix or '(none)'}: expected records (.json or .jsonl)")
        return f, f.stem
    if dataset:
        return registry.file_of(dataset, dataset_dir), dataset
    raise io.HearMeError(labels.msg("no_dataset", "en"))


def _out_dir(work_dir: Path, name: str) -> Path:
    return Path(work_dir) / "saves" / "hearme_tibetan" / name.replace("/", "_")


def _register(out: Path, name: str, dataset_dir: Path) -> str:
    from hearme.core import registry

    name = (name or "").strip()
    if not name:
        return ""
    entry = registry.register(out, name, dataset_dir, lang="bo")
    return f"  \nregistered {name} ({entry['records']} records)"


def run_filter(inp: Path, out: Path, use_lm: bool, corpus: str, heldout: str, relative: float, on_block=None) -> dict:
    from hearme.tibetan import filter as F, filter_lm as FL

    lm = threshold = order = model = None
    if use_lm and not (corpus or "").strip():  # no corpus: the shipped default model, as the CLI without LM flags
        dm, threshold, order = FL.default_checks(order=True)
        lm, model = dm.lm, dm.describe()
    elif use_lm:
        corpus_p = Path(corpus.strip())
        if not corpus_p.is_file():
            raise io.InputError(corpus, "", "LM corpus: no such file (monolingual Tibetan text, one line each; "
                                "leave it empty for the shipped default model)")
        held_p = Path(heldout.strip()) if (heldout or "").strip() else None
        lm, threshold = FL.lm_and_threshold(corpus_p, heldout=held_p, lm_relative=float(relative))
        model = f"LM from {corpus_p}"
    return F.run(inp, out, lm, threshold, progress=True, order=order, model=model, on_block=on_block)


def block_progress(progress, desc: str):
    """on_block(done, total) for F.run that moves the WebUI's bar, with the rate and the ETA."""
    from hearme.core.progress import Throughput

    rate = Throughput(0, "utterance")

    def on_block(done: int, total: int) -> None:
        if progress is not None:
            progress(done / max(total, 1), desc=f"{desc}: {rate.status(done, total)}")
    return on_block


def _rejects_table(out: Path) -> Any:
    rows = [obj for _, obj, err in io.iter_jsonl(io.rejected_path(out)) if not err] if io.rejected_path(out).exists() else []
    return ui.table([{"position": r.get("position", ""), "reason": r.get("reason", "")} for r in rows], REJECT_COLS)


def on_filter(lang, dataset, upload, use_lm, corpus, heldout, relative, register_as, ctx: "ui.Ctx", progress=None):
    from hearme.tibetan.throughput import Stopwatch

    if progress is not None:
        progress(0, desc="filter")
    try:
        inp, name = resolve_input(dataset, upload, ctx.dataset_dir)
        out = _out_dir(ctx.work_dir, name) / "filtered.json"
        report = run_filter(inp, out, bool(use_lm), corpus, heldout, relative, block_progress(progress, "filter"))
        extra = _register(out, register_as, ctx.dataset_dir) if report["kind"] == "records" and report["written"] else ""
    except Exception as e:  # noqa: BLE001
        return ui.fail(lang, e, uploads=ui.paths_of(upload)), ui.table([], REJECT_COLS)
    status = labels.msg("filter_done", lang, read=report["read"], written=report["written"], rejected=report["rejected"])
    checks = ", ".join(f"{k} {v}" for k, v in sorted(report.get("rejected_by_check", {}).items()))
    timing = Stopwatch().line("filter", lines=report["utterances"], units=report["syllables"], seconds=report["seconds"])
    return ui.ok(status + (f"  \nfailing utterances by check: {checks}" if checks else "") + f"  \n{timing}"
                 + f"  \n→ {out}" + extra), _rejects_table(out)


def run_ifd(inp: Path, out: Path, model_path: str, top_fraction: float) -> dict:
    from hearme.tibetan import ifd

    model = Path((model_path or "").strip()).expanduser()
    if not (model_path or "").strip() or not model.is_dir():
        raise io.InputError(model_path or "(empty)", "", "model path: no such directory (a local model folder)")
    paths.set_offline()
    return ifd.run(inp, out, model, top_fraction=float(top_fraction) if top_fraction else None, progress=True)


def _ifd_table(out: Path) -> Any:
    from hearme.tibetan import ifd

    kept = {r.get("id") for r in io.load_records(out)} if out.exists() else set()
    rows = [obj for _, obj, err in io.iter_jsonl(ifd.scores_path(out)) if not err]
    rows.sort(key=lambda r: (r.get("id") not in kept, -(r["ifd"] if r.get("ifd") == r.get("ifd") else -1e9)))
    return ui.table([{"id": r.get("id", ""), "topic": r.get("topic", ""), "ifd": f"{r['ifd']:.4f}",
                      "selected": "✓" if r.get("id") in kept else ""} for r in rows], IFD_COLS)


def on_ifd(lang, dataset, upload, model_path, top_fraction, register_as, ctx: "ui.Ctx", progress=None):
    from hearme.tibetan.throughput import Stopwatch

    if progress is not None:
        progress(0, desc="IFD")
    try:
        inp, name = resolve_input(dataset, upload, ctx.dataset_dir)
        out = _out_dir(ctx.work_dir, name) / "ifd_selected.json"
        sw = Stopwatch()
        report = run_ifd(inp, out, model_path, top_fraction)
        extra = _register(out, register_as, ctx.dataset_dir) if report["written"] else ""
    except Exception as e:  # noqa: BLE001
        return ui.fail(lang, e, uploads=ui.paths_of(upload)), ui.table([], IFD_COLS)
    status = labels.msg("ifd_done", lang, kept=report["written"], n=report["read"])
    s = report.get("ifd") or {}
    if s.get("mean") is not None:
        status += f" IFD mean {s['mean']:.4f} (min {s['min']:.4f}, max {s['max']:.4f})"
    return ui.ok(status + f"  \n{sw.line('ifd, dialogues scored', inp)}  \n→ {out}" + extra), _ifd_table(out)


def _default_relative() -> float:
    """The demo's threshold, tuned for the small bundled corpus (the paper's 0.85 assumes a large one)."""
    try:
        from hearme.demo.tibetan import DEMO_RELATIVE
    except ImportError:
        return 0.85
    return float(DEMO_RELATIVE)


def _datasets(dataset_dir: Path) -> list[str]:
    from hearme.core import registry

    try:
        return sorted(registry.load(dataset_dir))
    except io.HearMeError:
        return []


def create(ctx: "ui.Ctx") -> dict[str, Any]:
    import gradio as gr

    corpus_default = SAMPLES / "corpus_bo.txt"
    heldout_default = SAMPLES / "heldout_bo.txt"
    with gr.Column():
        text_head = gr.Markdown()
        with gr.Row():
            text = gr.Textbox(lines=4, scale=2, elem_id="hm-bo-text")
            with gr.Column(scale=2):
                normalized = gr.Textbox(lines=2, interactive=False, elem_id="hm-bo-normalized")
                segmented = gr.Textbox(lines=2, interactive=False, elem_id="hm-bo-segmented")
        text_btn = gr.Button(elem_id="hm-bo-text-btn")
        text_stats = gr.Markdown(elem_id="hm-bo-text-stats")

        filter_head = gr.Markdown()
        with gr.Row():
            dataset = gr.Dropdown(choices=_datasets(ctx.dataset_dir), value=None, scale=2, elem_id="hm-bo-dataset")
            upload = gr.File(file_count="single", type="filepath", height=120, scale=2, elem_id="hm-bo-upload")
        with gr.Row():
            use_lm = gr.Checkbox(value=True, scale=1, elem_id="hm-bo-use-lm")
            corpus = gr.Textbox(value=str(corpus_default) if corpus_default.exists() else "", scale=3, elem_id="hm-bo-corpus")
            heldout = gr.Textbox(value=str(heldout_default) if heldout_default.exists() else "", scale=3,
                                 elem_id="hm-bo-heldout")
            relative = gr.Number(value=_default_relative(), minimum=0.01, scale=1, elem_id="hm-bo-relative")
        with gr.Row():
            filter_register = gr.Textbox(scale=3, elem_id="hm-bo-filter-register")
            filter_btn = gr.Button(variant="primary", scale=1, elem_id="hm-bo-filter-btn")
        filter_status = gr.Markdown(elem_id="hm-bo-filter-status")
        filter_rejects = gr.Dataframe(value=ui.table([], REJECT_COLS), interactive=False, wrap=True,
                                      elem_id="hm-bo-filter-rejects")

        ifd_head = gr.Markdown()
        with gr.Row():
            model_path = gr.Textbox(scale=3, elem_id="hm-bo-model-path")
            top = gr.Slider(minimum=0.05, maximum=1.0, value=0.5, step=0.05, scale=2, elem_id="hm-bo-top")
            ifd_register = gr.Textbox(scale=2, elem_id="hm-bo-ifd-register")
        ifd_btn = gr.Button(variant="primary", elem_id="hm-bo-ifd-btn")
        ifd_status = gr.Markdown(elem_id="hm-bo-ifd-status")
        ifd_table = gr.Dataframe(value=ui.table([], IFD_COLS), interactive=False, elem_id="hm-bo-ifd-table")

    top_model_path = ctx.engine.manager.get_elem_by_id("top.model_path")

    def filter_fn(lang, d, u, ul, c, h, r, reg, progress=gr.Progress(track_tqdm=True)):
        return on_filter(lang, d, u, ul, c, h, r, reg, ctx, progress)

    def ifd_fn(lang, d, u, m, t, reg, progress=gr.Progress(track_tqdm=True)):
        return on_ifd(lang, d, u, m, t, reg, ctx, progress)

    text_btn.click(segment, [ctx.lang, text], [normalized, segmented, text_stats], queue=False)
    dataset.focus(lambda: gr.update(choices=_datasets(ctx.dataset_dir)), None, [dataset], queue=False)
    filter_btn.click(filter_fn, [ctx.lang, dataset, upload, use_lm, corpus, heldout, relative, filter_register],
                     [filter_status, filter_rejects])
    # The model path defaults to the one chosen at the top of the page (LLaMA-Factory's model path).
    top_model_path.change(lambda p, cur: cur or p, [top_model_path, model_path], [model_path], queue=False)
    ifd_btn.click(ifd_fn, [ctx.lang, dataset, upload, model_path, top, ifd_register], [ifd_status, ifd_table])
    return {"bo.text_head": text_head, "bo.text": text, "bo.text_btn": text_btn, "bo.normalized": normalized,
            "bo.segmented": segmented, "bo.filter_head": filter_head, "bo.dataset": dataset, "bo.upload": upload,
            "bo.use_lm": use_lm, "bo.corpus": corpus, "bo.heldout": heldout, "bo.relative": relative,
            "bo.filter_register": filter_register, "bo.filter_btn": filter_btn, "bo.filter_rejects": filter_rejects,
            "bo.ifd_head": ifd_head, "bo.model_path": model_path, "bo.ifd_top": top, "bo.ifd_register": ifd_register,
            "bo.ifd_btn": ifd_btn, "bo.ifd_table": ifd_table}
