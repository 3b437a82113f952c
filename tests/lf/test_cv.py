"""`hearme cv`: the Tibetan paper's k-fold protocol, for real on the tiny model (2 folds to stay quick)."""

from __future__ import annotations

import importlib.util
import json

import pytest
import yaml

from hearme.core import io, registry, schema

pytestmark = pytest.mark.slow

BO = ["ང་ལ་སེམས་ཁྲལ་ཆེན་པོ་ཡོད།", "ཁྱེད་ཀྱི་ཚོར་བ་ང་ལ་བཤད་པར་ཐུགས་རྗེ་ཆེ།", "མཚན་མོ་གཉིད་མི་ཁུག", "ང་ཚོས་མཉམ་དུ་ཐབས་ལམ་འཚོལ་ཐུབ།"]
TINY = {"bf16": "false", "enable_liger_kernel": "false", "max_steps": 2, "cutoff_len": 128, "max_new_tokens": 8,
        "per_device_eval_batch_size": 2, "preprocessing_num_workers": 1, "include_effective_tokens_per_second": "false",
        "neat_packing": "false"}


def test_cv_trains_and_predicts_each_fold(tmp_path, tiny_model, hearme_cli):
    data = tmp_path / "data"
    recs = [schema.make([{"role": "user", "content": BO[i % 4]}, {"role": "assistant", "content": BO[(i + 1) % 4]}],
                        id=f"bo{i}", source="hearme-test", lang="bo", topic=f"t{i % 2}") for i in range(6)]
    io.write_records(data / "bo.json", recs)
    registry.register(data / "bo.json", "hearme_tibetan_bo_train", data)
    out = tmp_path / "cv"
    sets = [a for k, v in {**TINY, "model_name_or_path": tiny_model}.items() for a in ("--set", f"{k}={v}")]
    proc = hearme_cli("cv", "--recipe", "train/qwen2.5_tibetan_qlora.yaml", "--kfold", 2, "--out", out,
                      "--dataset-dir", data, *sets)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]

    res = json.loads((out / "cv_results.json").read_text())
    assert res["kfold"] == 2 and res["records"] == 6 and len(res["folds"]) == 2
    tests = [{r["id"] for r in io.load_records(out / "data" / f"cv_fold{i}_test.json")} for i in range(2)]
    assert tests[0].isdisjoint(tests[1]) and tests[0] | tests[1] == {r["id"] for r in recs}
    for key in ("bleu-4", "rouge-1", "rouge-2", "rouge-l"):
        assert set(res["summary"][key]) == {"mean", "sd"} and 0 <= res["summary"][key]["mean"] <= 100
    if importlib.util.find_spec("hearme.evaluators.metrics"):
        assert any(k.startswith("hearme_") for k in res["summary"])  # Tibetan-aware metrics joined in
    assert "±" in (out / "cv_report.md").read_text() and "±" in proc.stdout

    train = yaml.safe_load((out / "fold0" / "configs" / "train.yaml").read_text())
    assert train["dataset"] == "cv_fold0_train" and train["lora_rank"] == 64 and train["quantization_bit"] == 4
    assert "eval_dataset" not in train and "early_stopping_steps" not in train  # the held-out fold is never seen
    pred = yaml.safe_load((out / "fold0" / "configs" / "predict.yaml").read_text())
    assert pred["eval_dataset"] == "cv_fold0_test" and pred["predict_with_generate"] is True
    assert pred["adapter_name_or_path"] == str(out / "fold0" / "adapter")
