"""Chat templates that LLaMA-Factory 0.9.5 lacks, registered in every process that needs them.

LLaMA-Factory has no plugin entry point, and its WebUI trains in a *separate*
`llamafactory-cli train` process, so registering a template in one process is not
enough. HearMe therefore installs a one-line `hearme_lf_plugin.pth` into
site-packages (`hearme recipes plugin install`). Python runs it at start-up in every
interpreter of that environment; it only adds a meta-path finder (no heavy imports).
When any process later imports `llamafactory.data.template` (`llamafactory-cli
train`, its torchrun workers, the WebUI and the training process it launches), the
finder runs `register_templates()` right after that module has executed, and
`register_model_groups()` after `llamafactory.extras.constants`, and
`hearme.lf.remote_compat.install()` after `transformers.dynamic_module_utils` (ChatGLM3 and
Baichuan2 remote code on transformers 5.x, patched in memory per known file revision).

Set HEARME_LF_PLUGIN=0 to switch the hook off for one process.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import sysconfig
from pathlib import Path

PTH_NAME = "hearme_lf_plugin.pth"
# Executed by site.py: must be one line starting with "import"; silent if hearme is gone.
PTH_LINE = ("import sys; exec('try:\\n from hearme.lf import plugin\\nexcept Exception:\\n pass\\n"
            "else:\\n plugin.install_hook()')\n")

# Templates this plugin adds (name -> what it reproduces).
PLUGIN_TEMPLATES = {
    "baichuan2": "Baichuan2-Chat: <reserved_106>{user}<reserved_107>{assistant}</s> (LLaMA-Factory 0.9.4's definition)",
    "hearme_firefly": "Firefly base-model format of the Tibetan paper: <s>{user}</s>{assistant}</s>...",
}


def register_templates(module=None) -> list[str]:
    """Register the plugin templates into LLaMA-Factory's TEMPLATES; returns the names added."""
    if module is None:
        import llamafactory.data.template as module  # triggers the hook too; then this is a no-op
    from llamafactory.data.formatter import EmptyFormatter, StringFormatter

    added = []
    if "baichuan2" not in module.TEMPLATES:  # removed in 0.9.5; identical to 0.9.4's
        module.register_template(
            name="baichuan2",
            format_user=StringFormatter(slots=["<reserved_106>{{content}}<reserved_107>"]),
            efficient_eos=True,
        )
        added.append("baichuan2")
    if "hearme_firefly" not in module.TEMPLATES:  # every turn ends with </s>; loss on every answer
        module.register_template(
            name="hearme_firefly",
            format_prefix=EmptyFormatter(slots=[{"bos_token"}]),
            format_system=StringFormatter(slots=["{{content}}", {"eos_token"}]),
            format_user=StringFormatter(slots=["{{content}}", {"eos_token"}]),
            format_assistant=StringFormatter(slots=["{{content}}", {"eos_token"}]),
        )
        added.append("hearme_firefly")
    patch_ollama_modelfile(module)
    return added


def patch_ollama_modelfile(module) -> None:
    """`llamafactory-cli export` writes an Ollama Modelfile and, in 0.9.5, dies on templates whose
    slots name tokens ({"token": "[gMASK]"}: chatglm3). Write such a slot as the token itself."""
    tpl = module.Template
    original = tpl._convert_slots_to_ollama  # a staticmethod: the plain function
    if getattr(original, "__hearme__", False):
        return

    def _convert_slots_to_ollama(slots, tokenizer, placeholder="content"):
        slots = [s["token"] if isinstance(s, dict) and set(s) == {"token"} else s for s in slots]
        return original(slots, tokenizer, placeholder)

    _convert_slots_to_ollama.__hearme__ = True
    tpl._convert_slots_to_ollama = staticmethod(_convert_slots_to_ollama)


def register_model_groups(module=None) -> None:
    """List the documents' models in the WebUI's model dropdown with their templates."""
    if module is None:
        import llamafactory.extras.constants as module
    src = module.DownloadSource
    groups = {
        "baichuan2": ["Baichuan2-7B-Base", "Baichuan2-7B-Chat", "Baichuan2-13B-Base", "Baichuan2-13B-Chat"],
    }
    for template, names in groups.items():
        if any(n in module.SUPPORTED_MODELS for n in names):
            continue
        module.register_model_group(
            models={n: {src.DEFAULT: f"baichuan-inc/{n}", src.MODELSCOPE: f"baichuan-inc/{n}"} for n in names},
            template=template,
        )


def install_remote_compat(module=None) -> None:
    from hearme.lf import remote_compat

    remote_compat.install(module)


_AFTER = {
    "llamafactory.data.template": register_templates,
    "llamafactory.extras.constants": register_model_groups,
    "transformers.dynamic_module_utils": install_remote_compat,
}


class _Loader(importlib.abc.Loader):
    """Wraps the real loader: run the module, then our registration."""

    def __init__(self, real, after):
        self.real, self.after = real, after

    def create_module(self, spec):
        return self.real.create_module(spec)

    def exec_module(self, module):
        self.real.exec_module(module)
        try:
            self.after(module)
        except Exception as e:  # never break LLaMA-Factory because of the plugin
            sys.stderr.write(f"[hearme] plugin registration failed: {e}\n")


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        after = _AFTER.get(name)
        if after is None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path, target)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _Loader(spec.loader, after)
        return spec


def install_hook() -> bool:
    """Add the finder (idempotent). Called from the .pth line at interpreter start."""
    if os.environ.get("HEARME_LF_PLUGIN", "1") == "0":
        return False
    if any(isinstance(f, _Finder) for f in sys.meta_path):
        return True
    sys.meta_path.insert(0, _Finder())
    for name, after in _AFTER.items():  # modules imported before the hook: register now
        if name in sys.modules:
            after(sys.modules[name])
    return True


def site_dir() -> Path:
    """This interpreter's site-packages (where pip installs, and where .pth files are read)."""
    return Path(sysconfig.get_paths()["purelib"])


def pth_path(site: str | os.PathLike | None = None) -> Path:
    return Path(site or site_dir()) / PTH_NAME


def install(site: str | os.PathLike | None = None) -> Path:
    from hearme.core import io

    return io.write_text(pth_path(site), PTH_LINE)


def uninstall(site: str | os.PathLike | None = None) -> bool:
    p = pth_path(site)
    if p.exists():
        p.unlink()
        return True
    return False


def active() -> bool:
    """Would a fresh `llamafactory-cli` of this environment see the plugin templates?"""
    return is_installed() and os.environ.get("HEARME_LF_PLUGIN", "1") != "0"


def is_installed(site: str | os.PathLike | None = None) -> bool:
    p = pth_path(site)
    return p.exists() and p.read_text(encoding="utf-8") == PTH_LINE


def overlay_env(dest: str | os.PathLike) -> Path:
    """A throwaway venv layered over this one, with the hook installed in its own site-packages.

    Fresh interpreters started from it see every package of this environment, so the hook
    can be proven (or tried) without touching this environment. Returns its bin/ folder,
    which also holds `llamafactory-cli` and `hearme` launchers like pip's console scripts.
    """
    import subprocess

    dest = Path(dest)
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(dest)], check=True)
    py = dest / "bin" / "python"
    site = Path(subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    # '_' sorts before 'h': the parent's packages (and its editable hearme) load before the hook line.
    (site / "_hearme_parent.pth").write_text(f"import site; site.addsitedir({str(site_dir())!r})\n", encoding="utf-8")
    install(site)
    for name, target in (("llamafactory-cli", "llamafactory.cli"), ("hearme", "hearme.cli")):
        script = dest / "bin" / name
        script.write_text(f"#!{py}\nimport sys\nfrom {target} import main\nsys.exit(main())\n", encoding="utf-8")
        script.chmod(0o755)
    return dest / "bin"
