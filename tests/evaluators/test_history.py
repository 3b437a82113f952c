"""The judge reads the dialogue back from LLaMA-Factory's prompt for every shipped template and the
Tibetan paper's Firefly format: prompts made by LLaMA-Factory's own template code, decoded the way
its predict step writes them (special tokens kept)."""

from __future__ import annotations

import json

import pytest

from hearme.evaluators import judge
from hearme.evaluators.history import parse_prompt

TURNS = [{"role": "user", "content": "我最近睡不好。"}, {"role": "assistant", "content": "能多说说吗？"},
         {"role": "user", "content": "工作压力很大，ང་སེམས་ཁྲལ་ཡོད།"}]
SYSTEM = "你是一名心理咨询师。"


@pytest.fixture(scope="module")
def tokenizer_dir(tiny_model):
    return tiny_model


# Every template the recipes ship (qwen, glm4, chatglm3, hearme_firefly), the plugin's baichuan2, and others.
@pytest.mark.parametrize("template", ["qwen", "glm4", "chatglm3", "hearme_firefly", "baichuan2", "llama3", "llama2",
                                      "yi", "default"])
def test_llamafactory_prompts_give_back_the_turns(tokenizer_dir, template):
    from llamafactory.data import get_template_and_fix_tokenizer
    from llamafactory.hparams import DataArguments
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    tpl = get_template_and_fix_tokenizer(tok, DataArguments(template=template))
    prompt_ids, _ = tpl.encode_oneturn(tok, TURNS + [{"role": "assistant", "content": "好的"}], SYSTEM)
    prompt = tok.decode(prompt_ids, skip_special_tokens=False)  # as generated_predictions.jsonl keeps it
    assert parse_prompt(prompt) == TURNS, prompt
    assert parse_prompt(prompt, keep_system=True)[0] == {"role": "system", "content": SYSTEM}, prompt


@pytest.mark.parametrize("prompt, n_system", [
    ("<s>ཉེ་ཆར་ང་གཉིད་མི་ཁུག</s>ཁྱེད་ཀྱིས་ཅུང་ཙམ་ཞིབ་ཕྲ་བཤད་རོགས།</s>ལས་ཀའི་ཁུར་པོ་ཆེ།</s>", 0),  # the paper's format
    ("<s>ཁྱེད་ནི་སེམས་གསོ་བ་ཡིན།</s>ཉེ་ཆར་ང་གཉིད་མི་ཁུག</s>ཁྱེད་ཀྱིས་ཅུང་ཙམ་ཞིབ་ཕྲ་བཤད་རོགས།</s>ལས་ཀའི་ཁུར་པོ་ཆེ།</s>", 1),
])
def test_firefly_turns_alternate_back_from_the_last_client_turn(prompt, n_system):
    turns = parse_prompt(prompt, keep_system=True)
    assert [t["role"] for t in turns] == ["system"] * n_system + ["user", "assistant", "user"]
    assert turns[-1]["content"] == "ལས་ཀའི་ཁུར་པོ་ཆེ།" and "</s>" not in json.dumps(turns, ensure_ascii=False)


def test_judge_sees_firefly_turn_structure(tmp_path):
    pred = tmp_path / "generated_predictions.jsonl"
    pred.write_text(json.dumps({"prompt": "<s>我最近睡不好</s>能说说吗？</s>工作压力大</s>", "predict": "听起来很辛苦。",
                                "label": "参考"}, ensure_ascii=False) + "\n", encoding="utf-8")
    items, _ = judge.load_items(pred)
    assert [t["role"] for t in items[0]["history"]] == ["user", "assistant", "user"]
