"""`hearme version` and `hearme env`: what is installed and where HearMe reads and writes,
in the style of `llamafactory-cli version` / `llamafactory-cli env` (paste `hearme env` into bug reports)."""

from __future__ import annotations

import platform
from importlib import metadata

from hearme.core import paths

PACKAGES = ("llamafactory", "transformers", "peft", "datasets", "accelerate", "trl", "tokenizers", "torch",
            "bitsandbytes", "gradio", "openai", "vllm")


def version_of(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def version_line() -> str:
    lf = version_of("llamafactory")
    return f"hearme {version_of('hearme') or 'unknown'}" + (f" (LLaMA-Factory {lf})" if lf else " (LLaMA-Factory not installed)")


def _device() -> str:
    try:
        import torch
    except ImportError:
        return "torch not installed"
    if torch.cuda.is_available():
        n = torch.cuda.device_count()
        return f"CUDA {torch.version.cuda}, {n} GPU(s): " + ", ".join(torch.cuda.get_device_name(i) for i in range(n))
    return "CPU only (no CUDA device)"


def report() -> list[tuple[str, str]]:
    """(key, value) rows, cheapest first."""
    from hearme.core import registry
    from hearme.lf import runner as lf, plugin as lf_plugin

    reg = registry.registry_path()
    n = len(registry.load()) if reg.exists() else 0
    rows = [("hearme", version_of("hearme") or "unknown"),
            ("install", f"clone at {paths.REPO_ROOT}" if paths.FROM_CLONE else f"installed package at {paths.PACKAGE}"),
            ("recipes", str(paths.RECIPES)),
            ("bundled data", str(paths.DATA)),
            ("registry", f"{reg} ({n} datasets)" if reg.exists() else f"{reg} (absent: `hearme samples` builds it)"),
            ("LLM cache", str(paths.cache_dir())),
            ("platform", platform.platform()),
            ("python", platform.python_version())]
    rows += [(name, version_of(name) or "not installed") for name in PACKAGES]
    rows += [("device", _device()),
             ("llamafactory-cli", lf.cli_path()),
             ("template plugin", "installed" if lf_plugin.is_installed() else "absent (`hearme recipes plugin install`)")]
    return rows
