"""The model under test's identity: different weights at the same URL and name never share cached
replies (no flag needed), the same weights resume from the cache, --model-id shares on purpose and
refuses other weights, and every summary names the weights that answered."""

from __future__ import annotations

import json

import pytest

from hearme.evaluators.serve import free_port, start_api
from tests.conftest import run_hearme
from tests.fake_openai import FakeOpenAI
from tests.evaluators.test_probe import identity_script

SUBSET = [{"id": "z", "lang": "zh", "kind": "direct", "prompt": "你是谁？"},
          {"id": "e", "lang": "en", "kind": "direct", "prompt": "Who are you?"},
          {"id": "b", "lang": "bo", "kind": "direct", "prompt": "ཁྱེད་རང་སུ་ཡིན།"}]


def probe(url, out, cache, *extra, model="tiny-under-test", max_tokens="8"):
    proc = run_hearme("probe", "identity", "--url", url, "--model-name", model, "--name", "Jerry", "--author",
                      "VastEpiphany", "--prompts", out.parent / "subset.json", "--max-tokens", max_tokens, "-o", out,
                      "--cache-dir", cache, *extra)
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8")) if (out / "summary.json").exists() else None
    return proc, summary


@pytest.fixture
def subset(tmp_path):
    (tmp_path / "subset.json").write_text(json.dumps(SUBSET, ensure_ascii=False), encoding="utf-8")
    return tmp_path


def test_new_weights_at_the_same_url_are_asked_again_without_any_flag(subset):
    port, out, cache = free_port(), subset / "probe-identity", subset / "cache"
    with FakeOpenAI(identity_script(good=True), port=port) as tuned:
        proc, first = probe(tuned.url, out, cache, model="hearme")
    assert proc.returncode == 0, proc.stderr
    assert first["pass_rate"]["mean"] == 1.0 and first["usage"]["paid_calls"] == 3
    with FakeOpenAI(identity_script(good=False), port=port) as other:  # other weights, same URL, name and out dir
        proc, second = probe(other.url, out, cache, model="hearme")
        proc3, third = probe(other.url, out, cache, model="hearme")  # the same weights again: all from the cache
    assert proc.returncode == 0, proc.stderr
    assert second["usage"]["paid_calls"] == 3 and second["usage"]["cache_hits"] == 0
    assert second["pass_rate"]["mean"] == 0.0  # its own replies, not the first server's
    assert second["model_under_test"]["fingerprint"]["sha256"] != first["model_under_test"]["fingerprint"]["sha256"]
    assert third["usage"]["paid_calls"] == 0 and third["usage"]["cache_hits"] == 3 and third["pass_rate"]["mean"] == 0.0
    mut = third["model_under_test"]
    assert mut["base_url"] == other.url and mut["model"] == "hearme" and str(out.resolve()) in mut["cache_namespace"]
    assert third["items"]["n"] == 3 and third["items"]["langs"] == {"zh": 1, "en": 1, "bo": 1}


def test_model_id_shares_across_directories_and_refuses_other_weights(subset):
    port, cache = free_port(), subset / "cache"
    with FakeOpenAI(identity_script(good=True), port=port) as srv:
        proc, a = probe(srv.url, subset / "a", cache, "--model-id", "tuned-v1", "--weights", "saves/lora", model="m")
        proc_b, b = probe(srv.url, subset / "b", cache, "--model-id", "tuned-v1", model="m")
    assert proc.returncode == 0 and proc_b.returncode == 0, proc.stderr + proc_b.stderr
    assert a["usage"]["paid_calls"] == 3 and b["usage"]["paid_calls"] == 0 and b["pass_rate"]["mean"] == 1.0
    assert a["model_under_test"]["model_id"] == "tuned-v1" and a["model_under_test"]["weights"] == {"path": "saves/lora"}
    with FakeOpenAI(identity_script(good=False), port=port) as srv:
        proc, _ = probe(srv.url, subset / "c", cache, "--model-id", "tuned-v1", model="m")
    assert proc.returncode == 2 and "choose a new --model-id" in proc.stderr and "Traceback" not in proc.stderr


def test_unreachable_model_under_test_is_one_line(subset):
    proc, _ = probe("http://127.0.0.1:9/v1", subset / "out", subset / "cache")
    assert proc.returncode == 2 and "cannot fingerprint the model under test" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_base_then_other_weights_on_real_llamafactory_api_same_port(tiny_model, subset, tmp_path_factory):
    """Two real `llamafactory-cli api` servers, one after the other on one port and one model name.

    The random tiny model greedily repeats its last token whatever its seed (tied embeddings), so the
    other weights are the tiny model with an untied random output head: a different greedy reply."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    other_model = tmp_path_factory.mktemp("tiny-other") / "model"
    m = AutoModelForCausalLM.from_pretrained(tiny_model)
    m.config.tie_word_embeddings = False
    torch.manual_seed(1)
    m.lm_head = torch.nn.Linear(m.config.hidden_size, m.config.vocab_size, bias=False)
    m.save_pretrained(other_model)
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(other_model)
    port, out, cache = free_port(), subset / "probe-identity", subset / "cache"
    results = []
    for model_path in (tiny_model, other_model):
        api = start_api(model_path, subset / f"api-{len(results)}", port=port, max_new_tokens=8,
                        model_name="tiny-under-test", timeout=180)
        try:
            proc, summary = probe(api.url, out, cache)
        finally:
            api.stop()
        assert proc.returncode == 0, proc.stderr
        results.append((summary, [json.loads(x)["reply"] for x in (out / "items.jsonl").read_text().splitlines()]))
    (first, replies_a), (second, replies_b) = results
    assert first["usage"]["paid_calls"] == 3 and second["usage"]["paid_calls"] == 3  # nothing replayed
    assert replies_a != replies_b
    assert first["model_under_test"]["fingerprint"]["sha256"] != second["model_under_test"]["fingerprint"]["sha256"]
    assert first["model_under_test"]["base_url"] == second["model_under_test"]["base_url"]
