"""Stage 3 end to end on the tiny model: a stage-2 adapter served by `llamafactory-cli api`, pairs from
`hearme prefs build` with the scripted judge, LLaMA-Factory's own loader (0 skipped), then the shipped
DPO, ORPO and KTO recipes trained for real (`llamafactory-cli train`), continuing the stage-2 adapter,
and reloaded. One module fixture does the expensive part once."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from hearme.core import io, paths, registry
from hearme.demo.scripted_judge import ScriptedJudge
from hearme.lf import memory, recipe_check, runner as lf
from tests.conftest import run_hearme
from tests.lf.test_recipes_run import make_dataset_dir, tiny_config
from tests.lf_api import start_lf_api

pytestmark = pytest.mark.slow

STAGE2 = "train/qwen2.5_stage2_counseling.yaml"
RECIPES = {"dpo": "train/qwen2.5_stage3_dpo.yaml", "orpo": "train/qwen2.5_stage3_orpo.yaml",
           "kto": "train/qwen2.5_stage3_kto.yaml"}


def build_args(api, judge, work: Path, ds: Path) -> list:
    return ["prefs", "build", "hearme_counseling_zh_train", "--model-under-test-url", api.url,
            "--model-under-test-name", api.model_name, "-o", work / "prefs", "--k", "4", "--temperature", "1.0",
            "--reply-max-tokens", "16", "--dataset-dir", ds, "--register", "hearme_prefs_zh", "--limit", "8",
            "--base-url", judge.url, "--model", judge.model, "--cache-dir", work / "cache", "--reasks", "0"]


@pytest.fixture(scope="module")
def stage3(tiny_model, tmp_path_factory):
    work = tmp_path_factory.mktemp("stage3")
    ds = make_dataset_dir(work / "data")
    stage2 = work / "stage2"
    lf.run("train", tiny_config(STAGE2, tiny_model, ds, stage2, extra={"max_steps": 1, "save_steps": 1}),
           work / "stage2.yaml", work / "stage2.log")
    api = start_lf_api(tiny_model, work / "api", adapter=stage2)
    try:
        with ScriptedJudge() as judge:
            first = run_hearme(*build_args(api, judge, work, ds))
            again = run_hearme(*build_args(api, judge, work, ds))
    finally:
        api.stop()
    assert first.returncode == 0, first.stdout + first.stderr
    outs = {}
    for name, recipe in RECIPES.items():
        out = work / name
        cfg = tiny_config(recipe, tiny_model, ds, out, adapter=stage2,
                          extra={"max_steps": 2, "save_steps": 2, "learning_rate": 1e-2, "warmup_steps": 0,
                                 "gradient_accumulation_steps": 1})
        lf.run("train", cfg, work / f"{name}.yaml", work / f"{name}.log")
        outs[name] = out
    return {"work": work, "ds": ds, "stage2": stage2, "first": first, "again": again, "outs": outs,
            "model": tiny_model, "api_model": api.model_name}


def _lines(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]


def test_pairs_come_from_the_served_model_and_the_judge(stage3):
    summary = json.loads((stage3["work"] / "prefs" / "summary.json").read_text(encoding="utf-8"))
    pairs = _lines(stage3["work"] / "prefs" / "pairs.jsonl")
    assert summary["n_prompts"] == 8 and summary["n_pairs"] == len(pairs) > 0
    assert summary["n_pairs"] + sum(summary["no_pair"].values()) == 8  # every prompt: a pair or a reason
    for p in pairs:
        assert p["model"] == stage3["api_model"] and p["judge"] == "scripted-judge"
        assert p["chosen_score"] - p["rejected_score"] >= 1 and p["chosen"]["value"] != p["rejected"]["value"]
    first = stage3["first"].stdout.split("model under test")[1].splitlines()[0]
    assert f"{8 * 4} paid" in first  # K = 4 samples per prompt (summary.json is the second build's)


def test_a_second_build_pays_nothing(stage3):
    again = stage3["again"]
    assert again.returncode == 0, again.stderr
    assert "0 paid" in again.stdout.split("model under test")[1].splitlines()[0]
    assert "0 paid" in again.stdout.split("  judge")[1].splitlines()[0]


@pytest.mark.parametrize("name,stage", [("hearme_prefs_zh", "rm"), ("hearme_prefs_zh_kto", "kto")])
def test_llamafactory_loads_every_item(stage3, name, stage):
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer

    entry = registry.load(stage3["ds"])[name]
    assert entry.get("ranking") is (True if stage == "rm" else None)
    args = dict(model_name_or_path=str(stage3["model"]), stage="dpo" if stage == "rm" else "kto", do_train=True,
                finetuning_type="lora", dataset_dir=str(stage3["ds"]), dataset=name, template="qwen", cutoff_len=4096,
                output_dir=str(stage3["work"] / f"load-{stage}"), overwrite_cache=True, preprocessing_num_workers=1,
                report_to="none", bf16=False)
    model_args, data_args, training_args, *_ = get_train_args(args)
    tok = load_tokenizer(model_args)
    tpl = get_template_and_fix_tokenizer(tok["tokenizer"], data_args)
    data = get_dataset(tpl, model_args, data_args, training_args, stage=stage, **tok)["train_dataset"]
    assert len(data) == entry["records"] == len(io.read_items(registry.file_of(name, stage3["ds"])))


@pytest.mark.parametrize("name", list(RECIPES))
def test_recipe_trains_logs_loss_and_reloads_on_stage2(stage3, name):
    out = stage3["outs"][name]
    logs = [e for e in _lines(out / "trainer_log.jsonl") if "loss" in e]
    assert logs and all(math.isfinite(e["loss"]) for e in logs) and max(e["current_steps"] for e in logs) == 2
    assert (out / "adapter_model.safetensors").exists()
    log = (stage3["work"] / f"{name}.log").read_text(encoding="utf-8")
    assert "Merged 1 adapter(s)" in log  # create_new_adapter: stage 2 merged in, a new LoRA trained on top
    if name != "orpo":  # step 1 starts at the reference (a zero LoRA); step 2 has moved off it
        assert logs[0]["loss"] != logs[1]["loss"]
    from llamafactory.hparams import get_infer_args
    from llamafactory.model import load_model, load_tokenizer

    model_args, _, finetuning_args, _ = get_infer_args(dict(
        model_name_or_path=str(stage3["model"]), adapter_name_or_path=f"{stage3['stage2']},{out}",
        finetuning_type="lora", template="qwen", infer_dtype="float32"))
    tok = load_tokenizer(model_args)["tokenizer"]
    model = load_model(tok, model_args, finetuning_args, is_trainable=False)
    import torch

    with torch.no_grad():
        logits = model(torch.tensor([[5, 17, 42]])).logits
    assert torch.isfinite(logits).all()


def test_recipes_check_states_the_reference_cost(stage3):
    reps = {n: recipe_check.check(paths.RECIPES / r, tiny_model=stage3["model"], dataset_dir=stage3["ds"])
            for n, r in RECIPES.items()}
    for name, rep in reps.items():
        assert rep.ok, (name, rep.errors)
        assert rep.memory["total"] < memory.LIMIT_GIB and rep.arch == "Qwen2.5-7B"
    assert reps["orpo"].memory["reference"] == 0 and reps["dpo"].memory["reference"] > 1
    assert any("precompute_ref_log_probs" in n for n in reps["dpo"].notes)
    assert any("reference-free" in n for n in reps["orpo"].notes)
    assert reps["dpo"].memory["total"] - reps["orpo"].memory["total"] == pytest.approx(reps["dpo"].memory["reference"])
