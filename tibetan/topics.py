"""The paper's nine PsyQA topics (Table 1 / Table 3), and folding raw topic labels onto them."""

from __future__ import annotations

# topic: (English, share of PsyQA questions in Table 1, share of the Tibetan dataset in Table 3)
TOPICS = {
    "成长": ("growth", 0.1856, 0.18592),
    "情绪": ("emotion", 0.1359, 0.16148),
    "恋爱": ("love", 0.1323, 0.13824),
    "人际": ("interpersonal", 0.1308, 0.1369),
    "行为": ("behaviour", 0.1114, 0.0996),
    "家庭": ("family", 0.1104, 0.0986),
    "治疗": ("treatment", 0.1031, 0.0922),
    "婚姻": ("marriage", 0.0552, 0.0494),
    "职业": ("career", 0.0353, 0.0377),
}

ALIASES = {
    "自我成长": "成长", "自我": "成长", "学业": "成长", "self-growth": "成长", "growth": "成长",
    "情感": "情绪", "心情": "情绪", "emotion": "情绪", "emotion&stress": "情绪",
    "爱情": "恋爱", "感情": "恋爱", "love": "恋爱",
    "人际关系": "人际", "社交": "人际", "interpersonal": "人际", "social relationship": "人际",
    "行为问题": "行为", "behaviour": "行为", "behavior": "行为",
    "家庭关系": "家庭", "亲子": "家庭", "family": "家庭", "family relationship": "家庭",
    "心理治疗": "治疗", "治疗问题": "治疗", "treatment": "治疗", "mental disease": "治疗",
    "婚恋": "婚姻", "marriage": "婚姻", "love&marriage": "婚姻",
    "职场": "职业", "工作": "职业", "职业发展": "职业", "career": "职业",
}
OTHER = "其他"


def canonical(topic: str | None) -> str:
    """One of the nine topics, or 其他 for anything else (including empty)."""
    t = (topic or "").strip()
    if t in TOPICS:
        return t
    key = t.lower()
    if key in ALIASES:
        return ALIASES[key]
    for name in TOPICS:  # "职业规划", "家庭矛盾" ...
        if t.startswith(name):
            return name
    return OTHER
