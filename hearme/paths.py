"""Where things live. The project runs from a clone (editable install)."""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
ASSETS = Path(__file__).resolve().parent / "assets"
RECIPES = REPO_ROOT / "recipes"
DATA = REPO_ROOT / "data"


def dataset_dir() -> Path:
    """The registry directory holding dataset_info.json (HEARME_DATASET_DIR overrides)."""
    return Path(os.environ.get("HEARME_DATASET_DIR") or REPO_ROOT).resolve()


def cache_dir() -> Path:
    """On-disk cache for LLM calls (HEARME_CACHE_DIR overrides)."""
    return Path(os.environ.get("HEARME_CACHE_DIR") or REPO_ROOT / ".hearme_cache").resolve()


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
