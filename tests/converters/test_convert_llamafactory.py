"""Every converter's output loads in LLaMA-Factory with zero skipped examples.

Converts our fixtures, the bundled data/samples (when present) and ../shared/samples (when
present), registers each result, and runs LLaMA-Factory's own get_dataset on the tiny model:
the example count must equal the record count, dataset by dataset.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hearme.core import io, paths, registry
from hearme.converters import run
from tests.lf_helpers import sft_dataset
from tests.conftest import FIXTURES

pytestmark = pytest.mark.slow

FIX = FIXTURES / "converters"
SAMPLES = paths.DATA / "samples"
SHARED = paths.REPO_ROOT.parent / "shared" / "samples"


def _sources() -> list[tuple[str, str, list[Path]]]:
    """(dataset name, format, inputs) for everything present."""
    out = [(f"fx_{fmt.replace('-', '_')}", fmt, [FIX / sub]) for fmt, sub in
           [("cpsycound", "cpsycound"), ("cpsycoune", "cpsycoune"), ("smile", "smile"), ("emollm", "emollm"),
            ("psyqa", "psyqa"), ("firefly", "firefly"), ("self-cognition", "self_cognition")]]
    out.append(("builtin_self_cognition", "self-cognition", []))
    for fmt in ("cpsycound", "cpsycoune", "smile", "emollm", "psyqa", "firefly"):
        if (SAMPLES / fmt).exists():
            out.append((f"bundled_{fmt}", fmt, [SAMPLES / fmt]))
    for name, fmt, rel in [("shared_cpsycound", "cpsycound", "CPsyCoun/CPsyCounD_Data"),
                           ("shared_cpsycoune", "cpsycoune", "CPsyCoun/CPsyCounE"), ("shared_emollm", "emollm", "EmoLLM"),
                           ("shared_identity", "self-cognition", "LLaMA-Factory/identity.json")]:
        if (SHARED / rel).exists():
            out.append((name, fmt, [SHARED / rel]))
    return out


def _load_count(tiny_model, dataset_dir: Path, name: str) -> int:
    return len(sft_dataset(tiny_model, dataset_dir, name)[1])


def test_every_format_loads_with_zero_skipped(tiny_model, tmp_path):
    expected: dict[str, int] = {}
    for name, fmt, inputs in _sources():
        records, tally = run(fmt, inputs)
        assert records and tally.balanced, (name, tally.as_dict())
        sharegpt = name == "fx_emollm"  # one dataset in ShareGPT form, the rest in messages form
        out = io.write_records(tmp_path / f"{name}.json", records, sharegpt=sharegpt)
        registry.register(out, name, tmp_path)
        expected[name] = len(records)
    if not SHARED.exists():
        print("../shared/samples absent: shared samples not checked")
    counts = {name: _load_count(tiny_model, tmp_path, name) for name in expected}
    print(counts)
    assert counts == expected
