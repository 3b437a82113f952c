"""What scrub.py counts as PII: the patterns (phones, ID numbers, cards, emails, QQ/WeChat, URLs,
addresses, names in context), the tables they check against (surnames, provinces, public
hotlines, famous psychologists), the checksums, and jieba's dictionary for telling names from words."""

from __future__ import annotations

import contextlib
import re
from pathlib import Path



FULLWIDTH = {**{0xFF10 + i: ord("0") + i for i in range(10)},
              **{0xFF21 + i: ord("A") + i for i in range(26)},
              **{0xFF41 + i: ord("a") + i for i in range(26)},
              ord("＠"): "@", ord("＋"): "+", ord("－"): "-", ord("．"): ".", ord("（"): "(", ord("）"): ")",
              ord("\u3000"): " ", ord("—"): "-", ord("–"): "-", ord("＿"): "_", ord("："): ":", ord("／"): "/"}
CN_DIGITS = "零〇○一二三四五六七八九幺两"
CN_DIGIT_MAP = str.maketrans({c: str(d) for c, d in zip(CN_DIGITS, (0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2))})

# Cheap gates, so that ordinary Chinese text costs a few fast scans: each family of patterns
# runs only on text that could hold a match.
_FW_CHARS = "\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\uff20\uff0b\uff0d\u2014\u2013"  # full-width digits, letters, @ + - and dashes
FW = re.compile(f"[{_FW_CHARS}]")
LATIN_OR_FW = re.compile(f"[A-Za-z{_FW_CHARS}]")
NUM_GATE = re.compile(r"\d[\d \-().+]{5,}\d")  # 7+ digits-and-separators (phones, IDs, cards)
QQ_LATIN = re.compile(r"[qQ]{2}")
WX_LATIN = re.compile(r"weixin|[vw]x", re.I)
WX_WORDS = ("微信", "薇信", "威信", "V信", "v信")
CN_RUN = re.compile(f"[{CN_DIGITS}][{CN_DIGITS} \\-—]{{6,}}[{CN_DIGITS}]")  # a phone spoken in Chinese numerals

_B, _E = r"(?<![0-9A-Za-z])", r"(?![0-9A-Za-z])"
_SEP = r"(?:[ .]|-{1,2})?"  # one space, dot, dash or em-dash (or a doubled dash) between digit groups
_COLON = r"\s*(?:是|为|:|：|=)?\s*(?:是|为|:|：)?\s*"

EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
# name at host dot com, name(at)host(dot)com, name [at] host [dot] cn: the words spelt out
_AT = r"(?:\s*[(\[{<]\s*(?:at|AT)\s*[)\]}>]\s*|\s+(?:at|AT)\s+)"
_DOT = r"(?:\s*[(\[{<]\s*(?:dot|DOT)\s*[)\]}>]\s*|\s+(?:dot|DOT)\s+|\.)"
_TLD = r"(?:com|cn|net|org|edu|gov|io|me|co|info|hk|tw|uk|jp|de|us)"
EMAIL_SPELT = re.compile(rf"(?<![A-Za-z0-9._%+-])[A-Za-z0-9][A-Za-z0-9_%+-]*(?:{_DOT}[A-Za-z0-9_%+-]+)*{_AT}"
                         rf"[A-Za-z0-9-]+(?:{_DOT}[A-Za-z0-9-]+)*?{_DOT}{_TLD}(?:{_DOT}{_TLD})?(?![A-Za-z0-9])", re.I)
EMAIL_SPELT_GATE = re.compile(r"[\s(\[{<](?:at|AT)[\s)\]}>]")
URL = re.compile(r"(?:https?://|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'*+,;=%]+"
                 r"|(?<![A-Za-z0-9@._-])(?:[A-Za-z0-9-]+\.)+(?:com|cn|net|org|edu|gov|io|me|cc|top|xyz|info|tv|co)"
                 r"(?:\.cn)?(?:/[A-Za-z0-9\-._~:/?#@!$&'*+,;=%]*)?(?![A-Za-z0-9])", re.I)
QQ = re.compile(r"(?:(?<![A-Za-z])(?:qq|QQ|Qq|qQ)|扣扣|企鹅)\s*(?:号码|号|账号|群)?" + _COLON
                + r"(?:[^\d\n]{0,8}?)([1-9]\d{4,11})(?!\d)")  # 问我QQ号码，我说了1122334455
QQ_Q = re.compile(r"(?<![A-Za-z])[qQ](?![A-Za-z&])\s*(?:号码|号|账号)?(?:吧|呢)?" + _COLON
                  + r"([1-9]\d{4,11})(?!\d)")  # 我q号是 384756291, 加我Q：1029384756
QQ_Q_GATE = re.compile(r"(?<![A-Za-z])[qQ](?![A-Za-z&])")
WECHAT = re.compile(r"(?:微信|薇信|威信|(?<![A-Za-z])(?:weixin|vx|wx|v信)(?![A-Za-z]))\s*(?:号码|号|账号|id|名叫|名是|名|叫做|叫)?" + _COLON
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
CARD_CONTEXT = re.compile(r"卡号|银行卡|信用卡|储蓄卡|借记卡|账号|帐号|账户|帐户|卡|转账|汇款|打钱|card|account", re.I)
PHONE_CONTEXT = re.compile(r"电话|手机|号码|打给|拨|联系|致电|call", re.I)

# Street addresses: [province][city][district][town] road + number (+ building/unit/room), a
# housing estate with building/unit/room numbers, or a village with its group or number.
# Numbers may be written in Chinese numerals (幸福路十二号). Place-name characters exclude the
# little words that usually stand just before an address (住在, 寄到, 地址是...).
_P = r"(?:(?![在住是到于址从往去回的我你他她们了就要把寄送搬家有个写填留诉说叫问约见过着记和跟对给被让也都还很那这])[\u4e00-\u9fa5])"
_N = r"(?:\d+|[一二三四五六七八九十百零〇两]{1,5})"
_ROOM = rf"(?:{_N}(?:栋|幢|座|号楼))?(?:{_N}单元)?(?:{_N}(?:楼|层))?(?:{_N}(?:室|房|号房))?"
_UNIT = rf"(?:{_N}(?:单元|门))?(?:{_N}(?:楼|层))?(?:{_N}(?:室|房|号房)|(?<=[门元]){_N})?"  # 3门1102, 2单元502室
_ADMIN = rf"(?:{_P}{{2,4}}(?:省|自治区))?(?:{_P}{{2,5}}(?:市|州|盟))?(?:{_P}{{1,5}}(?:区|县|旗))?(?:{_P}{{1,5}}(?:镇|乡|街道))?"
ADDRESS = re.compile(
    rf"{_ADMIN}(?:{_P}{{1,5}}(?:路|街|大街|大道|巷|弄|胡同)[东西南北中]?(?:{_N}段)?{_N}(?:号|弄)(?:院)?{_ROOM}"
    rf"|{_P}{{2,5}}(?:小区|花园|公寓|大厦|新村|家园|苑|公馆|华府|名城|广场|新城|[东西南北一二三四五六七八九\d]区){_N}(?:栋|幢|座|号楼){_UNIT}"
    rf"|{_P}{{1,4}}村{_N}(?:组|队|号)(?:{_N}号)?"
    # a district, then any estate name, then building, gate/unit and room (海淀区清河小区5号楼2门301)
    rf"|{_P}{{1,5}}(?:区|县)[\u4e00-\u9fa5]{{1,10}}?{_N}(?:号楼|幢|栋|座){_UNIT})"
    rf"|{_P}{{2,4}}省{_P}{{2,5}}市[\u4e00-\u9fa5]{{1,4}}(?<!农)村|(?:{_P}{{2,5}}市)?{_P}{{1,5}}(?:县|镇|乡)[\u4e00-\u9fa5]{{1,3}}(?<!农)村")
ADDRESS_HINT = re.compile(r"[\d一二三四五六七八九十百零〇两]\s*(?:号|弄|栋|幢|座|组|队)|[省县镇乡][\u4e00-\u9fa5]{1,5}村")

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
RELATION = ("同事|同学|室友|舍友|朋友|闺蜜|发小|男朋友|女朋友|男友|女友|老公|老婆|丈夫|妻子|爱人|前任|前男友|前女友|领导|上司"
             "|老板|经理|主管|主任|组长|校长|导师|教练|队长|妈妈|爸爸|母亲|父亲|哥哥|姐姐|弟弟|妹妹|儿子|女儿|孩子|表哥|表姐|表妹|表弟|堂哥|堂姐|堂妹|堂弟|舅舅"
             "|姑姑|叔叔|阿姨|奶奶|爷爷|外婆|外公|姥姥|姥爷|邻居|网友|对象|老师|班主任|医生|同桌|学长|学姐|学弟|学妹|师兄|师姐"
             # in-laws, step-family and the rest of the kin (我婆婆王桂兰, 我继父孙伟)
             "|婆婆|公公|岳父|岳母|丈母娘|前夫|前妻|继父|继母|后妈|养父|养母|嫂子|大嫂|弟媳|姐夫|妹夫|小姑子|小叔子|大伯|伯父|伯母"
             "|舅妈|姨妈|姑妈|婶婶|姑父|姨父|侄子|侄女|外甥|外甥女|孙子|孙女|外孙|外孙女|亲家|老妈|老爸")
TITLE = "老师|医生|大夫|主任|经理|总监|教授|校长|班主任|律师|警官|师傅|先生|女士|小姐|同学|阿姨|叔叔|姐姐|哥哥"
_NICK = rf"(?:小|阿)[\u4e00-\u9fa5](?<![{_STOP}])|(?P<dup>[\u4e00-\u9fa5])(?P=dup)"  # 小雨, 阿杰, 朵朵
# A romanised name after 我叫 (我叫Kevin, 我叫 Zhang Wei), not an assistant or an app (我叫 Siri 打电话)
_LATIN_NAME = r"[A-Z][a-z]{1,14}(?:[ ·.-][A-Z][a-z]{1,14}){0,2}(?![A-Za-z])"
NOT_A_NAME = {"Siri", "Alexa", "Cortana", "Uber", "Didi", "Google", "Baidu", "Chatgpt", "Hello", "Hi", "Ok", "Okay", "The"}
NAME_INTRO = re.compile(rf"(?:我叫|名字(?:是|叫)|本人(?:叫|是)|名叫|叫做|姓名(?:是|叫|[:：])|名字[:：])\s*"
                        rf"(?:({_FULL})|({_NICK})|(?P<latin>{_LATIN_NAME}))")
NAME_RELATION = re.compile(rf"(?:{RELATION})(?:叫|名叫|叫做)?\s*({_FULL})"
                           rf"|(?:{RELATION})(?:叫|名叫|叫做)\s*((?:{_NICK}))")
NAME_TITLE = re.compile(rf"(?<![\u4e00-\u9fa5])({_FULL}|[{SURNAMES}])(?:{TITLE})"
                        rf"|(?<=[的们是跟和找问对给被让叫说位个了我他她你向与同从把])({_FULL}|[{SURNAMES}])(?:{TITLE})")
# A full name that starts the text or a sentence (刘晓燕昨天又…; …我很难过。张建军每次…), followed by
# a little word or punctuation (说, 是, 跟, 昨天, ，); not a surname that mostly starts words there
# (祝好, 谢邀, 钱可以, 时间, 曾经) nor one quoted or cited (…说过, …认为, …的《书》: a public figure).
START_WORDY = "祝谢钱颜简毕焦尤任童" + "时曾施解冷边向于从将全成安应关常查戚明文路华党和单包"
NAME_END = _STOP + "昨今，,。！!、：:；;？?…)）”\"' \n"
NAME_START = re.compile(rf"(?:^|(?<=[。！？!?；;…\n\x00]))((?![{START_WORDY}])[{SURNAMES}]{_GIVEN})(?=[{NAME_END}]|$)")
TRANSLITERATED = set("斯尔克德勒纳尼比夫姆森特伦布代氮洛唑汀沙坦普罗")  # 乔布斯, 桑代克, 米氮平: foreign names and drugs
CITED = ("说过", "曾说", "曾经说", "认为", "提出", "指出", "的《", "在《", "《", "的书", "的文章", "的一篇", "的歌")
NAME_GATE = re.compile(rf"我叫|名字|本人|名叫|叫做|姓名|(?:{RELATION})|(?:{TITLE})")
START_GATE = re.compile(rf"(?:^|[。！？!?；;…\n\x00])(?![{START_WORDY}])[{SURNAMES}]")  # NAME_START could match
# Public figures, kept: psychologists and writers a counselor may quote, and the published
# (fictional) counselor personas of EmoLLM's role-play sets.
FAMOUS = {"艾薇", "艾仁", "弗洛伊德", "荣格", "阿德勒", "马斯洛", "罗杰斯", "埃里克森", "贝克", "艾利斯", "皮亚杰", "斯金纳", "武志红", "李玫瑾",
          "曾奇峰", "张德芬", "陈海贤", "李松蔚", "岳晓东", "钱铭怡", "彭凯平", "樊富珉", "李子勋", "杨眉", "丛中", "胡慎之",
          "黄维仁", "林紫", "张怡筠", "武志", "李中莹", "毕淑敏", "周国平", "余华", "史铁生", "鲁迅", "杨绛", "三毛", "季羡林",
          "马云", "马化腾", "刘强东", "雷军", "周杰伦", "林俊杰", "王菲", "莫言", "金庸", "张爱玲", "村上春树", "东野圭吾",
          "艾唯", "罗翔", "郑渊洁", "罗振宇", "白岩松", "龙应台", "朱自清", "林徽因", "韩寒", "顾城", "汪国真", "司马迁", "杨澜",
          "冯唐", "樊登", "董明珠", "柳传志", "许嵩", "周国平", "蔡康永", "李开复", "俞敏洪"}

_FAMOUS_PREFIXES = {f[:k] for f in FAMOUS for k in range(2, len(f) + 1)}

PROVINCES = {"11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42",
             "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82",
             "83", "91"}
# Public hotlines are help, not PII (digits only).
HOTLINES = {"4001619995", "01082951332", "8008101117", "02164383562", "02012320", "057185029595", "02512320",
            "4008181585", "01065387000", "01062715275", "02885528466", "12356", "12355", "12320", "12345"}
ID_CONTEXT = re.compile(r"身份证|证件|ID", re.I)


def id_checksum_ok(digits: str) -> bool:
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    total = sum(int(d) * w for d, w in zip(digits[:17], weights))
    return "10X98765432"[total % 11] == digits[17].upper()


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d) * (2 if i % 2 else 1)
        total += n - 9 if n > 9 else n
    return total % 10 == 0


def digits_only(s: str) -> str:
    return re.sub(r"\D", "", s)


# Pattern families, so that a gate can say which ones a text needs.
CHAT, NUMBERS, PLACES, NAMES = 1, 2, 4, 8
ALL = CHAT | NUMBERS | PLACES | NAMES

_WORDS: frozenset | None = None
_PERSON_WORDS: frozenset = frozenset()
ALL_PAIRS: frozenset = frozenset()  # every two- and four-character word, however rare (管控, 宁缺毋滥)


COMMON = 50  # a jieba dictionary frequency from which a word is too common to be a name (马国 2, 成绩 6217)


def dictionary_words() -> frozenset:
    """Common two- to four-character words of jieba's dictionary: 成绩, 应该, 关系 look like surname +
    given name but are words (most real names are not, or are rare). Loaded once, when first needed,
    from a cache beside HearMe's other caches (keyed by the dictionary file; 5x faster than parsing)."""
    global _WORDS, _PERSON_WORDS, ALL_PAIRS
    if _WORDS is None:
        try:
            import jieba

            source = Path(jieba.__file__).parent / "dict.txt"
            tables = _cached_tables(source)
        except (ImportError, OSError):
            tables = ((), (), ())
        _WORDS, _PERSON_WORDS, ALL_PAIRS = map(frozenset, tables)
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

    from hearme.core import io, paths

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


def is_name(name: str, pattern: re.Pattern, nickname: bool) -> bool:
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


PREPOSITION = set("和跟向对给被让把与同从")
_KIN = set("爷奶姥妈爸哥姐弟妹叔婆公舅姑伯姨嫂娘")
# Surnames that are also frequent words (时, 曾, 冷, 施...): a candidate starting with one is dropped
# when what follows it is a common word (母亲时情绪, 同学冷暴力, 向妈妈施暴).
WORDY_SURNAMES = set("高余任何方石白江金龙史毛万车连景宫单古司农牛包云水花钟代师申苗谷盛游洪房易平甘戴尚福齐雷秦孔")
# ... and those that are above all words (时 曾 冷 查...): never taken after a relation word.
WORD_FIRST = set("时曾施解冷边向于从将全成安应关常查戚明文路华党" + "".join(_WORDY))
WORDY_SURNAMES |= WORD_FIRST
