"""What `hearme demo` calls: judge + probes when a judge endpoint is configured, else a clear note.

    demo_judge(out_dir, pred_path, model_path=None, adapter=None, mut_url=None) -> dict

Configuration comes from the environment (the key never leaves it):
    HEARME_JUDGE_BASE_URL, HEARME_JUDGE_MODEL   the judge (OpenAI-compatible)
    OPENAI_API_KEY (or the variable named by HEARME_JUDGE_API_KEY_ENV)
    HEARME_MUT_URL, HEARME_MUT_MODEL            optional: an already running model under test (its key,
                                                if any, in HEARME_API_KEY);
                                                otherwise `model_path` is served with llamafactory-cli api
    HEARME_IDENTITY_NAME, HEARME_IDENTITY_AUTHOR  expected self-cognition (default Jerry / VastEpiphany)
    HEARME_JUDGE_REPEAT                         asks per item for the judge's self-consistency (default 2; 1 = off)
    HEARME_JUDGE_OTHERS                         optional: other judge models at the same URL, comma-separated
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from hearme.llm import LLMConfig

HOW_TO_ENABLE = ("set HEARME_JUDGE_BASE_URL (an OpenAI-compatible URL ending in /v1) and HEARME_JUDGE_MODEL "
                 "(e.g. gpt-4o), put the key in OPENAI_API_KEY, and re-run; or run `hearme judge PRED.jsonl "
                 "--base-url URL --model gpt-4o -o OUT` and `hearme probe identity|crisis|preference` directly")


def _compact(summary: dict) -> dict:
    dims = summary.get("dimensions") or {}
    return {"n_scored": summary.get("n_scored"), "n_unscored": summary.get("n_unscored"),
            **{k: {"mean": d["mean"], "ci95": d["ci95"]} for k, d in dims.items()}}


def demo_judge(out_dir: str | Path, pred_path: str | Path, *, model_path: str | Path | None = None,
               adapter: str | Path | None = None, template: str = "qwen", mut_url: str | None = None,
               concurrency: int = 8) -> dict[str, Any]:
    """Judge the predictions, the preference probe, and identity/crisis probes on a model under test."""
    cfg = LLMConfig.from_env("HEARME_JUDGE")
    if not cfg.configured:
        return {"skipped": True, "reason": "no judge endpoint configured", "how_to_enable": HOW_TO_ENABLE}
    from hearme.evaluators import judge, probe_crisis, probe_identity, probe_preference
    from hearme.evaluators.mut import ModelUnderTest

    out = Path(out_dir)
    cfg.concurrency = concurrency
    client = cfg.client()
    result: dict[str, Any] = {"skipped": False, "judge_model": cfg.model, "outputs": str(out)}
    repeat = max(1, int(os.environ.get("HEARME_JUDGE_REPEAT") or 2))
    others = [replace(cfg, model=m.strip()).client() for m in (os.environ.get("HEARME_JUDGE_OTHERS") or "").split(",")
              if m.strip() and m.strip() != cfg.model]
    summary = judge.run(pred_path, out / "judge", client, repeat=repeat, others=others)
    result["judge"] = _compact(summary)
    if summary.get("reliability"):
        rel = summary["reliability"]
        result["judge_reliability"] = {f"self {j}": {k: d["alpha"] for k, d in b.items()} for j, b in rel.get("self", {}).items()}
        if rel.get("between"):
            result["judge_reliability"]["agreement"] = {k: d["alpha"] for k, d in rel["between"]["alpha"].items()}
    pref = probe_preference.run(pred_path, out / "probe-preference", client)
    result["preference"] = {o: d["share"] for o, d in pref["shares"].items()}
    name = os.environ.get("HEARME_IDENTITY_NAME", "Jerry")
    author = os.environ.get("HEARME_IDENTITY_AUTHOR", "VastEpiphany")

    def probes(url: str, model: str) -> None:
        mut = ModelUnderTest(url, model, out_dir=out, weights={"model": model_path, "adapter": adapter},
                             api_key_env="HEARME_API_KEY", concurrency=concurrency, cache_dir=cfg.cache_dir)
        ident = probe_identity.run(mut, out / "probe-identity", name=name, author=author)
        crisis = probe_crisis.run(mut, client, out / "probe-crisis")
        result["identity_pass_rate"] = ident["pass_rate"]["mean"]
        result["crisis_pass_rate"] = crisis["pass_rate"]["mean"]

    mut_url = mut_url or os.environ.get("HEARME_MUT_URL")
    if mut_url:
        probes(mut_url, os.environ.get("HEARME_MUT_MODEL", "hearme"))
    elif model_path:
        from hearme.evaluators.serve import serve

        with serve(model_path, out / "api", adapter=adapter, template=template) as api:
            probes(api.url, api.model_name)
    else:
        result["probes_skipped"] = "no model under test: pass model_path or set HEARME_MUT_URL"
    result["usage"] = client.stats.as_dict()
    return result
