"""LLaMA-Factory's WebUI rebuilt from its public builders, with HearMe's tabs in the same tab bar.

LLaMA-Factory 0.9.5 has no WebUI plugin hook, so `build()` repeats the body of
`llamafactory.webui.interface.create_ui` (Train, Evaluate & Predict, Chat, Export unchanged) and
adds Data, Evaluate (HearMe) and Tibetan before the footer. `prepare()` runs first:

- the dataset-dir textboxes default to HearMe's registry (DEFAULT_DATA_DIR monkeypatch);
- training runs in a separate `llamafactory-cli train` process, so PATH gets a shim that runs
  this interpreter's LLaMA-Factory with HearMe's plugin hook installed (plugin templates and
  model groups exist in the child even without the site-packages .pth), plus the offline
  switches and HEARME_DATASET_DIR;
- on a machine without an accelerator the Train tab's compute type defaults to fp32.
"""

from __future__ import annotations

import atexit
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from hearme.core import io, paths

SHIM = "#!/bin/sh\n# HearMe: LLaMA-Factory with HearMe's plugin registered (see hearme/webui_ext/app.py)\nexec {python} -m hearme.webui_ext.lf_launch \"$@\"\n"


def install_plugin_hook() -> bool:
    """Register HearMe's LLaMA-Factory templates in this process (before the template dropdown is built)."""
    try:
        from hearme.lf import plugin as lf_plugin
    except ImportError:
        return False
    return bool(lf_plugin.install_hook())


def _write_shim() -> Path:
    """A temporary bin dir whose `llamafactory-cli` is this interpreter's, with the plugin hook."""
    bin_dir = Path(tempfile.mkdtemp(prefix="hearme-webui-bin-"))
    atexit.register(shutil.rmtree, bin_dir, True)
    shim = io.write_text(bin_dir / "llamafactory-cli", SHIM.format(python=shlex.quote(sys.executable)))
    shim.chmod(0o755)
    return bin_dir


def prepare(dataset_dir: Path) -> None:
    """Environment and LLaMA-Factory defaults; call before building the UI."""
    paths.set_offline()
    os.environ["HEARME_DATASET_DIR"] = str(dataset_dir)
    install_plugin_hook()
    # The Runner's Popen(["llamafactory-cli", ...]) inherits os.environ: shim first, then this venv.
    os.environ["PATH"] = os.pathsep.join([str(_write_shim()), str(Path(sys.executable).parent),
                                          os.environ.get("PATH", "")])
    import llamafactory.webui.common as common
    import llamafactory.webui.components.eval as lf_eval
    import llamafactory.webui.components.train as lf_train
    import llamafactory.webui.control as control

    for module in (common, control, lf_train, lf_eval):
        module.DEFAULT_DATA_DIR = str(dataset_dir)


def has_accelerator() -> bool:
    from llamafactory.extras.misc import is_accelerator_available

    return bool(is_accelerator_available())


def _theme():
    """The default theme with system fonts: no Google Fonts request on a closed network."""
    import gradio as gr

    sans = ["Source Sans Pro", "ui-sans-serif", "system-ui", "Noto Sans CJK SC", "WenQuanYi Micro Hei", "sans-serif"]
    return gr.themes.Default(font=sans, font_mono=["IBM Plex Mono", "ui-monospace", "Consolas", "monospace"])


def build(dataset_dir: Path, work_dir: Path | None = None):
    """The Blocks app; `prepare(dataset_dir)` must have run."""
    import gradio as gr
    from llamafactory.webui.common import save_config
    from llamafactory.webui.components import (
        create_eval_tab, create_export_tab, create_footer, create_infer_tab, create_top, create_train_tab,
    )
    from llamafactory.webui.css import CSS
    from llamafactory.webui.engine import Engine

    from hearme.webui_ext import data_tab, eval_tab, labels, tibetan_tab, ui

    engine = Engine(demo_mode=False, pure_chat=False)
    ours: dict[str, Any] = {}
    with gr.Blocks(title="HearMe · LLaMA Board", css=CSS, theme=_theme(), analytics_enabled=False) as demo:
        # ---- LLaMA-Factory's create_ui, unchanged
        title, subtitle = gr.HTML(), gr.HTML()
        engine.manager.add_elems("head", {"title": title, "subtitle": subtitle})
        engine.manager.add_elems("top", create_top())
        lang = engine.manager.get_elem_by_id("top.lang")
        with gr.Tab("Train", elem_id="tab-train"):
            engine.manager.add_elems("train", create_train_tab(engine))
        with gr.Tab("Evaluate & Predict", elem_id="tab-eval"):
            engine.manager.add_elems("eval", create_eval_tab(engine))
        with gr.Tab("Chat", elem_id="tab-chat"):
            engine.manager.add_elems("infer", create_infer_tab(engine))
        with gr.Tab("Export", elem_id="tab-export"):
            engine.manager.add_elems("export", create_export_tab(engine))
        # ---- HearMe's tabs in the same tab bar
        ctx = ui.Ctx(lang=lang, dataset_dir=Path(dataset_dir), engine=engine, work_dir=Path(work_dir or os.getcwd()))
        for key, module in (("tab.data", data_tab), ("tab.eval", eval_tab), ("tab.tibetan", tibetan_tab)):
            with gr.Tab(labels.props(key, "en")["label"], elem_id=f"hm-{key.replace('.', '-')}") as tab:
                ours[key] = tab
                ours.update(module.create(ctx))
        engine.manager.add_elems("footer", create_footer())

        if not has_accelerator():  # bf16 fails on CPU; a student's first click should work
            engine.manager.get_elem_by_id("train.compute_type").value = "fp32"

        demo.load(engine.resume, outputs=engine.manager.get_elem_list(), concurrency_limit=None)
        lang.change(engine.change_lang, [lang], engine.manager.get_elem_list(), queue=False)
        lang.change(lambda la: labels.localize(ours, la), [lang], list(ours.values()), queue=False)
        lang.input(save_config, inputs=[lang], queue=False)
    return demo


def allowed_paths(dataset_dir: Path) -> list[str]:
    """Files the UI may serve besides gradio's temp dir: the data card plots."""
    return [str(Path(dataset_dir) / "data" / "cards")]


def launch(host: str = "127.0.0.1", port: int | None = None, dataset_dir: Path | None = None) -> None:
    dataset_dir = Path(dataset_dir or paths.dataset_dir()).resolve()
    prepare(dataset_dir)
    demo = build(dataset_dir)
    try:
        demo.queue().launch(server_name=host, server_port=port, share=False, inbrowser=False, show_error=True,
                            allowed_paths=allowed_paths(dataset_dir))
    except OSError as e:  # port taken, address not available: one line, not a traceback
        raise io.HearMeError(f"cannot serve on {host}:{port or 'the default port'}: {e}") from None
