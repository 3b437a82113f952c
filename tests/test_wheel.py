"""A non-editable install carries what HearMe needs: the wheel, built from a copy of the source
tree and installed into a fresh venv, runs from a directory far from any clone.

Kept fast: the wheel goes in with `pip install --no-deps`, and the venv reaches the heavy
dependencies (torch, LLaMA-Factory...) through a .pth line naming this environment's
site-packages. A .pth *line* only appends that folder to sys.path; the .pth files inside it (our
editable install's finder among them) are not run, so `import hearme` can only find the wheel.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.slow

NOT_IN_SDIST = shutil.ignore_patterns(".git", ".venv", "build", "dist", "runs", "saves", "*.egg-info", "__pycache__",
                                      ".pytest_cache", ".hearme_cache", "artifacts", "out", "llamaboard_cache", "docs")


@pytest.fixture(scope="module")
def venv(tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("wheel")
    src = root / "src"
    shutil.copytree(REPO, src, ignore=NOT_IN_SDIST)  # a clean tree: no stale build/ in the wheel
    wheels = root / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", wheels, src],
                   check=True, capture_output=True, text=True, timeout=300)
    wheel = next(wheels.glob("hearme-*.whl"))
    env_dir = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", env_dir], check=True, timeout=120)
    py = env_dir / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", py, "install", "--no-deps", "-q", wheel],
                   check=True, capture_output=True, text=True, timeout=300)
    site = Path(subprocess.run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "_hearme_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8")
    cli = env_dir / "bin" / "llamafactory-cli"  # what pip would write if llamafactory were installed here
    cli.write_text(f"#!{py}\nimport sys\nfrom llamafactory.cli import main\nsys.exit(main())\n", encoding="utf-8")
    cli.chmod(0o755)
    shutil.rmtree(src)  # nothing of the source tree is left to import from
    work = root / "work"
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HEARME_DATASET_DIR", "VIRTUAL_ENV")}
    env.update(HEARME_CACHE_DIR=str(root / "cache"), PATH=f"{env_dir / 'bin'}:{env.get('PATH', '')}")
    return {"wheel": wheel, "bin": env_dir / "bin", "py": py, "site": site, "work": work, "env": env}


def run(venv: dict, *args, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(venv["bin"] / "hearme"), *map(str, args)], cwd=venv["work"], env=venv["env"],
                          capture_output=True, text=True, timeout=600)
    if check:
        assert proc.returncode == 0, f"hearme {' '.join(map(str, args))}:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}"
    return proc


def test_the_wheel_carries_recipes_data_templates_and_probes(venv):
    import zipfile

    names = set(zipfile.ZipFile(venv["wheel"]).namelist())
    for must in ("hearme/bundled/dataset_info.json", "hearme/bundled/recipes/train/qwen2.5_stage1_selfcog.yaml",
                 "hearme/bundled/recipes/deepspeed/ds_z3_config.json", "hearme/bundled/data/hearme_selfcog_train.json",
                 "hearme/bundled/data/samples/cpsycound/case_01.txt", "hearme/converters/templates/self_cognition.json",
                 "hearme/evaluators/probes/identity.json", "hearme/evaluators/probes/crisis.json",
                 "hearme/evaluators/profiles/zh.json", "hearme/evaluators/profiles/bo.json",
                 "hearme/assets/tokenizer_corpus.txt"):
        assert must in names, must
    assert not any(n.startswith(("converters/", "evaluators/", "recipes/", "data/")) for n in names)


def test_installed_hearme_is_the_wheel_not_the_clone(venv):
    code = "import hearme, hearme.core.paths as p; print(hearme.__file__); print(p.FROM_CLONE); print(p.RECIPES)"
    out = subprocess.run([venv["py"], "-c", code], cwd=venv["work"], env=venv["env"], capture_output=True, text=True,
                         check=True).stdout.splitlines()
    assert out[0].startswith(str(venv["site"])) and out[1] == "False"
    assert out[2] == str(venv["site"] / "hearme" / "bundled" / "recipes")
    assert "installed package at" in run(venv, "env").stdout
    assert run(venv, "version").stdout.startswith("hearme 0.1.0")


def test_commands_work_outside_a_clone(venv):
    work = venv["work"]
    sc = run(venv, "convert", "Self-Cognition", "-o", work / "selfcog.json")  # built-in template, any case
    assert sc.stdout.strip().splitlines()[-1] == "read=112 written=112 rejected=0"
    none = run(venv, "datasets", check=False)
    assert none.returncode == 2 and "hearme samples" in none.stderr
    run(venv, "samples")  # registers the bundled samples in the working directory
    listed = run(venv, "datasets").stdout
    assert "hearme_selfcog_train" in listed and "hearme_tibetan_bo_test" in listed
    assert json.loads((work / "dataset_info.json").read_text())["hearme_counseling_zh_train"]["records"] > 0
    card = run(venv, "stats", "data/hearme_counseling_zh_train.json", "-o", work / "card")
    assert card.returncode == 0
    assert "Apache-2.0" in (work / "card" / "card.md").read_text(encoding="utf-8")


def test_recipes_check_finds_the_bundled_recipes(venv):
    proc = run(venv, "recipes", "check", venv["site"] / "hearme" / "bundled" / "recipes" / "train" /
               "qwen2.5_stage1_selfcog.yaml")
    assert "1/1 recipes ok" in proc.stdout
