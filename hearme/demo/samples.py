"""The bundled sample datasets: our own hand-written data in data/samples/, converted by the
real converters, split, and registered. The repository's dataset_info.json holds the
committed build (`hearme samples`); `hearme demo` rebuilds it into its own folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from hearme.core import io, paths, registry, schema

SAMPLES = paths.DATA / "samples"
LICENSE = "Apache-2.0 (HearMe's own hand-written samples)"


@dataclass
class Bundle:
    name: str
    parts: list[tuple[str, str]]  # (converter format, path under data/samples/ or "" for built-ins)
    split: tuple[int, ...] | None = None
    split_names: dict[str, str] = field(default_factory=dict)
    source: str = ""
    use: str = ""


BUNDLES = [
    Bundle("hearme_selfcog", [("self-cognition", "")], (90, 10), {"test": "val"},
           "HearMe built-in self-cognition template (Jerry / VastEpiphany)", "stage 1"),
    Bundle("hearme_counseling_zh", [("cpsycound", "cpsycound"), ("smile", "smile")], (70, 15, 15), {},
           "HearMe samples in CPsyCounD and SMILE formats", "stage 2, predict"),
    Bundle("hearme_knowledge_zh", [("emollm", "emollm/knowledge.json")], None, {},
           "HearMe samples in EmoLLM scientist format", "stage 2"),
    Bundle("hearme_emoji_zh", [("emollm", "emollm/emoji_dialogues.json")], None, {},
           "HearMe samples in EmoLLM multi-turn format, with emoji", "stage 2"),
    Bundle("hearme_tibetan_bo", [("firefly", "firefly/tibetan_dialogues.jsonl")], (70, 15, 15), {},
           "HearMe samples in Firefly format (Tibetan)", "Tibetan recipe, predict"),
    Bundle("hearme_eval_zh", [("cpsycoune", "cpsycoune")], None, {},
           "HearMe samples in CPsyCounE format", "judge-dialogues"),
]


def build(files_dir: str | Path, dataset_dir: str | Path, seed: int = 42) -> dict:
    """Convert, split and register every bundle. Returns {bundle: {...counts, parts}}."""
    from hearme import converters
    from hearme.converters.split import split_records

    files_dir, dataset_dir = Path(files_dir), Path(dataset_dir)
    report: dict[str, dict] = {}
    for b in BUNDLES:
        records: list[schema.Record] = []
        tally = io.Tally()
        for fmt, rel in b.parts:
            inputs = [SAMPLES / rel] if rel else []
            recs, t = converters.run(fmt, inputs, progress=False)
            records += recs
            tally.merge(t)
        if tally.rejected:
            tally.write_rejects(files_dir / f"{b.name}.json")
        parts = {b.name: records}
        if b.split:
            split = split_records(records, ratios=list(b.split), seed=seed)
            parts = {f"{b.name}_{b.split_names.get(k, k)}": v for k, v in split.items()}
        langs = registry.record_meta(records)["lang"]  # of the whole bundle, for every part
        for name, recs in parts.items():
            path = files_dir / f"{name}.json"
            io.write_records(path, recs)
            registry.register(path, name, dataset_dir, source=b.source, license=LICENSE, lang=langs)
        report[b.name] = {**tally.as_dict(), "records": len(records), "use": b.use,
                          "parts": {k: len(v) for k, v in parts.items()}}
    return report


def records_by_bundle(files_dir: str | Path) -> dict[str, list[schema.Record]]:
    """All records of each bundle, reassembled from its split parts (for the data card)."""
    files_dir = Path(files_dir)
    out = {}
    for b in BUNDLES:
        recs = []
        for f in sorted(files_dir.glob(f"{b.name}*.json")):
            if ".rejected." not in f.name and (f.stem == b.name or f.stem[len(b.name):].startswith("_")):
                recs += io.load_records(f)
        out[b.name] = recs
    return out
