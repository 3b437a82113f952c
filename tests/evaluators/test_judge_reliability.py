"""Judge reliability: Krippendorff's alpha and weighted kappa, and `hearme judge --repeat K --judges A,B`
against the scripted server over real HTTP (unscored ratings are missing, reruns pay nothing)."""

from __future__ import annotations

import json
import random

import pytest

from hearme.evaluators import reliability
from hearme.evaluators.report_results import section_reliability
from tests.conftest import run_hearme
from tests.fake_openai import FakeOpenAI

N = None
# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability": 4 observers, 12 units, with gaps.
OBSERVERS = [[1, 2, 3, 3, 2, 1, 4, 1, 2, N, N, N],
             [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, N, 3],
             [N, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, N],
             [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, N]]
PUBLISHED = {"nominal": 0.743, "ordinal": 0.815, "interval": 0.849}


@pytest.mark.parametrize("level", sorted(PUBLISHED))
def test_alpha_matches_the_published_worked_example(level):
    res = reliability.alpha(list(zip(*OBSERVERS)), level)
    assert round(res["alpha"], 3) == PUBLISHED[level]
    assert res["n_units"] == 11 and res["n_ratings"] == 40  # unit 12 has one rating: not pairable
    assert res["ci95"][0] < res["alpha"] <= res["ci95"][1]


def test_missing_is_missing_not_zero():
    with_gap = reliability.alpha([[2, N], [1, 1], [0, 0], [2, 2]])
    assert with_gap["alpha"] == 1.0 and with_gap["n_units"] == 3
    as_zero = reliability.alpha([[2, 0], [1, 1], [0, 0], [2, 2]])
    assert as_zero["alpha"] < 0.8  # what counting an unscored reply as 0 would have claimed


def test_no_variation_is_undefined_not_perfect():
    res = reliability.alpha([[1, 1], [1, 1], [1, 1]])
    assert res["alpha"] is None and reliability.verdict(res["alpha"]).startswith("undefined")
    assert reliability.verdict(0.9) == "reliable" and reliability.verdict(0.7) == "tentative"
    assert reliability.verdict(0.1) == "unreliable"


def _kappa_reference(a, b, lo, hi):
    """Quadratic-weighted kappa written out with loops (an independent check)."""
    cats = list(range(lo, hi + 1))
    n = len(a)
    obs = {(i, j): sum(1 for x, y in zip(a, b) if x == i and y == j) / n for i in cats for j in cats}
    pa = {i: sum(1 for x in a if x == i) / n for i in cats}
    pb = {j: sum(1 for y in b if y == j) / n for j in cats}
    w = {(i, j): (i - j) ** 2 / (hi - lo) ** 2 for i in cats for j in cats}
    return 1 - sum(w[k] * obs[k] for k in obs) / sum(w[i, j] * pa[i] * pb[j] for i in cats for j in cats)


@pytest.mark.parametrize("seed", range(5))
def test_weighted_kappa_matches_a_loop_reference(seed):
    rng = random.Random(seed)
    a = [rng.randint(0, 3) for _ in range(40)]
    b = [min(3, max(0, x + rng.choice([-1, 0, 0, 1]))) for x in a]
    got = reliability.weighted_kappa(a, b, 0, 3)
    assert got["kappa"] == pytest.approx(_kappa_reference(a, b, 0, 3), abs=1e-4) and got["n"] == 40
    assert reliability.weighted_kappa(a, a, 0, 3)["kappa"] == 1.0
    assert reliability.weighted_kappa(a, [2] * 40, 0, 3)["kappa"] == 0.0  # a constant rater agrees by chance only
    assert reliability.weighted_kappa(a + [N], [N] + b, 0, 3)["n"] == 39  # only items both scored


PROMPT = "<|im_start|>user\n我最近总睡不好，{case}<|im_end|>\n<|im_start|>assistant\n"
SCORES = [{"comprehensiveness": c, "professionalism": p, "authenticity": a, "safety": s}
          for c, p, a, s in [(0, 0, 1, 0), (1, 1, 2, 1), (2, 3, 3, 1), (1, 2, 0, 1), (2, 1, 3, 0), (0, 3, 1, 1)]]
KEY = {"HEARME_TEST_KEY": "loopback"}  # the fake server checks no key
B_SCORES = '{{"rationale": "b", "comprehensiveness": {c}, "professionalism": 2, "authenticity": 2, "safety": 1}}'


def _preds(path):
    rows = [{"prompt": PROMPT.format(case=f"item-{i}"), "predict": f"我在听。item-{i} [[fake:{json.dumps(s)}]]",
             "label": "参考"} for i, s in enumerate(SCORES)]
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """judge-a follows each item's scores at every seed; judge-b gives one fixed reply, except at seed 43
    (comprehensiveness 0 instead of 2) and for item-2 at seed 44 (never an answer: unscored)."""
    tmp = tmp_path_factory.mktemp("rel")
    preds = _preds(tmp / "generated_predictions.jsonl")
    script = {"rules": [{"match": "item-2", "model": "judge-b", "seed": 44, "sticky": True,
                         "replies": [{"text": "抱歉，我无法评分。"}]},
                        {"model": "judge-b", "seed": 43, "sticky": True, "replies": [{"text": B_SCORES.format(c=0)}]},
                        {"model": "judge-b", "sticky": True, "replies": [{"text": B_SCORES.format(c=2)}]}]}
    with FakeOpenAI(script) as srv:
        common = [preds, "--base-url", srv.url, "--model", "judge-a", "--cache-dir", tmp / "cache", "--reasks", "1",
                  "--api-key-env", "HEARME_TEST_KEY"]
        plain = run_hearme("judge", *common, "-o", tmp / "plain", env=KEY, check=True)
        n_plain = len(srv.requests)
        rel = run_hearme("judge", *common, "-o", tmp / "rel", "--repeat", "3", "--judges", "judge-a,judge-b",
                         env=KEY, check=True)
        n_rel = len(srv.requests)
        again = run_hearme("judge", *common, "-o", tmp / "rel2", "--repeat", "3", "--judges", "judge-b",
                           env=KEY, check=True)
        n_again = len(srv.requests)
    return {"tmp": tmp, "plain": plain, "rel": rel, "again": again, "requests": (n_plain, n_rel, n_again)}


def test_the_scores_stay_the_first_judges_first_ask(runs):
    tmp = runs["tmp"]
    def items(run):  # all but `cached` (the reliability run found the plain run's answers in the cache)
        rows = [json.loads(x) for x in (tmp / run / "items.jsonl").read_text(encoding="utf-8").splitlines()]
        return [{k: v for k, v in r.items() if k != "cached"} for r in rows]

    assert items("rel") == items("plain") and len(items("rel")) == len(SCORES)
    plain = json.loads((tmp / "plain" / "summary.json").read_text(encoding="utf-8"))
    rel = json.loads((tmp / "rel" / "summary.json").read_text(encoding="utf-8"))
    assert rel["dimensions"] == plain["dimensions"] and "reliability" not in plain
    assert not (tmp / "plain" / "ratings.jsonl").exists()


def test_every_ask_is_a_rating_and_unscored_is_counted(runs):
    rows = [json.loads(x) for x in (runs["tmp"] / "rel" / "ratings.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(rows) == len(SCORES) * 2 * 3
    assert {(r["judge"], r["repeat"], r["seed"]) for r in rows} == {(j, r, 42 + r) for j in ("judge-a", "judge-b")
                                                                     for r in range(3)}
    bad = [r for r in rows if r["status"] != "scored"]
    assert [(r["id"], r["judge"], r["seed"]) for r in bad] == [("line-3", "judge-b", 44)]
    assert "comprehensiveness" not in bad[0] and bad[0]["reason"]


def test_reliability_figures(runs):
    rel = json.loads((runs["tmp"] / "rel" / "summary.json").read_text(encoding="utf-8"))["reliability"]
    assert rel["repeat"] == 3 and rel["judges"] == ["judge-a", "judge-b"] and rel["n_items"] == len(SCORES)
    assert rel["n_unscored"] == {"judge-a": 0, "judge-b": 1}
    a = rel["self"]["judge-a"]
    assert all(a[k]["alpha"] == 1.0 and a[k]["verdict"] == "reliable" for k in a)
    b = rel["self"]["judge-b"]["comprehensiveness"]
    # per item judge-b said 2, 0, 2 (item-2: 2, 0 and missing): the independent computation agrees
    want = reliability.alpha([[2, 0, 2]] * 5 + [[2, 0, N]])["alpha"]
    assert b["alpha"] == want and b["alpha"] < 0 and b["n_units"] == len(SCORES)
    assert rel["self"]["judge-b"]["safety"]["alpha"] is None  # always 1: no variation, no claim
    kappa = rel["between"]["kappa"]["judge-a ~ judge-b"]
    assert kappa["comprehensiveness"]["kappa"] == 0.0 and kappa["comprehensiveness"]["n"] == len(SCORES)
    assert rel["between"]["alpha"]["total"]["level"] == "interval"
    assert rel["usage"]["judge-b"]["paid_calls"] == len(SCORES) * 3 + 1  # item-2 re-asked once at seed 44


def test_cli_prints_them_and_a_rerun_pays_nothing(runs):
    out = runs["rel"].stdout
    assert "self-consistency of judge-a over 3 asks (alpha): comprehensiveness 1.00" in out
    assert "agreement of judge-a, judge-b (alpha)" in out and "judge-b: " in out
    n_plain, n_rel, n_again = runs["requests"]
    assert n_rel - n_plain == len(SCORES) * (2 * 3 - 1) + 1  # the first ask was cached; item-2's one re-ask
    assert n_again == n_rel  # --judges judge-b with --model judge-a: the same judges, all from the cache


def test_report_shows_reliability_beside_the_judge_table(runs):
    rel = json.loads((runs["tmp"] / "rel" / "summary.json").read_text(encoding="utf-8"))["reliability"]
    text = "\n".join(section_reliability(rel))
    assert "Krippendorff" in text and "`judge-a` ×3" in text and "`judge-a ~ judge-b`" in text
    assert "`judge-b` 1" in text  # the unscored count
    assert "not measured" in "\n".join(section_reliability(None))


def test_repeat_and_judges_are_in_help():
    proc = run_hearme("judge", "--help", check=True)
    assert "--repeat" in proc.stdout and "--judges" in proc.stdout and "--temperature" in proc.stdout
