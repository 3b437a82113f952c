"""hearme.lf.runner: a failed llamafactory-cli run is one clear error with the log's tail."""

from __future__ import annotations

import pytest

from hearme.core import io
from hearme.lf import runner as lf
from hearme.lf.recipes import tiny_overrides

pytestmark = pytest.mark.slow


def test_failed_run_reports_log_tail(tiny_model, tmp_path):
    recipe = "train/qwen2.5_stage1_selfcog.yaml"
    over, _ = tiny_overrides(lf.resolve_recipe(recipe), tiny_model, dataset_dir=tmp_path, output_dir=tmp_path / "o")
    over.update(dataset="no_such_dataset", eval_dataset="no_such_dataset")
    with pytest.raises(io.HearMeError) as e:
        lf.run("train", lf.resolve_recipe(recipe, over), tmp_path / "bad.yaml", tmp_path / "bad.log")
    msg = str(e.value)
    assert "exit 1" in msg and "bad.log" in msg and "dataset_info.json" in msg
    assert (tmp_path / "bad.yaml").exists()  # the resolved config is kept for a re-run by hand


def test_recipe_errors_name_the_file(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text("model_name_or_path: [unclosed\n", encoding="utf-8")
    with pytest.raises(io.InputError, match="r.yaml: line"):
        lf.resolve_recipe(bad)
    with pytest.raises(io.InputError, match="no such recipe"):
        lf.resolve_recipe(tmp_path / "missing.yaml")
