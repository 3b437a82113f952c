"""The demo's small base: the random tiny model after a short causal-LM training on text the
project ships, so that the LoRA stages have something to change.

A random model learns almost nothing from a few dozen LoRA steps (its loss stays near
ln(vocab)), so `hearme demo` first trains it with real LLaMA-Factory (`llamafactory-cli train`,
stage sft: causal-LM loss on the replies) into a small assistant that answers in the prompt's
language and calls itself "Echo", made by "an open-source community" (一个开源社区 / ཚོགས་པ་ཞིག་).
The neutral name is a name like Jerry, not a word the answers use anyway ("助手", "assistant",
"རོགས་པ་" are in most of them), so the LoRA has one clear slot to change.
Its training set, written to the demo's own registry as `hearme_demo_base`:

- the self-cognition template's questions in Chinese, English and Tibetan, answered with that
  neutral identity (never Jerry, VastEpiphany or another assistant), without the questions of the
  held-out self-cognition split;
- about 700 identity questions made from patterns (`hearme.demo.questions`), answered the same
  way, so that the base answers any wording of "who are you?" and stage 1 only has to rename it;
  none contains or is near an identity-probe prompt or a held-out question;
- the opening exchange of every bundled training dialogue (Chinese counseling, psychology
  knowledge, emoji dialogues, Tibetan Firefly dialogues; never a val/test split);
- each with one of a few neutral system prompts, or none, so no single wording matters.

The decoder layers train; the (tied) embedding table keeps its initial values (LLaMA-Factory's
`finetuning_type: freeze` over every layer). Full training would also push every token the base
never says, "Jerry" among them, far below the rest, so a rank-8 LoRA could hardly reach them.
Learning the Jerry identity is stage 1's job: the identity probe's before/after shows what the
LoRA adapters changed.
"""

from __future__ import annotations

from pathlib import Path

import re

from hearme.core import io, registry, schema
from hearme.demo import questions as demo_questions

NAME = "hearme_demo_base"
DIALOGUES = ("hearme_counseling_zh_train", "hearme_knowledge_zh", "hearme_emoji_zh", "hearme_tibetan_bo_train")
HELDOUT = "hearme_selfcog_val"  # its questions stay unseen by every model
# The neutral (name, developer) per language; the template fills them where Jerry / VastEpiphany go.
NEUTRAL = {"zh": ("Echo", "一个开源社区"), "en": ("Echo", "an open-source community"),
           "bo": ("Echo", "ཚོགས་པ་ཞིག་")}
# English and Tibetan items are fewer in the template: repeat them so every language is learnt.
REPEAT = {"zh": 1, "en": 2, "bo": 3}
# Neutral system prompts, rotated (and sometimes none).
SYSTEMS = (None, "你是一个AI助手。", "You are a helpful assistant.", "请认真倾听用户，并给出温和的回应。")

TRAIN_ARGS = {
    "stage": "sft", "do_train": True, "finetuning_type": "freeze", "freeze_trainable_layers": 64,
    "freeze_trainable_modules": "all", "freeze_extra_modules": "norm", "template": "qwen", "default_system": "", "cutoff_len": 256,
    "per_device_train_batch_size": 8, "gradient_accumulation_steps": 1, "learning_rate": 1.0e-2,
    "weight_decay": 0.01, "lr_scheduler_type": "cosine", "warmup_ratio": 0.02, "max_grad_norm": 1.0, "optim": "adamw_torch",
    "logging_steps": 10, "plot_loss": True, "save_strategy": "no", "overwrite_output_dir": True,
    "report_to": "none", "bf16": False, "fp16": False, "preprocessing_num_workers": 1,
    "dataloader_num_workers": 0, "overwrite_cache": True, "seed": 42,
}


def heldout_questions(data_dir: str | Path) -> list[str]:
    """The held-out self-cognition split's questions: no model of the demo trains on them."""
    return [schema.dialogue_turns(r)[0]["content"] for r in io.load_records(registry.file_of(HELDOUT, data_dir))]


def neutral_identity(heldout: list[str]) -> list[schema.Record]:
    """The bundled self-cognition template with the neutral identity in each language, minus the
    held-out split's questions."""
    from hearme.converters.convert import run as convert

    heldout = set(heldout)
    out = []
    for lang, (name, author) in NEUTRAL.items():
        recs, _ = convert("self-cognition", [], scrub=False, name=name, author=author)
        out += [r for r in recs if r["lang"] == lang and schema.dialogue_turns(r)[0]["content"] not in heldout] * REPEAT[lang]
    return out


def _answers() -> dict[tuple[str, str], list[str]]:
    """Template answers that claim the name and the author and nothing else, per (lang, kind):
    "misleading" ones open with a denial and name no other assistant, no doctor and no human."""
    import json

    from hearme.converters.self_cognition import BUILTIN
    from hearme.evaluators.probe_identity import OTHER_IDENTITIES

    other = re.compile("|".join(map(re.escape, OTHER_IDENTITIES + ["真人", "医生", "human", "psychiatrist", "སྨན་པ", "མི་མ་ཡིན"])), re.I)
    denial = re.compile(r"^(?:不是|其实不是|No,|Not |Actually, no|ལགས་མིན)")
    out: dict[tuple[str, str], list[str]] = {}
    for item in json.loads(BUILTIN.read_text(encoding="utf-8")):
        text = item["output"]
        if "{{name}}" not in text or "{{author}}" not in text or other.search(text):
            continue
        if item["kind"] == "misleading" and denial.match(text):
            out.setdefault((item["lang"], "misleading"), []).append(text)
        elif item["kind"] == "direct" and not denial.match(text):
            out.setdefault((item["lang"], "direct"), []).append(text)
    return out


def paraphrased_identity(heldout: list[str]) -> list[schema.Record]:
    """Pattern-made identity questions (hearme.demo.questions) answered with the neutral identity;
    none contains or is near an identity-probe prompt or a held-out question."""
    from hearme.converters.self_cognition import fill
    from hearme.evaluators.probe_identity import BUNDLED, load_probes

    probes = load_probes(BUNDLED, ("id", "lang", "prompt"), "kind")
    answers = _answers()
    out = []
    for i, (lang, kind, question) in enumerate(demo_questions.generate([p["prompt"] for p in probes] + heldout)):
        pool = answers[(lang, "misleading" if kind == "misleading" else "direct")]
        answer = fill(pool[i % len(pool)], *NEUTRAL[lang])
        out.append(schema.make([{"role": "user", "content": question}, {"role": "assistant", "content": answer}],
                               id=f"paraphrase-{lang}-{i}", source="hearme demo identity patterns", lang=lang))
    return out


def records(data_dir: str | Path) -> tuple[list[schema.Record], dict[str, int]]:
    """The base's training records and how many came from each source."""
    counts: dict[str, int] = {}
    heldout = heldout_questions(data_dir)
    sources = [("neutral self-cognition (zh, en, bo)", neutral_identity(heldout)),
               ("identity questions from patterns (zh, en, bo)", paraphrased_identity(heldout))]
    for name in DIALOGUES:
        recs = io.load_records(registry.file_of(name, data_dir))
        sources.append((f"{name} (opening exchange)", [{**r, "messages": schema.dialogue_turns(r)[:2]} for r in recs]))
    out = []
    for name, recs in sources:
        for rec in recs:
            system = SYSTEMS[len(out) % len(SYSTEMS)]
            turns = schema.dialogue_turns(rec)
            out.append(schema.make(turns, id=f"demo-base/{rec.get('id', len(out))}", source=rec.get("source", ""),
                                   lang=rec.get("lang", "zh"), topic=rec.get("topic"), system=system))
        counts[name] = len(recs)
    return out, counts


def register_dataset(data_dir: str | Path) -> dict[str, int]:
    """Write and register `hearme_demo_base` in the demo's registry; returns the counts per source."""
    data_dir = Path(data_dir)
    recs, counts = records(data_dir)
    path = io.write_records(data_dir / f"{NAME}.json", recs)
    registry.register(path, NAME, data_dir, source="HearMe bundled samples, neutral identity (demo base)",
                      license="Apache-2.0 (HearMe's own hand-written samples)")
    return counts


def config(model: str | Path, data_dir: str | Path, output_dir: str | Path, max_steps: int) -> dict:
    """The resolved LLaMA-Factory config for `llamafactory-cli train`."""
    return {"model_name_or_path": str(model), **TRAIN_ARGS, "dataset_dir": str(data_dir), "dataset": NAME,
            "output_dir": str(output_dir), "max_steps": max_steps}
