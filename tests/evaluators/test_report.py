"""`hearme report`: bilingual Markdown + self-contained HTML from run artifacts alone."""

from __future__ import annotations

import re

import pytest

from hearme.core import paths
from tests.conftest import run_hearme
from tests.fake_openai import FakeOpenAI
from tests.evaluators.test_compare import JUDGE_SCRIPT, make_run


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    import hearme.converters  # noqa: F401
    from hearme.converters.convert import run as convert
    from hearme.converters.card import build_card

    tmp = tmp_path_factory.mktemp("report")
    with FakeOpenAI(JUDGE_SCRIPT) as srv:
        base, tuned = make_run(tmp / "base", False, srv), make_run(tmp / "tuned", True, srv)
    records, _ = convert("cpsycoune", [paths.DATA / "samples" / "cpsycoune"], scrub=False)
    build_card({"cpsycoune": records}, tuned / "data")
    proc = run_hearme("report", f"base={base}", f"tuned={tuned}", "-o", tmp / "out", "--samples", "2")
    assert proc.returncode == 0, proc.stderr
    return (tmp / "out" / "report.md").read_text(encoding="utf-8"), (tmp / "out" / "report.html").read_text(encoding="utf-8"), tmp


def test_markdown_has_every_section_in_both_languages(report):
    md, _, tmp = report
    for zh, en in [("应用方向与社会价值", "Application direction and social value"),
                   ("数据来源与处理", "Data source and processing"), ("数据划分及理由", "Data split and rationale"),
                   ("训练超参数", "Training hyperparameters"), ("训练与验证损失", "Train and eval loss"),
                   ("自动指标（按语言）", "Automatic metrics (per language)"),
                   ("LLM 评审（四维量表）", "LLM judge (four-dimension rubric)"), ("探针", "Probes"),
                   ("推理样例", "Inference samples"), ("部署与推理", "Deployment and inference"),
                   ("微调前后对比", "Before and after fine-tuning")]:
        assert f"{zh} / {en}" in md, zh
    assert "| learning_rate | 0.0002 |" in md and "| learning_rate | 0.0001 |" in md and "| lora_rank | 8 |" in md
    assert "95% CI" in md and "专业性 Professionalism" in md
    assert "syllable_bleu" in md and "tok:none" in md and "code points; not comparable for Tibetan" in md
    assert "语言 / language: **bo**" in md and "语言 / language: **zh**" in md
    assert "未找到数据卡" in md  # the base run has no card; the tuned run's card is embedded
    assert md.count("#### 样例 / Sample") == 4  # each run's file has one zh and one bo item: both shown
    assert md.count(", bo, line 2)") == 2 and md.count(", zh, line 1)") == 2
    assert "llamafactory-cli api api.yaml" in md and "template: qwen" in md
    assert (tmp / "out" / "sections.yaml").exists() and "Mental-health counseling" in md


def test_editable_sections_are_kept(report, tmp_path):
    _, _, tmp = report
    sections = tmp / "out" / "sections.yaml"
    sections.write_text(sections.read_text(encoding="utf-8").replace("Mental-health counseling", "Our own direction"),
                        encoding="utf-8")
    from hearme.evaluators import report as rep

    rep.run([str(tmp / "tuned")], tmp / "out")
    assert "Our own direction" in (tmp / "out" / "report.md").read_text(encoding="utf-8")


def test_images_exist_and_html_is_self_contained(report):
    md, page, tmp = report
    for src in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert (tmp / "out" / src).is_file(), src
    assert "assets/loss_base.png" in md and "judge_radar.png" in md
    srcs = re.findall(r'src="([^"]+)"', page)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<table>" in page and 'href="assets' not in page and "<script" not in page


@pytest.mark.slow
def test_plain_llamafactory_run_has_hyperparameters_and_eval_loss(tiny_model, tmp_path):
    """Trained with plain `llamafactory-cli train` (no recipe in the run): the table comes from the
    trainer's saved arguments and the adapter config, and the eval loss is plotted."""
    from hearme.core import io, registry, schema
    from hearme.lf import runner as lf

    data = tmp_path / "data"
    recs = [schema.make([{"role": "user", "content": f"我最近压力很大 {i}"},
                         {"role": "assistant", "content": "听起来你很辛苦，能多说说吗？"}], id=f"r{i}", source="test")
            for i in range(8)]
    io.write_records(data / "hm_tiny.json", recs)
    registry.register(data / "hm_tiny.json", "hm_tiny", data)
    run_dir = tmp_path / "run"
    cfg = {"model_name_or_path": str(tiny_model), "stage": "sft", "do_train": True, "finetuning_type": "lora",
           "lora_rank": 4, "lora_target": "all", "dataset": "hm_tiny", "dataset_dir": str(data), "template": "qwen",
           "cutoff_len": 128, "output_dir": str(run_dir / "adapter"), "max_steps": 4, "per_device_train_batch_size": 2,
           "learning_rate": 5.0e-3, "logging_steps": 1, "val_size": 0.25, "eval_strategy": "steps", "eval_steps": 2,
           "save_steps": 100, "report_to": "none", "bf16": False, "overwrite_output_dir": True,
           "preprocessing_num_workers": 1}
    lf.run("train", cfg, tmp_path / "train.yaml", tmp_path / "train.log")  # the YAML stays outside the run
    proc = run_hearme("report", run_dir, "-o", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    assert "训练器保存的参数 / saved by the trainer" in md and "未找到训练配置" not in md
    assert "| learning_rate | 0.005 |" in md and "| max_steps | 4 |" in md and "| lora: r | 4 |" in md
    assert "| card: dataset | hm_tiny |" in md
    assert "![loss](assets/loss_run.png)" in md and "no eval loss" not in md


def test_each_predictions_file_keeps_its_own_numbers_and_language(tmp_path):
    """The demo's layout: a Chinese and a Tibetan predict directory in one run. Each table shows its
    own file's numbers under its language; the Tibetan code-point numbers never stand for the run."""
    from hearme.core import io
    from hearme.evaluators import metrics
    from hearme.evaluators.runs import load, metric_groups
    from tests.evaluators.test_compare import BO_REF, PROMPT

    run = tmp_path / "demo"
    zh = [{"prompt": PROMPT.format(q="怎么办？"), "predict": "嗯。", "label": "听起来你压力很大，能说说发生了什么吗？"}]
    bo = [{"prompt": PROMPT.format(q="ཁྱེད་རང་ག་འདྲ་འདུག"), "predict": BO_REF[:-6], "label": BO_REF}]
    for name, rows in (("predict_counseling", zh), ("predict_tibetan", bo)):
        pred = run / name / "generated_predictions.jsonl"
        io.write_jsonl(pred, rows)
        m = metrics.compute(pred, "auto")
        io.write_json(run / name / "predict_results.json", {f"predict_{k}": m[k] for k in ("bleu-4", "rouge-l")})
    groups = {g.lang: g for g in metric_groups(load(str(run)))}
    assert set(groups) == {"zh", "bo"}
    assert groups["zh"].source == "predict_counseling" and groups["bo"].source == "predict_tibetan"
    assert groups["zh"].values["bleu-4"] < 10 < groups["bo"].values["bleu-4"]  # no last-file-wins
    assert list(groups["bo"].values)[0] == "syllable_bleu" and "bleu-4" in groups["bo"].notes
    proc = run_hearme("report", run, "-o", tmp_path / "out", "--samples", "1")
    assert proc.returncode == 0, proc.stderr
    md = (tmp_path / "out" / "report.md").read_text(encoding="utf-8")
    zh_block = md.split("source: `predict_counseling`")[1].split("source:")[0]
    assert f"| zh | bleu-4 | {groups['zh'].values['bleu-4']:.4f} |" in zh_block and "**zh**" in zh_block
    assert "| bo | bleu-4 (code points; not comparable for Tibetan)" in md
    again = run_hearme("report", run, "-o", tmp_path / "out2", "--samples", "1")
    assert again.returncode == 0 and (tmp_path / "out2" / "report.md").read_text(encoding="utf-8") == \
        md.replace(str(tmp_path / "out"), str(tmp_path / "out2"))
