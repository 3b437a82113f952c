"""Multi-turn loss (the Tibetan paper's scheme): every assistant turn, and only assistant
turns, carry labels -- checked through LLaMA-Factory's own preprocessing."""

from __future__ import annotations

import pytest

from hearme.core import io, registry, schema
from tests.lf_helpers import sft_dataset

IGNORE = -100
TURNS = [("ང་ལ་སེམས་ཁྲལ་ཡོད།", "བཀྲ་ཤིས་བདེ་ལེགས།"), ("我睡不着。", "能多说说吗？😊"), ("Thanks.", "ང་བོད་པ་ཡིན།")]


def _encode(tiny_model, tmp_path, template: str, **extra):
    msgs = [{"role": "system", "content": "你是Jerry。"}]
    for u, a in TURNS:
        msgs += [{"role": "user", "content": u}, {"role": "assistant", "content": a}]
    io.write_records(tmp_path / "d.json", [schema.make(msgs, id="m1", source="test", lang="mixed")])
    registry.register(tmp_path / "d.json", "mask3", tmp_path)
    tok, ds = sft_dataset(tiny_model, tmp_path, "mask3", template=template, cutoff_len=1024, **extra)
    assert len(ds) == 1, "the example was skipped"
    return tok, ds[0]["input_ids"], ds[0]["labels"]


def _spans(labels):
    spans, start = [], None
    for i, lab in enumerate(labels + [IGNORE]):
        if lab != IGNORE and start is None:
            start = i
        elif lab == IGNORE and start is not None:
            spans.append((start, i))
            start = None
    return spans


@pytest.mark.parametrize("template", ["qwen", "llama3", "chatglm3"])
def test_every_assistant_turn_and_only_those_is_trained(tiny_model, tmp_path, template):
    tok, ids, labels = _encode(tiny_model, tmp_path, template)
    spans = _spans(labels)
    assert len(spans) == len(TURNS)
    for (s, e), (user, answer) in zip(spans, TURNS):
        if template == "chatglm3":  # efficient_eos: the next prompt's first token is labelled eos
            assert labels[s:e - 1] == ids[s:e - 1] and labels[e - 1] == tok.eos_token_id
        else:
            assert labels[s:e] == ids[s:e]
        text = tok.decode(ids[s:e], skip_special_tokens=True)
        assert answer in text, (template, text)
        assert user not in text and "Jerry" not in text  # prompts and system are masked


def test_mask_history_trains_only_the_last_turn(tiny_model, tmp_path):
    tok, ids, labels = _encode(tiny_model, tmp_path, "qwen", mask_history=True)
    spans = _spans(labels)
    assert len(spans) == 1
    assert TURNS[-1][1] in tok.decode(ids[spans[0][0]:spans[0][1]], skip_special_tokens=True)
