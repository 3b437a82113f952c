"""The vectorised gate: one numpy pass over many texts flags the few that could hold PII, and which
pattern families they need, so that only those go through the patterns (scrub.scrub_records)."""

from __future__ import annotations


from hearme.converters.pii_rules import NAME_END, START_WORDY, CHAT, NAMES, NUMBERS, PLACES, CN_DIGITS, COMPOUND, SURNAMES, RELATION, TITLE, dictionary_words


GATE_BATCH = 1 << 19  # characters per vectorised gate pass: its temporaries stay in cache (2x faster than 1 << 22)


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
    "title": ("".join(t[0] for t in TITLE.split("|")), "".join(t[1] for t in TITLE.split("|")), NAMES),  # 老师
    "relation + name": ("".join(w[-1] for w in RELATION.split("|")), SURNAMES + "".join(COMPOUND) + " \t\u3000",
                        NAMES),  # 同事张伟
    "sentence start": ("\x00。！？!?；;…\n", "".join(c for c in SURNAMES if c not in START_WORDY),
                       NAMES),  # 。张建军每次… (quotes and spaces between: see the name rules)
}
_SINGLE = {"latin": ("".join(chr(c) for c in range(0x41, 0x5B)) + "".join(chr(c) for c in range(0x61, 0x7B)) + "@＠"
                     + "".join(chr(0xFF21 + i) for i in range(26)) + "".join(chr(0xFF41 + i) for i in range(26)), CHAT),
           "叫": ("叫", NAMES)}
_COUNTED = {"digit": "0123456789" + "".join(chr(0xFF10 + i) for i in range(10)), "cn digit": CN_DIGITS,
            "village": "村", "county": "省县镇乡",
            # used to narrow the name rules' hits: a surname (or 小/阿, or a space) where a name starts,
            # and the last-but-one character of a relation word (同事, 男朋友)
            "name start": SURNAMES + "".join(COMPOUND) + "小阿 \t\u3000",
            "relation": "".join(w[-2] for w in RELATION.split("|")),
            "latin capital": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",  # 我叫Kevin
            "name end": NAME_END + "\x00"}  # what follows a name that starts a sentence
_TABLE = None
_BIT: dict[str, int] = {}
_WORDS: dict = {}  # built with the table: title heads, relation tails (each word has 2+ characters)


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
        _WORDS["title"] = _bigrams(t[:2] for t in TITLE.split("|"))
        _WORDS["relation"] = _bigrams(w[-2:] for w in RELATION.split("|"))
        _TABLE = t
    return _TABLE


def _bigrams(words):
    """The first two characters of each word as one 64-bit key."""
    import numpy as np

    return np.unique(np.array([(ord(w[0]) << 32) | ord(w[1]) for w in words], dtype=np.uint64))


def _starts_word(codes, at, table):
    """Which of the positions `at` start one of the two-character words in `table` (see _bigrams)."""
    import numpy as np

    ok = (at >= 0) & (at + 1 < len(codes))
    at = np.where(ok, at, 0)
    key = (codes[at].astype(np.uint64) << np.uint64(32)) | codes[at + 1].astype(np.uint64)
    return ok & np.isin(key, table)


def candidates(texts: list[str], with_positions: bool = False):
    """Per text, the pattern families it could need (CHAT | NUMBERS | PLACES | NAMES), 0 for none:
    a superset of what find_pii finds, computed for all texts at once. With `with_positions`, also
    {text index: [offsets where a name could be, ~offset where one could start a sentence]}."""
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
    rule = where("name word", "title", "relation + name", "叫", "sentence start")
    raw, kind = pos[rule], val[rule]
    title = raw[(kind & mask("title")) != 0] - 1  # where the title starts
    title = title[_starts_word(codes, title, _WORDS["title"])]  # a title itself (大学 is two title characters, no title)
    title = title[has(title - 1, "name start") | has(title - 2, "name start") | has(title - 3, "name start")]
    relation = raw[(kind & mask("relation + name")) != 0]
    relation = relation[_starts_word(codes, relation - 2, _WORDS["relation"])]  # a relation word ends just before
    call = raw[(kind & mask("叫")) != 0]
    call = call[has(call + 1, "name start") | has(call + 1, "latin capital") | (codes[np.minimum(call + 1, len(f) - 1)] == codes[np.minimum(call + 2, len(f) - 1)])]
    start = raw[(kind & mask("sentence start")) != 0]
    start = start[has(start + 2, "name end") | has(start + 3, "name end") | has(start + 4, "name end")]
    names_at = np.unique(np.concatenate([raw[(kind & mask("name word")) != 0], title, relation, call]))
    starts_at = np.unique(start)
    for at in (names_at, starts_at):
        if len(at):
            out[np.searchsorted(ends, at, side="right")] |= NAMES

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
    starts = ends - lengths - 1
    for at, sign in ((names_at, 1), (starts_at, -1)):  # a sentence start comes as ~offset
        owner = np.searchsorted(ends, at, side="right")
        for i, p in zip(owner.tolist(), (at - starts[owner]).tolist()):
            name_at.setdefault(i, []).append(p if sign > 0 else ~p)
    return out, name_at


# ---------------------------------------------------------------- evaluation
