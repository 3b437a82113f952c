"""A real `llamafactory-cli api` on the tiny model, on 127.0.0.1, stopped by its PID.

    from tests.lf_api import lf_api          # a module-scoped fixture: import it into a test module
    def test_x(lf_api): lf_api.url, lf_api.model_name   # http://127.0.0.1:PORT/v1, "tiny-under-test"

Outside pytest use `start_lf_api(model_path, workdir)` / `api.stop()`. The server is exec'd
directly with setsid (hearme.evaluators.serve), so `api.pid` is uvicorn's own PID and
stop() ends exactly that process group: SIGTERM, then SIGKILL after a grace period.
"""

from __future__ import annotations

import pytest

from hearme.evaluators.serve import ApiServer, start_api

LFApi = ApiServer


def start_lf_api(model_path, workdir, *, adapter=None, max_new_tokens: int = 16,
                 model_name: str = "tiny-under-test") -> ApiServer:
    return start_api(model_path, workdir, adapter=adapter, max_new_tokens=max_new_tokens, model_name=model_name,
                     timeout=180, extra={"default_system": "You are a counselor."})


@pytest.fixture(scope="module")
def lf_api(tiny_model, tmp_path_factory):
    """ONE real API server per test module, on the tiny model; stopped by PID at module end."""
    api = start_lf_api(tiny_model, tmp_path_factory.mktemp("lf_api"))
    yield api
    api.stop()
    assert api.proc.poll() is not None  # really gone, not orphaned
