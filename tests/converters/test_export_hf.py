"""`hearme export hf`: registered datasets -> a folder `datasets.load_dataset` reads, with a Hub card."""

from __future__ import annotations

import shutil

import pytest

from hearme.converters import export_hf
from hearme.core import io, registry
from tests.conftest import FIXTURES, run_hearme

FIX = FIXTURES / "converters"


def _load(folder):
    import datasets

    return datasets.load_dataset(str(folder))


def _card(folder):
    from huggingface_hub import DatasetCard

    return DatasetCard.load(folder / "README.md").data.to_dict()


def test_shipped_splits_round_trip_through_load_dataset(tmp_path):
    out = tmp_path / "hf"
    proc = run_hearme("export", "hf", out, "hearme_counseling_zh")
    assert proc.returncode == 0, proc.stderr
    loaded = _load(out)
    info = registry.load()
    assert set(loaded) == {"train", "validation", "test"}
    for split, name in (("train", "hearme_counseling_zh_train"), ("validation", "hearme_counseling_zh_val"),
                        ("test", "hearme_counseling_zh_test")):
        recs = io.load_records(registry.file_of(name))
        assert loaded[split].num_rows == len(recs) == info[name]["records"]
        assert [r["messages"] for r in loaded[split]] == [r["messages"] for r in recs]  # text unchanged
        assert [r["id"] for r in loaded[split]] == [r["id"] for r in recs]
        assert f"{split}\t{len(recs)} rows\t{name}" in proc.stdout
    card = _card(out)
    assert card["language"] == ["zh"] and card["size_categories"] == ["n<1K"]
    files = card["configs"][0]["data_files"]
    assert [f["split"] for f in files] == ["train", "validation", "test"]
    assert all(len(list(out.glob(f["path"]))) == 1 for f in files)
    assert card["license"] == "other" and "CC BY 4.0" in card["license_details"]  # mixed sources, each stated
    text = (out / "README.md").read_text(encoding="utf-8")
    for png in ("dialogue_length.png", "turns.png"):
        assert f"](card/{png})" in text and (out / "card" / png).is_file()  # the data card's plots, linked


def test_single_license_maps_to_the_hub_identifier_and_languages_join(tmp_path):
    data = tmp_path / "data"
    proc = run_hearme("convert", "cpsycound", FIX / "cpsycound", "-o", data / "d.json", "--register", "cpd_train",
                      "--dataset-dir", data)
    assert proc.returncode == 0, proc.stderr
    shutil.copy(registry.file_of("hearme_tibetan_bo_test"), data / "bo.json")
    registry.register(data / "bo.json", "cpd_test", data, license="CC BY 4.0")
    out = tmp_path / "hf"
    proc = run_hearme("export", "hf", out, "cpd_train", "cpd_test", "--dataset-dir", data)
    assert proc.returncode == 0, proc.stderr
    card = _card(out)
    assert card["license"] == "cc-by-4.0" and "license_details" not in card
    assert card["language"] == ["bo", "zh"]
    assert {s: d.num_rows for s, d in _load(out).items()} == {"train": 3, "test": registry.load(data)["cpd_test"]["records"]}


def test_psyqa_is_refused_unless_private_use(tmp_path):
    data = tmp_path / "data"
    proc = run_hearme("convert", "psyqa", FIX / "psyqa" / "questions.json", "-o", data / "p.json",
                      "--register", "psyqa_mine", "--dataset-dir", data)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "hf"
    proc = run_hearme("export", "hf", out, "psyqa_mine", "--dataset-dir", data)
    assert proc.returncode == 2 and "forbids redistribution" in proc.stderr and "--private-use" in proc.stderr
    assert "Traceback" not in proc.stderr and not out.exists()  # nothing written
    proc = run_hearme("export", "hf", out, "psyqa_mine", "--dataset-dir", data, "--private-use")
    assert proc.returncode == 0 and "PRIVATE USE ONLY" in proc.stdout
    assert "Private use only" in (out / "README.md").read_text(encoding="utf-8")
    assert _load(out)["train"].num_rows == 3


def test_preference_entry_keeps_chosen_and_rejected(tmp_path):
    data = tmp_path / "data"
    pairs = [{"conversations": [{"from": "human", "value": f"我睡不着，第{i}晚了。"}],
              "chosen": {"from": "gpt", "value": "听起来你很累。最近是什么让你睡不着呢？"},
              "rejected": {"from": "gpt", "value": "多喝热水。"}, "id": f"p{i}", "license": "Apache-2.0",
              "lang": "zh"} for i in range(4)]
    io.write_json(data / "prefs.json", pairs)
    info = {"prefs_train": {"file_name": "prefs.json", "formatting": "sharegpt", "ranking": True,
                            "columns": {"messages": "conversations", "chosen": "chosen", "rejected": "rejected"}}}
    registry.save(info, data)
    out = tmp_path / "hf"
    proc = run_hearme("export", "hf", out, "prefs_train", "--dataset-dir", data)
    assert proc.returncode == 0, proc.stderr
    rows = list(_load(out)["train"])
    assert [r["chosen"]["value"] for r in rows] == [p["chosen"]["value"] for p in pairs]
    assert rows[0]["rejected"] == pairs[0]["rejected"] and rows[2]["conversations"] == pairs[2]["conversations"]
    card = _card(out)
    assert "preference" in card["tags"] and card["license"] == "apache-2.0"


def test_bad_requests_end_in_one_line(tmp_path):
    out = tmp_path / "hf"
    proc = run_hearme("export", "hf", out, "no_such_set")
    assert proc.returncode == 2 and "unknown dataset" in proc.stderr and "hearme_counseling_zh_train" in proc.stderr
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    proc = run_hearme("export", "hf", out, "hearme_selfcog_train")
    assert proc.returncode == 2 and "--overwrite" in proc.stderr and (out / "keep.txt").read_text() == "mine"
    proc = run_hearme("export", "hf", out, "hearme_selfcog_train", "hearme_knowledge_zh")
    assert proc.returncode == 2 and "two datasets for split 'train'" in proc.stderr
    assert run_hearme("export", "hf", out, "hearme_selfcog_train", "--overwrite").returncode == 0
    assert not (out / "keep.txt").exists() and _load(out)["train"].num_rows == registry.load()["hearme_selfcog_train"]["records"]
    # a re-export into the same folder loads the new rows (datasets caches a folder by name and patterns)
    assert run_hearme("export", "hf", out, "hearme_knowledge_zh", "--overwrite").returncode == 0
    assert _load(out)["train"].num_rows == registry.load()["hearme_knowledge_zh"]["records"]


@pytest.mark.parametrize("licenses,want", [({"MIT"}, {"license": "mit"}), ({"CC BY 4.0"}, {"license": "cc-by-4.0"}),
                                           ({"Apache-2.0 (HearMe's own hand-written samples)"}, {"license": "apache-2.0"}),
                                           (set(), {"license": "other", "license_name": "custom",
                                                    "license_details": "not stated"})])
def test_hub_license(licenses, want):
    assert export_hf.hub_license(licenses) == want


def test_size_categories():
    assert [export_hf.size_category(n) for n in (0, 999, 1000, 55_147, 2_000_000)] == [
        "n<1K", "n<1K", "1K<n<10K", "10K<n<100K", "1M<n<10M"]
