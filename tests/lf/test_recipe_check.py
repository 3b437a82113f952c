"""`hearme recipes check`: LLaMA-Factory's parsers, HearMe's own checks, the 24 GB estimate, the plugin hook."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hearme.core import io, paths, registry, schema
from hearme.lf import runner as lf, plugin as lf_plugin, memory, recipe_check

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


def test_lora_dropout_keeps_more_activations():
    arch = memory.KNOWN["qwen2.5-7b"]
    base = {"per_device_train_batch_size": 2, "cutoff_len": 1024, "lora_rank": 64}
    plain = memory.train_estimate(arch, base)["activations"]
    dropped = memory.train_estimate(arch, {**base, "lora_dropout": 0.05})["activations"]
    layer = 2 * 1024 * (34 * arch.hidden + 10 * arch.intermediate) / memory.GiB  # the recomputed layer
    assert dropped - plain == pytest.approx(0.37 * layer)
    assert memory.train_estimate(arch, {**base, "lora_dropout": 0.05, "finetuning_type": "full"})["activations"] == plain


def test_check_prints_the_cpu_command(tmp_path, tiny_model, ds_dir):
    rep = _check(tmp_path, tiny_model, ds_dir)
    assert [k for k, _, _ in rep.cpu] == ["bf16", "enable_liger_kernel"]
    text = recipe_check.format_reports([rep])
    assert "cpu:   llamafactory-cli train " in text and text.split("cpu:   ")[1].split("\n")[0].endswith(
        "x.yaml bf16=false enable_liger_kernel=false")
    assert "hearme train RECIPE" in text and "enable_liger_kernel: Liger kernels" in text


# ---------------------------------------------------------------- the documents' numbers
def _recipe(name: str) -> dict:
    return lf.resolve_recipe(name)


def test_faithful_hearmeglm_recipes_match_the_report():
    s1, s2 = _recipe("train/chatglm3_stage1_selfcog_faithful.yaml"), _recipe("train/chatglm3_stage2_counseling_faithful.yaml")
    # Table 1
    assert (s1["lora_rank"], s1["lora_alpha"], s1["learning_rate"], s1["per_device_train_batch_size"],
            s1["gradient_accumulation_steps"], s1["num_train_epochs"], s1["max_grad_norm"], s1["lr_scheduler_type"]) == \
        (8, 16, 5e-5, 4, 8, 200, 1.0, "cosine")
    assert s1["bf16"] and s1["early_stopping_steps"] and s1["template"] == "chatglm3"
    # Table 3, and Table 4: 1.567 samples/s / 0.032 steps/s = ~49 samples per optimizer step
    assert (s2["lora_rank"], s2["lora_alpha"], s2["learning_rate"], s2["num_train_epochs"], s2["lr_scheduler_type"]) == \
        (8, 16, 5e-5, 3.0, "cosine")
    step = s2["per_device_train_batch_size"] * s2["gradient_accumulation_steps"]
    assert s2["per_device_train_batch_size"] == 6 and abs(step - 1.567 / 0.032) < 2
    assert s2["adapter_name_or_path"] == s1["output_dir"]  # stage 2 continues stage 1


def test_tuned_stage2_recipes_keep_the_report_step_size():
    per_row = 2048 // 665  # dialogues per packed 2048-token row at the report's ~665 tokens per dialogue
    for name, gpus in (("qwen2.5_stage2_counseling", 1), ("glm4_stage2_counseling", 1), ("qwen2.5_stage2_counseling_ds_z2", 2)):
        cfg = _recipe(f"train/{name}.yaml")
        rows = cfg["per_device_train_batch_size"] * cfg["gradient_accumulation_steps"] * gpus
        assert cfg["neat_packing"] and 40 <= rows * per_row <= 56, name
    z3 = _recipe("train/glm4_stage2_counseling_ds_z3.yaml")  # unpacked, 2 GPUs
    assert not z3["neat_packing"] and z3["per_device_train_batch_size"] * z3["gradient_accumulation_steps"] * 2 == 48


@pytest.mark.parametrize("model,per_gpu", [("baichuan2", (1, 2)), ("llama2", (8, 2))])
def test_faithful_tibetan_recipes_match_the_paper_and_its_configs(model, per_gpu):
    cfg = _recipe(f"train/{model}_tibetan_qlora_faithful.yaml")
    # the paper's text: QLoRA r64 alpha16, length 1024, lr 2e-4, 1,500 steps
    assert (cfg["quantization_bit"], cfg["quantization_type"], cfg["lora_rank"], cfg["lora_alpha"],
            cfg["cutoff_len"], cfg["learning_rate"], cfg["max_steps"]) == (4, "nf4", 64, 16, 1024, 2e-4, 1500)
    # silent in the text -> the released Firefly config: constant_with_warmup, paged AdamW, clip 0.3, fp16, dropout 0.05
    assert (cfg["lr_scheduler_type"], cfg["optim"], cfg["max_grad_norm"], cfg["lora_dropout"], cfg["weight_decay"]) == \
        ("constant_with_warmup", "paged_adamw_32bit", 0.3, 0.05, 0.0)
    assert cfg["fp16"] and not cfg.get("bf16") and cfg["template"] == "hearme_firefly" and cfg["double_quantization"]
    assert cfg["warmup_steps"] < cfg["max_steps"]  # the stated peak lr is reached
    # the released per-GPU batch on 4 V100s, kept as the same sequences per optimizer step on one GPU
    assert cfg["per_device_train_batch_size"] * cfg["gradient_accumulation_steps"] == per_gpu[0] * per_gpu[1] * 4


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
