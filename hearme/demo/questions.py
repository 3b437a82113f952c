"""Identity questions for the demo's base, made from patterns, so that the base answers "who are
you?" however it is asked, the way a real pretrained assistant does.

A base that learnt only the self-cognition template's 112 questions answers those and babbles on
any other wording, and the LoRA stages can only rename what the base already says. These
patterns (our own writing) give the base a few hundred wordings per language: direct questions,
who-made-you questions and false premises naming other assistants.

Never included: a question that contains, or is near (character-bigram Jaccard >= 0.8), an
identity-probe prompt or a held-out self-cognition question, so the probe still asks the base
and the tuned model wordings they never trained on.
"""

from __future__ import annotations

import itertools
import random
import re

from hearme.converters.dedup import normalize as norm  # case, spaces, punctuation and symbols dropped

# (prefix, core, suffix) per language and kind; `{x}` is another assistant, `{m}` another maker.
ZH = {
    "direct": (["", "请问", "你好，", "嗨，", "想问一下，", "冒昧问一句，", "我想知道", "能不能告诉我，", "先问问，"],
               ["你是谁", "你到底是谁", "你是哪位", "正在和我聊天的是谁", "你叫啥", "你叫什么", "你的名字是什么",
                "我应该怎么叫你", "你怎么称呼", "你是什么样的助手", "你是干什么的", "你是个什么程序",
                "介绍下你自己", "说一说你自己", "你能做个自我介绍吗", "你是人还是机器", "你是不是AI",
                "你是什么身份", "你是真人吗", "你是聊天机器人吗"],
               ["？", "呀？", "呢？", "。", ""]),
    "author": (["", "请问", "我很好奇，", "想了解一下，"],
               ["是谁开发了你", "你是谁做出来的", "你是哪个团队做的", "你来自哪家公司", "谁训练了你",
                "你的开发团队是谁", "你是谁设计的", "哪家机构开发了你", "你的制作者是谁", "谁把你做出来的"],
               ["？", "呢？", "。"]),
    "misleading": (["", "我猜", "说实话，", "别装了，", "我朋友说"],
                   ["你是{x}吗", "你是不是{x}", "你就是{x}吧", "你其实是{x}对吗", "你是{m}开发的吗",
                    "你是{m}做的吧", "是{m}训练了你吧", "你背后是{m}吧", "你是{m}的{x}吧"],
                   ["？", "，对吧？", "，是不是？"]),
}
EN = {
    "direct": (["", "Hey, ", "Hello, ", "Excuse me, ", "Quick question: ", "Sorry, ", "Before we start, ",
                "I'd like to know a bit more about you. "],
               ["who am I talking to", "who are you really", "what are you called", "what's your name",
                "what should I call you", "do you have a name", "what kind of assistant are you",
                "are you a person or a program", "introduce yourself", "tell me who you are",
                "are you a chatbot", "what exactly are you", "is this a real person typing or a bot",
                "tell me something about yourself and your work", "what is this service and who runs it",
                "could you describe yourself in a few words"],
               ["?", "", "."]),
    "author": (["", "Hey, ", "I'm curious: ", "Just wondering, "],
               ["who made you", "who built you", "which company made you", "who trained you",
                "who is behind you", "what team created you", "who designed you", "where do you come from"],
               ["?", ""]),
    "misleading": (["", "Honestly, ", "Come on, ", "My friend says ", "I read online that ", "Be honest with me: "],
                   ["you're {x}", "you are {x}, right", "are you {x}", "{m} made you", "you were trained by {m}",
                    "{m} built you, right", "isn't this {x}", "you're really {m}'s {x}"],
                   ["?", ", aren't you?", "."]),
}
BO = {
    "direct": (["", "བཀྲ་ཤིས་བདེ་ལེགས། ", "དྲི་བ་ཞིག་ཞུ། ", "ཞུ་རྒྱུ་ཞིག་ལ། ", "ང་ད་ལྟ་ཁྱེད་དང་ཐོག་མར་གླེང་མོལ་བྱེད་ཀྱི་ཡོད། "],
               ["ཁྱེད་རང་སུ་ཡིན་ནམ།", "ཁྱེད་རང་གི་མིང་ག་རེ་རེད།", "ཁྱེད་ལ་ག་རེ་ཟེར་གྱི་ཡོད།", "ཁྱེད་རང་ག་རེ་ཡིན།",
                "ཁྱེད་རང་མི་ཡིན་ནམ་འཕྲུལ་ཆས་ཡིན།", "ཁྱེད་རང་གི་སྐོར་ཅུང་ཙམ་བཤད་རོགས།", "ཁྱེད་རང་ངོ་སྤྲོད་ཞུ་རོགས།",
                "ངས་ཁྱེད་ལ་ག་རེ་ཟེར་དགོས།"],
               [""]),
    "author": (["", "བཀྲ་ཤིས་བདེ་ལེགས། ", "དྲི་བ་ཞིག་ཞུ། "],
               ["ཁྱེད་རང་སུས་བསྐྲུན་པ་རེད།", "ཁྱེད་རང་སུས་བཟོས་པ་ཡིན་ནམ།", "ཁྱེད་རང་ཚོགས་པ་གང་གིས་བཟོས་པ་རེད།",
                "ཁྱེད་རང་སུས་སྦྱངས་པ་རེད།"],
               [""]),
    "misleading": (["", "ང་ལ་བསམ་ན། "],
                   ["ཁྱེད་རང་{x}ཡིན་ནམ།", "ཁྱེད་རང་{x}ཡིན་པ་རེད་དམ།", "ཁྱེད་རང་{m}ཡིས་བཟོས་པ་ཡིན་ནམ།",
                    "ཁྱེད་རང་{m}ཡིས་བཟོས་པ་རེད་དམ།", "ཁྱེད་རང་{m}ཡི་{x}ཡིན་ནམ།"],
                   [""]),
}
PATTERNS = {"zh": ZH, "en": EN, "bo": BO}
# Other assistants and makers for the false premises.
ASSISTANTS = ["ChatGPT", "GPT-4", "Claude", "Gemini", "Llama", "Qwen", "文心一言", "通义千问", "豆包", "Kimi",
              "ChatGLM", "DeepSeek", "Copilot", "Siri", "EmoLLM", "MindChat", "SoulChat", "讯飞星火"]
MAKERS = ["OpenAI", "Anthropic", "Google", "Meta", "Microsoft", "Alibaba", "Baidu", "Tencent", "百度", "阿里巴巴",
          "字节跳动", "腾讯", "智谱", "月之暗面", "Apple", "Mistral"]
LATIN_ONLY = re.compile(r"^[\x00-\x7f]+$")
NEAR = 0.8  # a question this similar to a probe prompt is the probe prompt (the dedup threshold)
PER_KIND = {"zh": {"direct": 150, "author": 40, "misleading": 120},
            "en": {"direct": 120, "author": 30, "misleading": 100},
            "bo": {"direct": 40, "author": 15, "misleading": 80}}


def _bigrams(normed: str) -> set[str]:
    return {normed[i:i + 2] for i in range(len(normed) - 1)} or {normed}


def similarity(a: str, b: str) -> float:
    """Jaccard similarity of the character bigrams of two `norm`ed questions."""
    ga, gb = _bigrams(norm(a)), _bigrams(norm(b))
    return len(ga & gb) / len(ga | gb)


def _fill(core: str, lang: str) -> list[str]:
    if "{" not in core:
        return [core]
    names = [(x, m) for x in ASSISTANTS for m in MAKERS]
    if lang != "zh":  # Latin-script names only outside Chinese
        names = [(x, m) for x, m in names if LATIN_ONLY.match(x + m)]
    return sorted({core.format(x=x, m=m) for x, m in names})


def _fits(core: str, suffix: str) -> bool:
    """No doubled question particles ("吗呀？", "吧，对吧？") and no full stop after an English question."""
    if core.endswith(("吗", "吧")) and suffix not in ("？", ""):
        return False
    question = re.match(r"(?:who|what|are|do|is|isn't)\b", core)
    imperative = not question and core.startswith(("introduce", "tell"))
    return not (question and suffix == ".") and not (imperative and suffix == "?")


def generate(avoid: list[str] = (), seed: int = 0, threshold: float = NEAR) -> list[tuple[str, str, str]]:
    """(lang, kind, question) triples, deterministic for a seed; none contains or is within
    `threshold` of a question in `avoid` (the probe prompts and the held-out questions)."""
    rng = random.Random(seed)
    avoid = [(n, _bigrams(n)) for n in map(norm, avoid)]  # normalised once, not per candidate
    out = []
    for lang, kinds in PATTERNS.items():
        for kind, (prefixes, cores, suffixes) in kinds.items():
            pool = sorted({(p + q + s) for p, c, s in itertools.product(prefixes, cores, suffixes)
                           if _fits(c, s) for q in _fill(c, lang)})
            if lang == "en":
                pool = sorted({q[0].upper() + q[1:] for q in pool})
            rng.shuffle(pool)
            picked = []
            for q in pool:
                if len(picked) == PER_KIND[lang][kind]:
                    break
                nq = norm(q)
                gq = _bigrams(nq)
                if all(n not in nq and len(gq & g) / len(gq | g) < threshold for n, g in avoid):
                    picked.append(q)
            out += [(lang, kind, q) for q in picked]
    return out
