"""`hearme metrics`: LLaMA-Factory-identical BLEU/ROUGE, Tibetan syllable metrics, emoji rate.

    compute(pred_path, lang="auto") -> dict          # what `hearme metrics` prints and writes
    compute_by_lang(pred_path) -> {"all": ..., "zh": ..., "bo": ...}   # for reports

Keys `bleu-4`, `rouge-1`, `rouge-2`, `rouge-l` equal LLaMA-Factory's `predict_*` numbers for
the same generated_predictions.jsonl. With --lang bo (or auto and Tibetan labels) the Tibetan
items also get syllable_bleu, syllable_rouge-1/2/l and chrf++ (see tibetan_metrics).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from hearme.core import io
from hearme.evaluators import lf_similarity

LANGS = ("auto", "zh", "bo")


def load_predictions(path: str | Path, tally: io.Tally | None = None) -> list[dict]:
    """Rows of generated_predictions.jsonl with text `predict` and `label` (others rejected)."""
    path = Path(path)
    if not path.exists():
        raise io.InputError(path, "", "no such file")
    tally = tally if tally is not None else io.Tally()
    rows = []
    for lineno, obj, err in io.iter_jsonl(path):
        tally.read += 1
        if err:
            tally.reject(path, f"line {lineno}", err)
        elif not isinstance(obj, dict) or not isinstance(obj.get("predict"), str) or not isinstance(obj.get("label"), str):
            tally.reject(path, f"line {lineno}", "needs text fields `predict` and `label`", obj)
        else:
            tally.written += 1
            rows.append(dict(obj, line=lineno))
    if not rows:
        why = f" ({tally.rejects[0]['position']}: {tally.rejects[0]['reason']})" if tally.rejects else ""
        raise io.InputError(path, "", f"no predictions to score{why}")
    return rows


def item_lang(label: str) -> str:
    from hearme.tibetan.text import detect_lang

    return detect_lang(label)


@functools.lru_cache(maxsize=1)
def _emoji_first_chars():
    """Every emoji starts with one of these characters: texts without any skip the slow scan."""
    import emoji

    return emoji, frozenset(e[0] for e in emoji.EMOJI_DATA)


def emoji_counts(texts: list[str]) -> list[int]:
    emoji, first = _emoji_first_chars()
    return [0 if first.isdisjoint(t) else emoji.emoji_count(t) for t in texts]


def emoji_stats(preds: list[str], labels: list[str]) -> dict:
    cp, cl = emoji_counts(preds), emoji_counts(labels)
    n = max(len(preds), 1)
    return {"emoji_rate": round(sum(c > 0 for c in cp) / n, 4), "emoji_per_reply": round(sum(cp) / n, 4),
            "label_emoji_rate": round(sum(c > 0 for c in cl) / n, 4)}


def _score(rows: list[dict], lang: str) -> dict[str, Any]:
    pairs = [(r["predict"], r["label"]) for r in rows]
    from hearme.evaluators.stats import mean_cis

    out: dict[str, Any] = {"n": len(rows), "lang": lang}
    per_item = lf_similarity.score_pairs(pairs)
    out.update(lf_similarity.mean_scores(per_item))
    out.update(emoji_stats([p for p, _ in pairs], [l for _, l in pairs]))
    if lang == "bo":
        from hearme.evaluators import tibetan_metrics

        out.update(tibetan_metrics.score(pairs))
        out["note"] = "bleu-4/rouge-* are LLaMA-Factory-compatible but sub-syllabic for Tibetan; compare syllable_*"
    out["ci95"] = mean_cis({k: [r[k] for r in per_item] for k in lf_similarity.KEYS})
    return out


def compute(pred_path: str | Path, lang: str = "auto", tally: io.Tally | None = None) -> dict[str, Any]:
    """All metrics for one predictions file.

    lang=zh: LLaMA-Factory's four + emoji. lang=bo: every item also scored by syllables.
    lang=auto: the Tibetan metrics cover the items whose label is Tibetan, and `by_lang`
    breaks the numbers down when the file mixes languages.
    """
    if lang not in LANGS:
        raise io.HearMeError(f"--lang must be one of {', '.join(LANGS)}, got {lang!r}")
    tally = tally if tally is not None else io.Tally()
    rows = load_predictions(pred_path, tally)
    if lang != "auto":
        out = _score(rows, lang)
    else:
        groups: dict[str, list[dict]] = {}
        for r in rows:
            groups.setdefault(item_lang(r["label"]), []).append(r)
        main = "bo" if set(groups) == {"bo"} else ("zh" if len(groups) == 1 else "mixed")
        out = _score(rows, "zh")
        out["lang"] = main
        if main == "bo":
            out["note"] = "bleu-4/rouge-* are LLaMA-Factory-compatible but sub-syllabic for Tibetan; compare syllable_*"
        if "bo" in groups:
            from hearme.evaluators import tibetan_metrics

            bo_pairs = [(r["predict"], r["label"]) for r in groups["bo"]]
            out.update(tibetan_metrics.score(bo_pairs))
            out["n_bo"] = len(bo_pairs)
        if len(groups) > 1:
            out["by_lang"] = {g: _score(rs, "bo" if g == "bo" else "zh") for g, rs in sorted(groups.items())}
    out["input"] = {"file": str(pred_path), **tally.as_dict()}
    return out


def compute_by_lang(pred_path: str | Path) -> dict[str, dict]:
    """{"all": metrics over every item, "<lang>": metrics per label language} (flat numbers)."""
    full = compute(pred_path, "auto")
    by = full.pop("by_lang", None) or {full["lang"] if full["lang"] != "mixed" else "zh": dict(full)}
    flat = {"all": {k: v for k, v in full.items() if isinstance(v, (int, float))}}
    for lang, m in by.items():
        flat[lang] = {k: v for k, v in m.items() if isinstance(v, (int, float))}
    return flat


def per_item(pred_path: str | Path, limit: int | None = None) -> list[dict]:
    """Each row with its own LF scores (and syllable scores for Tibetan labels): report samples."""
    from hearme.evaluators import tibetan_metrics

    rows = load_predictions(pred_path)[:limit]
    scores = lf_similarity.score_pairs([(r["predict"], r["label"]) for r in rows])
    out = []
    for r, s in zip(rows, scores):
        item = {"line": r["line"], "prompt": r.get("prompt", ""), "predict": r["predict"], "label": r["label"], **s}
        if item_lang(r["label"]) == "bo":
            sp = tibetan_metrics.score_pair(r["predict"], r["label"])
            item.update({k: sp[k] for k in ("syllable_bleu", "syllable_rouge-l", "chrf++")})
        out.append(item)
    return out
