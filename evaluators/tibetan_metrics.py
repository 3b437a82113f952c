"""Tibetan-aware metrics over normalized syllables (shared/notes/tibetan-and-judge.md §3.5).

LLaMA-Factory's jieba/char metrics see Tibetan as single code points: an unrelated sentence
gets ROUGE-1 around 74 and shuffled syllables BLEU around 73. Here every text is normalized
(NFC, U+0F0C -> U+0F0B, zero-width stripped) and split into syllables by hearme.tibetan.text,
then scored as space-joined tokens:
  syllable_bleu       sacrebleu corpus BLEU, tokenize='none' (signature recorded)
  syllable_bleu_sent  sentence BLEU-4 with method3 smoothing, averaged (LLaMA-Factory's convention)
  syllable_rouge-*    ROUGE-1/2 F1 with clipped counts and ROUGE-L (LCS) F1, averaged
  chrf++              sacrebleu chrF++ (word_order=2) on the syllable-spaced text (signature recorded)
All on a 0-100 scale.
"""

from __future__ import annotations

from collections import Counter

from hearme.evaluators.lf_similarity import lcs_len, sentence_bleu4
from hearme.tibetan import text as bo


def syllable_tokens(text: str) -> list[str]:
    """Syllables, numbers and other-script words in order (other scripts count as misses)."""
    return bo.tokens(text)


def _f1(overlap: int, n_hyp: int, n_ref: int) -> float:
    if not overlap:
        return 0.0
    p, r = overlap / n_hyp, overlap / n_ref
    return 2 * p * r / (p + r)


def rouge_counts(hyp: list[str], ref: list[str]) -> tuple[float, float, float]:
    """ROUGE-1, ROUGE-2 (multiset, clipped) and ROUGE-L F1 for one pair, 0-1."""
    out = []
    for n in (1, 2):
        h = Counter(tuple(hyp[i:i + n]) for i in range(len(hyp) - n + 1))
        r = Counter(tuple(ref[i:i + n]) for i in range(len(ref) - n + 1))
        out.append(_f1(sum((h & r).values()), sum(h.values()), sum(r.values())))
    out.append(_f1(lcs_len(ref, hyp), len(hyp), len(ref)))
    return out[0], out[1], out[2]


def score(pairs: list[tuple[str, str]]) -> dict:
    """Corpus-level Tibetan metrics for (prediction, label) pairs."""
    from sacrebleu.metrics import BLEU, CHRF

    hyps = [syllable_tokens(p) for p, _ in pairs]
    refs = [syllable_tokens(l) for _, l in pairs]
    hyp_s, ref_s = [" ".join(h) for h in hyps], [" ".join(r) for r in refs]
    bleu, chrf = BLEU(tokenize="none"), CHRF(word_order=2)
    rows = [rouge_counts(h, r) for h, r in zip(hyps, refs)]
    n = max(len(rows), 1)
    sent = [sentence_bleu4(h, r) for h, r in zip(hyps, refs)]
    return {
        "syllable_bleu": round(bleu.corpus_score(hyp_s, [ref_s]).score, 4),
        "syllable_bleu_signature": str(bleu.get_signature()),
        "syllable_bleu_sent": round(100 * sum(sent) / n, 4),
        "syllable_rouge-1": round(100 * sum(r[0] for r in rows) / n, 4),
        "syllable_rouge-2": round(100 * sum(r[1] for r in rows) / n, 4),
        "syllable_rouge-l": round(100 * sum(r[2] for r in rows) / n, 4),
        "chrf++": round(chrf.corpus_score(hyp_s, [ref_s]).score, 4),
        "chrf++_signature": str(chrf.get_signature()),
        "n_syllables_pred": sum(map(len, hyps)),
        "n_syllables_label": sum(map(len, refs)),
    }


def score_pair(pred: str, label: str) -> dict:
    """Sentence-level versions for one pair (per-item tables and tests)."""
    return {k: v for k, v in score([(pred, label)]).items() if not k.endswith("signature")}
