"""Kill -9 `hearme judge` midway, re-run it: nothing already answered is requested again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from tests.conftest import HEARME, REPO
from tests.evaluators.test_judge import write_preds

N_ITEMS, CONCURRENCY = 16, 2


def start_fake(tmp_path, latency: float):
    log = tmp_path / "requests.jsonl"
    proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "fake_openai.py"), "--port", "0",
                             "--latency", str(latency), "--log", str(log)],
                            stdout=subprocess.PIPE, text=True, start_new_session=True)
    line = proc.stdout.readline()
    assert line.startswith("READY "), line
    return proc, line.split()[1], log


def logged(log) -> list[str]:
    if not log.exists():
        return []
    out = []
    for line in log.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.dumps(json.loads(line)["body"]["messages"], ensure_ascii=False, sort_keys=True))
        except json.JSONDecodeError:
            pass
    return out


def cached_requests(cache_dir) -> set[str]:
    found = set()
    for f in (cache_dir / "llm").rglob("*.json"):
        entry = json.loads(f.read_text(encoding="utf-8"))
        found.add(json.dumps(entry["request"]["messages"], ensure_ascii=False, sort_keys=True))
    return found


def test_killed_judge_resumes_without_repeating_answered_requests(tmp_path):
    pred = write_preds(tmp_path / "generated_predictions.jsonl", [f"case-{i}" for i in range(N_ITEMS)])
    server, url, log = start_fake(tmp_path, latency=0.4)
    cmd = HEARME + ["judge", str(pred), "--base-url", url, "--model", "gpt-4o", "-o", str(tmp_path / "out"),
                    "--cache-dir", str(tmp_path / "cache"), "--concurrency", str(CONCURRENCY),
                    "--api-key-env", "HEARME_TEST_KEY"]
    env = dict(os.environ, HEARME_TEST_KEY="loopback")  # the fake server checks no key
    try:
        judge = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 start_new_session=True)
        deadline = time.time() + 60
        while len(logged(log)) < 7 and time.time() < deadline:
            time.sleep(0.05)
        os.killpg(judge.pid, signal.SIGKILL)  # mid-run, requests in flight
        judge.wait()
        before = logged(log)
        done = cached_requests(tmp_path / "cache")
        assert 4 <= len(done) < N_ITEMS and not (tmp_path / "out" / "summary.json").exists()

        proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        after = logged(log)[len(before):]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait()

    assert not done & set(after), "a request answered before the kill was paid again"
    assert len(set(before) & set(after)) <= CONCURRENCY  # at most the requests that were in flight
    assert len(set(before) | set(after)) == N_ITEMS
    summary = json.loads((tmp_path / "out" / "summary.json").read_text(encoding="utf-8"))
    assert summary["n_scored"] == N_ITEMS and summary["usage"]["cache_hits"] == len(done)
