"""Every shipped recipe, run for real on the tiny model (CPU, `llamafactory-cli` subprocesses, no mocks).

Overrides come from hearme.lf.recipes.tiny_overrides: model, fp32, max_steps 2, cutoff 128, and
GPU-only extras (Liger) switched off with a note. Everything else is the recipe as written:
LoRA/QLoRA settings, templates, packing, schedule, early stopping. Adapters are trained once
per module and reused (stage 1 -> stage 2 -> predict -> merge -> serve).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from hearme.core import io, paths, registry, schema
from hearme.lf import runner as lf, plugin as lf_plugin, recipes
from tests.lf_helpers import merge_gaps

pytestmark = pytest.mark.slow

ZH = [("我最近总是失眠，心里很烦。", "听起来你最近很辛苦。能说说是什么让你睡不着吗？", "工作压力太大了。", "压力确实会影响睡眠，我们一起想想办法。"),
      ("你是谁？", "我是Jerry，一个由VastEpiphany开发的心理健康助手。", "你能帮我吗？", "当然，我会认真听你说。🙂")]
BO = [("ང་ལ་སེམས་ཁྲལ་ཆེན་པོ་ཡོད།", "ཁྱེད་ཀྱི་ཚོར་བ་ང་ལ་བཤད་པར་ཐུགས་རྗེ་ཆེ།", "མཚན་མོ་གཉིད་མི་ཁུག", "ང་ཚོས་མཉམ་དུ་ཐབས་ལམ་འཚོལ་ཐུབ།")]
ZH_SETS = ["hearme_selfcog_train", "hearme_selfcog_val", "hearme_counseling_zh_train", "hearme_counseling_zh_val",
           "hearme_counseling_zh_test", "hearme_knowledge_zh", "hearme_emoji_zh"]
BO_SETS = ["hearme_tibetan_bo_train", "hearme_tibetan_bo_val", "hearme_tibetan_bo_test"]
N_RECORDS = 8

# Train recipes that need DeepSpeed (torchrun on GPUs): parsed by `recipes check` only.
DEEPSPEED = {"train/qwen2.5_stage2_counseling_ds_z2.yaml", "train/glm4_stage2_counseling_ds_z3.yaml"}
# Train recipes that need the plugin's templates: run in the overlay environment below.
PLUGIN = {"train/llama2_tibetan_qlora_faithful.yaml", "train/baichuan2_tibetan_qlora_faithful.yaml"}
# The report's ChatGLM3 recipes: run on a tiny model built with ChatGLM3's stock remote code
# in test_remote_code.py (train, predict, merge, serve). MindB-Ti is in PLUGIN and there too.
REMOTE = {"train/chatglm3_stage1_selfcog_faithful.yaml", "train/chatglm3_stage2_counseling_faithful.yaml",
          "train/baichuan2_tibetan_qlora_faithful.yaml"}
REMOTE_PREDICT = {"predict/chatglm3_counseling.yaml", "predict/baichuan2_tibetan.yaml"}
# Stage-3 preference recipes (DPO, ORPO, KTO): run in test_prefs_train.py on pairs `hearme prefs build` made.
PREFS = {"train/qwen2.5_stage3_dpo.yaml", "train/qwen2.5_stage3_orpo.yaml", "train/qwen2.5_stage3_kto.yaml"}
# The rest, run directly; values: the train recipe whose adapter it continues (None: fresh).
DIRECT = {"train/qwen2.5_stage1_selfcog.yaml": None, "train/qwen2.5_stage2_counseling.yaml": "train/qwen2.5_stage1_selfcog.yaml",
          "train/glm4_stage1_selfcog.yaml": None, "train/glm4_stage2_counseling.yaml": "train/glm4_stage1_selfcog.yaml",
          "train/qwen2.5_tibetan_qlora.yaml": None}
# Recipes whose architecture exists natively in transformers run on a tiny model of that
# architecture (the remote-code ones: see REMOTE).
ARCH_OF = {"glm4_": "Glm4Config", "llama2_": "LlamaConfig"}


def dialogue_records(src, lang: str, n: int = N_RECORDS) -> list[dict]:
    return [schema.make([{"role": "user", "content": u1}, {"role": "assistant", "content": a1},
                         {"role": "user", "content": u2}, {"role": "assistant", "content": a2}],
                        id=f"{lang}{i}", source="hearme-test", lang=lang, topic="test")
            for i, (u1, a1, u2, a2) in enumerate(src[i % len(src)] for i in range(n))]


def make_dataset_dir(d: Path) -> Path:
    """Every dataset name the recipes reference, registered with small records (stage 3: pairs, KTO items)."""
    for names, src, lang in ((ZH_SETS, ZH, "zh"), (BO_SETS, BO, "bo")):
        for name in names:
            io.write_records(d / f"{name}.json", dialogue_records(src, lang))
            registry.register(d / f"{name}.json", name, d)
    conv = [{"from": "human", "value": u1} for u1, a1, _, _ in ZH]
    good, bad = ZH[0][1], "嗯。"
    pairs = [{"conversations": [c], "system": "", "chosen": {"from": "gpt", "value": good},
              "rejected": {"from": "gpt", "value": bad}} for c in conv]
    kto = [{"conversations": [c, {"from": "gpt", "value": t}], "system": "", "kto_tag": t == good}
           for c in conv for t in (good, bad)]
    for name, items in (("hearme_prefs_zh", pairs), ("hearme_prefs_zh_kto", kto)):
        io.write_jsonl(d / f"{name}.jsonl", items)
        registry.register(d / f"{name}.jsonl", name, d)
    return d


@pytest.fixture(scope="module")
def ds_dir(tmp_path_factory) -> Path:
    return make_dataset_dir(tmp_path_factory.mktemp("datasets"))


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("recipes")


def tiny_config(recipe: str, tiny_model, ds_dir, out: Path, adapter=None, extra: dict | None = None) -> dict:
    cfg = lf.resolve_recipe(recipe)
    over, _ = recipes.tiny_overrides(cfg, tiny_model, dataset_dir=ds_dir, output_dir=out, adapter=adapter)
    over.update(extra or {})
    return lf.resolve_recipe(recipe, over)


def run_recipe(recipe: str, tiny_model, ds_dir, out: Path, adapter=None, extra: dict | None = None) -> Path:
    """Run the recipe with tiny overrides; returns the log path."""
    cfg = tiny_config(recipe, tiny_model, ds_dir, out, adapter, extra)
    command = "export" if cfg.get("export_dir") else "train"
    log = out.with_suffix(".log")
    lf.run(command, cfg, out.with_suffix(".yaml"), log)
    return log


def assert_trained(out: Path, recipe: str, steps: int = 2) -> None:
    cfg = lf.resolve_recipe(recipe)
    adapter = json.loads((out / "adapter_config.json").read_text())
    assert (adapter["r"], adapter["lora_alpha"]) == (cfg["lora_rank"], cfg["lora_alpha"])
    logs = [json.loads(line) for line in (out / "trainer_log.jsonl").read_text().splitlines()]
    assert max(entry["current_steps"] for entry in logs) == steps


def build_tiny_arch(config_class: str, tiny_model: Path, dest: Path) -> Path:
    """A random ~100k-parameter model of another architecture, sharing the tiny tokenizer."""
    import shutil

    import torch
    import transformers

    tiny = json.loads((tiny_model / "config.json").read_text())
    ids = {k: tiny[k] for k in ("vocab_size", "bos_token_id", "eos_token_id", "pad_token_id")}
    extra = {"attention_bias": True, "head_dim": 16} if config_class == "Glm4Config" else {}
    cfg = getattr(transformers, config_class)(hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                                              num_attention_heads=4, num_key_value_heads=2,
                                              max_position_embeddings=1024, **ids, **extra)
    torch.manual_seed(0)
    transformers.AutoModelForCausalLM.from_config(cfg).save_pretrained(dest)
    for f in tiny_model.iterdir():
        if f.name.startswith(("tokenizer", "special_tokens", "chat_template")):
            shutil.copy(f, dest / f.name)
    return dest


@pytest.fixture(scope="module")
def model_for(work, tiny_model):
    """recipe -> the tiny model of its architecture (built once)."""
    built: dict[str, Path] = {}

    def get(recipe: str) -> Path:
        cls = next((c for prefix, c in ARCH_OF.items() if Path(recipe).name.startswith(prefix)), None)
        if cls is None:
            return tiny_model
        if cls not in built:
            built[cls] = build_tiny_arch(cls, tiny_model, work / f"tiny-{cls}")
        return built[cls]
    return get


@pytest.fixture(scope="module")
def trained(work, ds_dir, model_for, request):
    """Run a train recipe once (continuing its stage-1 adapter where it has one); returns its output."""
    done: dict[str, Path] = {}

    def run(recipe: str) -> Path:
        if recipe not in done:
            adapter = run(DIRECT[recipe]) if DIRECT.get(recipe) else None
            out = work / Path(recipe).stem
            run_recipe(recipe, model_for(recipe), ds_dir, out, adapter=adapter)
            done[recipe] = out
        return done[recipe]
    return run


@pytest.fixture(scope="module")
def stage1(work, tiny_model, ds_dir) -> Path:
    out = work / "stage1"
    # lr 1e-2 for 3 steps: LoRA B moves far from zero, so stage 2 can be traced back to it.
    run_recipe("train/qwen2.5_stage1_selfcog.yaml", tiny_model, ds_dir, out,
               extra={"learning_rate": 1e-2, "max_steps": 3})
    return out


@pytest.fixture(scope="module")
def stage2(work, tiny_model, ds_dir, stage1) -> Path:
    out = work / "stage2"
    run_recipe("train/qwen2.5_stage2_counseling.yaml", tiny_model, ds_dir, out, adapter=stage1)
    return out


@pytest.fixture(scope="module")
def tibetan(work, tiny_model, ds_dir) -> Path:
    out = work / "tibetan"
    run_recipe("train/qwen2.5_tibetan_qlora.yaml", tiny_model, ds_dir, out)
    return out


@pytest.fixture(scope="module")
def merged(work, tiny_model, ds_dir, stage2) -> Path:
    out = work / "merged"
    run_recipe("merge/qwen2.5_counseling.yaml", tiny_model, ds_dir, out, adapter=stage2, extra={"export_size": 1})
    return out


@pytest.fixture(scope="module")
def overlay(work) -> Path:
    """A fresh environment layered over .venv with the plugin's .pth hook installed (see lf_plugin)."""
    return lf_plugin.overlay_env(work / "overlay")


def overlay_env(bin_dir: Path, **extra) -> dict:
    return lf.child_env({"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}", **extra})


# ---------------------------------------------------------------- training
def test_every_train_recipe_is_covered():
    shipped = {str(p.relative_to(paths.RECIPES)) for p in (paths.RECIPES / "train").glob("*.yaml")}
    assert shipped == set(DIRECT) | PLUGIN | DEEPSPEED | REMOTE | PREFS


def test_stage1_trains_with_the_report_settings(stage1):
    assert_trained(stage1, "train/qwen2.5_stage1_selfcog.yaml", steps=3)
    evals = [e for e in json.loads((stage1 / "trainer_state.json").read_text())["log_history"] if "eval_loss" in e]
    assert evals, "stage 1 evaluates on the validation split every epoch"


def test_stage1_early_stopping_stops_training(work, tiny_model, ds_dir):
    """lr 0 keeps eval_loss flat, so EarlyStoppingCallback must stop after `patience` evaluations."""
    recipe = "train/qwen2.5_stage1_selfcog.yaml"
    patience = lf.resolve_recipe(recipe)["early_stopping_steps"]
    out = work / "stage1_es"
    run_recipe(recipe, tiny_model, ds_dir, out, extra={"learning_rate": 0.0, "max_steps": 40})
    state = json.loads((out / "trainer_state.json").read_text())
    evals = [e for e in state["log_history"] if "eval_loss" in e]
    assert state["global_step"] == patience + 1 < 40
    assert len(evals) == patience + 1 and state["best_metric"] is not None


def test_stage2_continues_from_stage1_adapter(stage1, stage2):
    import torch
    from safetensors.torch import load_file

    assert_trained(stage2, "train/qwen2.5_stage2_counseling.yaml")
    assert f"Loaded adapter(s): {stage1}" in stage2.with_suffix(".log").read_text()
    w1 = load_file(stage1 / "adapter_model.safetensors")
    w2 = load_file(stage2 / "adapter_model.safetensors")
    assert w1.keys() == w2.keys()
    b1 = torch.cat([w1[k].flatten() for k in w1 if "lora_B" in k])
    b2 = torch.cat([w2[k].flatten() for k in w2 if "lora_B" in k])
    # A fresh adapter starts with B = 0 and moves ~lr per step; this one starts at stage 1's B.
    assert b1.abs().max() > 1e-3
    assert (b2 - b1).abs().max() < 0.1 * b1.abs().max()


@pytest.mark.parametrize("recipe", [r for r in DIRECT if not r.startswith(("train/qwen2.5_stage", "train/qwen2.5_tibetan"))])
def test_train_recipe_runs(recipe, trained, model_for):
    out = trained(recipe)
    assert_trained(out, recipe)
    log = out.with_suffix(".log").read_text()
    template = lf.resolve_recipe(recipe)["template"]
    marker = {"glm4": "[gMASK]<sop>"}[template]
    assert marker in log.replace(" ", "")
    arch = json.loads((model_for(recipe) / "config.json").read_text())["architectures"][0]
    assert f'"{arch}"' in log  # the recipe ran on a model of its own architecture where one exists
    if DIRECT[recipe]:
        assert f"Loaded adapter(s): {trained(DIRECT[recipe])}" in log


def test_tibetan_qlora_trains_every_assistant_turn(tibetan):
    recipe = "train/qwen2.5_tibetan_qlora.yaml"
    assert_trained(tibetan, recipe)
    cfg = lf.resolve_recipe(recipe)
    assert cfg["quantization_bit"] == 4 and cfg["quantization_type"] == "nf4" and cfg["double_quantization"]
    assert not cfg.get("mask_history"), "mask_history would train the last turn only"
    log = tibetan.with_suffix(".log").read_text()
    assert "Quantizing model to 4 bit with bitsandbytes" in log  # real 4-bit on CPU (bitsandbytes >= 0.50)
    labels = log.split("labels:\n", 1)[1].split("\n\n", 1)[0]
    assert BO[0][1] in labels and BO[0][3] in labels  # both answers carry loss


# ---------------------------------------------------------------- plugin (templates LLaMA-Factory 0.9.5 lacks)
WEBUI_LAUNCH = r"""
import json, os, subprocess, sys
import gradio as gr
from llamafactory.webui.common import save_cmd
from llamafactory.webui.components.top import create_top
from llamafactory.webui.control import get_model_info
from llamafactory.data.template import TEMPLATES
from transformers import AutoTokenizer

with gr.Blocks():
    top = create_top()
choices = [c[0] if isinstance(c, (list, tuple)) else c for c in top["template"].choices]
print("dropdown:", [n for n in ("baichuan2", "hearme_firefly") if n in choices])
print("model template:", get_model_info("Baichuan2-7B-Chat")[1])
tok = AutoTokenizer.from_pretrained(sys.argv[2], trust_remote_code=True)
ids, _ = TEMPLATES["baichuan2"].encode_oneturn(tok, [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "嗯"}])
print("baichuan2 prompt:", tok.decode(ids))
# exactly what webui/runner.py does to train: a separate `llamafactory-cli train` found on PATH
proc = subprocess.Popen(["llamafactory-cli", "train", save_cmd(json.loads(sys.argv[1]))], env=os.environ)
sys.exit(proc.wait())
"""


@pytest.fixture(scope="module")
def baichuan_or_tiny(remote_tiny, tiny_model) -> Path:
    """The tiny Baichuan2 built with its stock remote code where ../shared has that code; else the tiny Qwen2."""
    from tests.conftest import REMOTE_CODE, REMOTE_DIRS

    return remote_tiny("baichuan2") if (REMOTE_CODE / REMOTE_DIRS["baichuan2"]).is_dir() else tiny_model


def test_plugin_reaches_training_launched_like_the_webui(overlay, work, baichuan_or_tiny, ds_dir):
    recipe = "train/baichuan2_tibetan_qlora_faithful.yaml"
    out = work / "baichuan2_webui"
    cfg = tiny_config(recipe, baichuan_or_tiny, ds_dir, out)
    proc = subprocess.run([str(overlay / "python"), "-c", WEBUI_LAUNCH, json.dumps(cfg), str(baichuan_or_tiny)],
                          env=overlay_env(overlay), capture_output=True, text=True, timeout=600)
    text = proc.stdout + proc.stderr
    assert proc.returncode == 0, text[-3000:]
    assert "dropdown: ['baichuan2', 'hearme_firefly']" in text
    assert "model template: baichuan2" in text
    assert "baichuan2 prompt: <reserved_106>你好<reserved_107>" in text
    assert "inputs:\n<s>" + BO[0][0] in text.replace(" ", "")  # hearme_firefly: <s>Q</s>A</s>... (Baichuan decodes "<s> Q")
    assert_trained(out, recipe)


def test_plugin_reaches_a_fresh_llamafactory_cli(overlay, work, model_for, ds_dir):
    recipe = "train/llama2_tibetan_qlora_faithful.yaml"
    out = work / "llama2_cli"
    cfg_path = lf.dump_yaml(tiny_config(recipe, model_for(recipe), ds_dir, out), work / "llama2_cli.yaml")
    proc = subprocess.run(["llamafactory-cli", "train", str(cfg_path)], env=overlay_env(overlay),
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
    assert_trained(out, recipe)
    off = subprocess.run(["llamafactory-cli", "train", str(cfg_path)], env=overlay_env(overlay, HEARME_LF_PLUGIN="0"),
                         capture_output=True, text=True, timeout=600)
    assert off.returncode != 0 and "Template hearme_firefly does not exist" in off.stdout + off.stderr


def test_shipped_recipes_pass_check(overlay, ds_dir, tiny_model):
    proc = subprocess.run([str(overlay / "hearme"), "recipes", "check", "--dataset-dir", str(ds_dir),
                           "--tiny-model", str(tiny_model)], env=overlay_env(overlay), capture_output=True,
                          text=True, timeout=600, cwd=paths.REPO_ROOT)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    n = len(list(paths.RECIPES.rglob("*.yaml")))
    assert f"{n}/{n} recipes ok" in proc.stdout


# ---------------------------------------------------------------- predict, merge, serve
PREDICTS = {"predict/qwen2.5_counseling.yaml": "stage2", "predict/glm4_counseling.yaml": "train/glm4_stage2_counseling.yaml",
            "predict/qwen2.5_tibetan.yaml": "tibetan"}


@pytest.fixture(scope="module")
def predicted(work, ds_dir, model_for, trained, request):
    """Run each predict recipe once (with the adapter its stage produced); returns its output dir."""
    done: dict[str, Path] = {}

    def run(recipe: str) -> Path:
        if recipe not in done:
            out = work / Path(recipe).stem
            src = PREDICTS[recipe]
            adapter = trained(src) if src.startswith("train/") else request.getfixturevalue(src)
            run_recipe(recipe, model_for(recipe), ds_dir, out, adapter=adapter)
            done[recipe] = out
        return done[recipe]
    return run


def test_every_predict_recipe_is_covered():
    shipped = {str(p.relative_to(paths.RECIPES)) for p in (paths.RECIPES / "predict").glob("*.yaml")}
    assert shipped == set(PREDICTS) | {"predict/qwen2.5_counseling_vllm.yaml"} | REMOTE_PREDICT


@pytest.mark.parametrize("recipe", list(PREDICTS))
def test_predict_recipe_writes_predictions(recipe, predicted):
    out = predicted(recipe)
    rows = [json.loads(line) for line in (out / "generated_predictions.jsonl").read_text().splitlines()]
    assert len(rows) == N_RECORDS and all(set(r) >= {"prompt", "predict", "label"} for r in rows)
    scores = json.loads((out / "predict_results.json").read_text())
    assert all(0 <= scores[f"predict_{k}"] <= 100 for k in ("bleu-4", "rouge-1", "rouge-2", "rouge-l"))


def test_vllm_predict_builds_the_same_prompts_as_llamafactory(work, tiny_model, ds_dir, stage2, predicted, hearme_cli):
    from hearme.lf import vllm_predict

    hf_out = predicted("predict/qwen2.5_counseling.yaml")
    cfg = tiny_config("predict/qwen2.5_counseling_vllm.yaml", tiny_model, ds_dir, None, adapter=stage2)
    recipe = lf.dump_yaml(cfg, work / "vllm_predict.yaml")
    assert vllm_predict.run(recipe, work / "vllm", prompts_only=True) == N_RECORDS
    ours = [json.loads(line) for line in (work / "vllm" / "prompts.jsonl").read_text().splitlines()]
    theirs = [json.loads(line) for line in (hf_out / "generated_predictions.jsonl").read_text().splitlines()]
    assert [r["prompt"] for r in ours] == [r["prompt"] for r in theirs]
    if __import__("importlib").util.find_spec("vllm") is None:
        proc = hearme_cli("recipes", "predict-vllm", recipe, "--out", work / "vllm_gen")
        assert proc.returncode == 2 and "vLLM is not installed" in proc.stderr


def test_merge_recipe_equals_base_plus_adapter(merged, stage2, tiny_model):
    to_peft, to_base = merge_gaps(tiny_model, stage2, merged)
    assert to_peft < 1e-5 and to_base > 1e-4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, key: str | None = None, data: dict | None = None) -> tuple[int, str]:
    req = urllib.request.Request(url, data=json.dumps(data).encode() if data else None,
                                 headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def _serve(mode: str, cfg_path: Path, port: int, log: Path, env: dict) -> subprocess.Popen:
    with open(log, "w") as fh:
        return subprocess.Popen([sys.executable, "-m", "hearme.cli", "recipes", "serve", mode, str(cfg_path), "--port",
                                 str(port)], stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    os.killpg(proc.pid, signal.SIGTERM)  # the group we started: hearme and its llamafactory-cli child
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _wait_up(url: str, proc: subprocess.Popen, log: Path, key: str | None = None, limit: float = 180) -> None:
    t0 = time.time()
    while time.time() - t0 < limit:
        assert proc.poll() is None, log.read_text()[-3000:]
        try:
            if _get(url, key)[0] == 200:
                return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(1)
    raise AssertionError(f"{url} not up after {limit}s:\n{log.read_text()[-3000:]}")


def test_api_serves_on_localhost_with_key(merged, work, tiny_model, ds_dir):
    cfg = tiny_config("infer/qwen2.5_counseling.yaml", merged, ds_dir, None)
    cfg_path = lf.dump_yaml(cfg, work / "api.yaml")
    port, key, log = _free_port(), "sk-hearme-test", work / "api.log"
    proc = _serve("api", cfg_path, port, log, lf.child_env({"HEARME_API_KEY": key}))
    try:
        base = f"http://127.0.0.1:{port}/v1"
        _wait_up(f"{base}/models", proc, log, key)
        assert _get(f"{base}/models")[0] == 401  # no key, no answer
        status, body = _get(f"{base}/chat/completions", key,
                            {"model": "hearme", "messages": [{"role": "user", "content": "你好"}], "max_tokens": 8})
        assert status == 200 and json.loads(body)["choices"][0]["message"]["role"] == "assistant"
        assert f"http://127.0.0.1:{port}" in log.read_text()
        assert key not in log.read_text()  # the key never reaches the logs
    finally:
        _stop(proc)


def test_webchat_serves_on_localhost(merged, work, tiny_model, ds_dir):
    cfg_path = lf.dump_yaml(tiny_config("infer/qwen2.5_counseling.yaml", merged, ds_dir, None), work / "webchat.yaml")
    port, log = _free_port(), work / "webchat.log"
    proc = _serve("webchat", cfg_path, port, log, lf.child_env())
    try:
        _wait_up(f"http://127.0.0.1:{port}/", proc, log)
    finally:
        _stop(proc)


def test_chat_cli_answers(merged, work, tiny_model, ds_dir):
    cfg_path = lf.dump_yaml(tiny_config("infer/qwen2.5_counseling.yaml", merged, ds_dir, None), work / "chat.yaml")
    proc = subprocess.run([lf.cli_path(), "chat", str(cfg_path)], input="你好\nexit\n", capture_output=True,
                          text=True, env=lf.child_env(), timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Assistant:" in proc.stdout
