"""PII scrubbing: phone numbers, mainland ID numbers, bank cards, emails, QQ/WeChat ids, URLs,
street addresses and person names become typed placeholders ([PHONE], [ID], [CARD], [EMAIL],
[QQ], [WECHAT], [URL], [ADDRESS], [NAME]).

Every converter scrubs by default (base.run calls `scrub_records`: a vectorised gate over all
text picks the few messages that could hold PII, and only those go through the patterns);
`hearme scrub` does the same for a records file. Public hotlines (12356, 400-161-9995,
010-82951332...), dates, prices, years, counts and famous psychologists' names are kept.
Matching runs on a "shadow" copy with full-width digits, letters and dashes folded to ASCII and
spoken Chinese numerals to digits (one character for one, so positions line up). Names are
found in context (我叫…, 我同事…, …老师, family members with names) with a surname list and
jieba's dictionary (a candidate that is a common word is not a name), not with jieba's `nr`
tag, which benchmarks/bench_scrub.py shows firing on ordinary words far too often.
"""

from __future__ import annotations

import contextlib
import re
from collections import Counter
from pathlib import Path
from typing import Iterable

from hearme import schema


_FULLWIDTH = {**{0xFF10 + i: ord("0") + i for i in range(10)},
              **{0xFF21 + i: ord("A") + i for i in range(26)},
              **{0xFF41 + i: ord("a") + i for i in range(26)},
              ord("＠"): "@", ord("＋"): "+", ord("－"): "-", ord("．"): ".", ord("（"): "(", ord("）"): ")",
              ord("\u3000"): " ", ord("—"): "-", ord("–"): "-", ord("＿"): "_", ord("："): ":", ord("／"): "/"}
CN_DIGITS = "零〇○一二三四五六七八九幺两"
_CN_DIGIT_MAP = str.maketrans({c: str(d) for c, d in zip(CN_DIGITS, (0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2))})

# Cheap gates, so that ordinary Chinese text costs a few fast scans: each family of patterns
# runs only on text that could hold a match.
_FW_CHARS = "\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\uff20\uff0b\uff0d\u2014\u2013"  # full-width digits, letters, @ + - and dashes
_FW = re.compile(f"[{_FW_CHARS}]")
_LATIN_OR_FW = re.compile(f"[A-Za-z{_FW_CHARS}]")
_NUM_GATE = re.compile(r"\d[\d \-().+]{5,}\d")  # 7+ digits-and-separators (phones, IDs, cards)
_QQ_LATIN = re.compile(r"[qQ]{2}")
_WX_LATIN = re.compile(r"weixin|[vw]x", re.I)
_WX_WORDS = ("微信", "薇信", "威信", "V信", "v信")
_CN_RUN = re.compile(f"[{CN_DIGITS}][{CN_DIGITS} \\-—]{{6,}}[{CN_DIGITS}]")  # a phone spoken in Chinese numerals

_B, _E = r"(?<![0-9A-Za-z])", r"(?![0-9A-Za-z])"
_SEP = r"(?:[ .]|-{1,2})?"  # one space, dot, dash or em-dash (or a doubled dash) between digit groups
_COLON = r"\s*(?:是|为|:|：|=)?\s*(?:是|为|:|：)?\s*"

EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
URL = re.compile(r"(?:https?://|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'*+,;=%]+"
                 r"|(?<![A-Za-z0-9@._-])(?:[A-Za-z0-9-]+\.)+(?:com|cn|net|org|edu|gov|io|me|cc|top|xyz|info|tv|co)"
                 r"(?:\.cn)?(?:/[A-Za-z0-9\-._~:/?#@!$&'*+,;=%]*)?(?![A-Za-z0-9])", re.I)
QQ = re.compile(r"(?:(?<![A-Za-z])(?:qq|QQ|Qq|qQ)|扣扣|企鹅)\s*(?:号码|号|账号|群)?" + _COLON
                + r"(?:[^\d\n]{0,8}?)([1-9]\d{4,11})(?!\d)")  # 问我QQ号码，我说了1122334455
WECHAT = re.compile(r"(?:微信|薇信|威信|(?<![A-Za-z])(?:weixin|vx|wx|v信)(?![A-Za-z]))\s*(?:号码|号|账号|id)?" + _COLON
                    + r"([A-Za-z][-_A-Za-z0-9]{5,19}|\+?\d{6,13})(?![-_A-Za-z0-9])", re.I)
ID18 = re.compile(_B + r"([1-9]\d{5}" + _SEP + r"(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
                  + _SEP + r"\d{3}[0-9Xx])" + _E)
ID15 = re.compile(_B + r"([1-9]\d{5}\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3})" + _E)
CARD = re.compile(_B + r"(\d{4}(?:[ -]?\d{4}){3}(?:[ -]?\d{1,3})?|\d{16,19})" + _E)
MOBILE = re.compile(_B + r"((?:[(（]?(?:\+|00)86[)）]?" + _SEP + r")?1[3-9]\d" + _SEP + r"\d{4}" + _SEP + r"\d{4})" + _E)
LANDLINE = re.compile(r"(?<![0-9A-Za-z])((?:[(（]0\d{2,3}[)）]|0\d{2,3})" + _SEP + r"[2-9]\d{2,3}" + _SEP + r"\d{4}"
                      + r"(?:" + _SEP + r"(?:转|ext\.?)\s*\d{1,5})?)" + _E
                      + r"|" + _B + r"((?:\+|00)86" + _SEP + r"[1-9]\d{1,2}" + _SEP + r"[2-9]\d{2,3}" + _SEP + r"\d{4})" + _E)
LOCAL = re.compile(r"(?:电话|座机|手机|联系方式|tel|phone)\s*(?:号码|号)?" + _COLON + r"([2-9]\d{3}" + _SEP + r"\d{4})" + _E, re.I)
_CARD_CONTEXT = re.compile(r"卡号|银行卡|信用卡|储蓄卡|借记卡|账号|帐号|卡")
_PHONE_CONTEXT = re.compile(r"电话|手机|号码|打给|拨|联系|致电|call", re.I)

# Street addresses: [province][city][district][town] road + number (+ building/unit/room), a
# housing estate with building/unit/room numbers, or a village with its group or number.
# Numbers may be written in Chinese numerals (幸福路十二号). Place-name characters exclude the
# little words that usually stand just before an address (住在, 寄到, 地址是...).
_P = r"(?:(?![在住是到于址从往去回的我你他她们了就要把寄送搬家有个写填留诉说叫问约见过着记和跟对给被让也都还很那这])[\u4e00-\u9fa5])"
_N = r"(?:\d+|[一二三四五六七八九十百零〇两]{1,5})"
_ROOM = rf"(?:{_N}(?:栋|幢|座|号楼))?(?:{_N}单元)?(?:{_N}(?:楼|层))?(?:{_N}(?:室|房|号房))?"
_ADMIN = rf"(?:{_P}{{2,4}}(?:省|自治区))?(?:{_P}{{2,5}}(?:市|州|盟))?(?:{_P}{{1,5}}(?:区|县|旗))?(?:{_P}{{1,5}}(?:镇|乡|街道))?"
ADDRESS = re.compile(
    rf"{_ADMIN}(?:{_P}{{1,5}}(?:路|街|大街|大道|巷|弄|胡同)[东西南北中]?(?:{_N}段)?{_N}(?:号|弄)(?:院)?{_ROOM}"
    rf"|{_P}{{2,5}}(?:小区|花园|公寓|大厦|新村|家园|苑|公馆|华府|名城|广场){_N}(?:栋|幢|座|号楼)(?:{_N}单元)?(?:{_N}(?:楼|层))?(?:{_N}(?:室|房))?"
    rf"|{_P}{{1,4}}村{_N}(?:组|队|号)(?:{_N}号)?)"
    rf"|{_P}{{2,4}}省{_P}{{2,5}}市[\u4e00-\u9fa5]{{1,4}}(?<!农)村|(?:{_P}{{2,5}}市)?{_P}{{1,5}}(?:县|镇|乡)[\u4e00-\u9fa5]{{1,3}}(?<!农)村")
_ADDRESS_HINT = re.compile(r"[\d一二三四五六七八九十百零〇两]\s*(?:号|弄|栋|幢|座|组|队)|[省县镇乡][\u4e00-\u9fa5]{1,5}村")

# Person names. Common surnames (single and compound); a given name is one or two characters
# that are not little function words. Contexts: 我叫X, relation + X (我同事张伟), X + title (王芳老师).
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"
            "姜崔钟谭陆汪范金石廖贾夏韦付方邹熊白孟秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔汤常温康施"
            "文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷"
            "盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏"
            "席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师仇栾隋商刁沙荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝")
COMPOUND = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "慕容", "尉迟", "公孙", "令狐", "长孙", "宇文", "司徒", "夏侯")
# Surnames that are also everyday words are never taken alone before a title (向老师请教, 和老师说).
_WORDY = set("和向时全明成关常单解安文包路党应华")
# Characters that end a given name: particles, pronouns, verbs and adverbs that follow names in speech.
_STOP = ("的了着过是在有说和跟与对把被给让叫会要能想去来问告也都就又还很太不没别再才刚已经每这那他她它我你您们"
         "最真从向比等总个些吧吗呢啊呀哦嘛呗啦哈么得地之而且但却并或及觉认知道看听做当作家里上下中"
         "前后时候天年月日号岁位次老少几都同事学朋友妈爸哥姐弟妹姥姑舅叔姨奶爷婆公娘们二三四五六七八九十")
_GIVEN = rf"[\u4e00-\u9fa5](?<![{_STOP}])(?:[\u4e00-\u9fa5](?<![{_STOP}]))?"
_FULL = rf"(?:{'|'.join(COMPOUND)}|[{SURNAMES}]){_GIVEN}"
_RELATION = ("同事|同学|室友|舍友|朋友|闺蜜|发小|男朋友|女朋友|男友|女友|老公|老婆|丈夫|妻子|爱人|前任|前男友|前女友|领导|上司"
             "|老板|经理|主管|主任|组长|校长|导师|教练|队长|妈妈|爸爸|母亲|父亲|哥哥|姐姐|弟弟|妹妹|儿子|女儿|孩子|表哥|表姐|表妹|表弟|堂哥|堂姐|堂妹|堂弟|舅舅"
             "|姑姑|叔叔|阿姨|奶奶|爷爷|外婆|外公|姥姥|姥爷|邻居|网友|对象|老师|班主任|医生|同桌|学长|学姐|学弟|学妹|师兄|师姐")
_TITLE = "老师|医生|大夫|主任|经理|总监|教授|校长|班主任|律师|警官|师傅|先生|女士|小姐|同学|阿姨|叔叔|姐姐|哥哥"
_NICK = rf"(?:小|阿)[\u4e00-\u9fa5](?<![{_STOP}])|(?P<dup>[\u4e00-\u9fa5])(?P=dup)"  # 小雨, 阿杰, 朵朵
NAME_INTRO = re.compile(rf"(?:我叫|名字(?:是|叫)|本人(?:叫|是)|名叫|叫做|姓名(?:是|叫|[:：])|名字[:：])\s*"
                        rf"(?:({_FULL})|({_NICK}))")
NAME_RELATION = re.compile(rf"(?:{_RELATION})(?:叫|名叫|叫做)?\s*({_FULL})"
                           rf"|(?:{_RELATION})(?:叫|名叫|叫做)\s*((?:{_NICK}))")
NAME_TITLE = re.compile(rf"(?<![\u4e00-\u9fa5])({_FULL}|[{SURNAMES}])(?:{_TITLE})"
                        rf"|(?<=[的们是跟和找问对给被让叫说位个了我他她你向与同从把])({_FULL}|[{SURNAMES}])(?:{_TITLE})")
_NAME_GATE = re.compile(rf"我叫|名字|本人|名叫|叫做|姓名|(?:{_RELATION})|(?:{_TITLE})")
# Public figures, kept: psychologists and writers a counselor may quote, and the published
# (fictional) counselor personas of EmoLLM's role-play sets.
FAMOUS = {"艾薇", "艾仁", "弗洛伊德", "荣格", "阿德勒", "马斯洛", "罗杰斯", "埃里克森", "贝克", "艾利斯", "皮亚杰", "斯金纳", "武志红", "李玫瑾",
          "曾奇峰", "张德芬", "陈海贤", "李松蔚", "岳晓东", "钱铭怡", "彭凯平", "樊富珉", "李子勋", "杨眉", "丛中", "胡慎之",
          "黄维仁", "林紫", "张怡筠", "武志", "李中莹", "毕淑敏", "周国平", "余华", "史铁生", "鲁迅", "杨绛", "三毛", "季羡林"}

_FAMOUS_PREFIXES = {f[:k] for f in FAMOUS for k in range(2, len(f) + 1)}

PROVINCES = {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42",
             "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82",
             "83", "91"}
# Public hotlines are help, not PII (digits only).
HOTLINES = {"4001619995", "01082951332", "8008101117", "02164383562", "02012320", "057185029595", "02512320",
            "4008181585", "01065387000", "01062715275", "02885528466", "12356", "12355", "12320", "12345"}
_ID_CONTEXT = re.compile(r"身份证|证件|ID", re.I)


def _id_checksum_ok(digits: str) -> bool:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(digits[:17], weights))
    return "10X98765432"[total % 11] == digits[17].upper()


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def _digits(s: str) -> str:
    return re.sub(r"\D", "", s)


# Pattern families, so that a gate can say which ones a text needs.
CHAT, NUMBERS, PLACES, NAMES = 1, 2, 4, 8
ALL = CHAT | NUMBERS | PLACES | NAMES


def find_pii(text: str, families: int = ALL, name_at: list[int] | None = None) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, TYPE) spans, in text order. `families`: which pattern families
    to try, `name_at`: where names could be (the vectorised gate in `candidates` knows both)."""
    latin = _LATIN_OR_FW.search(text)
    shadow = text.translate(_FULLWIDTH) if latin and _FW.search(text, latin.start()) else text
    if families & NUMBERS and _CN_RUN.search(shadow):  # 一三八… : Chinese numerals count as digits (one for one)
        shadow = _CN_RUN.sub(lambda m: m.group().translate(_CN_DIGIT_MAP), shadow)
    spans: list[tuple[int, int, str]] = []

    def free(a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e, _ in spans)

    def add(m: re.Match | int, kind: str, group: int | str = 0) -> None:
        a, b = (m, group) if isinstance(m, int) else m.span(group)
        if a >= 0 and free(a, b):
            spans.append((a, b, kind))

    if families & CHAT:
        if "@" in shadow:
            for m in EMAIL.finditer(shadow):
                add(m, "EMAIL")
        if latin and ("://" in shadow or "." in shadow):
            for m in URL.finditer(shadow):
                if not re.fullmatch(r"[\d.]+", m.group()):
                    add(m, "URL")
        if "扣扣" in shadow or "企鹅" in shadow or (latin and _QQ_LATIN.search(shadow)):
            for m in QQ.finditer(shadow):
                add(m, "QQ", 1)
        if any(w in shadow for w in _WX_WORDS) or (latin and _WX_LATIN.search(shadow)):
            for m in WECHAT.finditer(shadow):
                add(m, "WECHAT", 1)
    if families & NUMBERS and _NUM_GATE.search(shadow):
        _numbers(shadow, add)
    if families & PLACES and _ADDRESS_HINT.search(shadow):
        for m in ADDRESS.finditer(shadow):
            add(m, "ADDRESS")
    if families & NAMES and (name_at is not None or _NAME_GATE.search(text)):
        _names(text, add, name_at)
    return sorted(spans)


def _numbers(shadow: str, add) -> None:
    for pattern in (ID18, ID15):
        for m in pattern.finditer(shadow):
            d = _digits(m.group(1)) + ("X" if m.group(1)[-1] in "Xx" else "")
            if d[:2] not in PROVINCES:
                continue
            context = _ID_CONTEXT.search(shadow, max(0, m.start() - 12), m.start())
            card_context = _CARD_CONTEXT.search(shadow, max(0, m.start() - 8), m.start())
            if (len(d) == 15 or _id_checksum_ok(d) or context) and not (card_context and not context and luhn_ok(d)):
                add(m, "ID", 1)
    for m in CARD.finditer(shadow):
        d = _digits(m.group(1))
        if 16 <= len(d) <= 19 and (luhn_ok(d) or _CARD_CONTEXT.search(shadow, max(0, m.start() - 8), m.start())):
            add(m, "CARD", 1)
    for pattern in (MOBILE, LANDLINE, LOCAL):
        for m in pattern.finditer(shadow):
            group = next(i for i in range(1, (pattern.groups or 0) + 1) if m.group(i)) if pattern.groups else 0
            d = _digits(m.group(group))
            if d.removeprefix("0086").removeprefix("86") in HOTLINES or d in HOTLINES:
                continue
            if pattern is LANDLINE and "." in m.group(group) and not _PHONE_CONTEXT.search(
                    shadow, max(0, m.start() - 10), m.start()):
                continue  # 021.6543.2109 is a phone when called one; 0.5.2023-like runs are not
            add(m, "PHONE", group)


_WORDS: frozenset | None = None
_PERSON_WORDS: frozenset = frozenset()
_ALL_PAIRS: frozenset = frozenset()  # every two- and four-character word, however rare (管控, 宁缺毋滥)


COMMON = 50  # a jieba dictionary frequency from which a word is too common to be a name (马国 2, 成绩 6217)


def dictionary_words() -> frozenset:
    """Common two- to four-character words of jieba's dictionary: 成绩, 应该, 关系 look like surname +
    given name but are words (most real names are not, or are rare). Loaded once, when first needed,
    from a cache beside HearMe's other caches (keyed by the dictionary file; 5x faster than parsing)."""
    global _WORDS, _PERSON_WORDS, _ALL_PAIRS
    if _WORDS is None:
        try:
            import jieba

            source = Path(jieba.__file__).parent / "dict.txt"
            tables = _cached_tables(source)
        except (ImportError, OSError):
            tables = ((), (), ())
        _WORDS, _PERSON_WORDS, _ALL_PAIRS = map(frozenset, tables)
    return _WORDS


def _parse_dictionary(source: Path) -> tuple[list[str], list[str], list[str]]:
    words, persons, pairs = [], [], []
    with open(source, encoding="utf-8") as fh:
        for line in fh:  # word frequency tag
            fields = line.split()
            n = len(fields[0]) if fields else 0
            if n == 2 or n == 4:
                pairs.append(fields[0])
            if 2 <= n <= 4 and len(fields) > 1 and fields[1].isdigit() and int(fields[1]) >= COMMON:
                words.append(fields[0])
                if len(fields) > 2 and fields[2] == "nr":
                    persons.append(fields[0])
    return words, persons, pairs


def _cached_tables(source: Path) -> tuple:
    """The parsed tables, from a marshal cache named after the dictionary's path, size, mtime and
    COMMON; a missing, stale or unreadable cache is rebuilt (and never breaks scrubbing)."""
    import hashlib
    import marshal

    from hearme import io, paths

    st = source.stat()
    key = hashlib.sha256(f"{source.resolve()}|{st.st_size}|{st.st_mtime_ns}|{COMMON}".encode()).hexdigest()[:16]
    cache = paths.cache_dir() / "scrub" / f"jieba-words-{key}.marshal"
    try:
        tables = marshal.loads(cache.read_bytes())
        if isinstance(tables, tuple) and len(tables) == 3:
            return tables
    except (OSError, ValueError, EOFError, TypeError):
        pass
    tables = tuple(map(tuple, _parse_dictionary(source)))
    with contextlib.suppress(OSError, io.HearMeError), io.atomic_open(cache, "wb", encoding=None) as fh:
        fh.write(marshal.dumps(tables))
    return tables


def _is_name(name: str, pattern: re.Pattern, nickname: bool) -> bool:
    if name in _FAMOUS_PREFIXES or any(name[:k] in FAMOUS for k in range(2, len(name))):
        return False  # a famous name, part of one, or one followed by more
    if nickname:  # 叫小雨, 叫朵朵: said to be a name, unless a doubled word is a kin or common word (叫爷爷)
        return name[0] != name[-1] or name[0] not in _KIN and name not in dictionary_words()
    if len(name) == 1:
        return pattern is not NAME_TITLE or name not in _WORDY
    words = dictionary_words()
    if name[:2] in COMPOUND:
        return True  # 欧阳娜娜: a compound surname is a name whatever follows
    if pattern is NAME_INTRO and name in _PERSON_WORDS:
        return True  # 我叫李娜: a name jieba knows as one
    return name not in words and name[:2] not in words


_PREPOSITION = set("和跟向对给被让把与同从")
_KIN = set("爷奶姥妈爸哥姐弟妹叔婆公舅姑伯姨嫂娘")
# Surnames that are also frequent words (时, 曾, 冷, 施...): a candidate starting with one is dropped
# when what follows it is a common word (母亲时情绪, 同学冷暴力, 向妈妈施暴).
_WORDY_SURNAMES = set("高余任何方石白江金龙史毛万车连景宫单古司农牛包云水花钟代师申苗谷盛游洪房易平甘戴尚福齐雷秦孔")
# ... and those that are above all words (时 曾 冷 查...): never taken after a relation word.
_WORD_FIRST = set("时曾施解冷边向于从将全成安应关常查戚明文路华党" + "".join(_WORDY))
_WORDY_SURNAMES |= _WORD_FIRST


def _windows(text: str, name_at: list[int] | None) -> list[tuple[int, int]]:
    """Stretches of text around the gate's hits (merged), or the whole text."""
    if name_at is None:
        return [(0, len(text))]
    out: list[list[int]] = []
    for p in sorted(name_at):
        a, b = max(0, p - NAME_REACH), min(len(text), p + NAME_REACH)
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


NAME_REACH = 12  # characters either side of a gate hit that a name pattern may span


def _names(text: str, add, name_at: list[int] | None = None) -> None:
    windows = _windows(text, name_at)
    for pattern in (NAME_INTRO, NAME_RELATION, NAME_TITLE):
        for m in (m for lo, hi in windows for m in pattern.finditer(text, lo, hi)):
            group = next(i for i in range(1, pattern.groups + 1) if m.group(i))
            a, b = m.span(group)
            nickname = pattern is not NAME_TITLE and group == 2
            if pattern is NAME_TITLE and b - a >= 2 and text[a] in _PREPOSITION and text[a + 1] in SURNAMES:
                a += 1  # 我和李老师: the name is 李, not 和李
            if pattern is not NAME_TITLE and b - a == 3 and text[b - 1:b + 1] in dictionary_words():
                b -= 1  # 张伟可能: the name is 张伟, 可能 is a word
            words = dictionary_words()
            if not nickname and (text[a] in _WORDY_SURNAMES and text[a + 1:a + 3] in words
                                 or len(text) >= a + 4 and text[a:a + 4] in _ALL_PAIRS  # 冷嘲热讽, 宁缺毋滥
                                 or pattern is NAME_RELATION and (
                                     text[a] in _WORD_FIRST
                                     or b - a == 2 and text[a:b] in _ALL_PAIRS  # 母亲管控我
                                     or text[max(0, m.start() - 1):m.start() + 1] in words)):  # 妇女儿童
                continue
            if _is_name(text[a:b], pattern, nickname):
                add(a, "NAME", b)


def scrub_text(text: str, families: int = ALL, name_at: list[int] | None = None) -> tuple[str, Counter]:
    """(scrubbed text, counts per TYPE)."""
    spans = find_pii(text, families, name_at)
    counts: Counter = Counter()
    if not spans:
        return text, counts
    out, last = [], 0
    for a, b, kind in spans:
        out.append(text[last:a])
        out.append(f"[{kind}]")
        counts[kind] += 1
        last = b
    out.append(text[last:])
    return "".join(out), counts


def scrub_record(record: schema.Record, tally=None) -> schema.Record:
    """A copy of the record with every message scrubbed; counts go to tally.note('pii TYPE').

    The whole dialogue is checked at once first (most have nothing to scrub)."""
    msgs = record["messages"]
    if not find_pii("\x00".join(m["content"] for m in msgs)):
        return record
    new_msgs = []
    changed = False
    for m in msgs:
        text, counts = scrub_text(m["content"])
        if counts:
            changed = True
            if tally is not None:
                for kind, n in counts.items():
                    tally.note(f"pii {kind}", n)
        new_msgs.append({**m, "content": text} if counts else m)
    return {**record, "messages": new_msgs} if changed else record


def scrub_records(records: Iterable[schema.Record], tally=None) -> list[schema.Record]:
    """scrub_record for many records: a vectorised gate (numpy, over all their text at once) picks
    the messages that could hold PII; only those go through the patterns."""
    import numpy as np

    records = list(records)
    out = list(records)
    texts = [m["content"] for r in records for m in r["messages"]]
    bounds = np.cumsum([0] + [len(r["messages"]) for r in records])  # record i: texts[bounds[i]:bounds[i + 1]]
    chars = np.concatenate([[0], np.cumsum(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts)))])[bounds]
    first = 0
    while first < len(records):  # batches of about GATE_BATCH characters, whole records
        last = max(first + 1, min(len(records), int(np.searchsorted(chars, chars[first] + GATE_BATCH))))
        lo = int(bounds[first])
        fam, name_at = candidates(texts[lo:int(bounds[last])], with_positions=True)
        flagged = np.flatnonzero(fam)
        for i, k in zip((np.searchsorted(bounds, flagged + lo, side="right") - 1).tolist(), flagged.tolist()):
            msgs = out[i]["messages"]
            j = k + lo - int(bounds[i])
            text, counts = scrub_text(msgs[j]["content"], int(fam[k]), name_at.get(k))
            if counts:
                if out[i] is records[i]:  # the first change to this record: copy it
                    msgs = list(msgs)
                    out[i] = {**records[i], "messages": msgs}
                msgs[j] = {**msgs[j], "content": text}
                if tally is not None:
                    for kind, n in counts.items():
                        tally.note(f"pii {kind}", n)
        first = last
    return out


GATE_BATCH = 1 << 22  # characters per vectorised gate pass


# ---------------------------------------------------------------- vectorised gate

def warm() -> None:
    """Build the lookup tables now (before forking workers, so that they share them)."""
    _gate_table()
    dictionary_words()


# Gate rules. A single-character rule flags a text when the character occurs; a pair rule when a
# character of its first class is followed by one of its second class. Pair rule r uses bit 2r+1
# for the first class and bit 2r for the second, so that ((previous >> 1) & current) tests all
# pairs in one pass.
_PAIRS = {  # rule: (first characters, second characters, family)
    "chat app": ("微薇威Vv扣企", "信扣鹅", CHAT),  # 微信 扣扣 企鹅
    "number + unit": (CN_DIGITS + "十百" + "0123456789" + "".join(chr(0xFF10 + i) for i in range(10)) + " \t\u3000",
                      "号弄栋幢座组队", PLACES),  # 12号 十二号
    "name word": ("名姓本", "字名人", NAMES),  # 名字 姓名 本人
    "title": ("".join(t[0] for t in _TITLE.split("|")), "".join(t[1] for t in _TITLE.split("|")), NAMES),  # 老师
    "relation + name": ("".join(w[-1] for w in _RELATION.split("|")), SURNAMES + "".join(COMPOUND) + " \t\u3000",
                        NAMES),  # 同事张伟
}
_SINGLE = {"latin": ("".join(chr(c) for c in range(0x41, 0x5B)) + "".join(chr(c) for c in range(0x61, 0x7B)) + "@＠"
                     + "".join(chr(0xFF21 + i) for i in range(26)) + "".join(chr(0xFF41 + i) for i in range(26)), CHAT),
           "叫": ("叫", NAMES)}
_COUNTED = {"digit": "0123456789" + "".join(chr(0xFF10 + i) for i in range(10)), "cn digit": CN_DIGITS,
            "village": "村", "county": "省县镇乡",
            # used to narrow the name rules' hits: a surname (or 小/阿, or a space) where a name starts,
            # and the last-but-one character of a relation word (同事, 男朋友)
            "name start": SURNAMES + "".join(COMPOUND) + "小阿 \t\u3000",
            "relation": "".join(w[-2] for w in _RELATION.split("|"))}
_TABLE = None
_BIT: dict[str, int] = {}


def _gate_table():
    import numpy as np

    global _TABLE
    if _TABLE is None:
        t = np.zeros(0x10000, dtype=np.uint32)
        bit = 0
        for name, (first, second, _) in _PAIRS.items():
            _BIT[name] = bit
            for ch in first:
                t[ord(ch)] |= 1 << (bit + 1)
            for ch in second:
                t[ord(ch)] |= 1 << bit
            bit += 2
        for name, chars in [(k, v[0]) for k, v in _SINGLE.items()] + list(_COUNTED.items()):
            _BIT[name] = bit
            for ch in chars:
                t[ord(ch)] |= 1 << bit
            bit += 1
        _TABLE = t
    return _TABLE


def candidates(texts: list[str], with_positions: bool = False):
    """Per text, the pattern families it could need (CHAT | NUMBERS | PLACES | NAMES), 0 for none:
    a superset of what find_pii finds, computed for all texts at once. With `with_positions`, also
    {text index: [offsets where a name could be]}."""
    import numpy as np

    n = len(texts)
    if not n:
        return (np.zeros(0, dtype=np.int8), {}) if with_positions else np.zeros(0, dtype=np.int8)
    table = _gate_table()
    joined = "\x00".join(texts) + "\x00"  # a zero after each text: no rule looks across texts
    codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
    f = table.take(codes, mode="clip")  # beyond the BMP: the last entry, 0

    def mask(*names):
        return sum(1 << _BIT[k] for k in names)

    # One pass picks the few positions any rule looks at (a pair rule at its second character);
    # the rest works on those. pair: a rule's first class before its second (f[-1] is the final
    # zero, so position 0 has no pair).
    pairs, singles = mask(*_PAIRS), mask(*_SINGLE, "digit", "cn digit", "village", "county")
    pos = np.flatnonzero(f & (pairs | singles))
    cur = f[pos]
    val = ((f[pos - 1] >> 1) & cur & pairs) | (cur & singles)
    pos, val = pos[val != 0], val[val != 0]
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=n)
    ends = np.cumsum(lengths + 1)
    owner = np.searchsorted(ends, pos, side="right")
    out = np.zeros(n, dtype=np.int8)

    def where(*names):
        return (val & mask(*names)) != 0

    def has(p, name):
        ok = (p >= 0) & (p < len(f))
        return ok & (((f[np.clip(p, 0, len(f) - 1)] >> _BIT[name]) & 1) == 1)

    out[owner[where("chat app", "latin")]] |= CHAT
    out[owner[where("number + unit")]] |= PLACES

    # Names: few candidate positions, narrowed with the characters around them.
    rule = where("name word", "title", "relation + name", "叫")
    raw, kind = pos[rule], val[rule]
    title = raw[(kind & mask("title")) != 0] - 1  # where the title starts
    title = title[has(title - 1, "name start") | has(title - 2, "name start") | has(title - 3, "name start")]
    relation = raw[(kind & mask("relation + name")) != 0]
    relation = relation[has(relation - 2, "relation")]
    call = raw[(kind & mask("叫")) != 0]
    call = call[has(call + 1, "name start") | (codes[np.minimum(call + 1, len(f) - 1)] == codes[np.minimum(call + 2, len(f) - 1)])]
    names_at = np.unique(np.concatenate([raw[(kind & mask("name word")) != 0], title, relation, call]))
    if len(names_at):
        out[np.searchsorted(ends, names_at, side="right")] |= NAMES

    # Counts per text.
    def count(name):
        return np.bincount(owner[where(name)], minlength=n)

    out[count("digit") >= 7] |= NUMBERS  # phones, IDs, cards: 7+ digits
    out[(count("village") > 0) & (count("county") > 0)] |= PLACES  # a village with a county or town
    cn = where("cn digit")  # 7 Chinese numerals of one text within 14 characters: 一三八…
    at, of = pos[cn], owner[cn]
    out[of[6:][(at[6:] - at[:-6] < 14) & (of[6:] == of[:-6])]] |= NUMBERS
    if not with_positions:
        return out
    name_at: dict[int, list[int]] = {}
    owner = np.searchsorted(ends, names_at, side="right")
    starts = ends - lengths - 1
    for i, p in zip(owner.tolist(), (names_at - starts[owner]).tolist()):
        name_at.setdefault(i, []).append(p)
    return out, name_at


# ---------------------------------------------------------------- evaluation

def evaluate(cases: Iterable[tuple[str, list[tuple[str, str]]]]) -> dict[str, dict]:
    """Recall and precision per TYPE on planted cases (text, [(TYPE, value), ...]).

    A planted value is found if a span of its TYPE overlaps it and the value is gone from the
    scrubbed text; a span is right if it overlaps a planted value of its TYPE (negatives have none)."""
    stats: dict[str, Counter] = {}
    misses: list[tuple[str, str, str]] = []
    for text, planted in cases:
        spans = find_pii(text)
        scrubbed, _ = scrub_text(text)
        where = [(kind, text.index(value), text.index(value) + len(value), value) for kind, value in planted]
        for kind, a, b, value in where:
            s = stats.setdefault(kind, Counter())
            s["planted"] += 1
            if value not in scrubbed and any(k == kind and x < b and y > a for x, y, k in spans):
                s["found"] += 1
            else:
                misses.append((kind, text, scrubbed))
        for x, y, k in spans:
            s = stats.setdefault(k, Counter())
            s["flagged"] += 1
            if any(kind == k and x < b and y > a for kind, a, b, _ in where):
                s["right"] += 1
            else:
                misses.append((f"false {k}", text, scrubbed))
    out = {k: {"planted": s["planted"], "flagged": s["flagged"],
               "recall": s["found"] / s["planted"] if s["planted"] else 1.0,
               "precision": s["right"] / s["flagged"] if s["flagged"] else 1.0} for k, s in sorted(stats.items())}
    out["_misses"] = misses  # type: ignore[assignment]
    return out
