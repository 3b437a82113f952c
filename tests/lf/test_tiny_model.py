"""The offline tiny model: tokenizer special tokens, round trips, size, determinism."""

from __future__ import annotations

import json

import pytest

from hearme.lf import tinymodel
from tests.conftest import run_hearme


@pytest.fixture(scope="module")
def tok(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def test_special_tokens_are_single_ids(tok):
    for t in tinymodel.SPECIAL_TOKENS:
        ids = tok.convert_tokens_to_ids([t])
        assert ids[0] != tok.unk_token_id or t == "<unk>", t
        assert tok(t, add_special_tokens=False).input_ids == ids, t


def test_llama2_has_a_real_bos(tok):
    assert tok.bos_token == "<s>" and tok.bos_token_id is not None


@pytest.mark.parametrize("text", ["我最近总是睡不好，很焦虑。", "ཁྱེད་རང་སྐུ་གཟུགས་བདེ་པོ་ཡིན་པས།", "别担心 🤗💪❤️", "Jerry, VastEpiphany"])
def test_round_trip(tok, text):
    assert tok.decode(tok(text, add_special_tokens=False).input_ids) == text


def test_size_and_summary(tiny_model):
    info = tinymodel.describe(tiny_model)
    assert 80_000 <= info["parameters"] <= 160_000
    cfg = json.loads((tiny_model / "config.json").read_text())
    assert cfg["vocab_size"] == info["vocab"]


def test_cli_builds_the_same_weights(tmp_path, tiny_model):
    out = run_hearme("tiny-model", tmp_path / "m")
    assert out.returncode == 0, out.stderr
    assert "parameters=" in out.stdout
    assert (tmp_path / "m" / "model.safetensors").read_bytes() == (tiny_model / "model.safetensors").read_bytes()
    assert not list(tmp_path.glob(".*partial"))
