"""The demo's stage 3: preference pairs from the stage-2 model, a few DPO steps, and the change in a
checkable property from the stage-2 model to the DPO model.

1. The stage-2 adapter is served by `llamafactory-cli api` (the infer recipe's template and system).
2. `hearme prefs build` (evaluators/prefs.py) samples K replies to self-cognition and counseling
   prompts of the training splits; the scripted judge (scripted_judge.py) scores them, preferring
   replies that ask a question and claim the configured identity; pairs are registered.
3. The same server answers held-out prompts (the validation splits) greedily: the "before".
4. recipes/train/qwen2.5_stage3_dpo.yaml runs a few steps on the pairs (create_new_adapter on the
   stage-2 adapter), then base + stage 2 + DPO is served and answers the same prompts: the "after".
5. Per prompt the property is 0/1 before and after; the change is a paired mean with a bootstrap CI
   (evaluators/stats.paired), for "asks a question", "claims the identity" and both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hearme.core import io

DPO = "train/qwen2.5_stage3_dpo.yaml"
PAIR_SETS = ("hearme_selfcog_train", "hearme_counseling_zh_train")
EVAL_SETS = ("hearme_selfcog_val", "hearme_counseling_zh_val")
PER_SET = 8  # prompts per training split for the pairs
K, MAX_TOKENS, TEMPERATURE = 4, 32, 1.0
# The tiny model's DPO rate is a tenth of the demo's tiny SFT rate (2e-2), as the recipe's 5e-6 is a tenth
# of stage 2's 5e-5. At 2e-2 the DPO loss reached 0.0004 in 30 steps and the replies lost their fluency.
TINY_DPO = {"pref_beta": 0.1, "per_device_train_batch_size": 4, "logging_steps": 1, "learning_rate": 2.0e-3}
PROPERTIES = ("asks", "claims", "both")
LABELS = {"asks": "asks a question (？/?)", "claims": "claims the configured identity", "both": "both"}


def _greedy(url: str, model: str, items: list[dict], system: str | None) -> list[str]:
    from hearme.llm import LLMClient

    client = LLMClient(url, model, concurrency=2, cache=False, progress=False, api_key_env="HEARME_DEMO_UNSET_KEY")

    async def answer(it: dict) -> str:
        msgs = ([{"role": "system", "content": system}] if system else []) + it["history"]
        return (await client.chat(msgs, temperature=0, max_tokens=MAX_TOKENS)).text

    return [r if isinstance(r, str) else "" for r in client.run(answer, items, desc="stage 3 held-out")]


def _props(replies: list[str], name: str, author: str) -> list[dict[str, bool]]:
    from hearme.demo.scripted_judge import has_property

    return [has_property(r, name, author) for r in replies]


def run(demo, recipe_runner, *, template: str, system: str | None, name: str, author: str) -> dict[str, Any]:
    """Pairs -> DPO -> before/after. `recipe_runner(command, recipe, out_name, adapter=, max_steps=, extra=)`
    is Demo._recipe (the tiny overrides or the recipe as written)."""
    from hearme.demo.scripted_judge import ScriptedJudge
    from hearme.evaluators import prefs as P, stats
    from hearme.evaluators.judge import JudgeSettings
    from hearme.evaluators.mut import ModelUnderTest
    from hearme.evaluators.serve import serve
    from hearme.llm import LLMClient

    out = demo.out / "stage3"
    stage2, base = demo.results["adapter"], demo.results["base_model"]
    items = [it for n in PAIR_SETS for it in P.prompt_items([n], demo.data_dir, limit=PER_SET)]
    heldout = [it for n in EVAL_SETS for it in P.prompt_items([n], demo.data_dir)]
    extra = {"default_system": system} if system is not None else {}
    with serve(base, out / "api-stage2", adapter=stage2, template=template, max_new_tokens=MAX_TOKENS,
               extra=extra) as api, ScriptedJudge(name=name, author=author) as judge:
        mut = ModelUnderTest(api.url, api.model_name, out_dir=out / "prefs", weights={"adapter": stage2},
                             api_key_env="HEARME_DEMO_UNSET_KEY", concurrency=2, cache_dir=out / "cache", progress=False)
        judge_client = LLMClient(judge.url, judge.model, concurrency=2, cache_dir=out / "cache", progress=False,
                                 api_key_env="HEARME_DEMO_UNSET_KEY")
        summary = P.build(list(PAIR_SETS), out / "prefs", mut, judge_client, dataset_dir=demo.data_dir, items=items,
                          samples=P.SampleSettings(k=K, temperature=TEMPERATURE, max_tokens=MAX_TOKENS),
                          judge_settings=JudgeSettings(reasks=0), register_as="hearme_prefs_zh")
        before = _greedy(api.url, api.model_name, heldout, system)
    if not summary["n_pairs"]:
        raise io.HearMeError(f"stage 3: no preference pair from {len(items)} prompts ({summary['no_pair']})")
    steps = min(30, demo.max_steps) if demo.tiny else demo.max_steps
    dpo = recipe_runner("train", DPO, "stage3_dpo", adapter=stage2, max_steps=steps, extra=TINY_DPO if demo.tiny else None)
    with serve(base, out / "api-dpo", adapter=f"{stage2},{dpo}", template=template, max_new_tokens=MAX_TOKENS,
               extra=extra) as api:
        after = _greedy(api.url, api.model_name, heldout, system)
    pb, pa = _props(before, name, author), _props(after, name, author)
    rows = [{"id": it["id"], "prompt": it["history"][-1]["content"], "before": b, "after": a,
             **{f"{k}_before": xb[k] for k in PROPERTIES}, **{f"{k}_after": ya[k] for k in PROPERTIES}}
            for it, b, a, xb, ya in zip(heldout, before, after, pb, pa)]
    io.write_jsonl(out / "heldout.jsonl", rows)
    change = {k: stats.paired([float(x[k]) for x in pb], [float(y[k]) for y in pa]) for k in PROPERTIES}
    return {"pairs": {k: summary[k] for k in ("n_prompts", "n_pairs", "n_kto", "no_pair", "mean_margin", "rule_text")},
            "judge": judge.model, "judge_requests": judge.n_requests, "model_under_test": stage2,
            "dpo_adapter": str(dpo), "dpo_train": demo._train_result(dpo, DPO), "steps": steps,
            "heldout": {"sets": list(EVAL_SETS), "n": len(heldout)}, "change": change,
            "identity": {"name": name, "author": author}, "outputs": str(out)}


def _loss(v) -> str:
    return "n/a" if v is None else f"{v:.4f}"


def report_lines(s: dict) -> list[str]:
    """The report's stage-3 section: the pairs, the table with paired CIs, what it shows and what not."""
    p, ch = s["pairs"], s["change"]
    why = ", ".join(f"{r} ({n})" for r, n in p["no_pair"].items()) or "none"
    rows = []
    for k in PROPERTIES:
        c = ch[k]
        ci = f"[{c['ci95'][0]:+.2f}, {c['ci95'][1]:+.2f}]" if c["ci95"] else "n/a"
        rows.append(f"| {LABELS[k]} | {c['mean_a']:.0%} | {c['mean_b']:.0%} | {c['delta']:+.2f} {ci} | "
                    f"{c['n_pos']}/{c['n_neg']}/{c['n_zero']} |")
    t = s["dpo_train"]
    return ["## Stage 3: preference pairs and DPO", "",
            f"`hearme prefs build` sampled {K} replies (temperature {TEMPERATURE:g}) from the stage-2 model, served by "
            f"`llamafactory-cli api`, for {p['n_prompts']} training prompts; the scripted judge "
            f"(`hearme/demo/scripted_judge.py`) prefers replies that ask a question and claim the identity "
            f"{s['identity']['name']}. Rule: {p['rule_text']}. Pairs: {p['n_pairs']} (KTO items {p['n_kto']}); "
            f"prompts without a pair: {why}. DPO (`recipes/{DPO}`, create_new_adapter on the stage-2 adapter) ran "
            f"{t.get('steps')} steps, logged loss {_loss(t.get('first_loss'))} -> {_loss(t.get('last_loss'))}.", "",
            f"The stage-2 and the DPO model answered the same {s['heldout']['n']} held-out prompts "
            f"({', '.join(s['heldout']['sets'])}) greedily; the property is checked per reply "
            "(share of replies; the change is the paired mean with a 95% bootstrap CI over prompts):", "",
            "| property | stage 2 | DPO | change, 95% CI | better/worse/same |", "|---|---|---|---|---|", *rows, "",
            *(["A DPO loss this close to 0 means the pairs were memorised: the rates then also show what "
               "over-optimising did to the replies.", ""] if (t.get("last_loss") or 1) < 0.05 else []),
            "### What this shows, and what it does not", "",
            "- **Shows:** the whole stage-3 path runs for real: replies sampled from a served model, judged, paired by a "
            "stated rule, registered as LLaMA-Factory ranking data, trained with the shipped DPO recipe on top of the "
            "stage-2 adapter, served again and measured on prompts that made no pair. Whether the property's rate "
            "moves, and in which direction, is what the CI says; at this size it may not move at all.",
            "- **Does not show:** anything about counseling quality. The judge is a script that rewards a surface "
            "property known in advance; the model is a tiny random-weight model trained for seconds, with a handful "
            "of pairs; the held-out set is small, so the CI is wide. A real judge and a real model (`--model` on a GPU) "
            "are needed before a stage-3 number means more than that the machinery works.", ""]
