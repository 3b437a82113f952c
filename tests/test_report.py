"""`hearme report`: bilingual Markdown + self-contained HTML from run artifacts alone."""

from __future__ import annotations

import re

import pytest

from hearme import paths
from tests.conftest import run_hearme
from tests.fake_openai import FakeOpenAI
from tests.test_compare import JUDGE_SCRIPT, make_run


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    import hearme.converters  # noqa: F401
    from hearme.converters.base import run as convert
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
    md, _, _ = report
    for zh, en in [("数据卡", "Data card"), ("训练超参数", "Training hyperparameters"), ("训练损失曲线", "Training loss"),
                   ("自动指标", "Automatic metrics"), ("LLM 评审（四维量表）", "LLM judge (four-dimension rubric)"), ("探针", "Probes"),
                   ("样例对话", "Sample dialogues"), ("对比", "Comparison")]:
        assert f"{zh} / {en}" in md, zh
    assert "| learning_rate | 0.0002 |" in md and "| learning_rate | 0.0001 |" in md and "| lora_rank | 8 |" in md
    assert "95% CI" in md and "专业性 Professionalism" in md
    assert "syllable_bleu" in md and "tok:none" in md
    assert "未找到数据卡" in md  # the base run has no card; the tuned run's card is embedded
    assert md.count("#### 样例 / Sample") == 4


def test_images_exist_and_html_is_self_contained(report):
    md, page, tmp = report
    for src in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md):
        assert (tmp / "out" / src).is_file(), src
    assert "assets/loss_base.png" in md and "judge_radar.png" in md
    srcs = re.findall(r'src="([^"]+)"', page)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    assert "<table>" in page and 'href="assets' not in page and "<script" not in page
