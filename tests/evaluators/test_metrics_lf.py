"""`hearme metrics` equals LLaMA-Factory's own ComputeSimilarity on the same predictions."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from hearme.core import paths
from hearme.evaluators import lf_similarity, metrics
from tests.conftest import run_hearme

BO = ["ཁྱེད་ཀྱིས་སེམས་ཁྲལ་ཆེན་པོ་བྱེད་ཀྱི་འདུག ང་ཚོས་མཉམ་དུ་ཐབས་ལམ་འཚོལ་ཐུབ།", "དེ་རིང་གནམ་གཤིས་ཡག་པོ་འདུག"]
EDGE = ["", " ", "\n", "a b  c", "你好😊！？", "。。。", "......", "hello world. ok?", "a", "？", "  \n 。 ",
        "ok……好的", "“你好。”他说。", "别担心🌈🌈，我们一起想办法👍"]


class TableTokenizer:
    """Feeds exact strings through LLaMA-Factory's decode step: row i decodes to texts[i]."""

    pad_token_id = 0

    def __init__(self, texts: list[str]):
        self.texts = [""] + texts

    def batch_decode(self, ids, skip_special_tokens=True):
        return [self.texts[int(row[0])] for row in ids]


def sample_pairs(n: int, seed: int = 0) -> list[tuple[str, str]]:
    utts = []
    for f in sorted((paths.DATA / "samples" / "cpsycound").glob("*.txt")):
        utts += [u.split("：", 1)[-1].strip() for u in f.read_text(encoding="utf-8").splitlines() if "：" in u]
    pool = utts + BO + EDGE
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        a, b = rng.choice(pool), rng.choice(pool)
        if rng.random() < 0.3:
            a = a[: rng.randint(0, len(a))] + rng.choice(pool)
        if rng.random() < 0.1:
            a = b
        pairs.append((a, b + ("\n" if rng.random() < 0.5 else "")))  # labels keep the template's "\n"
    return pairs


def lf_reference(pairs: list[tuple[str, str]]) -> dict:
    from llamafactory.train.sft.metric import ComputeSimilarity
    from transformers import EvalPrediction

    texts = [t for pair in pairs for t in pair]
    preds = np.array([[2 * i + 1] for i in range(len(pairs))])
    labels = np.array([[2 * i + 2] for i in range(len(pairs))])
    return ComputeSimilarity(TableTokenizer(texts))(EvalPrediction(predictions=preds, label_ids=labels))


def write_preds(path: Path, pairs) -> Path:
    path.write_text("".join(json.dumps({"prompt": "<|im_start|>user\nq<|im_end|>\n", "predict": p, "label": l},
                                       ensure_ascii=False) + "\n" for p, l in pairs), encoding="utf-8")
    return path


def test_file_metrics_equal_llamafactory_exactly(tmp_path):
    pairs = sample_pairs(600)
    ref = lf_reference(pairs)
    got = metrics.compute(write_preds(tmp_path / "generated_predictions.jsonl", pairs), lang="zh")
    for key in ("bleu-4", "rouge-1", "rouge-2", "rouge-l"):
        assert got[key] == ref[key], key  # exact float equality, not approx


def test_every_pair_equals_llamafactory(tmp_path):
    from llamafactory.train.sft.metric import ComputeSimilarity
    from transformers import EvalPrediction

    pairs = sample_pairs(150, seed=7) + [(e, f) for e in EDGE[:6] for f in EDGE[:6]]
    texts = [t for pair in pairs for t in pair]
    cs = ComputeSimilarity(TableTokenizer(texts))
    for i, (p, l) in enumerate(pairs):
        ref = cs(EvalPrediction(predictions=np.array([[2 * i + 1]]), label_ids=np.array([[2 * i + 2]])))
        assert lf_similarity.score_pair(p, l) == ref, (p, l)


def test_bit_parallel_lcs_matches_dynamic_programming():
    rng = random.Random(3)
    for _ in range(300):
        a = [rng.choice("abcde") for _ in range(rng.randint(0, 30))]
        b = [rng.choice("abcdef") for _ in range(rng.randint(0, 30))]
        table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i in range(1, len(a) + 1):
            for j in range(1, len(b) + 1):
                table[i][j] = table[i - 1][j - 1] + 1 if a[i - 1] == b[j - 1] else max(table[i - 1][j], table[i][j - 1])
        assert lf_similarity.lcs_len(a, b) == table[-1][-1]


def test_emoji_rate_per_reply(tmp_path):
    pairs = [("好的😊", "嗯"), ("没有表情", "有😊"), ("🌈🌈加油👍", "加油")]
    m = metrics.compute(write_preds(tmp_path / "p.jsonl", pairs), "zh")
    assert m["emoji_rate"] == round(2 / 3, 4) and m["emoji_per_reply"] == round(4 / 3, 4)
    assert m["label_emoji_rate"] == round(1 / 3, 4)


def test_cli_writes_json_and_keeps_bad_lines(tmp_path):
    pred = write_preds(tmp_path / "generated_predictions.jsonl", sample_pairs(20))
    with pred.open("a", encoding="utf-8") as fh:
        fh.write("{broken\n" + json.dumps({"predict": 3}) + "\n")
    out = tmp_path / "m.json"
    proc = run_hearme("metrics", pred, "--json", out)
    assert proc.returncode == 0, proc.stderr
    printed = json.loads(proc.stdout)
    saved = json.loads(out.read_text(encoding="utf-8"))
    assert printed == saved and saved["n"] == 20
    assert saved["input"]["read"] == 22 and saved["input"]["rejected"] == 2
    rejects = (tmp_path / "m.rejected.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(rejects) == 2 and "line 21" in rejects[0]
    assert set(saved["ci95"]) == {"bleu-4", "rouge-1", "rouge-2", "rouge-l"}


@pytest.mark.parametrize("content, msg", [(None, "no such file"), ("", "no predictions"), ('{"a": 1}\n', "predict")])
def test_cli_bad_input_is_one_line(tmp_path, content, msg):
    pred = tmp_path / "p.jsonl"
    if content is not None:
        pred.write_text(content, encoding="utf-8")
    proc = run_hearme("metrics", pred)
    assert proc.returncode == 2 and msg in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_block_cache_gives_jiebas_own_tokens():
    cut = lf_similarity.BlockCutter()
    for p, l in sample_pairs(200, seed=11) + [(e, e) for e in EDGE]:
        for t in (p, l, p + "\n\t  " + l, "abc 123.5% #tag " + p):
            assert cut(t) == lf_similarity.jieba_tokens(t), t
