"""The repository's dataset_info.json: every registered dataset loads in LLaMA-Factory with
zero skipped examples, and the committed sample build matches a fresh one."""

from __future__ import annotations

import json

import pytest

from hearme.core import io, paths, registry
from hearme.demo import samples
from tests.lf_helpers import sft_dataset

INFO = registry.load(paths.REPO_ROOT)


def _load_count(tiny_model, name: str) -> int:
    return len(sft_dataset(tiny_model, paths.REPO_ROOT, name, cutoff_len=4096)[1])


def test_registry_is_not_empty():
    assert len(INFO) >= 10


@pytest.mark.parametrize("name", sorted(INFO))
def test_every_registered_dataset_loads_without_skips(tiny_model, tmp_path, name):
    entry = INFO[name]
    assert entry["formatting"] == "sharegpt" and entry.get("license") and entry.get("source")
    n_file = len(io.load_records(registry.file_of(name, paths.REPO_ROOT)))
    assert n_file == entry["records"]
    assert _load_count(tiny_model, name) == n_file


def test_committed_samples_match_a_fresh_build(tmp_path):
    samples.build(tmp_path, tmp_path)
    fresh = registry.load(tmp_path)
    assert set(fresh) == set(INFO)
    for name in fresh:
        committed = json.loads(registry.file_of(name, paths.REPO_ROOT).read_text(encoding="utf-8"))
        rebuilt = json.loads(registry.file_of(name, tmp_path).read_text(encoding="utf-8"))
        assert committed == rebuilt, f"{name} drifted: run `hearme samples` and commit"
