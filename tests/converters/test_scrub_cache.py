"""The scrubber's jieba word tables come from a cache when one is there; a missing, corrupt or
unwritable cache changes nothing but the time."""

from __future__ import annotations

from pathlib import Path

import jieba

from hearme.converters import pii_rules as scrub
from hearme.converters.scrub import scrub_text

SOURCE = Path(jieba.__file__).parent / "dict.txt"


def test_cached_tables_equal_the_parsed_ones_and_a_corrupt_cache_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("HEARME_CACHE_DIR", str(tmp_path))
    parsed = tuple(map(tuple, scrub._parse_dictionary(SOURCE)))
    first = scrub._cached_tables(SOURCE)  # builds the cache
    (cache,) = (tmp_path / "scrub").glob("jieba-words-*.marshal")
    assert first == parsed and scrub._cached_tables(SOURCE) == parsed  # read back from it
    cache.write_bytes(b"\x00garbage")
    assert scrub._cached_tables(SOURCE) == parsed
    assert scrub._cached_tables(SOURCE) == parsed and cache.read_bytes() != b"\x00garbage"  # rewritten


def test_an_unwritable_cache_folder_does_not_stop_scrubbing(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("HEARME_CACHE_DIR", str(blocker))  # the cache folder cannot be made
    assert scrub._cached_tables(SOURCE) == tuple(map(tuple, scrub._parse_dictionary(SOURCE)))
    monkeypatch.setattr(scrub, "_WORDS", None)
    assert "成绩" in scrub.dictionary_words() and "应该" in scrub.dictionary_words()
    text, counts = scrub_text("我同事张伟说他的电话是13812345678。")
    assert counts == {"NAME": 1, "PHONE": 1} and "张伟" not in text
