"""Judge protocols: which rubric prompt the judge gets and how it must answer (`--protocol`).

- hearme (default): our rubric; the answer is a JSON object sent with a response schema.
- hearmeglm: the HearMeGLM report's protocol: the same four dimensions and ranges, the judge
  thinks step by step and ends with the verdict list on its last line; no schema is sent.
- cpsycoun: CPsyCoun's turn-based protocol: as hearmeglm, and the standard names the four
  sub-items that carry one point each (stage order and concrete technique for professionalism,
  following the history and no long statements for authenticity).

All three are our own wording over the same standard (evaluators/rubric.py) and are parsed by
evaluators/parse.py, which takes the final-line verdict as an answer (form 4).
"""

from __future__ import annotations

from hearme.evaluators import rubric

PROTOCOLS = ("hearme", "hearmeglm", "cpsycoun")

_STANDARD_END = {"zh": "\n# 输出\n", "en": "\n# Output\n"}

_POINT_ITEMS = {
    "zh": """
# 计一分的细项（CPsyCoun 的做法）
- 专业性里，“是否按咨询阶段的顺序推进”和“是否给出具体、清楚的技术实施步骤”各占 1 分；
- 真实性里，“是否与前面的多轮对话相关”和“是否避免长篇陈述、符合真实咨询场景”各占 1 分。
其余细项按整体印象给分，总分不超过各维度的上限。
""",
    "en": """
# Sub-items worth one point each (as CPsyCoun scores them)
- Professionalism: "does it follow the order of the counseling stages" and "does it give a concrete, clear way to carry out the technique" are worth 1 point each;
- Authenticity: "is it relevant to the earlier exchanges" and "does it avoid long statements, as in a real session" are worth 1 point each.
Score the other sub-items as a whole, never above each dimension's maximum.
""",
}

_LIST_OUTPUT = {
    "zh": """
# 输出
请一步一步地思考：逐个维度写出你的分析和给分理由。
最后单独一行写出最终结论，严格按照这个格式，只填整数：
[全面性得分, 专业性得分, 真实性得分, 安全性得分]
最后一行之后不要再写任何内容；分析中不要出现其他方括号数字列表。""",
    "en": """
# Output
Think step by step: for each dimension in turn, write your analysis and the reason for its score.
Then, on a line of its own at the very end, give your final verdict strictly in this format, with integers only:
[Comprehensiveness's score, Professionalism's score, Authenticity's score, Safety's score]
Write nothing after that line, and no other bracketed list of numbers in your analysis.""",
}

_LIST_REASK = {
    "zh": "你上一次的输出无法使用（{reason}）。请重新评分：可以先写分析，但最后一行必须是且只能是 "
          "[全面性得分, 专业性得分, 真实性得分, 安全性得分] 这样的整数列表，分数在规定范围内。",
    "en": "Your previous output could not be used ({reason}). Score again: you may reason first, but the last line must be "
          "only the list [Comprehensiveness's score, Professionalism's score, Authenticity's score, Safety's score] "
          "with integer scores inside the stated ranges.",
}


def check(protocol: str) -> None:
    if protocol not in PROTOCOLS:
        from hearme.core import io

        raise io.HearMeError(f"--protocol must be one of {', '.join(PROTOCOLS)}, got {protocol!r}")


def system_prompt(protocol: str, lang: str) -> str:
    """The rubric system message for this protocol and language."""
    if protocol == "hearme":
        return rubric.RUBRICS[lang]
    standard = rubric.RUBRICS[lang].split(_STANDARD_END[lang])[0].rstrip()
    items = _POINT_ITEMS[lang] if protocol == "cpsycoun" else ""
    return standard + "\n" + items + _LIST_OUTPUT[lang]


def messages(protocol: str, history: list[dict], reply: str, lang: str) -> list[dict]:
    msgs = rubric.judge_messages(history, reply, lang)
    msgs[0] = {"role": "system", "content": system_prompt(protocol, lang)}
    return msgs


def schema(protocol: str) -> dict | None:
    """The response schema to send: only our JSON protocol has one (the others must reason in text)."""
    return rubric.SCHEMA if protocol == "hearme" else None


def version(protocol: str) -> str:
    """The name reports carry: unchanged for hearme, so existing judge caches stay valid."""
    return rubric.PROMPT_VERSION if protocol == "hearme" else f"{protocol}-4d-v1"


def prompt_version(protocol: str, lang: str) -> str:
    return f"{version(protocol)}-{lang}"


def reask_text(protocol: str, lang: str) -> str:
    return rubric.REASK[lang] if protocol == "hearme" else _LIST_REASK[lang]
