"""Data card: card.md plus PNG plots (pandas + matplotlib, Agg backend).

Per dataset: dialogue-length histogram, turns-per-dialogue distribution, topic distribution,
emoji share, the Tibetan paper's Table 4 statistics (dialogues, mean turns, mean utterance
length overall / help-seeker / supporter; Tibetan counted in syllables, other text in
characters), and license and source (from the dataset_info.json entry for registered names and files,
else from the records' metadata).
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path
from typing import Mapping, Sequence

from hearme.core import io, schema
from hearme.converters.emoji_stats import emoji_shares
from hearme.tibetan.text import count_units

_TIBETAN = re.compile(r"[\u0f00-\u0fff]")
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "WenQuanYi Micro Hei",
             "SimHei", "Microsoft YaHei", "PingFang SC", "Droid Sans Fallback", "AR PL UMing CN")


def units(text: str) -> int:
    """Length in the paper's units: syllables for Tibetan text, characters otherwise."""
    return count_units(text) if _TIBETAN.search(text) else len(text)


def _entry_for_file(path: Path, info: dict, dataset_dir=None) -> dict | None:
    """The registry entry whose file is `path`, if it is registered."""
    from hearme.core import registry

    target = path.resolve()
    for name in info:
        try:
            if registry.file_of(name, dataset_dir).resolve() == target:
                return info[name]
        except (io.HearMeError, OSError, KeyError, TypeError):
            continue
    return None


def _load_inputs(inputs, dataset_dir=None) -> tuple[dict[str, list[schema.Record]], dict[str, dict]]:
    """Records per dataset name, and registry entries for inputs that are registered (by name or file)."""
    if isinstance(inputs, Mapping):
        return {str(k): list(v) for k, v in inputs.items()}, {}
    from hearme.core import registry

    data, entries = {}, {}
    info = None
    for item in inputs:
        p = Path(item)
        if p.exists():
            name = p.name.rsplit(".", 1)[0]
            data[name] = io.load_records(p)
            info = registry.load(dataset_dir) if info is None else info
            entry = _entry_for_file(p, info, dataset_dir)
            if entry:
                entries[name] = entry
            continue
        info = registry.load(dataset_dir) if info is None else info
        if str(item) not in info:
            raise io.InputError(item, "", "neither a records file nor a registered dataset name")
        entries[str(item)] = info[str(item)]
        data[str(item)] = io.load_records(registry.file_of(str(item), dataset_dir))
    return data, entries


def table4(records: list[schema.Record]) -> dict:
    """The paper's Table 4 row for one dataset."""
    n = len(records)
    lengths = {"user": [], "assistant": []}
    turns, dlg_len, tib = [], [], 0
    for rec in records:
        msgs = schema.dialogue_turns(rec)
        turns.append(len(msgs))
        total = 0
        for m in msgs:
            u = units(m["content"])
            total += u
            lengths.setdefault(m["role"], []).append(u)
        dlg_len.append(total)
        tib += rec.get("lang") == "bo"
    mean = lambda xs: sum(xs) / len(xs) if xs else 0.0  # noqa: E731
    every = lengths["user"] + lengths["assistant"]
    return {"dialogues": n, "mean_turns": mean(turns), "mean_len": mean(every), "mean_len_user": mean(lengths["user"]),
            "mean_len_assistant": mean(lengths["assistant"]), "turns": turns, "dialogue_lengths": dlg_len,
            "unit": "syllables" if tib == n and n else ("characters" if not tib else "mixed")}


def _font_setup() -> bool:
    """Use a CJK-capable font if one is installed; return whether one was found."""
    import matplotlib
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    found = [f for f in CJK_FONTS if f in names]
    if found:
        matplotlib.rcParams["font.sans-serif"] = found + list(matplotlib.rcParams["font.sans-serif"])
        matplotlib.rcParams["axes.unicode_minus"] = False
    return bool(found)


class _Labels:
    """Plot labels: as written when the font can draw them, else short ASCII keys listed in card.md."""

    def __init__(self, cjk_font: bool):
        self.cjk = cjk_font
        self.keys: dict[str, str] = {}

    def __call__(self, text: str) -> str:
        text = text or "(none)"
        if text.isascii() or (self.cjk and not _TIBETAN.search(text)):
            return text
        if text not in self.keys:
            self.keys[text] = f"T{len(self.keys) + 1}"
        return self.keys[text]


def build_card(inputs: Mapping[str, list[schema.Record]] | Sequence[str | os.PathLike], out_dir,
               dataset_dir=None, entries: Mapping[str, dict] | None = None, audit: bool = False) -> Path:
    """Write out_dir/card.md and its PNGs; return the card's path.

    Source and license come from the registry entry (a registered name or file, or `entries`
    given by name), else from the records' own metadata. With `audit`, a section counts what the
    LLM-text gate (`hearme audit`) flags per rule and dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import pandas as pd

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    data, found = _load_inputs(inputs, dataset_dir)
    entries = {**found, **(entries or {})}
    if not data:
        raise io.HearMeError("no datasets to describe")
    label = _Labels(_font_setup())
    stats = {name: table4(recs) for name, recs in data.items()}
    emoji = {name: emoji_shares(recs) for name, recs in data.items()}
    names = list(data)
    dnames = [label(n) for n in names]
    figs: dict[str, str] = {}

    def save(fig, fname: str, title: str) -> None:
        io.save_figure(fig, out_dir / fname)
        figs[fname] = title

    # 1. dialogue length per dataset
    fig, axes = plt.subplots(len(names), 1, figsize=(7, 1.9 * len(names) + 0.6), squeeze=False)
    for ax, name, dn in zip(axes[:, 0], names, dnames):
        s = pd.Series(stats[name]["dialogue_lengths"], dtype=float)
        if len(s):
            ax.hist(s, bins=min(40, max(5, len(s) // 3)), color="#4c72b0", edgecolor="white")
            ax.axvline(s.mean(), color="#c44e52", linestyle="--", linewidth=1, label=f"mean {s.mean():.0f}")
            ax.legend(loc="upper right", fontsize=8)
        ax.set_title(f"{dn}: dialogue length ({stats[name]['unit']})", fontsize=9, loc="left")
        ax.set_ylabel("dialogues", fontsize=8)
        ax.tick_params(labelsize=8)
    axes[-1, 0].set_xlabel("length per dialogue (characters; Tibetan in syllables)", fontsize=8)
    save(fig, "dialogue_length.png", "Dialogue length per dataset")

    # 2. turns per dialogue
    fig, ax = plt.subplots(figsize=(7, 3.2))
    ax.boxplot([stats[n]["turns"] or [0] for n in names], showmeans=True)
    ax.set_xticks(range(1, len(names) + 1), dnames, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("utterances per dialogue (no system)", fontsize=8)
    ax.set_title("Turns per dialogue", fontsize=10, loc="left")
    save(fig, "turns.png", "Turns per dialogue")

    # 3. topics (top 20 across datasets, stacked by dataset)
    topic_counts = pd.DataFrame({label(n): Counter(label(r.get("topic") or "") for r in data[n]) for n in names}).fillna(0)
    top = topic_counts.sum(axis=1).sort_values(ascending=False).head(20).index
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(top) + 1.2))
    topic_counts.loc[top[::-1]].plot.barh(stacked=True, ax=ax, width=0.8, legend=len(names) > 1)
    ax.set_xlabel("records", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.set_title("Topics (top 20)", fontsize=10, loc="left")
    if len(names) > 1:
        ax.legend(fontsize=7)
    save(fig, "topics.png", "Topic distribution")

    # 4. emoji share
    em = pd.DataFrame({dn: [100 * emoji[n]["dialogues"], 100 * emoji[n]["user"], 100 * emoji[n]["assistant"]]
                       for n, dn in zip(names, dnames)}, index=["dialogues", "help-seeker turns", "supporter turns"]).T
    fig, ax = plt.subplots(figsize=(7, 3.2))
    em.plot.bar(ax=ax, rot=20, width=0.8)
    ax.set_ylabel("% with emoji", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=8)
    ax.set_title("Emoji share", fontsize=10, loc="left")
    save(fig, "emoji.png", "Emoji share per dataset and role")

    md = _markdown(names, stats, emoji, data, entries, figs, label)
    if audit:
        md += _audit_section(data)
    io.write_text(out_dir / "card.md", md)
    return out_dir / "card.md"


def _meta(name: str, records: list[schema.Record], entries: dict) -> tuple[str, str]:
    entry = entries.get(name, {})
    sources = entry.get("source") or ", ".join(sorted({r.get("source", "") for r in records} - {""})) or "unknown"
    licenses = entry.get("license") or ", ".join(sorted({r.get("license", "") for r in records} - {""})) or "not stated"
    return sources, licenses


_TAG = re.compile(r"\[(?:NAME|PHONE|ID|CARD|EMAIL|QQ|WECHAT|URL|ADDRESS)\]")


def _pii_mode(records: list[schema.Record]) -> str:
    """How the records' PII was replaced: their `pii` field (surrogate), else the tags found in them."""
    fakes = sum(r.get("pii") == "surrogate" for r in records)
    tagged = sum(any(_TAG.search(m["content"]) for m in r["messages"]) for r in records)
    parts = [f"surrogates ({fakes} records)"] if fakes else []
    if tagged or not fakes:
        parts.append(f"tags ({tagged} records hold one)")
    return ", ".join(parts)


def _markdown(names, stats, emoji, data, entries, figs, label) -> str:
    lines = ["# Data card", "",
             f"{len(names)} dataset(s), {sum(s['dialogues'] for s in stats.values())} dialogues.", "",
             "## Statistics (the Tibetan paper's Table 4)", "",
             "| dataset | dialogues | mean turns | mean length | help-seeker | supporter | unit |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for n in names:
        s = stats[n]
        lines.append(f"| {n} | {s['dialogues']} | {s['mean_turns']:.2f} | {s['mean_len']:.1f} | {s['mean_len_user']:.1f} | "
                     f"{s['mean_len_assistant']:.1f} | {s['unit']} |")
    lines += ["", "Turns are utterances per dialogue (system prompt excluded); lengths are mean units per utterance: "
              "Tibetan in syllables (tsheg-delimited), other text in characters.", "",
              "## Source and license", "", "| dataset | source | license | languages |", "|---|---|---|---|"]
    for n in names:
        src, lic = _meta(n, data[n], entries)
        langs = ", ".join(f"{k} {v}" for k, v in Counter(r.get("lang", "?") for r in data[n]).most_common())
        lines.append(f"| {n} | {src} | {lic} | {langs} |")
    lines += ["", "## PII", "", "| dataset | replaced with | records |", "|---|---|---:|"]
    for n in names:
        lines.append(f"| {n} | {_pii_mode(data[n])} | {len(data[n])} |")
    lines += ["", "Surrogates: each name, phone, ID, card, e-mail, QQ/WeChat id, URL and address is a consistent "
              "realistic fake within its dialogue (`--pii surrogate`); tags: typed placeholders such as [NAME] "
              "(`--pii tags`, the default)."]
    lines += ["", "## Emoji share", "", "| dataset | dialogues with emoji | help-seeker turns | supporter turns |",
              "|---|---:|---:|---:|"]
    for n in names:
        e = emoji[n]
        lines.append(f"| {n} | {100 * e['dialogues']:.1f}% | {100 * e['user']:.1f}% | {100 * e['assistant']:.1f}% |")
    lines += ["", "## Topics", "", "| dataset | topic | records |", "|---|---|---:|"]
    for n in names:
        for topic, c in Counter(r.get("topic") or "(none)" for r in data[n]).most_common(15):
            lines.append(f"| {n} | {topic} | {c} |")
    lines += ["", "## Plots", ""]
    for fname, title in figs.items():
        lines += [f"### {title}", "", f"![{title}]({fname})", ""]
    if label.keys:
        lines += ["## Plot label key", "", "Labels the installed fonts cannot draw are shown as short keys:", "",
                  "| key | label |", "|---|---|"] + [f"| {k} | {t} |" for t, k in label.keys.items()] + [""]
    return "\n".join(lines)


def _audit_section(data: Mapping[str, list[schema.Record]]) -> str:
    """Records per gate rule and dataset (hearme.tibetan.audit; rules in docs/gate.md)."""
    from hearme.tibetan import audit

    reps = {n: audit.audit_items([(f"record {i}", r) for i, r in enumerate(recs)], n) for n, recs in data.items()}
    lines = ["", "## Gate audit (`hearme audit`, docs/gate.md)", "",
             "| dataset | records | flagged | rule | records with it | share |", "|---|---:|---:|---|---:|---:|"]
    for n, rep in reps.items():
        rules = rep["per_rule"] or {"(none)": {"records": 0, "share": 0.0}}
        for rule, v in rules.items():
            lines.append(f"| {n} | {rep['records']} | {rep['flagged']} | {rule} | {v['records']} | {v['share']:.3%} |")
    return "\n".join(lines) + "\n"
