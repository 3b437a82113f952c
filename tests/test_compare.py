"""`hearme compare`: base vs fine-tuned table with deltas and PNG charts, from run directories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hearme import io
from hearme.evaluators import judge, metrics, probe_identity
from hearme.llm import LLMClient
from tests.conftest import run_hearme
from tests.fake_openai import FakeOpenAI
from tests.test_probe import identity_script

BO_REF = "ཁྱེད་ཀྱིས་སེམས་ཁྲལ་ཆེན་པོ་བྱེད་ཀྱི་འདུག ང་ཚོས་མཉམ་དུ་ཐབས་ལམ་འཚོལ་ཐུབ།"
PROMPT = "<|im_start|>user\n我最近压力很大，晚上睡不着。<|im_end|>\n<|im_start|>assistant\n能说说吗？<|im_end|>\n" \
         "<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n"


def make_run(root: Path, tuned: bool, srv: FakeOpenAI) -> Path:
    """A run directory shaped like LLaMA-Factory + hearme outputs (configs, train, predict, judge, probes)."""
    io.write_text(root / "configs" / "train.yaml",
                  "model_name_or_path: /models/base\nstage: sft\ndo_train: true\nfinetuning_type: lora\nlora_rank: 8\n"
                  f"learning_rate: {2.0e-4 if tuned else 1.0e-4}\nnum_train_epochs: 3.0\ntemplate: qwen\ndataset: hearme_zh\n")
    io.write_jsonl(root / "train" / "trainer_log.jsonl",
                   [{"current_steps": s, "total_steps": 10, "loss": 3.0 - (0.2 if tuned else 0.05) * s, "lr": 1e-4}
                    for s in range(1, 11)])
    good = ["听起来你压力很大，睡不好一定很难受。能说说最近发生了什么吗？", BO_REF]
    bad = ["你好。", "ང་ཚོ།"]
    preds = good if tuned else bad
    rows = [{"prompt": PROMPT.format(q=f"{q} [[fake:{json.dumps(sc)}]]"), "predict": p, "label": l + "\n"}
            for q, p, l, sc in zip(["怎么办？", "ཁྱེད་རང་ག་འདྲ་འདུག"], preds, good,
                                   [{"professionalism": 3 if tuned else 1}, {"professionalism": 2 if tuned else 0}])]
    pred = root / "predict" / "generated_predictions.jsonl"
    io.write_jsonl(pred, rows)
    m = metrics.compute(pred)
    io.write_json(root / "predict" / "hearme_metrics.json", m)
    io.write_json(root / "predict" / "all_results.json", {f"predict_{k}": m[k] for k in ("bleu-4", "rouge-1")} |
                  {"predict_runtime": 3.2})
    client = LLMClient(srv.url, "gpt-4o", cache_dir=root.parent / "cache", progress=False)
    judge.run(pred, root / "judge", client)
    with FakeOpenAI(identity_script(good=tuned)) as mut_srv:
        mut = LLMClient(mut_srv.url, "m", cache=False, progress=False)
        probe_identity.run(mut, root / "probe-identity", name="Jerry", author="VastEpiphany")
    return root


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("runs")
    with FakeOpenAI() as srv:
        return make_run(tmp / "base", False, srv), make_run(tmp / "tuned", True, srv)


def test_compare_table_deltas_and_charts(two_runs, tmp_path):
    base, tuned = two_runs
    proc = run_hearme("compare", f"base={base}", f"tuned={tuned}", "-o", tmp_path / "cmp")
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "cmp" / "comparison.json").read_text(encoding="utf-8"))
    rows = {(r["section"], r["metric"]): r for r in result["rows"]}
    b, t = rows[("metrics", "bleu-4")]["values"]
    assert t > b and f"({t - b:+.4f}" in proc.stdout
    assert rows[("metrics", "syllable_bleu")]["values"][1] == 100.0  # the Tibetan item matches exactly
    prof = rows[("judge", "Professionalism 专业性 (0-3)")]
    assert prof["values"] == [0.5, 2.5] and prof["ci95"][0] is not None
    assert rows[("probes", "identity_pass_rate")]["values"] == [0.0, 1.0]
    for png in ("metrics_bar.png", "judge_bar.png", "judge_radar.png"):
        assert (tmp_path / "cmp" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (tmp_path / "cmp" / "comparison.md").read_text(encoding="utf-8")
    assert "baseline" in md and "![judge_radar](judge_radar.png)" in md


def test_compare_without_results_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = run_hearme("compare", tmp_path / "empty", "-o", tmp_path / "o")
    assert proc.returncode == 2 and "nothing to compare" in proc.stderr
    proc = run_hearme("compare", tmp_path / "missing", "-o", tmp_path / "o")
    assert proc.returncode == 2 and "not a run directory" in proc.stderr
