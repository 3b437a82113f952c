"""Chinese and English texts for the HearMe tabs, switched by LLaMA-Factory's `top.lang` dropdown.

`LOCALES[key][lang]` holds the component properties for one element (label, info, value of a
button or heading), in the style of `llamafactory.webui.locales.LOCALES`. `MESSAGES` holds status
lines for handlers. Languages other than zh fall back to English.
"""

from __future__ import annotations

from typing import Any

LANGS = ("en", "zh")


def _l(en: str, zh: str, attr: str = "label", **extra: tuple[str, str]) -> dict[str, dict[str, str]]:
    """One element's texts: `attr` in both languages, plus extra (en, zh) pairs such as info=."""
    out = {"en": {attr: en}, "zh": {attr: zh}}
    for name, (e, z) in extra.items():
        out["en"][name], out["zh"][name] = e, z
    return out


def _v(en: str, zh: str) -> dict[str, dict[str, str]]:
    """Buttons and Markdown headings: their text is the `value`."""
    return _l(en, zh, attr="value")


LOCALES: dict[str, dict[str, dict[str, str]]] = {
    # tabs
    "tab.data": _l("Data", "数据"),
    "tab.eval": _l("Evaluate (HearMe)", "评测 (HearMe)"),
    "tab.tibetan": _l("Tibetan", "藏文工具"),
    # Data tab
    "data.intro": _v("Convert a counseling dataset into HearMe records, check what was rejected, then register it "
                     "so that it appears in the Train tab's dataset list.",
                     "把心理咨询数据集转换为 HearMe 记录，检查被拒绝的条目，然后注册，使其出现在训练页的数据集列表中。"),
    "data.format": _l("Source format", "源数据格式", info=("Which converter reads the files.", "用哪个转换器读取文件。")),
    "data.files": _l("Upload files", "上传文件"),
    "data.path": _l("…or a path on the server (file or folder)", "……或服务器上的路径（文件或文件夹）",
                    info=("Folders are walked; CPsyCounE topics come from folder names.",
                          "会遍历文件夹；CPsyCounE 的主题取自文件夹名。")),
    "data.scrub": _l("Scrub personal information (phone, ID, email, QQ/WeChat, address)",
                     "清除个人信息（电话、身份证、邮箱、QQ/微信、地址）"),
    "data.sc_name": _l("Self-cognition: counselor name", "自我认知：咨询师名字"),
    "data.sc_author": _l("Self-cognition: author", "自我认知：作者"),
    "data.convert_btn": _v("Convert", "转换"),
    "data.rejects": _l("Rejected records and why", "被拒绝的记录及原因"),
    "data.preview": _l("Preview of converted records", "转换后记录预览"),
    "data.name": _l("Dataset name", "数据集名称", info=("Used as `dataset: NAME` in recipes; no spaces, commas or slashes.",
                                                         "在配置中用作 `dataset: 名称`；不能含空格、逗号或斜杠。")),
    "data.split": _l("Split", "划分", info=("Grouped and stratified by source and topic.", "按来源和主题分组分层划分。")),
    "data.overwrite": _l("Overwrite an existing dataset of that name", "覆盖同名数据集"),
    "data.register_btn": _v("Register", "注册"),
    "data.card": _l("Data card plots", "数据卡图表"),
    "data.card_tables": _l("Data card tables (card.md)", "数据卡表格（card.md）"),
    # Evaluate tab
    "eval.intro": _v("Score a `generated_predictions.jsonl` (from the Evaluate & Predict tab or uploaded), judge it "
                     "with an LLM, compare two runs, and probe a running model.",
                     "为 `generated_predictions.jsonl`（来自“Evaluate & Predict”页或上传）计算指标，用大模型评审，"
                     "比较两次运行，并探测正在运行的模型。"),
    "eval.pred": _l("Predictions from a training output directory", "训练输出目录中的预测文件",
                    info=("generated_predictions.jsonl under saves/ and runs/ of the server's working directory.",
                          "服务器工作目录下 saves/ 与 runs/ 中的 generated_predictions.jsonl。")),
    "eval.refresh_btn": _v("Refresh", "刷新"),
    "eval.upload": _l("…or upload a predictions file (.jsonl)", "……或上传预测文件（.jsonl）"),
    "eval.lang": _l("Label language", "参考答案语言", info=("auto: Tibetan-aware metrics for Tibetan labels.",
                                                         "auto：藏文参考答案使用藏文音节指标。")),
    "eval.metrics_btn": _v("Compute metrics", "计算指标"),
    "eval.metrics": _l("Metrics", "指标"),
    "eval.judge_head": _v("### LLM judge (four-dimension rubric)", "### 大模型评审（四维量表）"),
    "eval.base_url": _l("Judge endpoint (OpenAI-compatible base URL)", "评审端点（OpenAI 兼容的 base URL）"),
    "eval.model": _l("Judge model", "评审模型"),
    "eval.api_key": _l("API key (kept in memory only; never saved)", "API 密钥（仅保存在内存中，不会写入磁盘）"),
    "eval.limit": _l("Items to judge (0 = all)", "评审条数（0 = 全部）"),
    "eval.rubric": _l("Rubric language", "量表语言"),
    "eval.judge_btn": _v("Run judge", "运行评审"),
    "eval.summary": _l("Judge summary (mean, 95% CI, unscored)", "评审汇总（均值、95% 置信区间、未评分数）"),
    "eval.compare_head": _v("### Compare with another run", "### 与另一次运行比较"),
    "eval.other": _l("Other run's predictions", "另一次运行的预测文件"),
    "eval.other_upload": _l("…or upload the other run's predictions", "……或上传另一次运行的预测文件"),
    "eval.compare_btn": _v("Compare", "比较"),
    "eval.chart": _l("Comparison chart", "比较图"),
    "eval.probe_head": _v("### Probes against a running model (`llamafactory-cli api`)",
                          "### 探测正在运行的模型（`llamafactory-cli api`）"),
    "eval.probe_url": _l("Model endpoint base URL", "模型端点 base URL"),
    "eval.probe_model": _l("Model name at that endpoint", "该端点的模型名"),
    "eval.probe_key": _l("Endpoint key, if any (memory only)", "端点密钥（如有；仅在内存中）"),
    "eval.probe_name": _l("Expected counselor name", "预期的咨询师名字"),
    "eval.probe_author": _l("Expected author", "预期的作者"),
    "eval.probe_btn": _v("Run identity and crisis probes", "运行身份与危机探测"),
    "eval.probe_table": _l("Probe results", "探测结果"),
    "eval.session_head": _v("### Session evaluation: simulated clients (`hearme session`)",
                            "### 会话评测：模拟来访者（`hearme session`）"),
    "eval.session_base": _l("Base model endpoint", "基座模型端点"),
    "eval.session_tuned": _l("Tuned model endpoint (optional: side by side)", "微调模型端点（可选：并排对比）"),
    "eval.session_model": _l("Model name at those endpoints", "端点的模型名"),
    "eval.session_key": _l("Endpoint key, if any (memory only)", "端点密钥（如有；仅在内存中）"),
    "eval.session_profiles": _l("Client profiles", "来访者档案"),
    "eval.session_turns": _l("Turns per session", "每次会话轮数"),
    "eval.session_btn": _v("Run sessions (simulator: the judge above, else the scripted client)",
                           "运行会话（模拟器：上方的评审端点，否则为脚本来访者）"),
    # Tibetan tab
    "bo.text_head": _v("### Segment and normalize", "### 分词与规范化"),
    "bo.text": _l("Tibetan text", "藏文文本"),
    "bo.text_btn": _v("Segment and normalize", "分词并规范化"),
    "bo.normalized": _l("Normalized", "规范化结果"),
    "bo.segmented": _l("Syllables (space-separated)", "音节（以空格分隔）"),
    "bo.filter_head": _v("### Quality filter", "### 质量过滤"),
    "bo.dataset": _l("Registered dataset", "已注册的数据集"),
    "bo.upload": _l("…or upload a records file", "……或上传记录文件"),
    "bo.use_lm": _l("Use the syllable n-gram LM", "使用音节 n 元语言模型"),
    "bo.corpus": _l("LM corpus (monolingual Tibetan, one line each; empty: the shipped default model)",
                    "语言模型语料（藏文单语，每行一句；留空：使用内置默认模型）"),
    "bo.heldout": _l("Clean held-out lines (for the threshold)", "干净的留出文本（用于阈值）"),
    "bo.relative": _l("Relative LM threshold", "相对语言模型阈值",
                      info=("Keep when median/score ≥ this; the paper's 0.85 assumes a large corpus.",
                            "median/score ≥ 此值则保留；论文的 0.85 适用于大语料。")),
    "bo.filter_register": _l("Register the kept records as (optional)", "将保留的记录注册为（可选）"),
    "bo.filter_btn": _v("Run filter", "运行过滤"),
    "bo.filter_rejects": _l("Rejected records and why", "被拒绝的记录及原因"),
    "bo.ifd_head": _v("### IFD selection", "### IFD 指令难度筛选"),
    "bo.model_path": _l("Model path (local directory)", "模型路径（本地目录）"),
    "bo.ifd_top": _l("Keep the top fraction", "保留比例"),
    "bo.ifd_register": _l("Register the selection as (optional)", "将筛选结果注册为（可选）"),
    "bo.ifd_btn": _v("Run IFD selection", "运行 IFD 筛选"),
    "bo.ifd_table": _l("IFD scores (selected first)", "IFD 分数（入选在前）"),
}

MESSAGES: dict[str, dict[str, str]] = {
    "error": {"en": "Error: {msg}", "zh": "错误：{msg}"},
    "no_input": {"en": "Upload a file or give a path first.", "zh": "请先上传文件或填写路径。"},
    "wrong_type": {"en": "{file}: wrong file type for {fmt} (expects {want}).",
                   "zh": "{file}：文件类型不适用于 {fmt}（需要 {want}）。"},
    "converted": {"en": "Converted: read {read}, written {written}, rejected {rejected} ({records} records).",
                  "zh": "转换完成：读取 {read}，写出 {written}，拒绝 {rejected}（共 {records} 条记录）。"},
    "nothing_converted": {"en": "Nothing to register: convert some records first.",
                          "zh": "没有可注册的记录：请先转换。"},
    "bad_name": {"en": "Invalid dataset name {name!r}: use letters, digits, '_', '-' or '.', no spaces, commas or slashes.",
                 "zh": "数据集名称 {name!r} 无效：只能使用字母、数字、'_'、'-' 或 '.'，不能含空格、逗号或斜杠。"},
    "exists": {"en": "{names} already registered; tick “Overwrite” to replace.",
               "zh": "{names} 已注册；勾选“覆盖”以替换。"},
    "registered": {"en": "Registered in {registry}: {parts}. It is now in the Train tab's dataset list.",
                   "zh": "已注册到 {registry}：{parts}。现在可以在训练页的数据集列表中选择。"},
    "metrics_done": {"en": "Scored {n} predictions from {file}.", "zh": "已为 {file} 中的 {n} 条预测计算指标。"},
    "no_pred": {"en": "Pick or upload a generated_predictions.jsonl first.", "zh": "请先选择或上传 generated_predictions.jsonl。"},
    "judge_done": {"en": "Judged {n} items with {model}: {scored} scored, {unscored} unscored.",
                   "zh": "已用 {model} 评审 {n} 条：{scored} 条已评分，{unscored} 条未评分。"},
    "compare_done": {"en": "Compared {a} with {b}.", "zh": "已比较 {a} 与 {b}。"},
    "probe_done": {"en": "Probes done: {summary}", "zh": "探测完成：{summary}"},
    "bo_stats": {"en": "{syllables} syllables, {ratio:.0%} well-formed.", "zh": "{syllables} 个音节，{ratio:.0%} 结构正确。"},
    "filter_done": {"en": "Filter: read {read}, kept {written}, rejected {rejected}.",
                    "zh": "过滤：读取 {read}，保留 {written}，拒绝 {rejected}。"},
    "ifd_done": {"en": "IFD: selected {kept} of {n} records.", "zh": "IFD：从 {n} 条记录中选出 {kept} 条。"},
    "no_dataset": {"en": "Pick a registered dataset or upload a records file first.",
                   "zh": "请先选择已注册的数据集或上传记录文件。"},
    "missing_api": {"en": "{what} is not available in this installation ({why}).",
                    "zh": "此安装中没有 {what}（{why}）。"},
}


def lang_of(lang: str | None) -> str:
    return lang if lang in LANGS else "en"


def props(key: str, lang: str | None) -> dict[str, str]:
    return LOCALES[key][lang_of(lang)]


def msg(key: str, lang: str | None, **kw: Any) -> str:
    return MESSAGES[key][lang_of(lang)].format(**kw)


def localize(elems: dict[str, Any], lang: str | None) -> dict[Any, Any]:
    """Updates for every element that has texts: {component: gr.update(label=..., ...)}."""
    import gradio as gr

    return {elem: gr.update(**props(key, lang)) for key, elem in elems.items() if key in LOCALES}
