"""Playwright helpers for the WebUI tests: a real `hearme webui` server and Debian's headless Chromium.

    with WebUIServer(root) as srv:            # hearme webui on 127.0.0.1:<free port>, HOME/cwd/temp under root
        with chromium() as browser:
            page = open_page(browser, srv.url)  # requests leaving 127.0.0.1 are aborted: nothing waits on the internet
            pick(page, "#hm-data-format", "records")
            status(page, "#hm-data-status")   # waits for the ✅ / ❌ line and returns it
            shot(page, "02-data")             # artifacts/webui/02-data.png

No browser download: the executable is /usr/bin/chromium (`bash scripts/ensure_browser.sh`).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlparse

from hearme.core import paths

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = paths.REPO_ROOT / "artifacts" / "webui"
VIEWPORT = {"width": 1400, "height": 1000}
DONE = re.compile(r"[✅❌]")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebUIServer:
    """`hearme webui` in its own process group; HOME, cwd, temp and cache dirs all under `root`."""

    def __init__(self, root: Path, dataset_dir: Path, extra_env: dict | None = None, start_timeout: float = 180):
        self.root, self.dataset_dir = Path(root), Path(dataset_dir)
        self.work = self.root / "work"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = self.root / "server.log"
        self.start_timeout = start_timeout
        self.extra_env = extra_env or {}
        self.proc: subprocess.Popen | None = None

    def env(self) -> dict:
        dirs = {k: self.root / v for k, v in
                {"HOME": "home", "GRADIO_TEMP_DIR": "gradio", "HEARME_CACHE_DIR": "cache", "TMPDIR": "tmp",
                 "MPLCONFIGDIR": "home/.mpl"}.items()}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, **{k: str(v) for k, v in dirs.items()}, **paths.OFFLINE_ENV)
        env.pop("OPENAI_API_KEY", None)
        env.update(self.extra_env)
        return env

    def start(self) -> "WebUIServer":
        self.work.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "hearme.cli", "webui", "--port", str(self.port),
               "--dataset-dir", str(self.dataset_dir)]
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.work, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        deadline = time.time() + self.start_timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hearme webui exited with {self.proc.returncode}:\n{self.log_text()[-3000:]}")
            if self.alive():
                return self
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"hearme webui did not answer within {self.start_timeout}s:\n{self.log_text()[-3000:]}")

    def alive(self) -> bool:
        try:
            with urllib.request.urlopen(self.url, timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""

    def stop(self) -> None:
        """SIGTERM to the server's own process group (it and a training child it started), then SIGKILL."""
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)

    def __enter__(self) -> "WebUIServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


@contextlib.contextmanager
def chromium():
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError(f"{CHROMIUM} is missing: run `bash scripts/ensure_browser.sh` (Debian's chromium)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _local_only(route) -> None:
    host = urlparse(route.request.url).hostname or ""
    if host in ("127.0.0.1", "localhost") or route.request.url.startswith(("data:", "blob:")):
        route.continue_()
    else:  # CDN scripts, fonts: refused at once instead of waiting on a closed network
        route.abort()


def open_page(browser, url: str):
    """A fresh page, loaded and resumed (LLaMA-Factory fills its labels on load)."""
    page = browser.new_page(viewport=VIEWPORT)
    page.set_default_timeout(60_000)
    page.route("**/*", _local_only)
    page.goto(url)
    page.locator("h1", has_text="LLaMA").wait_for()
    lang = page.locator("input[aria-label='Language'], input[aria-label='语言']").first
    lang.wait_for()
    if lang.input_value() != "en":  # LLaMA-Factory remembers the last language in llamaboard_cache
        pick(page, lang, "en")
    page.get_by_label("Model name", exact=True).wait_for()
    return page


def labelled(page, label: str):
    """A visible LLaMA-Factory textbox by its English label (its accessible name also holds the info line)."""
    return page.get_by_role("textbox", name=re.compile("^" + re.escape(label) + r"(?!\w|\s*\()")).first


def tab(page, name: str) -> None:
    page.get_by_role("tab", name=name, exact=True).click()


def fill(page, elem_id: str, text: str) -> None:
    page.locator(f"{elem_id} input:not([type=file]), {elem_id} textarea").first.fill(text)


def _box(page, elem_id_or_locator):
    return page.locator(f"{elem_id_or_locator} input") if isinstance(elem_id_or_locator, str) else elem_id_or_locator


def _open_filtered(page, box, text: str):
    """Focus the Dropdown afresh and filter its list by `text`, with the list shown; returns its input.

    A focused gradio Dropdown whose list was closed (Escape) does not reopen on click, and fill()
    sends no key: blur first (the focus event opens it), and press End (any key but Escape and the
    arrows shows the list without moving the highlighted option). The input is held as a handle:
    while it holds text, a multiselect's label no longer names it."""
    handle = box.element_handle()
    handle.evaluate("el => el.blur()")
    handle.click()
    handle.fill(text)
    page.keyboard.press("End")
    return handle


_CHOSEN = """([el, option]) => {
    const block = el.closest('.block') || el.parentElement;
    const tokens = [...block.querySelectorAll('.token')].map(t => t.innerText.trim());
    return el.value === option || tokens.some(t => t === option || t.startsWith(option + '\\n'));
}"""


def pick(page, elem_id_or_locator, option: str) -> None:
    """Choose one option of a gradio Dropdown (single or multiselect) and wait until it is the value."""
    handle = _open_filtered(page, _box(page, elem_id_or_locator), option)
    item = page.get_by_role("option", name=option, exact=True)
    item.wait_for()
    item.click()
    page.wait_for_function(_CHOSEN, arg=[handle, option])
    handle.evaluate("el => el.blur()")


def options(page, box) -> list[str]:
    """The options a Dropdown shows when it gets the focus (LLaMA-Factory refreshes them on focus)."""
    handle = box.element_handle()
    handle.evaluate("el => el.blur()")
    handle.click()
    page.get_by_role("option").first.wait_for()
    found = [o.inner_text().strip().lstrip("✓").strip() for o in page.get_by_role("option").all()]
    page.keyboard.press("Escape")
    handle.evaluate("el => el.blur()")
    return found


def has_option(page, box, option: str, timeout: float = 30_000) -> bool:
    """Whether a (long) Dropdown offers `option`: filter the list by it and wait for the option to show."""
    handle = _open_filtered(page, box, option)
    try:
        page.get_by_role("option", name=option, exact=True).wait_for(timeout=timeout)
        return True
    except Exception:  # noqa: BLE001 - a timeout: not offered
        return False
    finally:
        handle.fill("")
        page.keyboard.press("Escape")
        handle.evaluate("el => el.blur()")


_UPLOADED = """([id, names]) => {
    const el = document.querySelector(id);
    if (!el || el.querySelector('.uploading')) return false;
    const cells = [...el.querySelectorAll('td.filename')];
    const shown = cells.map(td => td.getAttribute('aria-label'));
    return names.every(n => shown.includes(n))
        && cells.every(td => td.parentElement.querySelector('td.download a'));
}"""


def upload(page, elem_id: str, files) -> None:
    """Upload files and wait until the component lists every one of them as uploaded (a download link)."""
    page.locator(f"{elem_id} input[type=file]").set_input_files([str(f) for f in files])
    page.wait_for_function(_UPLOADED, arg=[elem_id, [Path(f).name for f in files]])


def status(page, elem_id: str, expect: str = "", before: str | None = None, timeout: float = 120_000) -> str:
    """Wait for a HearMe status line (✅ ... or ❌ ...) that contains `expect`, or for a new error; return it.

    `before` is the text the line showed before the click (see `run`): an error equal to it is stale."""
    js = """([id, expect, before]) => {
        const el = document.querySelector(id + " .prose") || document.querySelector(id);
        const t = (el || {}).innerText || "";
        if (!/[✅❌]/.test(t)) return false;
        return (expect && t.includes(expect)) || (t.includes("❌") && t !== before) || (!expect && t !== before);
    }"""
    try:
        page.wait_for_function(js, arg=[elem_id, expect, before], timeout=timeout)
    except Exception:
        pass
    text = _status_text(page, elem_id)
    assert expect in text and DONE.search(text), \
        f"{elem_id}: expected a status with {expect!r}, it shows {text!r}; toasts: {toasts(page)!r}"
    return text


def _status_text(page, elem_id: str) -> str:
    """The Markdown's own text (without gradio's 'processing' overlay)."""
    prose = page.locator(f"{elem_id} .prose")
    return (prose.first if prose.count() else page.locator(elem_id)).inner_text().strip()


def run(page, button_id: str, status_id: str, expect: str = "", timeout: float = 120_000) -> str:
    """Click a HearMe button and wait for its status line (a new one, or one containing `expect`)."""
    before = _status_text(page, status_id)
    page.locator(button_id).click()
    return status(page, status_id, expect, before, timeout)


def toasts(page) -> str:
    return " ".join(t.inner_text() for t in page.get_by_test_id("toast-body").all())


def shot(page, name: str, full_page: bool = False, locator=None) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    out = ARTIFACTS / f"{name}.png"
    page.evaluate("() => document.fonts.ready.then(() => new Promise(r => requestAnimationFrame(() => r(true))))")
    (locator or page).screenshot(path=str(out), **({} if locator is not None else {"full_page": full_page}))
    return out
