"""Real LLaMA-Factory on the tiny model: LoRA train -> predict with metrics -> merge.

No mocks: every step is `llamafactory-cli` in a subprocess, driven by a shipped recipe
plus tiny-model overrides, exactly as `hearme demo` does it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hearme import io, lf, registry, schema

pytestmark = pytest.mark.slow

TRAIN_RECIPE = "train/qwen2.5_stage2_counseling.yaml"
PREDICT_RECIPE = "predict/qwen2.5_counseling.yaml"
MERGE_RECIPE = "merge/qwen2.5_counseling.yaml"

DIALOGUES = [
    ("zh", "我最近总是失眠，心里很烦。", "听起来你最近很辛苦。能说说是什么让你睡不着吗？", "工作压力太大了。", "压力确实会影响睡眠，我们可以一起想想办法。"),
    ("zh", "考试快到了，我很紧张 😣", "考前紧张很常见，说明你很在乎 🤗", "可是我怕考砸。", "我们先试试深呼吸，慢慢来。"),
    ("bo", "ང་ལ་སེམས་ཁྲལ་ཆེན་པོ་ཡོད།", "ཁྱེད་ཀྱི་ཚོར་བ་ང་ལ་བཤད་པར་ཐུགས་རྗེ་ཆེ།", "མཚན་མོ་གཉིད་མི་ཁུག", "ང་ཚོས་མཉམ་དུ་ཐབས་ལམ་འཚོལ་ཐུབ།"),
    ("zh", "我和父母总是吵架。", "被最亲近的人否定会很难受。最近一次发生了什么？", "他们不同意我换工作。", "你很在意他们的看法，也想做自己的选择。"),
]


def _records() -> list[dict]:
    recs = []
    for i, (lang, u1, a1, u2, a2) in enumerate(DIALOGUES * 3):
        recs.append(schema.make(
            [{"role": "user", "content": u1}, {"role": "assistant", "content": a1},
             {"role": "user", "content": u2}, {"role": "assistant", "content": a2}],
            id=f"t{i}", source="hearme-test", lang=lang, topic="test", system="你是心理咨询师Jerry。"))
    return recs


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, tiny_model):
    d = tmp_path_factory.mktemp("e2e")
    recs = _records()
    io.write_records(d / "data" / "train.json", recs)
    io.write_records(d / "data" / "test.jsonl", recs[:4], sharegpt=True)  # both layouts load
    registry.register(d / "data" / "train.json", "e2e_train", d / "data")
    registry.register(d / "data" / "test.jsonl", "e2e_test", d / "data")
    return d


def _tiny(recipe: str, extra: dict, tiny_model: Path, data_dir: Path | None, out: Path, adapter=None) -> dict:
    """The shipped recipe + the same tiny-model overrides `hearme demo` uses + test specifics."""
    from hearme.recipes import tiny_overrides

    over, _ = tiny_overrides(lf.resolve_recipe(recipe), tiny_model, dataset_dir=data_dir, output_dir=out,
                             adapter=adapter, max_steps=6, cutoff_len=256)
    over.update(extra)
    return lf.resolve_recipe(recipe, over)


@pytest.fixture(scope="module")
def trained(workdir, tiny_model):
    out = workdir / "train"
    cfg = _tiny(TRAIN_RECIPE, {"dataset": "e2e_train", "eval_dataset": "e2e_test", "per_device_train_batch_size": 2,
                               "learning_rate": 1e-3}, tiny_model, workdir / "data", out)
    lf.run("train", cfg, workdir / "configs" / "train.yaml", workdir / "logs" / "train.log")
    return out


def test_train_writes_adapter_and_logs(trained):
    for name in ("adapter_model.safetensors", "adapter_config.json", "trainer_log.jsonl", "train_results.json"):
        assert (trained / name).exists(), name
    cfg = json.loads((trained / "adapter_config.json").read_text())
    assert cfg["r"] == 8 and cfg["lora_alpha"] == 16  # the recipe's LoRA settings reached PEFT
    logs = [json.loads(l) for l in (trained / "trainer_log.jsonl").read_text().splitlines()]
    assert [l["current_steps"] for l in logs if "loss" in l][-1] == 6


def test_predict_writes_predictions_and_metrics(workdir, trained, tiny_model):
    out = workdir / "predict"
    cfg = _tiny(PREDICT_RECIPE, {"eval_dataset": "e2e_test"}, tiny_model, workdir / "data", out, adapter=trained)
    lf.run("train", cfg, workdir / "configs" / "predict.yaml", workdir / "logs" / "predict.log")
    metrics = json.loads((out / "predict_results.json").read_text())
    for key in ("predict_bleu-4", "predict_rouge-1", "predict_rouge-2", "predict_rouge-l"):
        assert 0.0 <= metrics[key] <= 100.0, key
    rows = [json.loads(l) for l in (out / "generated_predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and set(rows[0]) >= {"prompt", "predict", "label"}


def test_merge_equals_base_plus_adapter(workdir, trained, tiny_model):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    out = workdir / "merged"
    cfg = _tiny(MERGE_RECIPE, {"export_size": 1, "bf16": None, "fp16": None}, tiny_model, None, out, adapter=trained)
    lf.run("export", cfg, workdir / "configs" / "merge.yaml", workdir / "logs" / "merge.log")
    assert (out / "model.safetensors").exists()

    ids = torch.tensor([[5, 17, 42, 99, 123, 7, 300]])
    base = AutoModelForCausalLM.from_pretrained(tiny_model).eval()
    with torch.no_grad():
        base_logits = base(ids).logits
        peft_logits = PeftModel.from_pretrained(base, trained).eval()(ids).logits
        merged_logits = AutoModelForCausalLM.from_pretrained(out).eval()(ids).logits
    assert torch.allclose(merged_logits, peft_logits, atol=1e-5), (merged_logits - peft_logits).abs().max()
    assert (merged_logits - base_logits).abs().max() > 1e-3  # the adapter really changed the model


def test_failed_run_reports_log_tail(workdir, tiny_model):
    cfg = _tiny(TRAIN_RECIPE, {"dataset": "no_such_dataset", "eval_dataset": "e2e_test"}, tiny_model, workdir / "data",
                workdir / "bad")
    with pytest.raises(io.HearMeError) as e:
        lf.run("train", cfg, workdir / "configs" / "bad.yaml", workdir / "logs" / "bad.log")
    assert "no_such_dataset" in str(e.value) and "bad.log" in str(e.value)
