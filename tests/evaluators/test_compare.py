"""`hearme compare`: base vs fine-tuned table with deltas and PNG charts, from run directories."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hearme.core import io
from hearme.evaluators import judge, metrics, probe_identity
from hearme.llm import LLMClient
from tests.conftest import run_hearme
from tests.fake_openai import FakeOpenAI
from tests.evaluators.test_probe import identity_script

BO_REF = "ཁྱེད་ཀྱིས་སེམས་ཁྲལ་ཆེན་པོ་བྱེད་ཀྱི་འདུག ང་ཚོས་མཉམ་དུ་ཐབས་ལམ་འཚོལ་ཐུབ།"
PROMPT = "<|im_start|>user\n我最近压力很大，晚上睡不着。<|im_end|>\n<|im_start|>assistant\n能说说吗？<|im_end|>\n" \
         "<|im_start|>user\n{q}<|im_end|>\n<|im_start|>assistant\n"


GOOD = ["听起来你压力很大，睡不好一定很难受。能说说最近发生了什么吗？", BO_REF]
BAD = ["嗯嗯，你好呀。", "ང་ཚོ་ཚོ།"]
# The scripted judge scores each reply by its text (the same item keeps the same prompt in both runs).
JUDGE_SCRIPT = {"rules": [{"match": reply, "replies": [{"fill": {"professionalism": score}}], "sticky": True}
                          for reply, score in zip(GOOD + BAD, [3, 2, 1, 0])]}


def make_run(root: Path, tuned: bool, srv: FakeOpenAI) -> Path:
    """A run directory shaped like LLaMA-Factory + hearme outputs (configs, train, predict, judge, probes)."""
    io.write_text(root / "configs" / "train.yaml",
                  "model_name_or_path: /models/base\nstage: sft\ndo_train: true\nfinetuning_type: lora\nlora_rank: 8\n"
                  f"learning_rate: {2.0e-4 if tuned else 1.0e-4}\nnum_train_epochs: 3.0\ntemplate: qwen\ndataset: hearme_zh\n")
    io.write_jsonl(root / "train" / "trainer_log.jsonl",
                   [{"current_steps": s, "total_steps": 10, "loss": 3.0 - (0.2 if tuned else 0.05) * s, "lr": 1e-4}
                    for s in range(1, 11)])
    preds = GOOD if tuned else BAD
    rows = [{"prompt": PROMPT.format(q=q), "predict": p, "label": l + "\n"}
            for q, p, l in zip(["怎么办？", "ཁྱེད་རང་ག་འདྲ་འདུག"], preds, GOOD)]
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
    with FakeOpenAI(JUDGE_SCRIPT) as srv:
        return make_run(tmp / "base", False, srv), make_run(tmp / "tuned", True, srv)


def test_compare_table_per_language_paired_deltas_and_charts(two_runs, tmp_path):
    base, tuned = two_runs
    proc = run_hearme("compare", f"base={base}", f"tuned={tuned}", "-o", tmp_path / "cmp")
    assert proc.returncode == 0, proc.stderr
    result = json.loads((tmp_path / "cmp" / "comparison.json").read_text(encoding="utf-8"))
    rows = {(r["section"], r["lang"], r["key"]): r for r in result["rows"]}
    b, t = rows[("metrics", "zh", "bleu-4")]["values"]
    paired = rows[("metrics", "zh", "bleu-4")]["paired"][1]
    assert t > b and paired["n"] == 1 and paired["delta"] == round(t - b, 4) and paired["sign_p"] == 1.0
    assert f"{t - b:+.4f}" in proc.stdout and not re.search(r"[+-]\d+\.\d%", proc.stdout)  # no relative change
    assert rows[("metrics", "bo", "syllable_bleu")]["values"][1] == 100.0  # the Tibetan item matches exactly
    assert "code points; not comparable" in rows[("metrics", "bo", "bleu-4")]["metric"]
    assert not any(k[2].startswith("label_") for k in rows)  # reference statistics are not model scores
    prof = rows[("judge", "mixed", "professionalism")]
    assert prof["values"] == [0.5, 2.5] and prof["ci95"][0] is not None
    assert prof["paired"][1]["n"] == 2 and prof["paired"][1]["delta"] == 2.0 and prof["paired"][1]["n_pos"] == 2
    ident = rows[("probes", "all", "identity_pass_rate")]
    assert ident["values"] == [0.0, 1.0] and ident["paired"][1]["n_pos"] == ident["paired"][1]["n"] == 36
    assert ident["paired"][1]["sign_p"] < 1e-9
    for png in ("metrics_zh.png", "metrics_bo.png", "judge_bar.png", "judge_radar.png", "probes_bar.png"):
        assert (tmp_path / "cmp" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    md = (tmp_path / "cmp" / "comparison.md").read_text(encoding="utf-8")
    assert "baseline" in md and "![judge_radar](judge_radar.png)" in md and "WARNING" not in proc.stderr


def _subset_run(src: Path, dst: Path, keep) -> Path:
    """A copy of src's predictions keeping the rows `keep(i, row)` selects (metrics recomputed)."""
    rows = [json.loads(x) for x in (src / "predict" / "generated_predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    io.write_jsonl(dst / "predict" / "generated_predictions.jsonl", [r for i, r in enumerate(rows) if keep(i, r)])
    return dst


def test_compare_refuses_runs_without_a_shared_language(two_runs, tmp_path):
    base, tuned = two_runs
    zh = _subset_run(base, tmp_path / "zh", lambda i, r: i == 0)
    bo = _subset_run(tuned, tmp_path / "bo", lambda i, r: i == 1)
    proc = run_hearme("compare", f"zh={zh}", f"bo={bo}", "-o", tmp_path / "cmp")
    assert proc.returncode == 2 and "share no language" in proc.stderr and "LANGUAGE MISMATCH" in proc.stderr


def test_compare_warns_loudly_on_other_languages_and_items(two_runs, tmp_path):
    base, tuned = two_runs
    zh_only = _subset_run(tuned, tmp_path / "zh-only", lambda i, r: i == 0)
    proc = run_hearme("compare", f"base={base}", f"tuned={zh_only}", "-o", tmp_path / "cmp")
    assert proc.returncode == 0, proc.stderr
    assert "WARNING: LANGUAGE MISMATCH: metrics in bo only for base" in proc.stderr
    rows = {(r["section"], r["lang"], r["key"]): r for r in json.loads((tmp_path / "cmp" / "comparison.json").read_text())["rows"]}
    assert rows[("metrics", "bo", "syllable_bleu")]["paired"][1] is None
    assert rows[("metrics", "zh", "bleu-4")]["paired"][1]["n"] == 1
    other = tmp_path / "other-items"
    rows_other = [{"prompt": "<|im_start|>user\n别的问题<|im_end|>\n<|im_start|>assistant\n", "predict": "好的。",
                   "label": "另一个参考。"}]
    io.write_jsonl(other / "predict" / "generated_predictions.jsonl", rows_other)
    proc = run_hearme("compare", f"base={zh_only}", f"other={other}", "-o", tmp_path / "cmp2")
    assert proc.returncode == 0, proc.stderr
    assert "ITEM SETS DIFFER: metrics (zh) base has 1 items, other 1, 0 shared" not in proc.stderr
    assert "share no item; no paired statistics" in proc.stderr


def test_compare_without_results_is_one_line(tmp_path):
    (tmp_path / "empty").mkdir()
    proc = run_hearme("compare", tmp_path / "empty", "-o", tmp_path / "o")
    assert proc.returncode == 2 and "nothing to compare" in proc.stderr
    proc = run_hearme("compare", tmp_path / "missing", "-o", tmp_path / "o")
    assert proc.returncode == 2 and "not a run directory" in proc.stderr
