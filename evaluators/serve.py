"""Serve a model as the model under test: `llamafactory-cli api` on 127.0.0.1, stopped by its PID.

    with serve(model_path, workdir, adapter=None) as api:   # api.url = http://127.0.0.1:PORT/v1
        ...

The server is exec'd directly (no shell) in a new session (setsid), so the PID we hold is the
server's own; stop() sends SIGTERM to its process group and SIGKILL after a grace period.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from hearme.core import io
from hearme.lf import runner as lf


@dataclass
class ApiServer:
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


def start_api(model_path, workdir, *, adapter=None, template: str = "qwen", max_new_tokens: int = 256,
              model_name: str = "model-under-test", timeout: float = 300.0, extra: dict | None = None,
              port: int | None = None) -> ApiServer:
    """Start `llamafactory-cli api` (on `port`, else a free one) and wait until /v1/models answers."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = {"model_name_or_path": str(model_path), "template": template, "infer_backend": "huggingface",
           "trust_remote_code": True, "max_new_tokens": max_new_tokens, **(extra or {})}
    if adapter:
        cfg.update(adapter_name_or_path=str(adapter), finetuning_type="lora")
    config = workdir / "api.yaml"
    lf.dump_yaml(cfg, config)
    port = port or free_port()
    env = lf.child_env({"API_HOST": "127.0.0.1", "API_PORT": str(port), "API_MODEL_NAME": model_name})
    env.pop("API_KEY", None)
    log_path = workdir / "api.log"
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen([lf.cli_path(), "api", str(config)], stdout=log, stderr=subprocess.STDOUT, env=env,
                                start_new_session=True)
    api = ApiServer(f"http://127.0.0.1:{port}/v1", model_name, proc, log_path)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise io.HearMeError(f"llamafactory-cli api exited ({proc.returncode}); log: {log_path}\n  {api.log_tail(8)}")
        try:
            with urllib.request.urlopen(f"{api.url}/models", timeout=2) as r:
                if r.status == 200:
                    return api
        except OSError:
            time.sleep(0.5)
    api.stop()
    raise io.HearMeError(f"llamafactory-cli api not ready after {timeout:.0f}s; log: {log_path}")


@contextlib.contextmanager
def serve(model_path, workdir, **kw) -> Iterator[ApiServer]:
    api = start_api(model_path, workdir, **kw)
    try:
        yield api
    finally:
        api.stop()
