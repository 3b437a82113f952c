"""kill -9 a real `hearme tibetan multiturn|translate|expand` process mid-run, resume it, and count the
requests the (separate-process) fake server received, re-asks included: finished work is never asked
again; only requests in flight at the kill may be asked twice. Plus expand after transient failures."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from hearme.core import io
from hearme.llm import LLMClient
from hearme.tibetan import expand
from tests.conftest import HEARME, REPO
from tests.fake_openai import FakeOpenAI

N = 12
GOOD = "\n".join(f"求助者：我第{k}次说。\n支持者：我在听，第{k}次。" for k in range(1, 11))
FORUM = GOOD.replace("我第1次说", "楼主你好，我第1次说")
TIBETAN = "ང་ལ་སེམས་ཁྲལ་ཆེན་པོ་ཡོད།"
ITEM = json.dumps([{"question": "处境{request_hash}：我最近很难过，怎么办？", "answer": "先照顾好自己。"}], ensure_ascii=False)


def body_key(messages: list, params: dict) -> str:
    """What makes two requests the same request (and the same bill)."""
    blob = json.dumps([messages, params.get("seed")], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def start_server(tmp_path: Path, script: dict) -> tuple[subprocess.Popen, str, Path]:
    path = tmp_path / "script.json"
    path.write_text(json.dumps(dict(script, latency=0.4), ensure_ascii=False), encoding="utf-8")
    log = tmp_path / "requests.jsonl"
    proc = subprocess.Popen([sys.executable, str(REPO / "tests" / "fake_openai.py"), "--port", "0", "--script",
                             str(path), "--log", str(log)], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    assert line.startswith("READY "), line
    return proc, line.split()[1], log


def logged(log: Path) -> list[str]:
    out = []
    for ln in (log.read_text(encoding="utf-8").splitlines() if log.exists() else []):
        try:
            body = json.loads(ln)["body"]
        except json.JSONDecodeError:  # a line cut by the kill
            continue
        out.append(body_key(body["messages"], body))
    return out


def cached(cache: Path) -> set[str]:
    out = set()
    for f in (cache / "llm").rglob("*.json"):
        try:
            req = json.loads(f.read_text(encoding="utf-8"))["request"]
        except (json.JSONDecodeError, KeyError):
            continue
        out.add(body_key(req["messages"], req["params"]))
    return out


def kill_and_resume(tmp_path: Path, args: list[str], script: dict, done_line: str) -> Counter:
    server, url, log = start_server(tmp_path, script)
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
        at_kill, done = logged(log), cached(cache)
        assert 0 < len(done) < len(at_kill) + 1
        resumed = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert resumed.returncode == 0, resumed.stderr
        assert done_line in resumed.stdout, resumed.stdout
    finally:
        server.kill()
        server.wait()
    counts = Counter(logged(log))
    in_flight = set(at_kill) - done
    assert all(counts[k] == 1 for k in done), "finished work was asked again"
    assert all(n <= 2 for n in counts.values()) and {k for k, n in counts.items() if n == 2} <= in_flight
    assert sum(counts.values()) == len(counts) + sum(counts[k] - 1 for k in in_flight)
    return counts


@pytest.mark.slow
def test_multiturn_resumes_after_kill_reasks_included(tmp_path):
    recs = [{"messages": [{"role": "user", "content": f"item{i:02d} 我最近很焦虑。"},
                          {"role": "assistant", "content": "可以试试深呼吸。"}], "id": f"r{i}"} for i in range(N)]
    io.write_records(tmp_path / "in.json", recs)
    # odd items first answer with a forum word: each is re-asked once (a second, cached request)
    script = {"rules": [{"match": "不符合要求", "replies": [{"text": GOOD}], "sticky": True}] +
              [{"match": f"item{i:02d}", "replies": [{"text": FORUM}], "sticky": True} for i in range(1, N, 2)],
              "default": {"text": GOOD}}
    counts = kill_and_resume(tmp_path, ["tibetan", "multiturn", str(tmp_path / "in.json"), "-o",
                                        str(tmp_path / "out.json")], script, f"read={N} written={N} rejected=0")
    assert len(counts) == N + N // 2  # every record once, every odd one re-asked once
    assert all("楼主" not in json.dumps(r, ensure_ascii=False) for r in io.load_records(tmp_path / "out.json"))


@pytest.mark.slow
def test_translate_resumes_after_kill_reasks_included(tmp_path):
    recs = [{"messages": [{"role": "user", "content": f"item{2 * i:02d} 我最近很焦虑。"},
                          {"role": "assistant", "content": f"item{2 * i + 1:02d} 可以试试深呼吸。"}], "id": f"r{i}"}
            for i in range(N // 2)]  # one request per utterance
    io.write_records(tmp_path / "in.json", recs)
    script = {"rules": [{"match": "不符合要求", "replies": [{"text": TIBETAN}], "sticky": True},
                        {"match": "item03", "replies": [{"text": TIBETAN + "（注：以上为译文）"}], "sticky": True}],
              "default": {"text": TIBETAN}}
    counts = kill_and_resume(tmp_path, ["tibetan", "translate", str(tmp_path / "in.json"), "-o",
                                        str(tmp_path / "out.json")], script, f"read={N // 2} written={N // 2} rejected=0")
    assert len(counts) == N + 1
    assert [m["content"] for m in io.load_records(tmp_path / "out.json")[1]["messages"]] == [TIBETAN, TIBETAN]


def _seeds(path: Path, topics=("情绪", "家庭", "职业")) -> None:
    io.write_records(path, [{"messages": [{"role": "user", "content": f"{t}种子问题{i}：我最近很烦恼。"},
                                          {"role": "assistant", "content": "慢慢来。"}], "id": f"{t}{i}", "topic": t}
                            for t in topics for i in range(3)])


@pytest.mark.slow
def test_expand_resumes_after_kill(tmp_path):
    _seeds(tmp_path / "seeds.json")
    counts = kill_and_resume(tmp_path, ["tibetan", "expand", str(tmp_path / "seeds.json"), "-o",
                                        str(tmp_path / "out.json"), "--topics", "情绪,家庭,职业", "--per-topic", "4",
                                        "--batch", "1"], {"default": {"text": ITEM}}, "written=12 rejected=0")
    assert len(counts) == N
    assert len(io.load_records(tmp_path / "out.json")) == N


def test_expand_after_transient_failures_never_pays_twice(tmp_path):
    """The issue: three runs billed 73 distinct requests where the result used 46. Prompts now depend on
    the seeds, topic, round and slot only, so every paid reply is found again in the cache."""
    _seeds(tmp_path / "seeds.json")
    cfg = expand.Config(per_topic=4, batch=1, max_rounds=3, topics=["情绪", "家庭", "职业"])
    paid = 0
    for queue in ([{"status": 500}] * 5, [{"status": 503}] * 2, []):  # two flaky runs, then a healthy one
        with FakeOpenAI({"queue": queue, "default": {"text": ITEM}}) as srv:
            c = LLMClient(srv.url, "fake", cache_dir=tmp_path / "cache", progress=False, max_retries=0)
            rep = expand.run(tmp_path / "seeds.json", tmp_path / "new.json", c, cfg, progress=False)
        paid += c.stats.paid_calls
        assert len(cached(tmp_path / "cache")) == paid  # every reply paid for is a distinct request, kept
    assert rep["new"] == {"情绪": 4, "家庭": 4, "职业": 4}
    with FakeOpenAI({"default": {"status": 500}}) as srv:  # done: a fourth run asks nothing
        expand.run(tmp_path / "seeds.json", tmp_path / "new2.json",
                   LLMClient(srv.url, "fake", cache_dir=tmp_path / "cache", progress=False, max_retries=0), cfg,
                   progress=False)
        assert srv.requests == []
    assert io.load_records(tmp_path / "new2.json") == io.load_records(tmp_path / "new.json")
