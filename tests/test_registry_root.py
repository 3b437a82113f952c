"""The repository's dataset_info.json: every registered dataset loads in LLaMA-Factory with
zero skipped examples, and the committed sample build matches a fresh one."""

from __future__ import annotations

import json

import pytest

from hearme import io, paths, registry, samples

INFO = registry.load(paths.REPO_ROOT)


def _load_count(tiny_model, name: str, tmp_path) -> int:
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer

    args = dict(model_name_or_path=str(tiny_model), stage="sft", do_train=True, finetuning_type="lora",
                dataset_dir=str(paths.REPO_ROOT), dataset=name, template="qwen", cutoff_len=4096,
                output_dir=str(tmp_path / "out"), overwrite_cache=True, preprocessing_num_workers=1,
                report_to="none", bf16=False)
    model_args, data_args, training_args, *_ = get_train_args(args)
    tok = load_tokenizer(model_args)
    tpl = get_template_and_fix_tokenizer(tok["tokenizer"], data_args)
    return len(get_dataset(tpl, model_args, data_args, training_args, stage="sft", **tok)["train_dataset"])


def test_registry_is_not_empty():
    assert len(INFO) >= 10


@pytest.mark.parametrize("name", sorted(INFO))
def test_every_registered_dataset_loads_without_skips(tiny_model, tmp_path, name):
    entry = INFO[name]
    assert entry["formatting"] == "sharegpt" and entry.get("license") and entry.get("source")
    n_file = len(io.load_records(registry.file_of(name, paths.REPO_ROOT)))
    assert n_file == entry["records"]
    assert _load_count(tiny_model, name, tmp_path) == n_file


def test_committed_samples_match_a_fresh_build(tmp_path):
    samples.build(tmp_path, tmp_path)
    fresh = registry.load(tmp_path)
    assert set(fresh) == set(INFO)
    for name in fresh:
        committed = json.loads(registry.file_of(name, paths.REPO_ROOT).read_text(encoding="utf-8"))
        rebuilt = json.loads(registry.file_of(name, tmp_path).read_text(encoding="utf-8"))
        assert committed == rebuilt, f"{name} drifted: run `hearme samples` and commit"
