"""Where things live, in a clone (editable install) and in an installed wheel.

A clone keeps recipes/, data/ and dataset_info.json at its root. A wheel carries the same
files as package data under hearme/bundled/ (setup.py copies them there at build time), and
then writes what the user makes (registry, cache) in the working directory or ~/.cache.
"""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]  # hearme/ (this file is hearme/core/paths.py)
REPO_ROOT = PACKAGE.parent
ASSETS = PACKAGE / "assets"
FROM_CLONE = (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "recipes").is_dir()
BUNDLED = REPO_ROOT if FROM_CLONE else PACKAGE / "bundled"  # recipes/, data/, dataset_info.json
RECIPES = BUNDLED / "recipes"
DATA = BUNDLED / "data"


def dataset_dir() -> Path:
    """The registry directory holding dataset_info.json (HEARME_DATASET_DIR overrides):
    the clone's root, or for an installed package the working directory."""
    default = REPO_ROOT if FROM_CLONE else Path.cwd()
    return Path(os.environ.get("HEARME_DATASET_DIR") or default).resolve()


def cache_dir() -> Path:
    """On-disk cache for LLM calls (HEARME_CACHE_DIR overrides): .hearme_cache in a clone,
    else ~/.cache/hearme (never inside site-packages)."""
    if os.environ.get("HEARME_CACHE_DIR"):
        return Path(os.environ["HEARME_CACHE_DIR"]).resolve()
    if FROM_CLONE:
        return (REPO_ROOT / ".hearme_cache").resolve()
    return (Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hearme").resolve()


OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "DISABLE_VERSION_CHECK": "0",
}


def set_offline() -> None:
    """Nothing may reach a model hub: set the HF offline switches for this process and children."""
    os.environ.update(OFFLINE_ENV)
