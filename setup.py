"""Build hook only; everything else about the package is in pyproject.toml.

A wheel carries the clone's root-level recipes/, data/ and dataset_info.json under
hearme/bundled/, so an installed HearMe finds them (hearme.core.paths.BUNDLED) without a clone.
An editable install reads them from the clone instead.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUNDLED = ("recipes", "data", "dataset_info.json")
SKIP = shutil.ignore_patterns("__pycache__", "*.pyc", "*.rejected.jsonl", ".*")


class BuildPyWithBundle(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        dest = Path(self.build_lib) / "hearme" / "bundled"
        for name in BUNDLED:
            src, out = ROOT / name, dest / name
            if not src.exists():
                raise FileNotFoundError(f"{src}: needed in the wheel (is MANIFEST.in complete?)")
            if src.is_dir():
                shutil.rmtree(out, ignore_errors=True)
                shutil.copytree(src, out, ignore=SKIP)
            else:
                out.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, out)


setup(cmdclass={"build_py": BuildPyWithBundle})
