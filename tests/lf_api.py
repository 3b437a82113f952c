"""A real `llamafactory-cli api` on 127.0.0.1, started in its own session and stopped by its PID.

    from tests.lf_api import lf_api          # a module-scoped fixture: import it into a test module
    def test_x(lf_api): lf_api.url, lf_api.model_name   # http://127.0.0.1:PORT/v1, "tiny-under-test"

or, outside pytest::

    api = start_lf_api(model_path, workdir, adapter=None, max_new_tokens=16)
    ...; api.stop()

The server is exec'd directly (no shell), with setsid, so `proc.pid` is the uvicorn process
itself; stop() sends SIGTERM to that process group and SIGKILL after a grace period.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from hearme import lf


@dataclass
class LFApi:
    url: str
    model_name: str
    proc: subprocess.Popen
    log_path: Path

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self, grace: float = 10.0) -> None:
        if self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()

    def log_tail(self, n: int = 20) -> str:
        return "\n".join(self.log_path.read_text(encoding="utf-8", errors="replace").splitlines()[-n:])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_lf_api(model_path, workdir, *, adapter=None, template: str = "qwen", max_new_tokens: int = 16,
                 model_name: str = "tiny-under-test", timeout: float = 180.0) -> LFApi:
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = {"model_name_or_path": str(model_path), "template": template, "infer_backend": "huggingface",
           "trust_remote_code": True, "max_new_tokens": max_new_tokens, "default_system": "You are a counselor."}
    if adapter:
        cfg.update(adapter_name_or_path=str(adapter), finetuning_type="lora")
    config = workdir / "api.yaml"
    lf.dump_yaml(cfg, config)
    port = free_port()
    log_path = workdir / "api.log"
    env = lf.child_env({"API_HOST": "127.0.0.1", "API_PORT": str(port), "API_MODEL_NAME": model_name,
                        "CUDA_VISIBLE_DEVICES": ""})
    env.pop("API_KEY", None)
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen([lf.cli_path(), "api", str(config)], stdout=log, stderr=subprocess.STDOUT,
                                env=env, start_new_session=True)
    api = LFApi(f"http://127.0.0.1:{port}/v1", model_name, proc, log_path)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"llamafactory-cli api exited ({proc.returncode}):\n{api.log_tail()}")
        try:
            with urllib.request.urlopen(f"{api.url}/models", timeout=2) as r:
                if r.status == 200:
                    return api
        except OSError:
            time.sleep(0.5)
    api.stop()
    raise RuntimeError(f"llamafactory-cli api not ready after {timeout:.0f}s:\n{api.log_tail()}")


@pytest.fixture(scope="module")
def lf_api(tiny_model, tmp_path_factory):
    """ONE real API server per test module, on the tiny model."""
    api = start_lf_api(tiny_model, tmp_path_factory.mktemp("lf_api"))
    yield api
    api.stop()
