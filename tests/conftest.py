"""Shared fixtures. Every test runs offline: nothing may reach a model hub."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from hearme.core import paths

paths.set_offline()
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Remote code (ChatGLM3, Baichuan2) is copied into transformers' module cache: one per test session,
# so parallel sessions and the user's ~/.cache never share or see the tests' edited copies.
# Under pytest-xdist each worker gets its own (the controller's would otherwise be inherited and shared).
_OWNER = f"{os.getpid()}"
if "HF_MODULES_CACHE" not in os.environ or os.environ.get("HEARME_TEST_MODULES_OWNER") not in (None, _OWNER):
    os.environ["HF_MODULES_CACHE"] = tempfile.mkdtemp(prefix="hearme-hf-modules-")
    os.environ["HEARME_TEST_MODULES_OWNER"] = _OWNER
    atexit.register(shutil.rmtree, os.environ["HF_MODULES_CACHE"], True)
os.environ.pop("OPENAI_API_KEY", None)  # tests set their own keys against local servers
if os.environ.get("PYTEST_XDIST_WORKER"):
    # Two workers on two cores: one thread each for torch in every child, or OpenMP threads spin
    # against each other (measured: the demo fixture took 3.5x longer with both at 2 threads).
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")

REPO = paths.REPO_ROOT
FIXTURES = Path(__file__).parent / "fixtures"  # our own inputs, shared by the rooms' tests
HEARME = [sys.executable, "-m", "hearme.cli"]
# The documents' stock remote code (no weights): read from ../shared, never copied into the project.
REMOTE_CODE = Path(os.environ.get("HEARME_REMOTE_CODE_DIR") or REPO.parent / "shared" / "fixtures" / "remote_code")
REMOTE_DIRS = {"chatglm3": "chatglm3-6b", "baichuan2": "baichuan2-13b"}


def remote_code_dir(arch: str) -> Path:
    """The stock remote code of ARCH, or a skip saying where it was looked for."""
    src = REMOTE_CODE / REMOTE_DIRS[arch]
    if not (src / "tokenization_chatglm.py" if arch == "chatglm3" else src / "tokenization_baichuan.py").is_file():
        pytest.skip(f"stock {arch} remote code not found in {src} (see shared/fixtures/remote_code/SOURCES.md; "
                    f"HEARME_REMOTE_CODE_DIR overrides the folder)")
    return src


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """The offline tiny model (tokenizer + random Qwen2), built once per session."""
    from hearme.lf import tinymodel

    out = tmp_path_factory.mktemp("tiny") / "model"
    tinymodel.build(out)
    return out


@pytest.fixture(scope="session")
def remote_tiny(tmp_path_factory):
    """arch -> a tiny model built with that document model's stock remote code (built once per session)."""
    from hearme.lf import tinymodel

    built: dict[str, Path] = {}

    def get(arch: str) -> Path:
        if arch not in built:
            src = remote_code_dir(arch)
            built[arch] = tinymodel.build_remote(tmp_path_factory.mktemp(f"tiny-{arch}") / arch, arch, src)["path"]
            built[arch] = Path(built[arch])
        return built[arch]
    return get


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


# Files that run LLaMA-Factory many times go first, so that under pytest-xdist (`make test` runs
# two workers, whole files each) the longest files do not start last. Measured with --durations.
HEAVY_FIRST = ("lf/test_recipes_run.py", "lf/test_remote_code.py", "webui/test_webui.py", "demo/test_demo.py",
               "lf/test_prefs_train.py", "lf/test_cv.py", "evaluators/test_session.py",
               "evaluators/test_mut_identity.py", "evaluators/test_report.py", "evaluators/test_probe.py", "tibetan/test_tibetan_llm_steps.py", "tibetan/test_tibetan_resume.py",
               "test_wheel.py")


def pytest_collection_modifyitems(session, config, items):
    tests_dir = Path(__file__).parent

    def rank(item) -> int:
        try:
            rel = Path(str(item.fspath)).relative_to(tests_dir).as_posix()
        except ValueError:
            return len(HEAVY_FIRST)
        return HEAVY_FIRST.index(rel) if rel in HEAVY_FIRST else len(HEAVY_FIRST)
    items.sort(key=rank)  # stable: the order inside a file is kept
