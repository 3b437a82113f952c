"""Shared fixtures. Every test runs offline: nothing may reach a model hub."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from hearme import paths

paths.set_offline()
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.pop("OPENAI_API_KEY", None)  # tests set their own keys against local servers

REPO = paths.REPO_ROOT
HEARME = [sys.executable, "-m", "hearme.cli"]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """The offline tiny model (tokenizer + random Qwen2), built once per session."""
    from hearme import tinymodel

    out = tmp_path_factory.mktemp("tiny") / "model"
    tinymodel.build(out)
    return out


def run_hearme(*args: str, cwd=None, env=None, check: bool = False, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run the real `hearme` CLI in a subprocess and capture its output."""
    full_env = dict(os.environ, **(env or {}))
    proc = subprocess.run(HEARME + [str(a) for a in args], cwd=cwd or REPO, env=full_env, text=True,
                          capture_output=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"hearme {' '.join(map(str, args))} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


@pytest.fixture
def hearme_cli():
    return run_hearme
