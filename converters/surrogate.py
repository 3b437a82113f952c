"""`--pii surrogate`: each PII span becomes a realistic fake of its kind instead of a [TAG], the
same fake for the same original everywhere in one dialogue (李国强 in turn 1 and turn 5 are one
fake person; 李老师 then takes the fake's surname), so a model trained on the data learns to talk
about people, phones and places, never to say [NAME].

Fakes are drawn from a random generator seeded with (seed, record id): a rerun writes the same
bytes. Distinct originals get distinct fakes, and a fake never equals an original of the record.
Kinds: Chinese names keep their length and, where the given name reads as a woman's or a man's,
that reading; romanised names become other romanised names; phones keep mobile or landline
shape in a 1xx-0000-xxxx / 0xx-5550-xxxx block; ID numbers have a valid date and checksum but
province code 99 (none has it); cards are Luhn-valid on the 400000 test prefix; e-mails and URLs
use example.com/.org/.net; QQ and WeChat ids and addresses (a made-up estate) are invented.
"""

from __future__ import annotations

import random
import re

from hearme.converters.pii_rules import SURNAMES, luhn_ok

FAKE_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁沈姚卢姜崔钟谭陆汪范金"
FEMALE = "丽娟芳婷燕霞秀英兰凤红敏静琴雅欣怡雨梅玉娜艳萍莉洁颖倩佳晓慧琳珊妍璐瑶薇蓉菲彤嘉"
MALE = "伟强军磊勇杰涛斌刚峰建国明辉鹏浩宇俊志东海波龙飞亮华平生文博鑫晨凯"
NEUTRAL = "安宁清远子思一佳可心诗语言晨"
LATIN_FIRST = ("Alex", "Chris", "Jamie", "Taylor", "Morgan", "Robin", "Casey", "Jordan", "Riley", "Sam",
               "Emma", "Olivia", "Grace", "Lucy", "Nina", "Ethan", "Leo", "Owen", "Ryan", "Henry")
LATIN_LAST = ("Lin", "Xu", "Shen", "Gao", "Tang", "Han", "Feng", "Cao", "Peng", "Song")
DISTRICTS = ("青松", "云溪", "明湖", "望山", "清河湾", "锦川", "南屏", "北苑", "石桥", "梧桐")
ESTATES = ("翠竹", "枫林", "金桂", "星河", "海棠", "银杏", "杏林", "春晖", "嘉禾", "蓝湾")
ESTATE_KINDS = ("小区", "花园", "苑", "家园", "新村")
WECHAT_WORDS = ("sunny", "lemon", "panda", "river", "maple", "cloud", "tiger", "mango", "pine", "echo")
MAIL_WORDS = ("lin", "xiao", "yu", "chen", "mei", "hao", "qing", "an", "jun", "ning")
_CJK = re.compile(r"[\u4e00-\u9fff]")


class Surrogates:
    """The fakes of one dialogue: `fake(kind, original)` gives the same fake for the same original."""

    def __init__(self, seed: int | str, record_id: str, originals: str = ""):
        self.rng = random.Random(f"{seed}|{record_id}")
        self.seen: dict[tuple[str, str], str] = {}
        self.used: set[str] = set()
        self.surname: dict[str, str] = {}  # original surname -> fake surname
        self.originals = originals  # the dialogue's text: a fake never occurs in it
        self.names: dict[str, str] = {}  # Chinese names of two or more characters -> their fakes
        self._repeat: re.Pattern | None = None

    def fake(self, kind: str, original: str) -> str:
        key = (kind, re.sub(r"[\s\-]", "", original).lower())
        if key not in self.seen:
            make = getattr(self, "_" + kind.lower(), self._other)
            for _ in range(50):
                value = make(original)
                if value not in self.used and value != original and (len(value) < 2 or value not in self.originals):
                    break
            self.seen[key] = value
            self.used.add(value)
            if kind == "NAME" and len(original) >= 2 and _CJK.match(original):
                self.names[original] = value
        return self.seen[key]

    def repeats(self, text: str) -> tuple[str, int]:
        """The text with the dialogue's names found elsewhere replaced here too (王桂兰 named with
        我婆婆 in one turn, alone in the next), and how many."""
        if not self.names:
            return text, 0
        if self._repeat is None:
            self._repeat = re.compile("|".join(map(re.escape, sorted(self.names, key=len, reverse=True))))
        return self._repeat.subn(lambda m: self.names[m.group()], text)

    # ------------------------------------------------------------ kinds

    def _name(self, orig: str) -> str:
        r = self.rng
        if not _CJK.search(orig):  # Kevin, Zhang Wei
            first = r.choice(LATIN_FIRST)
            return f"{first} {r.choice(LATIN_LAST)}" if " " in orig.strip() else first
        if len(orig) == 1:  # 李 (老师): the surname of the fake already made for a 李, else a new one
            return self.surname.get(orig) or self._surname(orig)
        given = orig[1:] if orig[0] in SURNAMES else orig[-2:]
        pool = FEMALE if any(c in FEMALE for c in given) else MALE if any(c in MALE for c in given) else NEUTRAL
        if orig[0] in "小阿":  # 小雨 -> 小X
            return orig[0] + r.choice(pool)
        if len(set(orig)) == 1 or len(orig) == 2 and orig[0] == orig[1]:  # 朵朵
            c = r.choice(pool)
            return c * len(orig)
        surname = self.surname.get(orig[0]) or self._surname(orig[0])
        return surname + "".join(r.choice(pool) for _ in range(max(1, len(orig) - 1)))

    def _surname(self, orig: str) -> str:
        taken = set(self.surname.values())
        choice = self.rng.choice([c for c in FAKE_SURNAMES if c != orig and c not in taken] or FAKE_SURNAMES)
        self.surname[orig] = choice
        return choice

    def _digits(self, n: int) -> str:
        return "".join(self.rng.choice("0123456789") for _ in range(n))

    def _phone(self, orig: str) -> str:
        d = re.sub(r"\D", "", orig)
        d = d[2:] if d.startswith("86") and len(d) > 11 else d
        if d.startswith("1") and len(d) == 11:
            return f"1{self.rng.choice('3456789')}{self.rng.choice('0123456789')}0000{self._digits(4)}"
        return f"0{self.rng.choice(['10', '20', '21', '571', '755'])}-5550-{self._digits(4)}"

    def _id(self, orig: str) -> str:
        r = self.rng
        body = f"99{self._digits(4)}{r.randint(1960, 2005)}{r.randint(1, 12):02d}{r.randint(1, 28):02d}{self._digits(3)}"
        weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
        return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights)) % 11]

    def _card(self, orig: str) -> str:
        n = len(re.sub(r"\D", "", orig))
        body = "400000" + self._digits(max(16, min(19, n)) - 7)
        card = next(body + c for c in "0123456789" if luhn_ok(body + c))
        if re.search(r"\d{4}[ -]\d{4}", orig):
            sep = " " if " " in orig else "-"
            return sep.join(card[i:i + 4] for i in range(0, len(card), 4))
        return card

    def _email(self, orig: str) -> str:
        r = self.rng
        return f"{r.choice(MAIL_WORDS)}.{r.choice(MAIL_WORDS)}{r.randint(10, 99)}@example.{r.choice(['com', 'org', 'net'])}"

    def _url(self, orig: str) -> str:
        return f"https://example.{self.rng.choice(['com', 'org', 'net'])}/u/{self._digits(6)}"

    def _qq(self, orig: str) -> str:
        return str(self.rng.randint(1, 9)) + self._digits(max(4, min(10, len(orig) - 1)))

    def _wechat(self, orig: str) -> str:
        if orig.lstrip("+").isdigit():  # a phone used as the id
            return self._phone(orig if len(orig) == 11 else "13" + "0" * 9)
        return f"{self.rng.choice(WECHAT_WORDS)}_{self.rng.choice(WECHAT_WORDS)}{self.rng.randint(10, 999)}"

    def _address(self, orig: str) -> str:
        r = self.rng
        where = f"{r.choice(DISTRICTS)}区{r.choice(ESTATES)}{r.choice(ESTATE_KINDS)}"
        if "村" in orig and "号楼" not in orig and "幢" not in orig:
            return f"{r.choice(DISTRICTS)}镇{r.choice(ESTATES)}村{r.randint(1, 9)}组{r.randint(1, 60)}号"
        return f"{where}{r.randint(1, 30)}号楼{r.randint(1, 6)}单元{r.randint(1, 28)}0{r.randint(1, 4)}室"

    def _other(self, orig: str) -> str:  # a kind without a maker: its tag, never the original
        return "[PII]"
