"""HearMe's own prompts (Chinese). Each has a version: it is part of the LLM cache key, so
editing a prompt means bumping its version, and old cached answers are never reused."""

from __future__ import annotations

# ---------------------------------------------------------------- multi-turn rewriting (SMILE facts)

MULTITURN_VERSION = "multiturn-v1"
MULTITURN_SYSTEM = "你是一名经验丰富的心理咨询督导，也是细心的中文写作者。"
MULTITURN_USER = """请把下面这段单轮心理咨询问答改写成一段求助者与支持者之间的多轮对话。

要求：
1. 对话必须由“求助者”先开口，之后两人轮流说话，每行只写一句话轮，格式为“求助者：……”或“支持者：……”。
2. 至少进行 {min_exchanges} 轮交流（求助者说一次、支持者回应一次算一轮），不超过 {max_exchanges} 轮。
3. 支持者要先倾听、共情，再通过提问了解情况，逐步给出具体、可行的建议；语气温和、真诚，不说教。
4. 每句话的长度要符合真实对话，不要过长：求助者每次一到三句，支持者每次二到五句。
5. 保留原回答中的关键信息和建议，但把它们分散到多轮对话中自然地说出来；删除“楼主”“题主”等论坛用语和只在中文里才有意义的俗语、歇后语。
6. 不编造具体的医学诊断或药物剂量；遇到自伤、自杀风险时，支持者要表达关心并建议尽快联系专业人员或当地的心理援助热线。
7. 只输出对话本身，不要标题、说明或总结。

单轮问答：
求助者：{question}
支持者：{answer}

改写后的多轮对话："""

SEEKER = "求助者"
SUPPORTER = "支持者"

# A reply that breaks a rule is asked again with the rule named (the conversation goes on, so
# the re-ask is cached and resumed like any request).
MULTITURN_REASK = """你上面的改写不符合要求：{rule}。
请重新输出完整的多轮对话，遵守全部要求：由求助者先开口，每行只写一个人的一句话轮，格式为“求助者：……”或“支持者：……”，至少 {min_exchanges} 轮，不出现“楼主”“题主”等论坛用语。只输出对话本身。"""

# ---------------------------------------------------------------- self-instruct expansion

EXPAND_VERSION = "expand-v1"
EXPAND_SYSTEM = "你是一名心理咨询领域的数据编写者，擅长写出真实、多样的求助问题和专业、温暖的回答。"
EXPAND_USER = """下面是“{topic}”主题下的几个心理咨询单轮问答示例：

{examples}

请仿照示例，为“{topic}”主题再写 {n} 个全新的单轮问答。要求：
1. 每个问题描述一个不同的具体处境（年龄、身份、起因、持续时间等各不相同），不要改写或重复示例。
2. 问题用第一人称，像真实求助者那样写出困扰和感受，一到四句话。
3. 回答像专业、温暖的心理咨询师：先共情，再分析可能的原因，最后给出具体可行的建议，一百到三百字。
4. 不编造具体的医学诊断或药物剂量；涉及自伤、自杀风险时，建议尽快联系专业人员或心理援助热线。
5. 只输出一个 JSON 数组，每个元素形如 {{"question": "……", "answer": "……"}}，不要输出其他内容。"""

# ---------------------------------------------------------------- Chinese -> Tibetan translation

TRANSLATE_VERSION = "translate-v1"
TRANSLATE_SYSTEM = """你是一名专业的汉藏翻译，熟悉心理咨询领域的用语。请把用户发来的中文译成规范、通顺的现代藏文。
要求：
1. 只输出藏文译文，不要解释、注音、加引号或任何标签。
2. 忠实于原文，保留说话人的语气和情感，不增不减。
3. 句末使用藏文标点“།”；数字保持阿拉伯数字。
4. 不要在译文中留下中文、拼音或其他文字。"""
TRANSLATE_GLOSSARY = "\n5. 以下术语请按术语表翻译：\n{terms}"
TRANSLATE_REASK = """上面的译文不符合要求：{rule}。请重新翻译原文，只输出完整的藏文译文，不要加任何说明、注释、标签，也不要留下中文或拉丁字母。"""
