"""The documents' own models end to end: ChatGLM3-6B (HearMeGLM) and Baichuan2 (MindB-Ti).

Tiny random models are built with each model's stock remote code, read from ../shared (the tests
skip, saying where they looked, when it is absent), and run through plain `llamafactory-cli` on
the default transformers, with the HearMe plugin's compatibility patches (hearme.lf.remote_compat):
LoRA / QLoRA training, predict with generation, merge, a fresh process loading the export, the
OpenAI-compatible API answering the openai SDK, and greedy generation equal to HF `generate`.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from hearme.core import io, paths
from hearme.lf import runner as lf, recipes, remote_compat, tinymodel
from tests.conftest import REMOTE_DIRS, remote_code_dir, run_hearme
from tests.lf.test_recipes_run import BO, make_dataset_dir

ARCHES = list(REMOTE_DIRS)
# arch -> the shipped recipes of that document's model, and the chat template its API is served with
PIPELINE = {
    "chatglm3": {"stage1": "train/chatglm3_stage1_selfcog_faithful.yaml",
                 "train": "train/chatglm3_stage2_counseling_faithful.yaml", "predict": "predict/chatglm3_counseling.yaml",
                 "merge": "merge/chatglm3_counseling.yaml", "serve_template": "chatglm3"},
    "baichuan2": {"train": "train/baichuan2_tibetan_qlora_faithful.yaml", "predict": "predict/baichuan2_tibetan.yaml",
                  "merge": "merge/baichuan2_tibetan.yaml", "serve_template": "baichuan2"},
}
SPECIALS = {"chatglm3": ["[gMASK]", "sop", "<|system|>", "<|user|>", "<|assistant|>", "<|observation|>"],
            "baichuan2": ["<reserved_106>", "<reserved_107>"]}
QUESTION = [{"role": "user", "content": "我最近总是失眠，心里很烦。"}]
BO_FIRST = BO[0][0].replace(" ", "")


# ---------------------------------------------------------------- the tiny models
@pytest.mark.parametrize("arch", ARCHES)
def test_tiny_model_keeps_the_stock_code(arch, remote_tiny):
    from transformers import AutoTokenizer

    src, model = remote_code_dir(arch), remote_tiny(arch)
    for f in src.glob("*.py"):
        assert (model / f.name).read_bytes() == f.read_bytes(), f.name  # copied unchanged
    info = tinymodel.describe(model)
    assert info["arch"] == arch and 100_000 < info["parameters"] < 400_000
    assert all(rev != "unknown" for _, rev in info["remote_code"]["files"].values())
    tok = AutoTokenizer.from_pretrained(model, trust_remote_code=True)
    for t in SPECIALS[arch]:
        ids = tok.convert_tokens_to_ids([t])
        assert ids[0] not in (None, tok.unk_token_id), t
    text = "我最近总是睡不好。ཁྱེད་རང་སྐུ་གཟུགས་བདེ་པོ་ཡིན་པས། 🙂"
    assert tok.decode(tok(text, add_special_tokens=False).input_ids) == text  # byte fallback: nothing is lost


def test_tiny_model_cli_refuses_a_folder_without_the_code(tmp_path):
    proc = run_hearme("tiny-model", tmp_path / "m", "--arch", "chatglm3", "--remote-code", tmp_path)
    assert proc.returncode == 2 and "missing configuration_chatglm.py" in proc.stderr
    proc = run_hearme("tiny-model", tmp_path / "m", "--arch", "baichuan2")
    assert proc.returncode == 2 and "needs --remote-code" in proc.stderr
    proc = run_hearme("tiny-model", tmp_path / "m", "--arch", "llama")
    assert proc.returncode == 2 and "choose qwen2, chatglm3, baichuan2" in proc.stderr


# ---------------------------------------------------------------- patches keyed on the file's content
def _load(path):
    spec = importlib.util.spec_from_file_location(f"hearme_test_{path.stem}_{abs(hash(str(path)))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_unknown_revision_gets_a_message_not_a_patch(tmp_path, monkeypatch, capsys):
    src = remote_code_dir("chatglm3") / "configuration_chatglm.py"
    known = _load(src)
    assert remote_compat.patch_module(known) and "num_hidden_layers" in known.ChatGLMConfig.attribute_map

    edited = tmp_path / "configuration_chatglm.py"
    edited.write_bytes(src.read_bytes() + b"\n# a local edit\n")
    module = _load(edited)
    assert remote_compat.patch_module(module) == []
    assert "num_hidden_layers" not in module.ChatGLMConfig.attribute_map
    err = capsys.readouterr().err
    assert f"configuration_chatglm.py (sha256 {remote_compat.sha256(edited)[:12]}) is a revision HearMe has not verified" in err
    assert "HEARME_REMOTE_COMPAT=force" in err

    monkeypatch.setenv("HEARME_REMOTE_COMPAT", "force")
    assert remote_compat.patch_module(_load(edited))


def _super_init_first(src: str) -> str:
    """The Baichuan2 tokenizer as the hub ships it: super().__init__ before sp_model is loaded.

    The shared copy already loads sp_model first; moving its super().__init__ call back up gives
    the order that fails on transformers >= 4.34 (baichuan-inc/Baichuan2#192, #204)."""
    load = src.index("        self.vocab_file = vocab_file\n")
    call = src.index("        super().__init__(", load)
    end = src.index("        )\n", call) + len("        )\n")
    return src[:load] + src[call:end] + src[load:call] + src[end:]


def test_stock_baichuan_tokenizer_order_is_named_then_fixed_on_request(tmp_path, remote_tiny, monkeypatch, capsys):
    import shutil

    from transformers import AutoTokenizer

    model = remote_tiny("baichuan2")
    d = tmp_path / "hub_order"
    d.mkdir()
    for f in ("tokenizer.model", "tokenizer_config.json"):
        shutil.copy(model / f, d / f)
    stock = _super_init_first((model / "tokenization_baichuan.py").read_text(encoding="utf-8"))
    (d / "tokenization_baichuan.py").write_text(stock, encoding="utf-8")
    with pytest.raises(Exception):  # on transformers 5.6: TypeError from the vocabulary lookup
        AutoTokenizer.from_pretrained(d, trust_remote_code=True)
    assert "tokenization_baichuan.py (sha256" in capsys.readouterr().err
    monkeypatch.setenv("HEARME_REMOTE_COMPAT", "force")
    tok = AutoTokenizer.from_pretrained(d, trust_remote_code=True)
    assert tok.convert_tokens_to_ids("<reserved_106>") == AutoTokenizer.from_pretrained(
        model, trust_remote_code=True).convert_tokens_to_ids("<reserved_106>")


LOAD = """
import sys, torch
import transformers.dynamic_module_utils as dmu
from transformers import AutoModelForCausalLM, AutoTokenizer
print("hook:", getattr(dmu.get_class_in_module, "__hearme__", False))
tok = AutoTokenizer.from_pretrained(sys.argv[1], trust_remote_code=True)
model = AutoModelForCausalLM.from_pretrained(sys.argv[1], trust_remote_code=True).eval()
ids = tok(["你好"], return_tensors="pt")
print("generated:", model.generate(**ids, max_new_tokens=4, do_sample=False)[0].tolist())
"""


@pytest.mark.slow
def test_fresh_interpreter_names_unknown_code(tmp_path, remote_tiny):
    """The known revision loads and generates in fresh processes (the API test); an edited file says why it fails."""
    import shutil

    edited = shutil.copytree(remote_tiny("chatglm3"), tmp_path / "edited")
    with open(edited / "modeling_chatglm.py", "a", encoding="utf-8") as f:
        f.write("\n# a local edit\n")
    proc = subprocess.run([sys.executable, "-c", LOAD, str(edited)], capture_output=True, text=True,
                          env=lf.child_env(), timeout=300)
    assert "hook: True" in proc.stdout  # the .pth hook reaches any interpreter of the environment
    assert proc.returncode != 0  # unpatched ChatGLM3 cannot be built on transformers 5.x ...
    assert "modeling_chatglm.py (sha256" in proc.stderr and "has not verified" in proc.stderr  # ... and says why


# ---------------------------------------------------------------- end to end through llamafactory-cli
@pytest.fixture(scope="module")
def ds_dir(tmp_path_factory):
    return make_dataset_dir(tmp_path_factory.mktemp("remote_ds"))


def _tiny(recipe: str, model, ds_dir, out, adapter=None, **extra) -> dict:
    cfg = lf.resolve_recipe(recipe)
    over, _ = recipes.tiny_overrides(cfg, model, dataset_dir=ds_dir, output_dir=out, adapter=adapter)
    return {**over, **extra}


def test_shipped_recipes_of_the_documents_models_are_covered():
    from tests.lf.test_recipes_run import REMOTE, REMOTE_PREDICT

    assert REMOTE == {r for steps in PIPELINE.values() for k, r in steps.items() if k in ("stage1", "train")}
    assert REMOTE_PREDICT == {steps["predict"] for steps in PIPELINE.values()}


@pytest.fixture(scope="module")
def trained(remote_tiny, ds_dir, tmp_path_factory):
    """arch -> (output, log) of its train recipe, run once. ChatGLM3: stage 1, then stage 2 continuing
    stage 1's adapter, with plain llamafactory-cli. Baichuan2: QLoRA through `hearme train` (the CPU path)."""
    done = {}

    def run(arch: str):
        if arch in done:
            return done[arch]
        model, steps = remote_tiny(arch), PIPELINE[arch]
        out = tmp_path_factory.mktemp(f"train-{arch}") / "out"
        if arch == "chatglm3":
            stage1 = out.parent / "stage1"
            over = _tiny(steps["stage1"], model, ds_dir, stage1, eval_strategy="no", load_best_model_at_end=False,
                         early_stopping_steps=None)  # 2 steps: no evaluation to stop early on
            lf.run("train", lf.resolve_recipe(steps["stage1"], over), stage1.with_suffix(".yaml"), stage1.with_suffix(".log"))
            over = _tiny(steps["train"], model, ds_dir, out, adapter=stage1, eval_strategy="no")
            lf.run("train", lf.resolve_recipe(steps["train"], over), out.with_suffix(".yaml"), out.with_suffix(".log"))
            log = out.with_suffix(".log").read_text()
            assert f"Loaded adapter(s): {stage1}" in log  # stage 2 continues stage 1
        else:  # `hearme train` adds fp16=false and optim=adamw_torch itself
            over = _tiny(steps["train"], model, ds_dir, out)
            for key in ("bf16", "fp16", "optim"):
                over.pop(key, None)
            proc = run_hearme("train", steps["train"], *(f"{k}={recipes.cli_value(v)}" for k, v in over.items()),
                              env=lf.child_env())
            assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
            log = proc.stdout + proc.stderr
            assert "cpu: fp16=false" in proc.stderr and "cpu: optim=adamw_torch" in proc.stderr
        done[arch] = (out, log)
        return done[arch]
    return run


@pytest.fixture(scope="module")
def predicted(trained, remote_tiny, ds_dir):
    """arch -> output of its predict recipe (generation) on the trained adapter."""
    done = {}

    def run(arch: str):
        if arch not in done:
            adapter, _ = trained(arch)
            recipe, out = PIPELINE[arch]["predict"], adapter.parent / "predict"
            over = _tiny(recipe, remote_tiny(arch), ds_dir, out, adapter=adapter, max_samples=4, per_device_eval_batch_size=4)
            lf.run("train", lf.resolve_recipe(recipe, over), out.with_suffix(".yaml"), out.with_suffix(".log"))
            done[arch] = out
        return done[arch]
    return run


@pytest.fixture(scope="module")
def merged(trained, remote_tiny, ds_dir):
    done = {}

    def run(arch: str):
        if arch not in done:
            out, _ = trained(arch)
            recipe = PIPELINE[arch]["merge"]
            export = out.parent / "merged"
            cfg = lf.resolve_recipe(recipe, {"model_name_or_path": str(remote_tiny(arch)), "adapter_name_or_path": str(out),
                                             "export_dir": str(export), "export_size": 1})
            lf.run("export", cfg, out.parent / "merge.yaml", out.parent / "merge.log")
            done[arch] = export
        return done[arch]
    return run


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHES)
def test_lora_train(arch, trained):
    out, log = trained(arch)
    cfg = lf.resolve_recipe(PIPELINE[arch]["train"])
    adapter = json.loads((out / "adapter_config.json").read_text())
    assert (adapter["r"], adapter["lora_alpha"]) == (cfg["lora_rank"], cfg["lora_alpha"])
    modules = set(adapter["target_modules"])
    assert modules == ({"query_key_value", "dense", "dense_h_to_4h", "dense_4h_to_h"} if arch == "chatglm3"
                       else {"W_pack", "o_proj", "gate_proj", "up_proj", "down_proj"})  # the remote code's own layers
    steps = [json.loads(line) for line in (out / "trainer_log.jsonl").read_text().splitlines()]
    assert max(s["current_steps"] for s in steps) == 2
    losses = [s["loss"] for s in steps if "loss" in s]
    assert losses and all(0 < x < 12 for x in losses)  # a mean token loss near ln(vocab), not scaled by accumulation
    marker = "[gMASK]sop<|user|>" if arch == "chatglm3" else "<s>" + BO_FIRST
    assert marker in log.replace(" ", "").replace("\n", "")
    if arch == "baichuan2":
        assert "Quantizing model to 4 bit with bitsandbytes" in log  # QLoRA, as the paper


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHES)
def test_predict_with_generation(arch, predicted):
    out = predicted(arch)
    rows = [json.loads(line) for line in (out / "generated_predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 4 and all(set(r) >= {"prompt", "predict", "label"} and r["predict"] for r in rows)
    scores = json.loads((out / "predict_results.json").read_text())
    assert all(0 <= scores[f"predict_{k}"] <= 100 for k in ("bleu-4", "rouge-1", "rouge-2", "rouge-l"))


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHES)
def test_merge_keeps_the_stock_code_and_the_tokenizer(arch, merged):
    export = merged(arch)
    for f in remote_code_dir(arch).glob("*.py"):
        if (export / f.name).exists():
            assert (export / f.name).read_bytes() == f.read_bytes(), f.name
    assert (export / "Modelfile").exists()  # llamafactory-cli export got to its last step
    if arch == "baichuan2":  # transformers 5 drops these on save; the plugin writes them back
        tok_cfg = json.loads((export / "tokenizer_config.json").read_text())
        assert (tok_cfg["add_bos_token"], tok_cfg["add_eos_token"]) == (False, False)


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHES)
def test_served_export_answers_openai_and_matches_hf_greedy(arch, merged, tmp_path):
    """`llamafactory-cli api` loads the export in a fresh process; its greedy answer equals HF generate's."""
    import torch
    from hearme.evaluators.serve import serve
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.hparams import DataArguments
    from openai import OpenAI
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    export, template = merged(arch), PIPELINE[arch]["serve_template"]
    with serve(export, tmp_path, template=template, max_new_tokens=12, model_name=f"tiny-{arch}", timeout=240) as api:
        reply = OpenAI(base_url=api.url, api_key="unused").chat.completions.create(
            model=api.model_name, messages=QUESTION, temperature=0, max_tokens=12)
    served = reply.choices[0].message.content

    tok = AutoTokenizer.from_pretrained(export, trust_remote_code=True)
    tpl = get_template_and_fix_tokenizer(tok, DataArguments(template=template))
    ids, _ = tpl.encode_oneturn(tok, QUESTION + [{"role": "assistant", "content": ""}])
    model = AutoModelForCausalLM.from_pretrained(export, trust_remote_code=True).eval()
    # greedy with LLaMA-Factory's own generation settings: Baichuan2's stock generation_config.json
    # asks for repetition_penalty 1.05, and transformers 4.57 and 5.6 merge it into a passed config differently
    greedy = GenerationConfig(do_sample=False, max_new_tokens=12, repetition_penalty=1.0, length_penalty=1.0,
                              eos_token_id=tpl.get_stop_token_ids(tok), pad_token_id=tok.pad_token_id)
    out = model.generate(torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
                         generation_config=greedy)
    assert served and served == tok.decode(out[0][len(ids):], skip_special_tokens=True)
    if arch == "chatglm3":
        assert ids[:3] == tok.convert_tokens_to_ids(["[gMASK]", "sop", "<|user|>"])
    else:
        assert ids[0] == tok.convert_tokens_to_ids("<reserved_106>")


# ---------------------------------------------------------------- recipes without a GPU
def test_hearme_train_adds_the_cpu_overrides(hearme_cli):
    proc = hearme_cli("train", "train/qwen2.5_stage2_counseling_ds_z2.yaml", "max_steps=3", "--cpu", "--dry-run")
    assert proc.returncode == 0, proc.stderr
    cmd = proc.stderr.strip().splitlines()[-1]
    assert cmd.endswith("recipes/train/qwen2.5_stage2_counseling_ds_z2.yaml max_steps=3 bf16=false "
                        "enable_liger_kernel=false deepspeed=null")
    assert " train " in cmd and "cpu: enable_liger_kernel=false  (Liger kernels" in proc.stderr
    proc = hearme_cli("train", "merge/chatglm3_counseling.yaml", "--cpu", "--dry-run")
    assert proc.returncode == 0 and " export " in proc.stderr and "cpu:" not in proc.stderr
    proc = hearme_cli("train", "infer/chatglm3_counseling.yaml", "--dry-run")
    assert proc.returncode == 2 and "an inference recipe" in proc.stderr
    proc = hearme_cli("train", "train/qwen2.5_stage1_selfcog.yaml", "max_steps", "--dry-run")
    assert proc.returncode == 2 and "expected key=value" in proc.stderr


def test_every_gpu_only_setting_has_a_cpu_override():
    for path in sorted(paths.RECIPES.rglob("*.yaml")):
        cfg = lf.load_yaml(path)
        fixed = {**cfg, **{k: v for k, v, _ in recipes.cpu_overrides(cfg)}}
        assert not fixed.get("bf16") and not fixed.get("fp16") and not fixed.get("enable_liger_kernel"), path
        assert not fixed.get("deepspeed") and fixed.get("flash_attn") != "fa2", path
        assert not str(fixed.get("optim", "")).startswith("paged_"), path


def test_build_refuses_to_overwrite_a_foreign_folder(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me")
    with pytest.raises(io.InputError, match="not a HearMe tiny model"):
        tinymodel.build_remote(tmp_path, "chatglm3", remote_code_dir("chatglm3"))
    assert (tmp_path / "mine.txt").read_text() == "keep me"
