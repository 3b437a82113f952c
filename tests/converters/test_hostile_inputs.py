"""Hostile inputs and faults: exit 0 or 2, never a traceback, nothing lost, overwritten or leaked.

1. The mutation suite: every case of tests/mutate.py (>= 50 per format) through the real CLI entry
   point (`hearme.cli.main`, in-process), named and inside a folder: exit code 0 or 2, no
   traceback, read = written + rejected, and an output that `datasets` (LLaMA-Factory's loader)
   reads record for record.
2. Every converter's output loads through `datasets.load_dataset`.
3. Output faults (read-only folder and mount, /proc, a full disk, kill -9): one line, exit 2, the
   old output/rejected pair intact, no temp file left after the next run.
4. The source is never overwritten; a run's own output is never read back as input.
5. Nothing is skipped silently: unreadable folders and files, broken and looping links.
6. API keys: no fragment of 8+ characters of a key reaches any message or file.
7. Unexpected errors: one line and a hint to re-run with --debug.
"""

from __future__ import annotations

import json
import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from hearme.core import io, schema
from tests import mutate
from tests.conftest import FIXTURES, HEARME, REPO, run_hearme
from tests.fake_openai import FakeOpenAI

CASES = [c for fmt in mutate.FORMATS for c in mutate.cases(fmt)]


# ---------------------------------------------------------------- helpers

def cli(*args) -> tuple[int, str, str]:
    """`hearme ARGS` in this process: (exit code, stdout, stderr). An exception escaping main fails the test."""
    return mutate.run_cli(*args)[:3]


def counts(stdout: str) -> tuple[int, int, int]:
    last = stdout.strip().splitlines()[-1]
    read, written, rejected = (int(x.split("=")[1]) for x in last.split())
    return read, written, rejected


def jsonl_rows(path: Path) -> list[dict]:
    """Rows of a JSONL file (lines end at \n only: U+2028 inside a string is not a line end)."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").split("\n") if line.strip()]


def error_lines(stderr: str) -> list[str]:
    """stderr without progress bars."""
    return [x for x in stderr.replace("\r", "\n").splitlines() if x.strip() and not x.startswith("convert ")]


_ROWS: dict[str, int] = {}


def datasets_rows(path: Path) -> int:
    """Rows `datasets` reads from a JSON/JSONL file, through its own JSON builder (LLaMA-Factory's loader).

    Many mutations convert to the same bytes: each distinct output is loaded once."""
    import hashlib

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest not in _ROWS:
        _ROWS[digest] = _load_rows(path)
    return _ROWS[digest]


def _load_rows(path: Path) -> int:
    from datasets.packaged_modules.json.json import Json

    builder = Json.__new__(Json)
    builder.config = Json.BUILDER_CONFIG_CLASS(name="x", data_files=None)
    builder.info = None
    n = 0
    for _, table in builder._generate_tables([[str(path)]]):
        n += table.num_rows
    return n


def check_converted(out: Path, stdout: str) -> tuple[int, int, int]:
    """The CLI's last line balances, the pair on disk agrees with it, and the output is loadable."""
    read, written, rejected = counts(stdout)
    assert read == written + rejected, stdout
    records = json.loads(out.read_text(encoding="utf-8"))
    assert isinstance(records, list) and len(records) >= written
    for rec in records:
        schema.validate(rec)
    rows = jsonl_rows(io.rejected_path(out))
    assert len(rows) == rejected
    for row in rows:
        assert row["file"] and row["position"] not in (None, "") and row["reason"]
    if records:
        assert datasets_rows(out) == len(records)
    return read, written, rejected


def no_temps(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith((".tmp", ".commit"))]


def as_unprivileged(cmd: list[str]) -> list[str] | None:
    """`cmd` run without the power to ignore file permissions (root drops CAP_DAC_*), or None if impossible."""
    if os.geteuid() != 0:
        return cmd
    if shutil.which("capsh"):
        return ["capsh", "--drop=cap_dac_override,cap_dac_read_search", "--", "-c", shlex.join(cmd)]
    return None


def in_namespace(script: str) -> subprocess.CompletedProcess | None:
    """Run a shell script as root of a new user+mount namespace (tmpfs mounts allowed); None if unsupported."""
    if not shutil.which("unshare"):
        return None
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs tmpfs /mnt"], capture_output=True)
    if probe.returncode != 0:
        return None
    return subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=120)


GOOD_SMILE = mutate.encode("smile", mutate.BASE["smile"])


def smile_folder(folder: Path, good: int, bad: int) -> Path:
    """A SMILE folder with `good` convertible and `bad` rejected dialogues (different counts tell runs apart)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(good):
        (folder / f"g{i:04d}.json").write_bytes(GOOD_SMILE)
    for i in range(bad):
        (folder / f"b{i:04d}.json").write_text(json.dumps([{"role": "client", "content": "只有我在说" * 300}]),
                                              encoding="utf-8")
    return folder


def pair(out: Path) -> tuple[int, int]:
    return len(json.loads(out.read_text(encoding="utf-8"))), len(jsonl_rows(io.rejected_path(out)))


# ---------------------------------------------------------------- 1. the mutation suite

def test_mutation_suite_has_50_cases_per_format():
    for fmt in mutate.FORMATS:
        assert len([c for c in CASES if c.fmt == fmt]) >= 50, fmt


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_mutated_input(tmp_path, case):
    src = case.build(tmp_path / "in")
    out = tmp_path / "out" / "o.json"
    if not case.folder_only:  # named on the command line: converts, or one line and exit 2
        code, stdout, stderr = cli("convert", case.fmt, src, "-o", out)
        assert code in (0, 2) and "Traceback" not in stderr, stderr
        lines = error_lines(stderr)
        if code == 0 or (code == 2 and "wrote 0 of" in stderr):  # 0 of N: the (empty) pair is still written
            check_converted(out, stdout)
        else:
            assert len(lines) == 1 and lines[0].startswith("error: ") and src.name in lines[0], stderr
            assert not out.exists()
    # inside a folder, beside a good file: never fails the run; every entry is read or rejected
    folder = src if case.folder_only else src.parent
    (folder / f"zz_good{mutate.suffix(case.fmt)}").write_bytes(mutate.encode(case.fmt, mutate.BASE[case.fmt]))
    code, stdout, stderr = cli("convert", case.fmt, folder, "-o", out)
    assert code == 0 and "Traceback" not in stderr, stderr
    read, written, _ = check_converted(out, stdout)
    units_of_the_case = 0 if case.folder_only or "files with no records" in stdout else 1
    assert written >= 1 and read >= 1 + units_of_the_case
    assert not no_temps(out.parent)


# ---------------------------------------------------------------- 2. datasets loads every converter's output

FIX = FIXTURES / "converters"


def test_every_converters_output_loads_through_datasets(tmp_path):
    from datasets import load_dataset

    from hearme.converters import CONVERTERS

    sources = {"cpsycound": FIX / "cpsycound", "cpsycoune": FIX / "cpsycoune", "smile": FIX / "smile",
               "emollm": FIX / "emollm", "psyqa": FIX / "psyqa", "firefly": FIX / "firefly",
               "self-cognition": FIX / "self_cognition"}
    records_in = tmp_path / "mixed_types.json"  # "weight": 1 in one message, "weight": "high" in another
    records_in.write_bytes(mutate.encode("records", mutate.BASE["records"]))
    sources["records"] = records_in
    assert set(sources) == set(CONVERTERS), "a new converter needs a source here"
    for fmt, src in sources.items():
        for sharegpt in (False, True):
            out = tmp_path / f"{fmt}{'_sg' if sharegpt else ''}.json{'l' if sharegpt else ''}"
            code, stdout, stderr = cli("convert", fmt, src, "-o", out, *(["--sharegpt"] if sharegpt else []))
            assert code == 0, stderr
            n = len(io.load_records(out))
            ds = load_dataset("json", data_files=str(out), split="train", cache_dir=str(tmp_path / "hf"))
            assert ds.num_rows == n > 0, (fmt, sharegpt)


def test_records_drops_extra_message_keys_and_counts_them(tmp_path):
    src = tmp_path / "r.json"
    src.write_bytes(mutate.encode("records", mutate.BASE["records"]))
    code, stdout, _ = cli("convert", "records", src, "-o", tmp_path / "o.json")
    assert code == 0 and "message key dropped: weight: 2" in stdout
    out = json.loads((tmp_path / "o.json").read_text(encoding="utf-8"))
    assert all(set(m) == {"role", "content"} for r in out for m in r["messages"])


# ---------------------------------------------------------------- 3. output faults

def test_output_under_proc_is_one_line(tmp_path):
    src = smile_folder(tmp_path / "in", 2, 0)
    for out in ("/proc/hearme-test/o.json", "/proc/self/status", "/proc/o.json"):
        code, _, stderr = cli("convert", "smile", src, "-o", out)
        lines = error_lines(stderr)
        assert code == 2 and len(lines) == 1 and lines[0].startswith(f"error: cannot write {out}"), stderr


def test_output_that_is_a_folder_is_one_line(tmp_path):
    src = smile_folder(tmp_path / "in", 2, 0)
    (tmp_path / "o.json").mkdir()
    code, _, stderr = cli("convert", "smile", src, "-o", tmp_path / "o.json")
    assert code == 2 and "it is a folder" in stderr and len(error_lines(stderr)) == 1


def test_read_only_folder_is_one_line(tmp_path):
    src = smile_folder(tmp_path / "in", 2, 0)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    cmd = as_unprivileged(HEARME + ["convert", "smile", str(src), "-o", str(ro / "o.json")])
    if cmd is None:
        pytest.skip("root without capsh cannot be refused a write")
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
    lines = error_lines(proc.stderr)
    assert proc.returncode == 2 and len(lines) == 1 and "Permission denied" in lines[0], proc.stderr
    assert not list(ro.iterdir())


def test_read_only_mount_and_full_disk_are_one_line(tmp_path):
    """A real read-only tmpfs and a real full 64 KiB tmpfs, mounted in a user namespace."""
    src = smile_folder(tmp_path / "in", 40, 40)
    mnt, full = tmp_path / "mnt", tmp_path / "full"
    mnt.mkdir()
    full.mkdir()
    hm = shlex.join(HEARME + ["convert", "smile", str(src), "-o"])
    script = f"""
        cd {shlex.quote(str(REPO))}
        mount -t tmpfs -o size=1m tmpfs {mnt} && {hm} {mnt}/first.json >/dev/null 2>&1
        mount -o remount,ro {mnt}
        {hm} {mnt}/first.json 2>{tmp_path}/ro.err; echo "ro=$?"
        ls -a {mnt} > {tmp_path}/ro.ls
        wc -l < {mnt}/first.rejected.jsonl > {tmp_path}/first.rej
        mount -t tmpfs -o size=64k tmpfs {full}
        {hm} {full}/full.json 2>{tmp_path}/full.err; echo "full=$?"
        ls -a {full} > {tmp_path}/full.ls
    """
    proc = in_namespace(script)
    if proc is None:
        pytest.skip("no user namespaces here: cannot mount a tmpfs")
    assert "ro=2" in proc.stdout and "full=2" in proc.stdout, proc.stdout + proc.stderr
    ro_err = error_lines((tmp_path / "ro.err").read_text())
    full_err = error_lines((tmp_path / "full.err").read_text())
    assert len(ro_err) == 1 and "Read-only file system" in ro_err[0], ro_err
    assert len(full_err) == 1 and "No space left on device" in full_err[0], full_err
    assert (tmp_path / "first.rej").read_text().strip() == "40"  # the old pair was still whole
    for listing in ("ro.ls", "full.ls"):
        names = (tmp_path / listing).read_text().split()
        assert not [n for n in names if n.endswith((".tmp", ".commit"))], names
        assert "full.json" not in names and "full.rejected.jsonl" not in names


def _limited(max_bytes: int):
    def set_limit():
        resource.setrlimit(resource.RLIMIT_FSIZE, (max_bytes, max_bytes))
    return set_limit


def test_disk_full_on_the_rejected_file_keeps_the_old_pair(tmp_path):
    """The issue's case: the new output fits, the new rejected file does not. Nothing of the new run lands."""
    out = tmp_path / "out" / "o.json"
    first = smile_folder(tmp_path / "a", 3, 1)
    code, stdout, _ = cli("convert", "smile", first, "-o", out)
    assert code == 0 and pair(out) == (3, 1)
    second = smile_folder(tmp_path / "b", 2, 60)  # a small output, a large rejected file (raw text kept)
    proc = subprocess.run(HEARME + ["convert", "smile", str(second), "-o", str(out)], cwd=REPO, capture_output=True,
                          text=True, timeout=120, preexec_fn=_limited(20_000))
    lines = error_lines(proc.stderr)
    assert proc.returncode == 2 and len(lines) == 1 and "o.rejected.jsonl" in lines[0], proc.stderr
    assert "File too large" in lines[0]
    assert pair(out) == (3, 1)
    assert not no_temps(out.parent)


def _kill_when(proc: subprocess.Popen, ready, deadline: float) -> bool:
    """SIGKILL as soon as ready() is true; False if the run ended first."""
    while time.time() < deadline and proc.poll() is None:
        if ready():
            proc.send_signal(signal.SIGKILL)
            return True
    return False


def test_kill_9_during_the_write_leaves_a_consistent_pair(tmp_path):
    """Kill the writer while its temp files exist (one, two), while its commit journal exists, and at
    random moments. Every time, the pair on disk is the whole old run or the whole new one, or a
    journal marks a commit in flight that any read completes; the next run leaves no temp file."""
    out = tmp_path / "out" / "o.json"
    journal = out.parent / f".{out.name}.commit"
    runs = {"a": smile_folder(tmp_path / "a", 300, 80), "b": smile_folder(tmp_path / "b", 220, 150)}
    expect = {"a": (300, 80), "b": (220, 150)}
    code, _, _ = cli("convert", "smile", runs["a"], "-o", out)
    assert code == 0 and pair(out) == expect["a"]

    def temps(n):
        return lambda: len([x for x in os.listdir(out.parent) if x.endswith(".tmp")]) >= n

    plans = [("1 temp", temps(1)), ("2 temps", temps(2)), ("journal", journal.exists), ("journal", journal.exists),
             ("random", 0.4), ("random", 1.0)]
    killed, current = Counter(), "a"
    for how, when in plans:
        nxt = "b" if current == "a" else "a"
        proc = subprocess.Popen(HEARME + ["convert", "smile", str(runs[nxt]), "-o", str(out)], cwd=REPO,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if callable(when):
            hit = _kill_when(proc, when, time.time() + 120)
        else:
            time.sleep(when)
            hit = proc.poll() is None
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed[how] += hit
        if not journal.exists():  # no commit in flight: the files themselves are one whole run
            assert pair(out) in (expect["a"], expect["b"]), how
        io.load_records(out)  # a read completes a commit in flight
        assert not journal.exists() and pair(out) in (expect["a"], expect["b"]), how
        current = "a" if pair(out) == expect["a"] else "b"
    print("kills that landed:", dict(killed))
    assert killed["1 temp"] and killed["2 temps"], "the kills should land during the writes"
    code, _, _ = cli("convert", "smile", runs["a"], "-o", out)  # the next run cleans up
    assert code == 0 and pair(out) == expect["a"]
    assert not no_temps(out.parent)


def test_stale_temp_files_are_removed_by_the_next_write(tmp_path):
    out = tmp_path / "o.json"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = [f".o.json.{dead.stdout.strip()}-abcd1234.tmp", f".o.rejected.jsonl.{dead.stdout.strip()}-abcd1234.tmp",
             f"..o.json.commit.{dead.stdout.strip()}-abcd1234.tmp"]
    live = f".o.json.{os.getpid()}-live0000.tmp"  # a writer that is still running keeps its temp file
    for name in stale + [live]:
        (tmp_path / name).write_text("partial", encoding="utf-8")
    code, _, _ = cli("convert", "smile", smile_folder(tmp_path / "in", 1, 0), "-o", out)
    assert code == 0
    assert sorted(no_temps(tmp_path)) == [live]


def test_a_commit_cut_between_renames_is_completed_by_the_next_run(tmp_path):
    """Simulate kill -9 between the two renames: new rejected file, old output, journal present."""
    out = tmp_path / "o.json"
    cli("convert", "smile", smile_folder(tmp_path / "a", 3, 1), "-o", out)
    new_out = tmp_path / f".o.json.{os.getpid() + 10 ** 7}-newout00.tmp"
    io.write_records(new_out, io.load_records(out)[:1])
    io.write_jsonl(io.rejected_path(out), [{"file": "x", "position": "file", "reason": "r"}] * 5)
    io.write_json(tmp_path / ".o.json.commit", {"moves": [[new_out.name, "o.json"]]})
    assert pair(out) == (3, 5)  # mixed on disk, but the journal says a commit is in flight
    assert len(io.load_records(out)) == 1 and pair(out) == (1, 5)  # the read rolls it forward
    assert not no_temps(tmp_path)


# ---------------------------------------------------------------- 4. the source is never touched

def test_output_equal_to_input_is_refused_and_the_source_is_intact(tmp_path):
    src = tmp_path / "same.json"
    src.write_bytes(mutate.encode("emollm", mutate.BASE["emollm"]))
    before = src.read_bytes()
    os.link(src, tmp_path / "hardlink.json")
    os.symlink(src, tmp_path / "symlink.json")
    for out in (src, tmp_path / "hardlink.json", tmp_path / "symlink.json"):
        code, _, stderr = cli("convert", "emollm", src, "-o", out)
        assert code == 2 and "never overwritten" in stderr and len(error_lines(stderr)) == 1, stderr
    # the rejected file of OUT would be the input
    rej_src = tmp_path / "x.rejected.jsonl"
    rej_src.write_bytes(mutate.encode("firefly", mutate.BASE["firefly"]))
    code, _, stderr = cli("convert", "firefly", rej_src, "-o", tmp_path / "x.json")
    assert code == 2 and "x.rejected.jsonl" in stderr
    for cmd in (["scrub", src, "-o", src], ["select", src, "-o", tmp_path / "hardlink.json"],
                ["dedup", src, "-o", src]):
        code, _, stderr = cli(*cmd)
        assert code == 2 and "never overwritten" in stderr, (cmd, stderr)
    assert src.read_bytes() == before and (tmp_path / "hardlink.json").read_bytes() == before


def test_output_inside_the_input_folder_is_not_read_back(tmp_path):
    folder = smile_folder(tmp_path / "in", 3, 1)
    out = folder / "converted.json"
    # smile turns are not records: all rejected (exit 2: 0 of N written, the empty pair still written)
    code, stdout, _ = cli("convert", "records", folder, "-o", out)
    assert code == 2 and counts(stdout)[0] == 13 and out.exists()
    code, stdout, _ = cli("convert", "records", folder, "-o", out)
    assert code == 2 and counts(stdout)[0] == 13, "the previous output was read as input"
    # a source file that happens to sit at the output path (no rejected file beside it) is refused
    victim = folder / "g0000.json"
    before = victim.read_bytes()
    code, _, stderr = cli("convert", "smile", folder, "-o", victim)
    assert code == 2 and "never overwritten" in stderr and victim.read_bytes() == before


# ---------------------------------------------------------------- 5. no silent skips

def test_links_and_odd_entries_are_counted_and_rejected(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    good = mutate.TXT.encode()
    for name in ("a.txt", "b.txt", "c.txt"):
        (folder / name).write_bytes(good)
    os.symlink(folder / "missing.txt", folder / "dangling.txt")
    os.symlink(folder / "self.txt", folder / "self.txt")
    os.symlink(folder, folder / "loop")
    os.mkfifo(folder / "pipe.txt")
    code, stdout, stderr = cli("convert", "cpsycound", folder, "-o", tmp_path / "o.json")
    assert code == 0, stderr
    assert counts(stdout) == (7, 3, 4)
    reasons = {Path(r["file"]).name: r["reason"] for r in jsonl_rows(io.rejected_path(tmp_path / "o.json"))}
    assert reasons["dangling.txt"].startswith("broken symbolic link")
    assert reasons["self.txt"] == "symbolic link loop"
    assert reasons["loop"].startswith("symbolic link loop")
    assert reasons["pipe.txt"] == "not a regular file"
    # named on the command line: one line each
    for name, needle in (("dangling.txt", "broken symbolic link"), ("self.txt", "symbolic link loop"),
                         ("pipe.txt", "not a regular file")):
        code, _, stderr = cli("convert", "cpsycound", folder / name, "-o", tmp_path / "n.json")
        assert code == 2 and needle in stderr, stderr


def test_unreadable_files_and_folders_are_counted_and_rejected(tmp_path):
    folder = tmp_path / "in"
    (folder / "locked_dir").mkdir(parents=True)
    good = mutate.TXT.encode()
    for name in ("a.txt", "b.txt", "locked.txt", "locked_dir/inner.txt"):
        (folder / name).write_bytes(good)
    (folder / "locked.txt").chmod(0)
    (folder / "locked_dir").chmod(0)
    out = tmp_path / "o.json"
    cmd = as_unprivileged(HEARME + ["convert", "cpsycound", str(folder), "-o", str(out)])
    if cmd is None:
        pytest.skip("root without capsh reads everything")
    try:
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120)
        named = subprocess.run(as_unprivileged(HEARME + ["convert", "cpsycound", str(folder / "locked.txt"), "-o",
                                                         str(tmp_path / "n.json")]),
                               cwd=REPO, capture_output=True, text=True, timeout=120)
    finally:
        (folder / "locked_dir").chmod(0o755)
    assert proc.returncode == 0, proc.stderr
    assert counts(proc.stdout) == (4, 2, 2)
    reasons = {Path(r["file"]).name: r["reason"] for r in jsonl_rows(io.rejected_path(out))}
    assert reasons == {"locked.txt": "unreadable: cannot read: Permission denied",
                       "locked_dir": "unreadable folder: Permission denied"}
    lines = error_lines(named.stderr)
    assert named.returncode == 2 and len(lines) == 1 and "Permission denied" in lines[0], named.stderr


# ---------------------------------------------------------------- 6. API keys

KEY = "sk-proj-Zq7Hx2Lw9Vb4Nc8Rt6Yp3Ms5Kd1Gf0Aj"


def fragments(key: str, n: int = 8) -> list[str]:
    return [key[i:i + n] for i in range(len(key) - n + 1)]


def leaked(text: str, key: str = KEY) -> list[str]:
    return [f for f in fragments(key) if f in text]


def test_redact_removes_every_fragment_before_the_cut():
    from hearme.llm import redact

    for offset in range(-len(KEY), 10):  # the key straddles position 400 at every offset
        text = "x" * (400 + offset) + KEY + "y" * 20
        assert not leaked(redact(text, KEY)[:400]), offset
    assert redact("prefix " + KEY[:12] + " and " + KEY[-9:], KEY) == "prefix *** and ***"
    assert redact("short k3y here", "k3y") == "short *** here"
    assert redact("nothing to hide", KEY) == "nothing to hide"


def test_a_server_echoing_the_key_at_every_offset_leaves_no_fragment(tmp_path, monkeypatch):
    from hearme.llm import LLMClient

    monkeypatch.setenv("HEARME_TEST_KEY", KEY)
    offsets = range(400 - len("HTTP 401: ") - len(KEY) - 2, 400 - len("HTTP 401: ") + 2)
    rules = [{"match": f"item-{k}-", "replies": [{"status": 401, "error": "p" * k + "{key}" + " tail"}], "sticky": True}
             for k in offsets]
    rules.append({"match": "item-reply-", "replies": [{"text": "your key is {key}, thanks"}], "sticky": True})
    with FakeOpenAI({"rules": rules}) as srv:
        client = LLMClient(srv.url, "m", api_key_env="HEARME_TEST_KEY", cache_dir=tmp_path / "cache", max_retries=0,
                           progress=False)
        reqs = [{"messages": [{"role": "user", "content": f"item-{k}-"}]} for k in offsets]
        reqs.append({"messages": [{"role": "user", "content": "item-reply-"}]})
        results = client.map(reqs)
    errors = [str(r) for r in results[:-1]]
    assert all(e.startswith("HTTP 401: ") for e in errors), errors[:2]
    assert not [e for e in errors if leaked(e)]
    assert not leaked(results[-1].text) and "***" in results[-1].text
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert not leaked(f.read_text(encoding="utf-8", errors="replace")), f


def test_judge_cli_with_a_key_echoing_judge_writes_no_fragment(tmp_path):
    """`hearme judge`: the judge answers 401 with the key placed across the 400-character cut."""
    from tests.evaluators.test_judge import write_preds

    cases = [f"case-{k}" for k in range(340, 400, 7)]
    pred = write_preds(tmp_path / "p.jsonl", cases)
    rules = [{"match": c, "replies": [{"status": 401, "error": "e" * int(c.split("-")[1]) + "{key}"}], "sticky": True}
             for c in cases]
    script = tmp_path / "script.json"
    script.write_text(json.dumps({"rules": rules}), encoding="utf-8")
    server = subprocess.Popen([sys.executable, str(REPO / "tests" / "fake_openai.py"), "--port", "0", "--script",
                               str(script)], stdout=subprocess.PIPE, text=True)
    try:
        url = server.stdout.readline().split()[-1]
        proc = run_hearme("judge", pred, "--base-url", url, "--model", "gpt-4o", "-o", tmp_path / "out",
                          "--cache-dir", tmp_path / "cache", "--max-retries", "0", env={"OPENAI_API_KEY": KEY})
    finally:
        server.kill()
        server.wait()
    assert proc.returncode == 1 and "nothing was scored (HTTP 401" in proc.stderr, proc.stderr
    items = (tmp_path / "out" / "items.jsonl").read_text(encoding="utf-8")
    assert items.count("HTTP 401") == len(cases) and "***" in items
    assert not leaked(proc.stdout + proc.stderr)
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert not leaked(f.read_text(encoding="utf-8", errors="replace")), f


def test_webui_judge_with_a_key_echoing_judge_writes_no_fragment(tmp_path, monkeypatch):
    """The Evaluate tab's judge (key typed into the page, held in memory) against a judge that puts
    the key across the 400-character cut: items.jsonl, the cache and the status hold no fragment."""
    from hearme.webui_ext import eval_tab
    from tests.evaluators.test_judge import write_preds

    monkeypatch.setenv("HEARME_CACHE_DIR", str(tmp_path / "cache"))
    cases = [f"case-{k}" for k in range(350, 395, 5)]
    (tmp_path / "saves" / "run").mkdir(parents=True)
    pred = write_preds(tmp_path / "saves" / "run" / "generated_predictions.jsonl", cases)
    rules = [{"match": c, "replies": [{"status": 401, "error": "w" * int(c.split("-")[1]) + "{key}"}], "sticky": True}
             for c in cases]
    with FakeOpenAI({"rules": rules}) as srv:
        status, _ = eval_tab.on_judge("en", str(pred), srv.url, "judge", KEY, 0)
    items = (pred.parent / "hearme_judge" / "items.jsonl").read_text(encoding="utf-8")
    assert items.count("HTTP 401") == len(cases) and not leaked(status)
    for f in tmp_path.rglob("*"):
        if f.is_file():
            assert not leaked(f.read_text(encoding="utf-8", errors="replace")), f


def test_webui_error_text_redacts_before_cutting():
    from hearme.webui_ext import ui

    for offset in range(560, 610, 3):
        text = ui.error_text(io.HearMeError("z" * offset + KEY), secrets=[KEY])
        assert not leaked(text), offset


# ---------------------------------------------------------------- 7. one line for everything else

def test_internal_error_is_one_line_with_a_debug_hint(tmp_path):
    src = smile_folder(tmp_path / "in", 1, 0)
    code = ("import sys; import hearme.converters.convert as b; from hearme import cli\n"
            "def boom(*a, **k): raise RuntimeError('a bug\\nover two lines')\n"
            "b.run_to_file = boom\n"
            "cli.main(sys.argv[1:])\n")
    args = [sys.executable, "-c", code, "convert", "smile", str(src), "-o", str(tmp_path / "o.json")]
    proc = subprocess.run(args, cwd=REPO, capture_output=True, text=True, timeout=120)
    lines = error_lines(proc.stderr)
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert "internal error (RuntimeError: a bug over two lines)" in lines[0] and "--debug" in lines[0]
    debug = subprocess.run(args + ["--debug"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert "Traceback" in debug.stderr and "RuntimeError: a bug" in debug.stderr


def test_lone_surrogates_are_rejected_at_read_time_with_a_reason(tmp_path):
    src = tmp_path / "s.json"
    src.write_text('[{"role": "client", "content": "我\\ud800好"}, {"role": "counselor", "content": "嗯"}]',
                   encoding="utf-8")
    code, stdout, _ = cli("convert", "smile", src, "-o", tmp_path / "o.json")
    assert code == 2 and counts(stdout) == (1, 0, 1)  # 0 of 1 written: exit 2, reasons kept
    row = json.loads(io.rejected_path(tmp_path / "o.json").read_text(encoding="utf-8"))
    assert "lone surrogate" in row["reason"] and "U+D800" in row["reason"]
    records = tmp_path / "r.jsonl"
    records.write_text('{"messages": [{"role": "user", "content": "\\udfff"}, {"role": "assistant", "content": "a"}]}\n',
                       encoding="utf-8")
    code, _, stderr = cli("scrub", records, "-o", tmp_path / "scrubbed.json")
    assert code == 2 and "line 1" in stderr and "lone surrogate" in stderr


def test_webui_data_tab_rejects_surrogates_and_returns_serialisable_values(tmp_path):
    """What the Data tab hands to gradio must be encodable (orjson refused a lone surrogate: the job hung)."""
    import orjson

    from hearme.webui_ext import data_tab

    src = tmp_path / "upload.json"
    src.write_text('[{"messages": [{"role": "user", "content": "坏\\ud800"}, {"role": "assistant", "content": "好"}]},'
                   ' {"messages": [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好呀"}]}]',
                   encoding="utf-8")
    status, preview, rejects, state = data_tab.convert("en", "records", [str(src)], "", True, "", "")
    assert "read 2, written 1, rejected 1" in status
    assert "lone surrogate" in rejects.to_string()
    orjson.dumps([status, preview.to_dict("records"), rejects.to_dict("records")])
    orjson.dumps(state["records"])


def test_jsonl_lines_end_at_newline_only(tmp_path):
    """U+2028, U+0085 and form feeds are legal inside JSON strings; str.splitlines would cut the line there."""
    src = tmp_path / "f.jsonl"
    text = "第一句\u2028第二句\u0085第三句\x0c完"
    src.write_text(json.dumps({"conversation": [{"human": text, "assistant": "好的"}]}, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    out = tmp_path / "o.jsonl"
    code, stdout, _ = cli("convert", "firefly", src, "-o", out)
    assert code == 0 and counts(stdout) == (1, 1, 0)
    assert io.load_records(out)[0]["messages"][0]["content"] == text
    assert datasets_rows(out) == 1
