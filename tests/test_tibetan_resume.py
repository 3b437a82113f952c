"""kill -9 a real `hearme tibetan multiturn|translate` process mid-run, resume it, and count the
requests the (separate-process) fake server received: finished work is never asked again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hearme import io
from tests.conftest import HEARME, REPO

N = 12
DIALOGUE = "\n".join(f"求助者：我第{k}次说。\n支持者：我在听，第{k}次。" for k in range(1, 11))
TIBETAN = "ང་ལ་སེམས་ཁྲལ་ཆེན་པོ་ཡོད།"


def start_server(tmp_path: Path, reply: str) -> tuple[subprocess.Popen, str, Path]:
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"latency": 0.4, "default": {"text": reply}}, ensure_ascii=False), encoding="utf-8")
    log = tmp_path / "requests.jsonl"
    proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "fake_openai.py"), "--port", "0", "--script",
                             str(script), "--log", str(log)], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.startswith("READY "), line
    return proc, line.split()[1], log


def logged(log: Path) -> list[dict]:
    if not log.exists():
        return []
    out = []
    for ln in log.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(ln)["body"])
        except json.JSONDecodeError:
            pass
    return out


def item_of(body: dict) -> str:
    text = json.dumps(body["messages"], ensure_ascii=False)
    return next(f"item{i:02d}" for i in range(N) if f"item{i:02d}" in text)


def cached_items(cache: Path) -> set[str]:
    out = set()
    for f in (cache / "llm").rglob("*.json"):
        try:
            out.add(item_of(json.loads(f.read_text(encoding="utf-8"))["request"]))
        except (json.JSONDecodeError, StopIteration, KeyError):
            pass
    return out


def kill_and_resume(tmp_path: Path, args: list[str], reply: str, records: int) -> None:
    server, url, log = start_server(tmp_path, reply)
    cache = tmp_path / "cache"
    cmd = HEARME + [*args, "--base-url", url, "--model", "fake", "--concurrency", "2", "--cache-dir", str(cache)]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    try:
        job = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
        deadline = time.time() + 120
        while len(logged(log)) < 5 and time.time() < deadline and job.poll() is None:
            time.sleep(0.05)
        assert job.poll() is None, "the job finished before it could be killed"
        os.killpg(job.pid, signal.SIGKILL)
        job.wait()
        at_kill = logged(log)
        done = cached_items(cache)
        assert 0 < len(done) < N and len(at_kill) < N
        resumed = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert resumed.returncode == 0, resumed.stderr
        assert f"read={records} written={records} rejected=0" in resumed.stdout
    finally:
        server.kill()
        server.wait()
    total = logged(log)
    counts = {f"item{i:02d}": 0 for i in range(N)}
    for body in total:
        counts[item_of(body)] += 1
    assert all(counts[i] == 1 for i in done), counts            # finished before the kill: never asked again
    assert all(c in (1, 2) for c in counts.values()), counts    # in flight at the kill: asked at most once more
    assert len(total) == N + (len(at_kill) - len(done))


@pytest.mark.slow
def test_multiturn_resumes_after_kill(tmp_path):
    recs = [{"messages": [{"role": "user", "content": f"item{i:02d} 我最近很焦虑。"},
                          {"role": "assistant", "content": "可以试试深呼吸。"}], "id": f"r{i}"} for i in range(N)]
    io.write_records(tmp_path / "in.json", recs)
    kill_and_resume(tmp_path, ["tibetan", "multiturn", str(tmp_path / "in.json"), "-o", str(tmp_path / "out.json")],
                    DIALOGUE, N)
    assert len(io.load_records(tmp_path / "out.json")) == N


@pytest.mark.slow
def test_translate_resumes_after_kill(tmp_path):
    recs = [{"messages": [{"role": "user", "content": f"item{2 * i:02d} 我最近很焦虑。"},
                          {"role": "assistant", "content": f"item{2 * i + 1:02d} 可以试试深呼吸。"}], "id": f"r{i}"}
            for i in range(N // 2)]  # one request per utterance: N requests
    io.write_records(tmp_path / "in.json", recs)
    kill_and_resume(tmp_path, ["tibetan", "translate", str(tmp_path / "in.json"), "-o", str(tmp_path / "out.json")],
                    TIBETAN, N // 2)
    assert [m["content"] for m in io.load_records(tmp_path / "out.json")[0]["messages"]] == [TIBETAN, TIBETAN]
