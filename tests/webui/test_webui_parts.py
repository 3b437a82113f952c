"""The WebUI's parts without a browser: the in-memory key, endpoint checks, the CLI's bind guard,
labels, and the Data/Evaluate handlers' "nothing half-written" paths."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from hearme.core import io, paths, registry
from hearme.llm import LLMError
from hearme.webui_ext import data_tab, eval_tab, keys, labels
from hearme.webui_ext.cli import is_loopback
from tests.conftest import run_hearme

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")  # gr.Warning outside a request warns instead

KEY = "sk-webui-unit-0123456789abcdef"


class _EchoKeyServer:
    """Answers 401 and echoes the bearer key in the error, as some providers do; records the headers."""

    def __init__(self):
        seen = self.seen = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                auth = self.headers.get("Authorization", "")
                seen.append(auth)
                body = json.dumps({"error": {"message": f"Incorrect API key provided: {auth.split()[-1]}",
                                             "type": "invalid_request_error", "code": "invalid_api_key"}})
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body.encode())

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def echo_server():
    srv = _EchoKeyServer()
    yield srv
    srv.close()


def test_memory_key_is_sent_but_never_in_env_errors_or_files(echo_server, tmp_path):
    from hearme.evaluators import judge

    pred = tmp_path / "run" / "generated_predictions.jsonl"
    io.write_jsonl(pred, [{"prompt": "<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n",
                           "predict": "你好，我在。", "label": "你好。"}])
    client = keys.client(echo_server.url, "judge", KEY, cache_dir=tmp_path / "cache", max_retries=0, progress=False)
    assert KEY not in repr(client) and KEY not in json.dumps(dict(os.environ))
    summary = judge.run(pred, tmp_path / "run" / "judge", client, limit=1)
    assert echo_server.seen == [f"Bearer {KEY}"]  # the key really went to the server, in the header only
    assert summary["n_unscored"] == 1 and "***" in json.dumps(summary["unscored_reasons"]) + \
        (tmp_path / "run" / "judge" / "items.jsonl").read_text("utf-8")
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert KEY.encode() not in f.read_bytes(), f"key written to {f}"
    with pytest.raises(LLMError) as err:
        import asyncio

        asyncio.run(client.chat([{"role": "user", "content": "hi"}], max_tokens=4))
    assert KEY not in str(err.value) and "***" in str(err.value)


def test_remote_endpoint_without_a_key_and_unreachable_endpoints_fail_at_once():
    with pytest.raises(io.HearMeError, match="API key"):
        keys.MemoryKeyClient("https://api.example.invalid/v1", "gpt-4o", "", progress=False)
    with pytest.raises(io.HearMeError, match="cannot reach"):
        keys.check_reachable(f"http://127.0.0.1:{_closed_port()}/v1")
    with pytest.raises(io.HearMeError, match="not an http"):
        keys.check_reachable("ftp://example.org/v1")
    with pytest.raises(io.HearMeError, match="no model"):
        keys.client("http://127.0.0.1:1/v1", "", "")


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_refuses_a_wide_bind_without_the_flag(tmp_path):
    proc = run_hearme("webui", "--host", "0.0.0.0", "--dataset-dir", tmp_path)
    assert proc.returncode == 2 and "--allow-remote" in proc.stderr
    proc = run_hearme("webui", "--dataset-dir", tmp_path / "missing")
    assert proc.returncode == 2 and "no such directory" in proc.stderr
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.5")
    help_text = run_hearme("webui", "--help").stdout
    for flag in ("--host", "--port", "--dataset-dir", "--allow-remote"):
        assert flag in help_text


def test_every_label_has_both_languages():
    for key, texts in labels.LOCALES.items():
        assert set(texts) == {"en", "zh"}, key
        assert texts["en"].keys() == texts["zh"].keys(), key
    for key, texts in labels.MESSAGES.items():
        assert set(texts) == {"en", "zh"}, key
    assert labels.props("data.convert_btn", "ru") == labels.props("data.convert_btn", "en")  # fallback


def _converted(tmp_path: Path) -> dict:
    files = sorted((paths.DATA / "samples" / "cpsycound").glob("case_*.txt"))
    status, _, _, state = data_tab.convert("en", "cpsycound", [str(f) for f in files], "", True, "", "")
    assert status.startswith("✅") and len(state["records"]) == 12
    return state


def test_register_writes_parts_then_the_registry_once_and_refuses_to_clobber(tmp_path):
    state = _converted(tmp_path)
    status, gallery, card = data_tab.register("en", state, "cps", "70/15/15", False, tmp_path)
    assert status.startswith("✅"), status
    info = registry.load(tmp_path)
    assert {k for k in info} == {"cps_train", "cps_val", "cps_test"}
    assert sum(e["records"] for e in info.values()) == 12 and gallery and "Data card" in card
    before = registry.registry_path(tmp_path).read_bytes()
    status, _, _ = data_tab.register("en", state, "cps", "70/15/15", False, tmp_path)
    assert status.startswith("❌") and "already registered" in status
    status, _, _ = data_tab.register("en", state, "bad name", "none", True, tmp_path)
    assert status.startswith("❌") and "Invalid dataset name" in status
    assert registry.registry_path(tmp_path).read_bytes() == before
    assert not (tmp_path / "data" / "bad name.json").exists()


def test_convert_reports_unreadable_input_without_a_traceback(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("{not json", encoding="utf-8")
    status, preview, rejects, state = data_tab.convert("zh", "records", [str(bad)], "", True, "", "")
    assert status.startswith("❌ 错误") and "invalid JSON" in status and state is None
    status, *_ = data_tab.convert("en", "cpsycound", [str(bad)], "", True, "", "")
    assert "wrong file type" in status


def test_predictions_upload_is_checked_before_it_is_kept(tmp_path):
    work = tmp_path / "work"
    good = tmp_path / "generated_predictions.jsonl"
    io.write_jsonl(good, [{"prompt": "p", "predict": "a", "label": "b"}])
    kept = eval_tab.keep_upload(good, work)
    assert kept.read_bytes() == good.read_bytes() and str(kept) in eval_tab.list_predictions(work)
    for name, text, why in (("p.json", "{}", "wrong file type"), ("p.jsonl", '{"predict": 1}\n', "no predictions")):
        f = tmp_path / name
        f.write_text(text, encoding="utf-8")
        with pytest.raises(io.HearMeError, match=why):
            eval_tab.keep_upload(f, tmp_path / "other")
    assert not (tmp_path / "other").exists()


def test_tibetan_filter_with_the_lm_and_its_reasons(tmp_path):
    from hearme.demo import samples
    from hearme.webui_ext import tibetan_tab

    samples.build(tmp_path / "data", tmp_path)
    inp = registry.file_of("hearme_tibetan_bo_train", tmp_path)
    out = tmp_path / "out" / "filtered.json"
    report = tibetan_tab.run_filter(inp, out, True, str(tibetan_tab.SAMPLES / "corpus_bo.txt"),
                                    str(tibetan_tab.SAMPLES / "heldout_bo.txt"), tibetan_tab._default_relative())
    assert report["read"] == report["written"] + report["rejected"] and report["threshold"]["mode"] == "relative"
    assert report["lm"]["sentences"] > 0 and out.exists()
    with pytest.raises(io.InputError, match="LM corpus"):
        tibetan_tab.run_filter(inp, out, True, str(tmp_path / "missing.txt"), "", 0.85)


def test_tibetan_filter_without_a_corpus_uses_the_default_model(tmp_path):
    from hearme.demo import samples
    from hearme.webui_ext import tibetan_tab

    samples.build(tmp_path / "data", tmp_path)
    inp = registry.file_of("hearme_tibetan_bo_train", tmp_path)
    report = tibetan_tab.run_filter(inp, tmp_path / "out" / "filtered.json", True, "  ", "ignored.txt", 0.85)
    assert report["model"].startswith("default model") and report["read"] == report["written"] + report["rejected"]
    assert report["written"] == report["read"]  # the bundled clean Tibetan dialogues all pass
    off = tibetan_tab.run_filter(inp, tmp_path / "off" / "filtered.json", False, "", "", 0.85)
    assert off["model"] is None
