"""The converter driver's process pool (converters/parallel.py): results in chunk order whoever
computed them, a worker's exception raised in the parent, a dead worker named by its exit code."""

from __future__ import annotations

import os
import time

import pytest

from hearme.converters.parallel import run_chunks


def _square(chunk):
    return [{"n": chunk * chunk, "pid": os.getpid()}], chunk


def test_results_come_in_chunk_order_from_both_processes():
    seen = []
    out = run_chunks(list(range(200)), _square, 2, on_result=seen.append)
    assert [c for _, c in out] == list(range(200)) and [r[0]["n"] for r, _ in out] == [c * c for c in range(200)]
    assert len(seen) == 200


def test_a_worker_exception_is_raised_in_the_parent():
    parent = os.getpid()

    def do(chunk):
        if os.getpid() != parent or chunk == 150:
            raise ValueError(f"bad chunk {chunk}")
        return [], chunk
    with pytest.raises(ValueError, match="bad chunk"):
        run_chunks(list(range(200)), do, 2)


def test_a_worker_that_dies_is_named_by_its_exit_code(tmp_path):
    parent, flag = os.getpid(), tmp_path / "died"

    def do(chunk):
        if os.getpid() != parent:
            flag.touch()
            os._exit(3)
        deadline = time.monotonic() + 60
        while not flag.exists() and time.monotonic() < deadline:  # wait until the worker took a chunk
            time.sleep(0.01)
        return [], chunk
    with pytest.raises(RuntimeError, match="exit code 3"):
        run_chunks(list(range(20)), do, 2)
