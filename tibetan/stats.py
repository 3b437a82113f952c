"""The paper's Table 3 (topic shares), Table 4 (size and lengths) and Figure 2 (turn counts).

Lengths are in the paper's units: Tibetan syllables for Tibetan utterances (split on the
tsheg, role labels excluded), characters otherwise. A "turn" is one help-seeker/supporter
exchange, as in the paper (3-12 turns, mean 6.35). Output: stats.json, stats.md and PNGs.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from hearme.core import io, schema
from hearme.tibetan import text as T
from hearme.tibetan import topics

PAPER_TABLE4 = {"dialogues": 50000, "mean_turns": 6.34926, "mean_len": 57.493, "mean_len_seeker": 41.298,
                "mean_len_supporter": 73.688}


def compute(records: list[dict]) -> dict:
    turns, lens = [], {"user": [], "assistant": []}
    units = Counter()
    topic_counts: Counter[str] = Counter()
    for rec in records:
        msgs = [m for m in schema.dialogue_turns(rec) if m["role"] in lens]
        turns.append(sum(m["role"] == "assistant" for m in msgs))
        for m in msgs:
            tib = T.is_tibetan(m["content"])
            units["syllables" if tib else "characters"] += 1
            lens[m["role"]].append(len(T.syllables(m["content"])) if tib else len(m["content"]))
        topic_counts[topics.canonical(rec.get("topic"))] += 1
    n = len(records)
    all_lens = lens["user"] + lens["assistant"]

    def mean(xs: list[int]) -> float | None:
        return round(sum(xs) / len(xs), 3) if xs else None

    table3 = [{"topic": t, "english": topics.TOPICS[t][0] if t in topics.TOPICS else "other",
               "dialogues": topic_counts.get(t, 0), "share": round(topic_counts.get(t, 0) / n, 5) if n else 0.0,
               "paper_share": topics.TOPICS[t][2] if t in topics.TOPICS else None}
              for t in [*topics.TOPICS, topics.OTHER] if t in topics.TOPICS or topic_counts.get(t)]
    return {
        "table3": table3,
        "table4": {"dialogues": n, "mean_turns": mean(turns), "mean_len": mean(all_lens),
                   "mean_len_seeker": mean(lens["user"]), "mean_len_supporter": mean(lens["assistant"])},
        "paper_table4": PAPER_TABLE4,
        "units": "syllables" if units["syllables"] >= units["characters"] else "characters",
        "unit_counts": dict(units),
        "figure2": dict(sorted(Counter(turns).items())),
        "turn_range": [min(turns), max(turns)] if turns else None,
    }


def plots(stats: dict, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    files = []
    dist = stats["figure2"]
    fig, ax = plt.subplots(figsize=(6, 3.6), dpi=120)
    if dist:
        xs = list(range(min(dist), max(dist) + 1))
        ax.bar(xs, [dist.get(x, 0) for x in xs], color="#4C72B0")
        ax.set_xticks(xs)
    ax.set_xlabel("turns (help-seeker/supporter exchanges) per dialogue")
    ax.set_ylabel("dialogues")
    ax.set_title(f"Figure 2: turn-count distribution (n={stats['table4']['dialogues']})")
    files.append(io.save_figure(fig, out_dir / "figure2_turns.png", dpi=100))

    rows = stats["table3"]
    fig, ax = plt.subplots(figsize=(6, 3.8), dpi=120)
    names = [r["english"] for r in rows]
    ys = range(len(rows))
    ax.barh([y + 0.2 for y in ys], [100 * r["share"] for r in rows], height=0.4, label="this data", color="#4C72B0")
    ax.barh([y - 0.2 for y in ys], [100 * (r["paper_share"] or 0) for r in rows], height=0.4, label="paper (Table 3)",
            color="#DD8452")
    ax.set_yticks(list(ys))
    ax.set_yticklabels(names)
    ax.invert_yaxis()
    ax.set_xlabel("share of dialogues (%)")
    ax.set_title("Table 3: topic shares")
    ax.legend(loc="lower right", fontsize=8)
    files.append(io.save_figure(fig, out_dir / "table3_topics.png", dpi=100))
    return files


def card(stats: dict, name: str, images: list[Path]) -> str:
    t4, p4, u = stats["table4"], stats["paper_table4"], stats["units"]
    lines = [f"# Statistics: {name}", "",
             f"Lengths in {u} (Tibetan utterances: syllables split on the tsheg; otherwise characters).", "",
             "## Table 4", "", "| | this data | paper |", "|---|---:|---:|",
             f"| dialogues | {t4['dialogues']} | {p4['dialogues']} |",
             f"| mean turns | {t4['mean_turns']} | {p4['mean_turns']} |",
             f"| mean length | {t4['mean_len']} | {p4['mean_len']} |",
             f"| mean length (help-seeker) | {t4['mean_len_seeker']} | {p4['mean_len_seeker']} |",
             f"| mean length (supporter) | {t4['mean_len_supporter']} | {p4['mean_len_supporter']} |", "",
             "## Table 3", "", "| topic | | dialogues | share | paper share |", "|---|---|---:|---:|---:|"]
    for r in stats["table3"]:
        paper = f"{100 * r['paper_share']:.2f}%" if r["paper_share"] is not None else ""
        lines.append(f"| {r['topic']} | {r['english']} | {r['dialogues']} | {100 * r['share']:.2f}% | {paper} |")
    lines += ["", "## Figure 2: turns per dialogue", "", "| turns | dialogues |", "|---:|---:|"]
    lines += [f"| {k} | {v} |" for k, v in stats["figure2"].items()]
    lines += [""] + [f"![{p.stem}]({p.name})" for p in images] + [""]
    return "\n".join(lines)


def run(inp: str | Path, out_dir: str | Path, *, plot: bool = True) -> dict:
    inp, out_dir = Path(inp), Path(out_dir)
    records = io.load_records(inp)
    if not records:
        raise io.InputError(inp, "", "no records")
    stats = compute(records)
    stats["input"] = str(inp)
    images = plots(stats, out_dir) if plot else []
    io.write_json(out_dir / "stats.json", stats)
    io.write_text(out_dir / "stats.md", card(stats, inp.name, images))
    return stats
