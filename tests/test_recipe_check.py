"""`hearme recipes check`: LLaMA-Factory's parsers, HearMe's own checks, the 24 GB estimate, the plugin hook."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hearme import io, lf, lf_plugin, memory, paths, recipe_check, registry, schema

GOOD = paths.RECIPES / "train" / "qwen2.5_stage1_selfcog.yaml"


@pytest.fixture(scope="module")
def ds_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("check_ds")
    rec = schema.make([{"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好呀"}], id="a", source="t")
    io.write_records(d / "r.json", [rec])
    for name in ("hearme_selfcog_train", "hearme_selfcog_val"):
        registry.register(d / "r.json", name, d)
    return d


def _check(tmp_path, tiny_model, ds_dir, **changes):
    cfg = lf.resolve_recipe(GOOD, changes)
    path = lf.dump_yaml(cfg, tmp_path / "train" / "x.yaml")
    return recipe_check.check(path, tiny_model=tiny_model, dataset_dir=ds_dir)


def test_shipped_recipe_passes(tmp_path, tiny_model, ds_dir):
    rep = _check(tmp_path, tiny_model, ds_dir)
    assert rep.ok, rep.errors
    assert rep.kind == "train" and rep.arch == "Qwen2.5-7B"
    assert 14 < rep.memory["weights"] < 15 and rep.memory["total"] < memory.LIMIT_GIB


def test_unknown_key_gets_a_suggestion(tmp_path, tiny_model, ds_dir):
    rep = _check(tmp_path, tiny_model, ds_dir, lora_rnak=8)
    assert any("unknown key 'lora_rnak'" in e and "'lora_rank'" in e for e in rep.errors)


def test_missing_dataset_lists_known_names(tmp_path, tiny_model, ds_dir):
    rep = _check(tmp_path, tiny_model, ds_dir, dataset="hearme_selfcog_train,cpsycound_train")
    msg = next(e for e in rep.errors if "unknown dataset" in e)
    assert "'cpsycound_train'" in msg and "hearme_selfcog_train, hearme_selfcog_val" in msg


def test_contradictions_are_reported(tmp_path, tiny_model, ds_dir):
    rep = _check(tmp_path, tiny_model, ds_dir, eval_strategy="no", eval_dataset=None, load_best_model_at_end=None)
    assert any("early_stopping_steps needs eval_strategy" in e for e in rep.errors)
    assert any("early_stopping_steps needs validation data" in e for e in rep.errors)
    rep = _check(tmp_path, tiny_model, ds_dir, neat_packing=True, flash_attn="fa2")
    assert any("neat_packing with flash_attn fa2" in e for e in rep.errors)


def test_llamafactory_parser_errors_surface(tmp_path, tiny_model, ds_dir):
    rep = _check(tmp_path, tiny_model, ds_dir, finetuning_type="full")  # LLaMA-Factory accepts it; 24 GB does not
    assert not any(e.startswith("LLaMA-Factory") for e in rep.errors) and rep.memory["total"] > 100
    rep = _check(tmp_path, tiny_model, ds_dir, quantization_bit=4, finetuning_type="full")
    assert any(e.startswith("LLaMA-Factory: Quantization is only compatible with the LoRA") for e in rep.errors)


def test_over_budget_recipe_fails(tmp_path, tiny_model, ds_dir):
    rep = _check(tmp_path, tiny_model, ds_dir, per_device_train_batch_size=8, cutoff_len=4096, enable_liger_kernel=False)
    assert not rep.ok and any("GiB > 22 GiB" in e for e in rep.errors)


def test_unknown_template_and_plugin_templates(tmp_path, tiny_model, ds_dir, monkeypatch):
    rep = _check(tmp_path, tiny_model, ds_dir, template="qwne")
    assert any("unknown template 'qwne'" in e and "qwen" in e for e in rep.errors)
    monkeypatch.setenv("HEARME_LF_PLUGIN", "0")
    rep = _check(tmp_path, tiny_model, ds_dir, template="baichuan2")
    assert any("hearme recipes plugin install" in e for e in rep.errors)


def test_cli_exit_codes(tmp_path, tiny_model, ds_dir, hearme_cli):
    bad = lf.dump_yaml(lf.resolve_recipe(GOOD, {"lora_rnak": 8}), tmp_path / "train" / "bad.yaml")
    proc = hearme_cli("recipes", "check", bad, GOOD, "--dataset-dir", ds_dir, "--tiny-model", tiny_model)
    assert proc.returncode == 1 and "1/2 recipes ok" in proc.stdout and "FAIL train" in proc.stdout
    assert "Estimated peak GPU memory" in proc.stdout
    proc = hearme_cli("recipes", "check", tmp_path / "nope.yaml")
    assert proc.returncode == 2 and proc.stderr.startswith("error:")


# ---------------------------------------------------------------- memory formula
def test_architectures_match_published_sizes():
    assert abs(memory.KNOWN["qwen2.5-7b"].params() / 1e9 - 7.62) < 0.02
    assert abs(memory.KNOWN["glm-4-9b"].params() / 1e9 - 9.40) < 0.05
    assert abs(memory.KNOWN["chatglm3-6b"].params() / 1e9 - 6.24) < 0.03
    assert abs(memory.KNOWN["llama-2-7b"].params() / 1e9 - 6.74) < 0.02
    # LoRA r8 on all linears of Qwen2.5-7B: 20.2 M parameters (PEFT reports 20,185,088)
    assert memory.lora_params(memory.KNOWN["qwen2.5-7b"], 8) == 20_185_088


def test_memory_formula_parts():
    arch = memory.KNOWN["qwen2.5-7b"]
    base = {"per_device_train_batch_size": 2, "cutoff_len": 2048, "lora_rank": 8}
    plain = memory.train_estimate(arch, base)
    liger = memory.train_estimate(arch, {**base, "enable_liger_kernel": True})
    qlora = memory.train_estimate(arch, {**base, "quantization_bit": 4})
    assert liger["logits"] == 0 and plain["logits"] == pytest.approx(10 * 4096 * 152064 / memory.GiB)
    assert qlora["weights"] < plain["weights"] / 2.5
    z3 = memory.train_estimate(arch, base, world_size=4, zero_stage=3)
    assert z3["weights"] == pytest.approx(plain["weights"] / 4)
    assert plain["total"] == pytest.approx(sum(v for k, v in plain.items() if k != "total"))


def test_arch_from_local_config(tiny_model):
    arch = memory.find_arch(str(tiny_model))
    assert (arch.hidden, arch.layers, arch.tied) == (64, 2, True)


# ---------------------------------------------------------------- plugin hook
def test_pth_line_installs_the_hook_in_a_fresh_interpreter(tmp_path):
    bin_dir = lf_plugin.overlay_env(tmp_path / "env")
    code = ("import sys; print(any(type(f).__name__ == '_Finder' for f in sys.meta_path)); "
            "print('llamafactory' in sys.modules)")
    out = subprocess.run([str(bin_dir / "python"), "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "False"]  # hook present, nothing heavy imported at start-up
    assert lf_plugin.is_installed(bin_dir.parent / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages")
    assert lf_plugin.uninstall(tmp_path / "env" / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages")
