"""Drive real LLaMA-Factory through `llamafactory-cli`, with a recipe plus overrides.

Every run writes its resolved YAML next to its output, so it can be re-run by hand
with exactly the same settings: `llamafactory-cli train OUT/configs/train.yaml`.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import Any

from hearme.core import io, paths


def load_yaml(path) -> dict:
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise io.InputError(path, "", "no such recipe") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        raise io.InputError(path, where, f"invalid YAML ({getattr(e, 'problem', e)})") from None
    if not isinstance(data, dict):
        raise io.InputError(path, "", "a recipe must be a YAML mapping")
    return data


def dump_yaml(cfg: dict, path) -> Path:
    import yaml

    return io.write_text(path, yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True))


def apply_overrides(cfg: dict, overrides: dict[str, Any] | None = None) -> dict:
    """A copy of cfg with overrides applied (None deletes a key)."""
    cfg = dict(cfg)
    for k, v in (overrides or {}).items():
        if v is None:
            cfg.pop(k, None)
        else:
            cfg[k] = v
    return cfg


def resolve_recipe(recipe, overrides: dict[str, Any] | None = None) -> dict:
    """Load a recipe (path, or a name under recipes/) and apply overrides (None deletes a key)."""
    path = Path(recipe)
    if not path.exists() and (paths.RECIPES / recipe).exists():
        path = paths.RECIPES / recipe
    return apply_overrides(load_yaml(path), overrides)


def cli_path() -> str:
    exe = Path(sys.executable).with_name("llamafactory-cli")
    return str(exe) if exe.exists() else (shutil.which("llamafactory-cli") or "llamafactory-cli")


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.update(paths.OFFLINE_ENV)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.setdefault("WANDB_DISABLED", "true")
    env.update(extra or {})
    return env


def run(command: str, config: dict, config_path, log_path, env: dict[str, str] | None = None) -> float:
    """`llamafactory-cli COMMAND CONFIG`, logging to log_path. Returns wall seconds.
    `env` adds to the child's environment (e.g. OMP_NUM_THREADS).

    On failure raises HearMeError with the log's last lines, so the reason is visible.
    """
    dump_yaml(config, config_path)
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    cmd = [cli_path(), command, str(config_path)]
    tail: deque[str] = deque(maxlen=25)
    t0 = time.time()
    with open(log_path, "w", encoding="utf-8") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                encoding="utf-8", errors="replace", env=child_env(env), bufsize=1)
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                log.write(line)
                tail.append(line.rstrip())
            rc = proc.wait()
        except BaseException:
            proc.kill()
            proc.wait()
            raise
    if rc != 0:
        last = "\n  ".join(t for t in tail if t.strip())
        raise io.HearMeError(f"llamafactory-cli {command} failed (exit {rc}); log: {log_path}\n  {last}")
    return time.time() - t0
