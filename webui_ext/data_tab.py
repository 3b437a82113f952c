"""The Data tab: convert a source dataset, inspect rejections, register it (optionally split), see its card.

Conversion only fills the page (nothing is written); "Register" writes the record files into
`<dataset dir>/data/`, the rejections beside them, and then updates dataset_info.json once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hearme.core import io
from hearme.webui_ext import labels, ui

PREVIEW_COLS = ["id", "topic", "lang", "turns", "user", "assistant"]
REJECT_COLS = ["file", "position", "reason"]
SPLITS = ["none", "70/15/15", "80/20"]
PREVIEW_ROWS = 50


def _format_info(fmt: str) -> str:
    from hearme.converters import CONVERTERS

    cls = CONVERTERS.get(fmt)
    if cls is None:
        return ""
    return (f"`{fmt}` · files: {', '.join(cls.suffixes)} · counts: {cls.unit_name} · source: {cls.source or '—'} · "
            f"license: {cls.license or '—'}")


def _preview(records: list[dict]) -> Any:
    from hearme.core import schema

    rows = []
    for rec in records[:PREVIEW_ROWS]:
        turns = schema.dialogue_turns(rec)
        first = {m["role"]: m["content"] for m in reversed(turns)}
        rows.append({"id": rec.get("id", ""), "topic": rec.get("topic", ""), "lang": rec.get("lang", ""),
                     "turns": len(turns), "user": ui.short(first.get("user")), "assistant": ui.short(first.get("assistant"))})
    return ui.table(rows, PREVIEW_COLS)


def _rejects(rows: list[dict]) -> Any:
    return ui.table([{"file": io.safe_text(Path(r["file"]).name) if r.get("file") else "",
                      "position": io.safe_text(str(r.get("position", ""))), "reason": io.safe_text(r.get("reason", ""))}
                     for r in rows], REJECT_COLS)


def _check_types(fmt: str, files: list[Path]) -> str | None:
    """The name of the first uploaded file whose suffix the converter does not read, if any."""
    from hearme.converters import CONVERTERS

    want = CONVERTERS[fmt].suffixes
    for f in files:
        if f.suffix.lower() not in want:
            return f.name
    return None


def convert(lang, fmt, files, path, scrub, sc_name, sc_author, progress=None):
    """Run the converter; returns (status, preview, rejects, state)."""
    from hearme import converters

    empty = (_preview([]), _rejects([]), None)
    uploaded: list[Path] = []
    try:
        if fmt not in converters.CONVERTERS:
            raise io.HearMeError(f"unknown format {fmt!r}")
        uploaded = ui.paths_of(files)
        bad = _check_types(fmt, uploaded)
        if bad:
            want = "/".join(converters.CONVERTERS[fmt].suffixes)
            return (ui.fail(lang, labels.msg("wrong_type", lang, file=bad, fmt=fmt, want=want)), *empty)
        inputs = uploaded + ([Path(path.strip()).expanduser()] if path and path.strip() else [])
        if not inputs and fmt != "self-cognition":
            return (ui.fail(lang, labels.msg("no_input", lang)), *empty)
        if progress is not None:
            progress(0, desc=f"convert {fmt}")
        options = {"name": sc_name, "author": sc_author} if fmt == "self-cognition" else {}
        records, tally = converters.run(fmt, inputs, scrub=bool(scrub), progress=True, **options)
    except Exception as e:  # noqa: BLE001 - every failure becomes a visible message
        return (ui.fail(lang, e, uploads=uploaded), *empty)
    status = labels.msg("converted", lang, read=tally.read, written=tally.written, rejected=tally.rejected,
                        records=len(records))
    notes = ", ".join(f"{k}: {v}" for k, v in sorted(tally.notes.items()))
    state = {"fmt": fmt, "records": records, "rejects": tally.rejects, "tally": tally.as_dict()}
    return (ui.ok(status) + (f"  \n{notes}" if notes else ""), _preview(records), _rejects(tally.rejects), state)


def _valid_name(name: str) -> bool:
    return bool(name) and not any(c in name for c in ", /\\\t\n") and not name.startswith(".")


def register(lang, state, name, split, overwrite, dataset_dir: Path):
    """Write the parts and register them; returns (status, gallery, card markdown)."""
    from hearme.core import registry
    from hearme.converters.split import split_records

    name = (name or "").strip()
    try:
        if not state or not state.get("records"):
            return ui.fail(lang, labels.msg("nothing_converted", lang)), [], ""
        if not _valid_name(name):
            return ui.fail(lang, labels.msg("bad_name", lang, name=name)), [], ""
        records = state["records"]
        parts = {name: records} if split in (None, "", "none") else \
            {f"{name}_{p}": recs for p, recs in split_records(records, ratios=split).items()}
        empty = [p for p, recs in parts.items() if not recs]
        if empty:
            raise io.HearMeError(f"{len(records)} records are too few for a {split} split ({', '.join(empty)} would be empty)")
        info = registry.load(dataset_dir)
        taken = [p for p in parts if p in info]
        if taken and not overwrite:
            return ui.fail(lang, labels.msg("exists", lang, names=", ".join(taken))), [], ""
        # Files first (one unit), then one registry write: a failure leaves the registry untouched.
        files_dir = Path(dataset_dir) / "data"
        written = {p: files_dir / f"{p}.json" for p in parts}
        io.write_together([(written[p], io.records_writer(written[p], recs)) for p, recs in parts.items()]
                          + [(io.rejected_path(files_dir / f"{name}.json"), io.jsonl_writer(state.get("rejects") or []))])
        meta = registry.record_meta(records)  # of all parts
        for p, out in written.items():
            info[p] = registry.entry_for(out, dataset_dir, **meta)
        registry.save(info, dataset_dir)
    except Exception as e:  # noqa: BLE001
        return ui.fail(lang, e), [], ""
    summary = ", ".join(f"{p} ({len(recs)})" for p, recs in parts.items())
    status = ui.ok(labels.msg("registered", lang, registry=registry.registry_path(dataset_dir), parts=summary))
    gallery, card_md = _card(parts, files_dir / "cards" / name, dataset_dir, lang)
    return status, gallery, card_md


def _card(parts: dict[str, list], out_dir: Path, dataset_dir: Path, lang) -> tuple[list, str]:
    """Data card plots and tables; a failure here is shown but does not undo the registration."""
    from hearme.converters.card import build_card

    try:
        card = build_card(parts, out_dir, dataset_dir)
    except Exception as e:  # noqa: BLE001
        return [], ui.fail(lang, e)
    text = card.read_text(encoding="utf-8").split("\n## Plots", 1)[0]  # the plots are in the gallery
    pngs = sorted(out_dir.glob("*.png"))
    return [(str(p), p.stem) for p in pngs], text


def create(ctx: "ui.Ctx") -> dict[str, Any]:
    import gradio as gr
    from hearme.converters import CONVERTERS

    fmts = sorted(CONVERTERS)
    first = "cpsycound" if "cpsycound" in fmts else fmts[0]
    with gr.Column():
        intro = gr.Markdown()
        with gr.Row():
            fmt = gr.Dropdown(choices=fmts, value=first, scale=1, elem_id="hm-data-format")
            fmt_info = gr.Markdown(_format_info(first), elem_id="hm-data-format-info")
        with gr.Row():
            files = gr.File(file_count="multiple", type="filepath", elem_id="hm-data-files", scale=2)
            with gr.Column(scale=2):
                path = gr.Textbox(elem_id="hm-data-path")
                scrub = gr.Checkbox(value=True, elem_id="hm-data-scrub")
                with gr.Row(visible=False) as sc_row:
                    sc_name = gr.Textbox(value="Jerry")
                    sc_author = gr.Textbox(value="VastEpiphany")
        convert_btn = gr.Button(variant="primary", elem_id="hm-data-convert")
        status = gr.Markdown(elem_id="hm-data-status")
        with gr.Row():
            preview = gr.Dataframe(value=_preview([]), interactive=False, wrap=True, scale=3, elem_id="hm-data-preview")
            rejects = gr.Dataframe(value=_rejects([]), interactive=False, wrap=True, scale=2, elem_id="hm-data-rejects")
        with gr.Row():
            name = gr.Textbox(value=first.replace("-", "_"), scale=2, elem_id="hm-data-name")
            split = gr.Radio(choices=SPLITS, value="none", scale=2, elem_id="hm-data-split")
            overwrite = gr.Checkbox(value=False, scale=1, elem_id="hm-data-overwrite")
            register_btn = gr.Button(variant="primary", scale=1, elem_id="hm-data-register")
        reg_status = gr.Markdown(elem_id="hm-data-reg-status")
        card = gr.Gallery(columns=4, height="auto", object_fit="contain", elem_id="hm-data-card")
        with gr.Accordion(open=False) as card_acc:
            card_md = gr.Markdown(elem_id="hm-data-card-md")
    state = gr.State(None)

    def on_format(f):
        return _format_info(f), gr.update(visible=f == "self-cognition"), f.replace("-", "_")

    def on_convert(lang, f, fl, p, s, n, a, progress=gr.Progress(track_tqdm=True)):
        return convert(lang, f, fl, p, s, n, a, progress)

    def on_register(lang, st, n, sp, ow):
        return register(lang, st, n, sp, ow, ctx.dataset_dir)

    fmt.change(on_format, [fmt], [fmt_info, sc_row, name], queue=False)
    convert_btn.click(on_convert, [ctx.lang, fmt, files, path, scrub, sc_name, sc_author],
                      [status, preview, rejects, state])
    register_btn.click(on_register, [ctx.lang, state, name, split, overwrite], [reg_status, card, card_md])
    return {"data.intro": intro, "data.format": fmt, "data.files": files, "data.path": path, "data.scrub": scrub,
            "data.sc_name": sc_name, "data.sc_author": sc_author, "data.convert_btn": convert_btn,
            "data.rejects": rejects, "data.preview": preview, "data.name": name, "data.split": split,
            "data.overwrite": overwrite, "data.register_btn": register_btn, "data.card": card,
            "data.card_tables": card_acc}
