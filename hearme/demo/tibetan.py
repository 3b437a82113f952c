"""The Tibetan leg of `hearme demo`: every step on the bundled hand-written samples, offline.

segment (corpus lines) -> LM on data/samples/tibetan/corpus_bo.txt -> filter the bundled
Tibetan dialogues plus planted garbage (the paper's Figure 3 cases) -> IFD on the tiny model
-> select and register -> stats; and Chinese -> Tibetan translation of the bundled PsyQA-shaped
sample through the tiny seq2seq model (or an OpenAI-compatible endpoint), then filtered.
"""

from __future__ import annotations

import time
from pathlib import Path

from hearme.core import io, paths

SAMPLES = paths.DATA / "samples"
CORPUS = SAMPLES / "tibetan" / "corpus_bo.txt"
HELDOUT = SAMPLES / "tibetan" / "heldout_bo.txt"
GARBAGE = SAMPLES / "tibetan" / "garbage_bo.txt"
GLOSSARY = SAMPLES / "tibetan" / "glossary_zh_bo.tsv"
DIALOGUES = SAMPLES / "firefly" / "tibetan_dialogues.jsonl"
PSYQA = SAMPLES / "psyqa" / "psyqa_sample.json"
DATASET_NAME = "hearme_tibetan_bo_selected"
PRE_STEPS = 40
# The bundled corpus has ~6k syllables, so its LM is weak: the demo keeps utterances down to
# median/0.7 (the paper's 0.85 suits a large corpus); the cheap checks catch the rest.
DEMO_RELATIVE = 0.7


def demo_leg(out_dir: str | Path, tiny_model_path: str | Path | None = None, dataset_dir: str | Path | None = None,
             *, base_url: str | None = None, llm_model: str = "fake-mt", translate_items: int = 2) -> dict:
    """Run the leg; returns a JSON-able summary. `dataset_dir` gets the registered selection
    (default: out_dir); `base_url` translates through that endpoint instead of the tiny seq2seq model."""
    from hearme.core import registry, schema
    from hearme.converters.convert import run as convert
    from hearme.tibetan import filter as F, filter_lm as FL
    from hearme.tibetan import ifd, ngram, pre_experience, stats
    from hearme.tibetan import text as T

    paths.set_offline()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    dataset_dir = Path(dataset_dir) if dataset_dir else out
    t0 = time.time()
    res: dict = {}

    # 1. segment
    corpus = ngram.read_corpus(CORPUS)
    io.write_text(out / "segmented.txt", "".join(T.segment(ln) + "\n" for ln in corpus[:50]))
    res["segment"] = {"lines": 50, "syllables": sum(len(T.syllables(ln)) for ln in corpus[:50]),
                      "output": str(out / "segmented.txt")}

    # 2. LM + threshold
    held = ngram.read_corpus(HELDOUT) if HELDOUT.exists() else None
    train = corpus
    if held is None:
        train, held = FL.heldout_split(corpus)
    lm = ngram.KNTrigram.fit(train)
    lm.save(out / "lm.npz")
    threshold = FL.Threshold("relative", DEMO_RELATIVE).resolve(FL.lm_score(lm, held))
    res["lm"] = {k: lm.meta[k] for k in ("sentences", "tokens", "vocab", "trigrams")} | \
        {"threshold": threshold.describe(), "heldout": "heldout_bo.txt" if HELDOUT.exists() else "every 10th corpus line"}

    # 3. filter bundled dialogues + planted garbage
    clean, _ = convert("firefly", [DIALOGUES], scrub=False)
    planted = _plant(clean, GARBAGE)
    io.write_records(out / "filter_input.jsonl", clean + planted)
    rep = F.run(out / "filter_input.jsonl", out / "filtered.jsonl", lm, threshold, progress=False)
    kept_ids = {r["id"] for r in io.load_records(out / "filtered.jsonl")}
    res["filter"] = {"read": rep["read"], "written": rep["written"], "rejected": rep["rejected"],
                     "clean_kept": sum(r["id"] in kept_ids for r in clean), "clean": len(clean),
                     "planted_rejected": sum(r["id"] not in kept_ids for r in planted), "planted": len(planted),
                     "rejected_by_check": rep["rejected_by_check"]}

    # 4. IFD with a pre-experience model (the tiny model tuned on the filtered dialogues), select, register
    base = Path(tiny_model_path) if tiny_model_path else _tiny(out / "tiny_model")
    filtered = io.load_records(out / "filtered.jsonl")
    model = pre_experience.train(base, filtered, out / "pre_experience", steps=PRE_STEPS) if filtered else base
    irep = ifd.run(out / "filtered.jsonl", out / "selected.jsonl", model, top_fraction=0.8, progress=False)
    res["ifd"] = {"model": str(model), "read": irep["read"], "written": irep["written"],
                  "rejected": irep["rejected"], "mean_ifd": irep["ifd"]["mean"], "above_1": irep["ifd"]["above_max"]}
    selected = io.load_records(out / "selected.jsonl")
    if selected:
        entry = registry.register(out / "selected.jsonl", DATASET_NAME, dataset_dir, source="HearMe bundled samples",
                                  license="Apache-2.0", lang="bo")
        res["registered"] = {"name": DATASET_NAME, "records": entry["records"],
                             "dataset_info": str(registry.registry_path(dataset_dir))}
    st = stats.run(out / ("selected.jsonl" if selected else "filtered.jsonl"), out / "stats")
    res["stats"] = st["table4"] | {"card": str(out / "stats" / "stats.md")}

    # 5. translation of Chinese samples, then the same filter
    res["translate"] = _translate_leg(out, convert, schema, lm, threshold, base_url, llm_model, translate_items)
    res["seconds"] = round(time.time() - t0, 1)
    res["summary"] = _summary_lines(res)
    io.write_json(out / "tibetan_leg.json", res)
    return res


def _plant(clean: list[dict], garbage_file: Path) -> list[dict]:
    """One bad utterance per garbage line, put into a copy of a clean dialogue (Figure 3 cases)."""
    text, _ = io.read_text(garbage_file)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    kinds = _garbage_kinds(garbage_file)
    out = []
    for k, bad in enumerate(lines):
        src = clean[k % len(clean)]
        msgs = [dict(m) for m in src["messages"]]
        idx = [i for i, m in enumerate(msgs) if m["role"] in ("user", "assistant")]
        msgs[idx[(2 * k + 1) % len(idx)]]["content"] = bad
        out.append(dict(src, messages=msgs, id=f"planted/{kinds.get(k + 1, 'garbage')}/{k + 1}"))
    return out


def _garbage_kinds(garbage_file: Path) -> dict[int, str]:
    tsv = garbage_file.with_name("garbage_kinds.tsv")
    if not tsv.exists():
        return {}
    rows = [ln.split("\t") for ln in tsv.read_text(encoding="utf-8").splitlines()[1:] if "\t" in ln]
    return {int(a): b.strip() for a, b in rows if a.strip().isdigit()}


def _tiny(path: Path) -> Path:
    from hearme.lf import tinymodel

    return tinymodel.ensure(path)


def _translate_leg(out: Path, convert, schema, lm, threshold, base_url, llm_model, n: int) -> dict:
    from hearme.tibetan import filter as F
    from hearme.tibetan import translate as tr

    recs, _ = convert("psyqa", [PSYQA], scrub=False)
    recs = recs[:n]
    io.write_records(out / "translate_input.jsonl", recs)
    gloss = tr.Glossary.load(GLOSSARY)
    if base_url:
        from hearme.llm import LLMClient

        backend = tr.LLMBackend(LLMClient(base_url, llm_model, cache_dir=out / "llm_cache", progress=False), gloss)
    else:
        from hearme.tibetan import mt_local

        mt_dir = out / "tiny_mt"
        if not (mt_dir / "hearme_tiny_mt.json").exists():
            mt_local.build_tiny(mt_dir, "madlad")
        backend = tr.LocalBackend(mt_local.LocalTranslator(mt_dir, num_beams=1, batch_size=16, max_new_tokens=16,
                                                           cache_dir=out / "mt_cache"))
    rep = tr.run(out / "translate_input.jsonl", out / "translated.jsonl", backend, glossary=gloss, progress=False)
    result = {"backend": rep["backend"], "read": rep["read"], "written": rep["written"], "rejected": rep["rejected"],
              "utterances": rep["utterances"], "glossary_rate": (rep["glossary"] or {}).get("rate")}
    if rep["written"]:
        frep = F.run(out / "translated.jsonl", out / "translated_filtered.jsonl", lm, threshold, progress=False)
        result["filter"] = {"read": frep["read"], "written": frep["written"], "rejected": frep["rejected"],
                            "rejected_by_check": frep["rejected_by_check"]}
    return result


def _summary_lines(r: dict) -> list[str]:
    f, i, t = r["filter"], r["ifd"], r["translate"]
    lines = [f"segment: {r['segment']['lines']} lines, {r['segment']['syllables']} syllables",
             f"LM: {r['lm']['tokens']} training tokens, vocabulary {r['lm']['vocab']}; {r['lm']['threshold']}",
             f"filter: read={f['read']} written={f['written']} rejected={f['rejected']}; clean kept "
             f"{f['clean_kept']}/{f['clean']}, planted garbage rejected {f['planted_rejected']}/{f['planted']}",
             f"IFD (tiny model): read={i['read']} written={i['written']} rejected={i['rejected']}; "
             f"mean IFD {i['mean_ifd']:.4f}" if i["mean_ifd"] is not None else "IFD: nothing to score",
             f"translate ({t['backend']}): read={t['read']} written={t['written']} rejected={t['rejected']}"
             + (f"; filter kept {t['filter']['written']}/{t['filter']['read']}" if "filter" in t else "")]
    if "registered" in r:
        lines.append(f"registered {r['registered']['name']}: {r['registered']['records']} records")
    lines.append(f"stats: {r['stats']['dialogues']} dialogues, mean turns {r['stats']['mean_turns']}, "
                 f"mean syllables {r['stats']['mean_len']}")
    return lines
