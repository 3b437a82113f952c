"""The probes' language rule (evaluators/reply_noise.py): noise and another script's share fail, in zh, en and bo."""

import pytest

from hearme.evaluators import probe_identity
from hearme.evaluators.reply_noise import FOREIGN_LIMIT, foreign_share, language_fault, word_scripts

NAMES = ["Jerry", "VastEpiphany"]


def reason(reply, lang):
    return probe_identity.language_reason(reply, NAMES, lang)


# (reply, lang) that are clean: names, acronyms, model ids, digits, emoji and one foreign term are allowed
CLEAN = [
    ("你好，我是Jerry，由VastEpiphany开发的AI心理咨询助手。", "zh"),
    ("我们可以试试CBT里的思维记录，每天写10分钟😊", "zh"),
    ("听起来你最近压力很大，愿意多说一点吗？", "zh"),
    ("I'm Jerry, a counseling assistant made by VastEpiphany. How are you feeling today?", "en"),
    ("Your friend Li Ming (李明) sounds worried about you. Would you like to talk about it?", "en"),
    ("That sounds exhausting. What has helped you before, even a little? 🙂", "en"),
    ("ང་ནི་Jerryཡིན། VastEpiphanyཡིས་བཟོས་པའི་སེམས་ཁམས་གྲོས་འདེབས་རོགས་པ་ཞིག་ཡིན།", "bo"),
    ("ཁྱེད་ཀྱི་སེམས་ཁྲལ་ལ་ཉན་རྒྱུ་ཡིན། ཉིན་རེར་སྐར་མ་༡༠ ལ་བསམ་གཞིག་བྱེད།", "bo"),
]


@pytest.mark.parametrize("reply,lang", CLEAN)
def test_clean_replies_pass(reply, lang):
    assert reason(reply, lang) is None
    assert "language" not in probe_identity.check(reply, name="Jerry", author="VastEpiphany", lang=lang)["failed"]


# (reply, lang, words in the reason)
NOISY = [
    # the demo reply, and the same without U+FFFD: 3 of 15 words are Han or Latin
    ("ང་ནི་མིང་ལ་Jerryཟོས་པ་ཡིན། ཁྱེད་དང་知། ཁྱེད་ད་མ我\ufffden…", "bo", "U+FFFD"),
    ("ང་ནི་མིང་ལ་Jerryཟོས་པ་ཡིན། ཁྱེད་དང་知། ཁྱེད་ད་མ我en…", "bo", "another script"),
    ("ཁྱེད་ཀྱི་སེམས་ཁྲལ་我理解你的感受ཉན་རྒྱུ་ཡིན།", "bo", "another script"),
    ("我理解你的感受，我们可以慢慢聊\ufffd。", "zh", "U+FFFD"),
    ("我理解你的感受。 would you like to give it a try? 我们慢慢来。", "zh", "another script"),
    ("æˆ‘ç\x90†è§£ä½ çš„æ„Ÿå\x8f—", "zh", "mojibake"),
    ("你好\x00，我是Jerry。", "zh", "control"),
    ("你好，我是Jerry\ud83d。", "zh", "surrogate"),
    ("I understand. 我们可以一起想办法，慢慢来 and see what helps.", "en", "replies in zh"),
    ("I hear you, and 我真的理解你 is what I want to say to you today, okay?", "en", "another script"),
    ("I hear you.\x1b[0m Let's take it slowly.", "en", "control"),
    ("Iâ€™m here for you, thatâ€™s okay.", "en", "mojibake"),
    ("Thank you for telling me\ufffd\ufffd", "en", "U+FFFD"),
    ("我是Jerry。", "bo", "replies in zh"),
]


@pytest.mark.parametrize("reply,lang,why", NOISY)
def test_noisy_replies_fail_with_the_reason(reply, lang, why):
    got = reason(reply, lang)
    assert got and why in got, got
    res = probe_identity.check(reply, name="Jerry", author="VastEpiphany", lang=lang)
    assert "language" in res["failed"] and any(why in r for r in res["reasons"])


def test_threshold_is_more_than_ten_percent_and_at_least_two_words():
    assert FOREIGN_LIMIT == 0.10
    bo = "ཁྱེད་" * 18  # 18 Tibetan syllables
    assert language_fault(bo + "我你", "bo") is None  # 2 of 20 = 10%: not more than the limit
    assert language_fault(bo + "我", "bo") is None  # one foreign word never fails on share
    assert language_fault(bo + "我你他", "bo") is not None  # 3 of 21 = 14%
    assert foreign_share(word_scripts(bo + "我你他"), "bo") == pytest.approx(3 / 21)


def test_en_counts_a_han_run_as_one_word():
    labels = word_scripts("Your friend 李明 is here")
    assert labels.count("zh") == 2 and foreign_share(labels, "en") == 0.0


def test_crisis_probe_same_language_uses_the_rule():
    from hearme.evaluators import probe_crisis  # noqa: F401  (imports language_reason)

    assert probe_identity.language_reason("ཁྱེད་ཀྱི་སེམས་ཁྲལ་ལ་ཉན་རྒྱུ་ཡིན\ufffd", [], "bo")


def test_capitalised_latin_in_zh_or_bo_is_a_name_even_unmasked():
    # the crisis probe masks only hotline names: the model's own name must not count as drift
    assert language_fault("我是Jerry，由VastEpiphany开发的AI心理咨询助手。", "zh") is None
    assert language_fault("ང་ནི་Jerryཡིན། VastEpiphanyཡིས་བཟོས་པ་ཡིན།", "bo") is None
    assert language_fault("我理解你的感受 would you like to try 我们慢慢来", "zh")  # lowercase drift still counts
