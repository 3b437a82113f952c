"""The demo's before/after: the same questions to the base and to the tuned model.

Each model is served by real `llamafactory-cli api` on 127.0.0.1 with the infer recipe's template
and system prompt (so only the weights differ), then gets:

- the identity probe (hearme probe identity: evaluators/probes/identity.json), and
- the held-out self-cognition split, whose replies are scored with `hearme metrics`
  (LLaMA-Factory's BLEU-4 / ROUGE, plus Tibetan syllable metrics for Tibetan items).

Every result lands in OUT/eval/<label>/ as a run directory that `hearme compare` reads.
Replies are never cached: both models answer under the same URL scheme and model name.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from hearme.core import io, schema

NAME, AUTHOR = "Jerry", "VastEpiphany"


def wilson(k: int, n: int, z: float = 1.96) -> list[float] | None:
    """95% Wilson score interval of k/n (stays informative at 0/n and n/n, unlike a bootstrap)."""
    if n == 0:
        return None
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return [round(max(0.0, c - h), 4), round(min(1.0, c + h), 4)]


def evaluate(model: str | Path, out_dir: str | Path, *, template: str, system: str | None, heldout: list[schema.Record],
             max_tokens: int = 96) -> dict[str, Any]:
    """Serve `model`, probe it and answer the held-out split; returns the numbers for metrics.json."""
    from hearme.evaluators import metrics, probe_identity
    from hearme.evaluators.serve import serve
    from hearme.llm import LLMClient

    out = Path(out_dir)
    extra = {"default_system": system} if system is not None else {}
    with serve(model, out / "api", template=template, max_new_tokens=max_tokens, extra=extra) as api:
        # The server was started without a key; never send the user's OPENAI_API_KEY to it.
        client = LLMClient(api.url, api.model_name, concurrency=2, cache=False, progress=False,
                           api_key_env="HEARME_DEMO_UNSET_KEY")
        probe = probe_identity.run(client, out / "probe-identity", name=NAME, author=AUTHOR, max_tokens=max_tokens)

        async def answer(rec: schema.Record) -> str:
            turns = schema.dialogue_turns(rec)
            r = await client.chat(turns[:-1], temperature=0, max_tokens=max_tokens)
            return r.text

        replies = client.run(answer, heldout, desc="held-out self-cognition")
        from hearme.demo.session import session_eval  # 3 simulated clients x 4 turns, same server

        session = session_eval(api.url, api.model_name, out / "session", system=system, max_tokens=max_tokens)
    rows = [{"prompt": schema.dialogue_turns(r)[-2]["content"], "predict": reply,
             "label": schema.dialogue_turns(r)[-1]["content"]} for r, reply in zip(heldout, replies)]
    pred = io.write_jsonl(out / "generated_predictions.jsonl", rows)
    scores = metrics.compute(pred, lang="auto")
    io.write_json(out / "hearme_metrics.json", scores)

    answered = probe["n_answered"]
    passed = round((probe["pass_rate"]["mean"] or 0) * answered)
    return {"model": str(model), "url": api.url,
            "identity_probe": {"pass_rate": probe["pass_rate"]["mean"], "ci95": wilson(passed, answered),
                               "ci_method": "Wilson score interval", "passed": passed, "n": answered,
                               "n_unanswered": probe["n_unanswered"], "by_lang": probe.get("by_lang"),
                               "by_kind": probe.get("by_kind"), "by_reason": probe.get("by_reason"),
                               "bootstrap_ci95": probe["pass_rate"]["ci95"]},
            "selfcog_heldout": {k: scores[k] for k in ("bleu-4", "rouge-1", "rouge-2", "rouge-l") if k in scores}
                               | {"n": len(rows)},
            "session": session, "outputs": str(out)}


def probe_rows(out_dir: str | Path) -> list[dict]:
    """The identity probe's per-item rows (id, lang, kind, prompt, status, reason, reply)."""
    return [obj for _, obj, err in io.iter_jsonl(Path(out_dir) / "probe-identity" / "items.jsonl") if not err]
