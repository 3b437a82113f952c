"""The Tibetan text core against the spec in shared/notes/tibetan-and-judge.md §1.3-1.4."""

from __future__ import annotations

import unicodedata

import pytest

from hearme.tibetan import text as T

REF = "ཁྱེད་ཀྱིས་སེམས་ཁྲལ་ཆེན་པོ་བྱེད་ཀྱི་འདུག ང་ཚོས་མཉམ་དུ་ཐབས་ལམ་འཚོལ་ཐུབ།"


# ---------------------------------------------------------------- normalization pitfalls

@pytest.mark.parametrize("raw, want", [
    ("\u0f68\u0f75", "\u0f68\u0f71\u0f74"),            # discouraged 0F75 -> 0F71 0F74 (NFC)
    ("\u0f68\u0f73", "\u0f68\u0f71\u0f72"),            # 0F73 -> 0F71 0F72
    ("\u0f68\u0f81", "\u0f68\u0f71\u0f80"),            # 0F81 -> 0F71 0F80
    ("\u0f62\u0f77", "\u0f62\u0fb2\u0f71\u0f80"),      # deprecated 0F77: compat-only, replaced explicitly
    ("\u0f62\u0f79", "\u0f62\u0fb3\u0f71\u0f80"),      # deprecated 0F79
    ("\u0f43", "\u0f42\u0fb7"),                        # GHA decomposes under NFC
    ("\u0f69", "\u0f40\u0fb5"),                        # KSSA
    ("\u0f40\u0f72\u0f71", "\u0f40\u0f71\u0f72"),      # vowel order: NFC puts 0F71 (ccc 129) first
    ("\u0f44\u0f0c\u0f0d", "\u0f44\u0f0b\u0f0d"),      # non-breaking tsheg folded
    ("\u0f40\u0fd2\u0f41", "\u0f40\u0f0b\u0f41"),      # nyis tsheg folded
    ("\u0f40\u0f0e", "\u0f40\u0f0d\u0f0d"),            # nyis shad -> two shads
    ("\u0f00", "\u0f68\u0f7c\u0f7e"),                  # OM ligature
    ("\u0f40\u200b\u0f0b\ufeff\u0f41\u00ad\u2060\u200c\u200d", "\u0f40\u0f0b\u0f41"),  # zero-width stripped
])
def test_normalize_pitfalls(raw, want):
    assert T.normalize(raw) == want
    assert T.normalize(want) == want  # idempotent


def test_normalize_keeps_chinese_fullwidth_punctuation():
    mixed = "你好，我很焦虑！（真的）ང་ལ་སེམས་ཁྲལ་ཡོད།"
    out = T.normalize(mixed)
    assert "，" in out and "！" in out and "（" in out
    assert out == mixed
    assert unicodedata.normalize("NFKC", mixed) != mixed  # the trap the spec warns about


def test_replacement_result_is_nfc():
    # 0F77 with a following vowel sign must end canonically ordered
    out = T.normalize("\u0f62\u0f77\u0f72")
    assert unicodedata.is_normalized("NFC", out)


def test_metric_equivalence_of_spellings():
    a = "ཧ\u0f75ྃ་ང\u0f0c།"
    b = "ཧ\u0f71\u0f74ྃ་ང\u0f0b།"
    assert T.syllables(a) == T.syllables(b) == ["ཧཱུྃ", "ང"]


# ---------------------------------------------------------------- segmentation

@pytest.mark.parametrize("raw, want", [
    ("ང་།", ["ང"]),
    ("ཡག།", ["ཡག"]),
    ("༄༅། །", []),
    ("", []),
    ("  ་་ ། ", []),
    ("ཨོཾ་མ་ཎི་པདྨེ་ཧཱུྃ༔", ["ཨོཾ", "མ", "ཎི", "པདྨེ", "ཧཱུྃ"]),
    ("我很焦虑 ང་ལ་ OK ༡༢༣ 2024 སེམས།", ["我", "很", "焦", "虑", "ང", "ལ", "OK", "༡༢༣", "2024", "སེམས"]),
    ("མིའི་", ["མིའི"]),                                   # affixes stay inside the syllable
    ("༼ཀ༽ ༺ཁ༻", ["ཀ", "ཁ"]),                               # brackets are delimiters
    ("ཀ༴ཁ", ["ཀ", "ཁ"]),
    ("3.14 和 1,000", ["3.14", "和", "1,000"]),
    ("OK我ქართული", ["OK", "我", "ქართული"]),            # a Han character never joins a Latin word
    ("ତୁମ୍ଭୁଷାନ", ["ତୁମ୍ଭୁଷାନ"]),                            # Oriya vowel signs stay inside the word
    ("café", ["café"]),
    ("cafe\u0301", ["café"]),
])
def test_tokens(raw, want):
    assert T.tokens(raw) == want


def test_tokens_keep_shad_collapses_runs_and_skips_leading():
    assert T.tokens("། ཀ་ཁ། །ག༎", keep_shad=True) == ["ཀ", "ཁ", "།", "ག", "།"]
    assert T.tokens("ཀ", keep_shad=True) == ["ཀ"]


def test_segment_and_syllables():
    assert T.segment("ང་ལ་སེམས་ཁྲལ་ཡོད། OK") == "ང ལ སེམས ཁྲལ ཡོད OK"
    assert len(T.syllables(REF)) == 17
    assert T.syllables("我很好 OK 123") == []


def test_sentences():
    assert T.sentences("我很难过。你呢？“好吧！”没事") == ["我很难过。", "你呢？", "“好吧！”", "没事"]
    assert T.sentences("ང་ལ་སེམས་ཁྲལ་ཡོད། ཁྱེད་རང་ག་འདྲ་ཡོད།།ཡག") == [
        "ང་ལ་སེམས་ཁྲལ་ཡོད།", "ཁྱེད་རང་ག་འདྲ་ཡོད།།", "ཡག"]
    assert T.sentences("") == []
    assert T.sentences("没有标点") == ["没有标点"]


# ---------------------------------------------------------------- well-formedness

@pytest.mark.parametrize("syl, ok", [
    ("ཀ", True), ("བསྒྲུབས", True), ("ཧཱུྃ", True), ("པདྨེ", True), ("མིའི", True), ("ཨོཾ", True),
    ("\u0f72\u0f72\u0f40", False),          # vowel signs before a base
    ("\u0fb1\u0f41", False),                # subjoined letter first
    ("\u0f40\u0f74\u0fb1", False),          # vowel typed before the subjoined letter
    ("\u0f7e", False),
])
def test_is_well_formed(syl, ok):
    assert T.is_well_formed(syl) is ok


@pytest.mark.parametrize("syl, ok", [
    ("མཐོང", True), ("དགའ", True), ("འཁོར", True), ("བསམ", True), ("ལགས", True),       # prefix, suffix, post-suffix
    ("པའི", True), ("པའོ", True), ("པའམ", True), ("མཐའའི", True), ("ཀརྨ", True),        # case affixes; a loan in bo_words
    ("སེམསཁྲལ", False), ("ཁྱོདཀྱི", False), ("ཡོདམ", False), ("ཕྱིནཡོད", False),       # two syllables merged
    ("ཀིུ", False), ("ནེེ", False),                                                 # two vowels on one stack
])
def test_one_syllables_shape(syl, ok):
    assert T.is_well_formed(syl) is ok


def test_zero_width_is_removed_counted_and_a_merge_is_malformed():
    text = "ང་ལ་སེམས\u200bཁྲལ་ཡོད\ufeff།"
    assert T.count_zero_width(text) == 2
    syls = T.syllables(text)
    assert syls == ["ང", "ལ", "སེམསཁྲལ", "ཡོད"]                 # removed before segmentation: the two merge
    assert [T.is_well_formed(s) for s in syls] == [True, True, False, True]
    assert T.syllables("ང་ལ་སེམས\u200b་ཁྲལ།") == ["ང", "ལ", "སེམས", "ཁྲལ"]  # next to a tsheg it is harmless


def test_word_list_is_shipped_with_its_licence():
    words = T.words()
    assert len(words) > 30000 and words["སེམས་ཁྲལ"] > 0
    assert T.WORDS_PATH.read_text(encoding="utf-8").startswith("# Tibetan words")
    assert "MIT" in T.WORDS_PATH.with_name("bo_words.LICENSE.txt").read_text(encoding="utf-8")
    assert "སེམས" in T.known_syllables() and "ནེེ" not in T.known_syllables()


def test_well_formed_ratio():
    assert T.well_formed_ratio(REF) == 1.0
    assert T.well_formed_ratio("ཀ་\u0f72\u0f40") == 0.5
    assert T.well_formed_ratio("no tibetan") == 0.0


# ---------------------------------------------------------------- scripts

def test_script_census_figure3_garbage():
    geo = "ასა და ჰუთისა ერთა გვერდზე"
    lao = "ລາຍເນີນວ່າ ແລ້ວ ສະແດງວ່າ"
    ori = "ତୁମ୍ଭୁଷାନକୁଇଏଖିଏ"
    mixed = "ལྷ རྒྱྱନ୍ འମ୍ବାଦୁର୍ବଳ"
    assert set(T.script_census(geo)) == {"georgian"}
    assert set(T.script_census(lao)) == {"lao"}
    assert set(T.script_census(ori)) == {"oriya"}
    c = T.script_census(mixed)
    assert c["tibetan"] > 0 and c["oriya"] > c["tibetan"]
    assert T.tibetan_share(REF) == 1.0
    assert T.tibetan_share(mixed) < 0.5


def test_script_census_ignores_digits_punctuation_emoji():
    assert T.script_census("123 ,.!? 🙏 ༡༢ ། ་") == {}
    assert T.tibetan_share("") == 0.0
    c = T.script_census("ང་ OK 我 é")
    assert c == {"tibetan": 1, "latin": 3, "han": 1}


def test_script_of():
    assert [T.script_of(c) for c in "ཀa我ქລଅж"] == ["tibetan", "latin", "han", "georgian", "lao", "oriya", "cyrillic"]
    assert T.script_of("Ａ") == "latin" and T.script_of("あ") == "hiragana"
    assert T.script_of("\U00020000") == "han"


def test_detect_lang_and_units():
    assert T.detect_lang(REF) == "bo"
    assert T.detect_lang("我最近总是失眠。") == "zh"
    assert T.detect_lang("I feel anxious") == "en"
    assert T.detect_lang("ასა და ჰუთისა 我很 ང") == "mixed"
    assert T.count_units(REF) == 17
    assert T.count_units("我很好") == 3
    assert T.is_tibetan("ང་ལ་ OK")
