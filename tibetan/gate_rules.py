"""The gate's rules: one table (name, reason, re-ask hint), the phrase lists and the text checks.

Every LLM-written text (multiturn, translate, expand, the session simulator's client) and
`hearme audit` use these checks through hearme.tibetan.gate. The encoding and script-share
checks are the probes' language rule (hearme.evaluators.reply_noise), reused, not copied.
Thresholds are stated here and in docs/gate.md.
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path

from hearme.core import io
from hearme.evaluators import reply_noise
from hearme.tibetan import prompts
from hearme.tibetan import text as T

PHRASES_PATH = Path(__file__).with_name("gate_phrases.json")
LOOP_OVERLAP = 0.8      # shared n-grams / the n-grams of the longer of two utterances: at or above, a loop
LOOP_MIN_ZH = 12        # utterances shorter than this (characters, punctuation removed) are not compared
LOOP_MIN_BO = 8         # ... (Tibetan syllables)
LOOP_N_ZH, LOOP_N_BO = 4, 2  # n-grams: Chinese characters, Tibetan syllables

# name: (what it catches, the Chinese re-ask hint; {x} is filled in with the finding)
RULES: dict[str, tuple[str, str]] = {
    "format": ("no `求助者：` / `支持者：` lines", "没有找到以“求助者：”或“支持者：”开头的话轮"),
    "seeker-first": ("the dialogue does not start with the help-seeker", "对话没有由求助者先开口"),
    "empty": ("an empty utterance or translation", "有空的话轮或空的译文"),
    "too-long": ("an utterance over the length limit", "有一句话太长"),
    "too-short": ("fewer exchanges than the minimum", "对话轮数太少"),
    "label-inside": ("a speaker label inside a turn", "话轮内部出现了说话人标签“{x}”，每行只能写一个人的一句话轮"),
    "forum-words": ("a forum word (楼主, 题主, LZ …)", "出现了论坛用语“{x}”，对话里不能出现“楼主”“题主”等论坛用语"),
    "meta-text": ("text about the task, the dialogue or the rewriting", "话轮里出现了关于任务或改写本身的话（“{x}”），只输出说话人说的话"),
    "breaking-character": ("a speaker breaks character (AI disclaimer, the other role)", "说话人跳出了角色（“{x}”），不要说自己是AI或语言模型，也不要替对方说话"),
    "encoding": ("encoding damage (U+FFFD, control characters, broken surrogates, mojibake)", "文字里有乱码或控制字符（{x}），请输出干净的文字"),
    "script-share": ("too large a share of another script", "文字里夹杂了太多其他语言的文字（{x}），请只用一种语言"),
    "loop": ("an utterance or exchange repeated", "对话在重复（“{x}”），每一轮都要说新的内容"),
    "note": ("a note or label in a translation", "译文里有说明、注释或标签（“{x}”）"),
    "not-tibetan": ("a translation that is not Tibetan", "译文不是藏文（{x}）"),
    "chinese": ("Chinese left in a translation", "译文里留下了中文“{x}”"),
    "latin": ("Latin words the source does not have", "译文里出现了原文没有的拉丁字母“{x}”"),
    "script": ("letters of another script in a translation", "译文里出现了其他文字（{x}）"),
    "incomplete": ("a translation cut short", "译文没有译完整（{x}）"),
    "item": ("a self-instruct item that is not a question and an answer", "每个元素都要有非空的 question 和 answer"),
}

# Forum words PsyQA answers carry (楼上/楼下 only where they mean a post, not a floor).
FORUM_RE = re.compile(r"楼主|(?<![问难话课标主])题主|层主|贴主|帖主|答主|本帖|(?<![A-Za-z])[Ll][Zz](?![A-Za-z])"
                      r"|(?:同意|赞同|支持|顶)楼[上下]|楼[上下](?=说|讲|所说|的回答|的回复|的朋友|的网友|那位)")
INNER_LABEL_RE = re.compile(rf"(?:{prompts.SEEKER}|{prompts.SUPPORTER}|来访者|咨询师)\s*[:：]")
# In existing records only a label that starts a sentence (询问求助者：“…” quotes, 心理咨询师：lists)
LEADING_LABEL_RE = re.compile(rf"(?:^|(?<=[。！？!?…\s]))(?:{prompts.SEEKER}|{prompts.SUPPORTER}|来访者|咨询师)\s*[:：]")
# A note about a translation, in any language: （注：…）, (Note: ...), 以上为译文, 说明：...
NOTE_RE = re.compile(r"[（(]\s*(?:注|备注|说明|译注|note|translator)|以上为|以下为|译文如下|说明\s*[:：]|^\s*注\s*[:：]"
                     r"|\b(?:note|translation|translated)\s*[:：]", re.I | re.M)
# Separators: spaces, ASCII / CJK / full-width punctuation, Tibetan tsheg and shads.
_SEP = r"[\s!-/:-@\[-`{-~\u00a0-\u00bf\u2010-\u205f\u3000-\u303f\uff01-\uff0f\uff1a-\uff20\uff3b-\uff40\uff5b-\uff65\u0f04-\u0f14]+"
_SEP_LATIN = re.compile(rf"(?<=[a-z0-9]){_SEP}(?=[a-z0-9])")
_SEP_RE = re.compile(_SEP)


def finding(rule: str, x: str = "", reason: str = "") -> tuple[str, str, str]:
    """(rule, reason, hint) for a rule of the table, `x` the offending piece."""
    what, hint = RULES[rule]
    return rule, reason or (f"{what}: {x!r}" if x else what), hint.format(x=x)


@functools.lru_cache(maxsize=8192)
def key(text: str) -> str:
    """Lower case, no spaces or punctuation (a single space kept between Latin words)."""
    s = T.normalize(text).lower()
    return _SEP_RE.sub("", _SEP_LATIN.sub("\x00", s)).replace("\x00", " ")


class Phrases:
    """The phrase lists (meta, disclaimer, as_seeker, as_counselor), all languages matched on every text."""

    KINDS = ("meta", "disclaimer", "as_seeker", "as_counselor")

    def __init__(self, lists: dict[str, list[str]]):
        self.lists = lists
        self.keys = {k: _keyed(v) for k, v in lists.items()}

    def find(self, kind: str, text: str) -> str | None:
        """The first phrase of `kind` in `text` (in its matching form: lower case, no spaces), or None."""
        k = key(text)
        for p, bounded in self.keys.get(kind, ()):
            if p in k and (bounded is None or bounded.search(k)):
                return p
        return None


def _keyed(phrases: list[str]) -> list[tuple[str, re.Pattern | None]]:
    """(phrase key, a whole-word pattern where it starts or ends with a Latin letter), longest first."""
    out = []
    for p in sorted({key(p) for p in phrases if key(p)}, key=len, reverse=True):
        lead = p[0].isascii() and p[0].isalnum()
        tail = p[-1].isascii() and p[-1].isalnum()
        pat = (r"(?<![a-z0-9])" if lead else "") + re.escape(p) + (r"(?![a-z0-9])" if tail else "")
        out.append((p, re.compile(pat) if lead or tail else None))
    return out


def load_phrases(extra: str | Path | None = None) -> Phrases:
    """The shipped lists, plus a user's file of the same shape ({kind: {lang: [phrase, ...]}})."""
    lists: dict[str, list[str]] = {k: [] for k in Phrases.KINDS}
    for path in [PHRASES_PATH] + ([Path(extra)] if extra else []):
        text, _ = io.read_text(path)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise io.InputError(path, f"line {e.lineno}", f"not JSON: {e.msg}") from None
        for kind, by_lang in data.items():
            if kind.startswith("_"):
                continue
            if kind not in lists or not isinstance(by_lang, dict):
                raise io.InputError(path, kind, f"expected one of {', '.join(Phrases.KINDS)}: {{lang: [phrases]}}")
            for lang, items in by_lang.items():
                if lang.startswith("_"):
                    continue
                if not isinstance(items, list) or not all(isinstance(x, str) for x in items):
                    raise io.InputError(path, f"{kind}.{lang}", "expected a list of strings")
                lists[kind] += items
    return Phrases(lists)


@functools.lru_cache(maxsize=4)
def _phrases_for(extra: str) -> Phrases:
    return load_phrases(extra or None)


def default_phrases() -> Phrases:
    """The shipped lists, plus the file named by HEARME_GATE_PHRASES (how a user extends every LLM step)."""
    return _phrases_for(os.environ.get("HEARME_GATE_PHRASES", ""))


# ---------------------------------------------------------------- checks of one text

def encoding(text: str) -> tuple[str, str, str] | None:
    bad = reply_noise.encoding_fault(text)
    return finding("encoding", bad, f"encoding damage: {bad}") if bad else None


# ids, hashes, model names (gpt-4o, mp3) and words of up to 3 letters (a 和 b, kpi, app, emo): not drift
_CODE_RE = re.compile(r"[A-Za-z0-9_\-]*[0-9][A-Za-z0-9_\-]*|(?<![A-Za-z])[A-Za-z]{1,3}(?![A-Za-z])")


_NATIVE = {"zh": re.compile(f"[{T.HAN}]+"), "bo": re.compile(r"[\u0f00-\u0fff]+")}
_LETTER_RE = re.compile(r"[^\W\d_]")


def script_share(text: str, lang: str) -> tuple[str, str, str] | None:
    """The probes' rule: another dominant script, or over FOREIGN_LIMIT of the words (at least FOREIGN_MIN).

    As the probes mask model ids, Latin-digit codes are masked first."""
    text = _CODE_RE.sub(" ", text)
    native = _NATIVE.get(lang)
    if native is not None and not _LETTER_RE.search(native.sub("", text)):
        return None  # no letter of another script at all (the fast path, same answer)
    labels = reply_noise.word_scripts(text)
    got = reply_noise.dominant(labels)
    if got is None:
        return None
    if got != lang:
        return finding("script-share", f"mostly {got}", f"another script: mostly {got}, expected {lang}")
    share = reply_noise.foreign_share(labels, lang)
    if share > reply_noise.FOREIGN_LIMIT:
        return finding("script-share", f"{share:.0%}",
                       f"another script: {share:.0%} of the words (limit {reply_noise.FOREIGN_LIMIT:.0%})")
    return None


def character(text: str, role: str, phrases: Phrases) -> tuple[str, str, str] | None:
    """A disclaimer in any turn; the supporter as the seeker; the seeker / client as the counselor."""
    hit = phrases.find("disclaimer", text)
    if hit:
        return finding("breaking-character", hit, f"breaking character: an AI disclaimer ({hit!r})")
    kind = "as_seeker" if role == "assistant" else "as_counselor"
    hit = phrases.find(kind, text)
    if hit:
        who = "the supporter speaks as the help-seeker" if role == "assistant" else "the client speaks as the counselor"
        return finding("breaking-character", hit, f"breaking character: {who} ({hit!r})")
    return None


def meta(text: str, phrases: Phrases) -> tuple[str, str, str] | None:
    hit = phrases.find("meta", text)
    return finding("meta-text", hit, f"meta text inside a turn ({hit!r})") if hit else None


def is_meta_line(line: str, phrases: Phrases) -> bool:
    """A line outside the turns that is about the task (a phrase, a bracketed remark, a bare separator)."""
    s = line.strip()
    if not key(s):
        return True  # --- , *** , ……
    if re.fullmatch(r"[（(【\[][^（()）【】\[\]]*[）)】\]]", s) and not INNER_LABEL_RE.search(s):
        return True  # （对话结束）
    return phrases.find("meta", s) is not None or bool(re.match(r"[（(]?\s*(?:注|备注|说明|note)\s*[:：]", s, re.I))


def forum(text: str) -> tuple[str, str, str] | None:
    m = FORUM_RE.search(text)
    return finding("forum-words", m.group(), f"forum word {m.group()!r}") if m else None


def label(text: str, strict: bool = True) -> tuple[str, str, str] | None:
    m = (INNER_LABEL_RE if strict else LEADING_LABEL_RE).search(text)
    return finding("label-inside", m.group(), f"speaker label {m.group()!r} inside a turn") if m else None


# ---------------------------------------------------------------- loops

def _grams(text: str, lang: str) -> frozenset | None:
    if lang == "bo":
        units = T.syllables(text)
        n, least = LOOP_N_BO, LOOP_MIN_BO
    else:
        units = list(key(text).replace(" ", ""))
        n, least = LOOP_N_ZH, LOOP_MIN_ZH
    if len(units) < least:
        return None
    return frozenset(tuple(units[i:i + n]) for i in range(len(units) - n + 1))


def loop(texts: list[str], lang: str) -> tuple[int, int, float] | None:
    """(earlier, later, overlap) for the first utterance that nearly repeats an earlier one."""
    seen: list[tuple[int, frozenset]] = []
    for i, t in enumerate(texts):
        g = _grams(t, lang)
        if g is None:
            continue
        for j, h in seen:
            big = max(len(g), len(h))
            if min(len(g), len(h)) >= LOOP_OVERLAP * big:  # else the overlap cannot reach the threshold
                share = len(g & h) / big
                if share >= LOOP_OVERLAP:
                    return j, i, share
        seen.append((i, g))
    return None
