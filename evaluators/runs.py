"""Find a run's artifacts by name and content: what `compare` and `report` read.

A run directory is anything holding some of: LLaMA-Factory outputs (trainer_log.jsonl,
trainer_state.json, adapter_config.json, predict_results.json / all_results.json,
generated_predictions.jsonl), the resolved recipe (configs/*.yaml or training_args.yaml), a data
card (card.md), `hearme metrics` output (hearme_metrics.json, or the demo's metrics.json) and
`hearme judge` / `judge-dialogues` / `probe` summaries (summary.json, recognised by their keys).
Search depth is 3.

Every predictions file is one *predict set*, paired with the LLaMA-Factory numbers and the
hearme_metrics.json found in its own directory (never another directory's), and scored per
label language: a Tibetan set shows syllable BLEU/ROUGE and chrF++ first and marks
LLaMA-Factory's code-point BLEU/ROUGE as not comparable. When a set has no hearme_metrics.json
the metrics are computed from the predictions (LLaMA-Factory-identical arithmetic).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hearme.core import io

MAX_DEPTH = 3
SKIP_DIRS = {"checkpoint", "cache", ".hearme_cache", "__pycache__", "tiny-model", "merged"}
TIBETAN_FIRST = ("syllable_bleu", "syllable_bleu_sent", "syllable_rouge-1", "syllable_rouge-2", "syllable_rouge-l",
                 "chrf++")
LF_KEYS = ("bleu-4", "rouge-1", "rouge-2", "rouge-l")
NOT_COMPARABLE = "code points; not comparable for Tibetan"


@dataclass
class MetricGroup:
    """The metrics of one predict set for one label language."""

    source: str  # the predict set's directory, relative to the run
    lang: str  # zh / bo / en / mixed
    n: int | None
    values: dict[str, float]
    ci95: dict[str, list]
    notes: dict[str, str] = field(default_factory=dict)  # metric -> caveat
    signatures: dict[str, str] = field(default_factory=dict)
    reference: dict[str, float] = field(default_factory=dict)  # statistics of the labels, not the model


@dataclass
class PredictSet:
    dir: Path
    source: str
    predictions: Path | None = None
    predict_results: dict = field(default_factory=dict)
    metrics: dict | None = None  # hearme metrics of this file (read or computed)
    _groups: list[MetricGroup] | None = None

    @property
    def lang(self) -> str:
        return (self.metrics or {}).get("lang") or "unknown"


@dataclass
class Run:
    name: str
    root: Path
    sets: list[PredictSet] = field(default_factory=list)
    judges: list[tuple[Path, dict]] = field(default_factory=list)  # (summary path, summary)
    dialogues: dict | None = None
    dialogues_dir: Path | None = None
    probes: dict[str, dict] = field(default_factory=dict)
    probe_dirs: dict[str, Path] = field(default_factory=dict)
    sessions: list[tuple[Path, dict]] = field(default_factory=list)  # (dir, session_summary.json)
    trainer_logs: list[Path] = field(default_factory=list)
    trainer_states: list[Path] = field(default_factory=list)
    adapter_configs: list[Path] = field(default_factory=list)
    model_cards: list[Path] = field(default_factory=list)  # the Trainer's README.md beside an adapter
    train_configs: list[tuple[Path, dict]] = field(default_factory=list)  # every training recipe found
    data_card: Path | None = None
    demo_metrics: dict | None = None  # the demo's metrics.json hearme_metrics: {"zh": ..., "bo": ...}

    @property
    def predictions(self) -> Path | None:
        return next((s.predictions for s in self.sets if s.predictions), None)

    @property
    def judge(self) -> dict | None:
        return self.judges[0][1] if self.judges else None


def files(root: Path) -> list[Path]:
    out = []

    def walk(d: Path, depth: int) -> None:
        try:
            entries = sorted(d.iterdir())
        except OSError:
            return
        for p in entries:
            if p.is_dir():
                if depth < MAX_DEPTH and not any(p.name.startswith(s) for s in SKIP_DIRS):
                    walk(p, depth + 1)
            else:
                out.append(p)

    walk(root, 0)
    return out


def _json(p: Path) -> Any:
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return None


def _is_train_config(cfg: Any) -> bool:
    return isinstance(cfg, dict) and bool(cfg.get("do_train") or "learning_rate" in cfg) and not cfg.get("do_predict")


def parse_spec(spec: str) -> tuple[str, Path]:
    """NAME=DIR or DIR (named after the directory)."""
    name, sep, path = spec.partition("=")
    if sep and name and not Path(spec).exists():
        return name, Path(path)
    return Path(spec).resolve().name, Path(spec)


def _set_for(run: Run, d: Path) -> PredictSet:
    for s in run.sets:
        if s.dir == d:
            return s
    rel = d.relative_to(run.root).as_posix() if d != run.root else "."
    s = PredictSet(d, rel)
    run.sets.append(s)
    return s


def load(spec: str) -> Run:
    name, root = parse_spec(spec)
    if not root.is_dir():
        raise io.InputError(root, "", "not a run directory")
    run = Run(name, root)
    for p in files(root):
        n = p.name
        if n == "generated_predictions.jsonl":
            _set_for(run, p.parent).predictions = p
        elif n in ("predict_results.json", "all_results.json"):
            data = _json(p) or {}
            keys = {k: v for k, v in data.items() if k.startswith("predict_")} if isinstance(data, dict) else {}
            if keys:
                _set_for(run, p.parent).predict_results.update(keys)
        elif n == "hearme_metrics.json":
            data = _json(p)
            if isinstance(data, dict):
                _set_for(run, p.parent).metrics = data
        elif n == "metrics.json":
            data = _json(p) or {}
            hm = data.get("hearme_metrics") if isinstance(data, dict) else None
            if isinstance(hm, dict) and run.demo_metrics is None:
                run.demo_metrics = hm
        elif n == "summary.json":
            data = _json(p)
            if not isinstance(data, dict):
                continue
            if data.get("probe"):
                if data["probe"] not in run.probes:
                    run.probes[data["probe"]], run.probe_dirs[data["probe"]] = data, p.parent
            elif "n_turns" in data and "dimensions" in data:
                if run.dialogues is None:
                    run.dialogues, run.dialogues_dir = data, p.parent
            elif "n_scored" in data and "dimensions" in data:
                run.judges.append((p, data))
        elif n == "session_summary.json":
            data = _json(p)
            if isinstance(data, dict) and isinstance(data.get("by_lang"), dict):
                run.sessions.append((p.parent, data))
        elif n == "trainer_log.jsonl":
            run.trainer_logs.append(p)
        elif n == "trainer_state.json":
            run.trainer_states.append(p)
        elif n == "adapter_config.json":
            run.adapter_configs.append(p)
        elif n == "README.md" and (p.parent / "trainer_state.json").exists():
            run.model_cards.append(p)
        elif n == "card.md" and run.data_card is None:
            run.data_card = p
        elif p.suffix in (".yaml", ".yml"):
            try:
                import yaml

                cfg = yaml.safe_load(p.read_text(encoding="utf-8"))
            except Exception:  # not ours to validate; just not a recipe
                continue
            if _is_train_config(cfg):
                run.train_configs.append((p, cfg))
    _fill_metrics(run)
    return run


def _fill_metrics(run: Run) -> None:
    """Each predictions file gets its own metrics: read beside it, else computed from it."""
    from hearme.evaluators import metrics

    for s in run.sets:
        if s.metrics is None and s.predictions is not None:
            try:
                s.metrics = metrics.compute(s.predictions, "auto")
            except io.HearMeError:
                s.metrics = None
    if not any(s.predictions or s.metrics for s in run.sets) and run.demo_metrics:
        for lang, m in run.demo_metrics.items():  # only the demo's summary is left: one set per language
            if isinstance(m, dict) and lang != "all":
                run.sets.append(PredictSet(run.root, f"metrics.json[{lang}]", metrics={**m, "lang": m.get("lang", lang)}))


def _flat(m: dict) -> dict[str, float]:
    return {k: float(v) for k, v in m.items() if isinstance(v, (int, float)) and not isinstance(v, bool)
            and k not in ("n", "n_bo") and not k.startswith("n_syllables")}


def _group(source: str, lang: str, m: dict, lf: dict[str, float] | None) -> MetricGroup:
    """One language's numbers, Tibetan syllable metrics first, LLaMA-Factory's code-point ones marked."""
    vals, notes = _flat(m), {}
    ref = {k: vals.pop(k) for k in list(vals) if k.startswith("label_")}
    if lf:  # LLaMA-Factory's own predict_* numbers for this file win over the recomputed ones
        vals.update(lf)
    if lang == "bo":
        order = [k for k in TIBETAN_FIRST if k in vals] + [k for k in vals if k not in TIBETAN_FIRST]
        vals = {k: vals[k] for k in order}
        notes = {k: NOT_COMPARABLE for k in LF_KEYS if k in vals}
    sigs = {k: v for k, v in m.items() if k.endswith("_signature")}
    return MetricGroup(source, lang, m.get("n"), vals, dict(m.get("ci95") or {}), notes, sigs, ref)


def metric_groups(run: Run) -> list[MetricGroup]:
    """Per predict set and label language: the numbers a report or comparison may show side by side."""
    out = []
    for s in run.sets:
        if s._groups is None:
            s._groups = []
            m = s.metrics or {}
            lf = {k.removeprefix("predict_"): float(v) for k, v in s.predict_results.items()
                  if isinstance(v, (int, float)) and not any(x in k for x in ("runtime", "per_second", "preparation"))}
            by = m.get("by_lang")
            if isinstance(by, dict) and by:
                s._groups = [_group(s.source, lang, sub, None) for lang, sub in sorted(by.items())]
                if lf:  # LF scored the whole mixed file: keep its numbers apart, under "mixed"
                    s._groups.append(MetricGroup(s.source, "mixed", m.get("n"), lf, {},
                                                 {k: "whole file, all languages" for k in lf}))
            elif m or lf:
                s._groups = [_group(s.source, s.lang if m else "unknown", m, lf)]
        out += s._groups
    return out


def metric_values(run: Run) -> dict[str, float]:
    """Flat numbers of the run's first metric group (kept for simple callers)."""
    groups = metric_groups(run)
    return dict(groups[0].values) if groups else {}


def item_key(prompt: str, label: str) -> str:
    """An item's identity across runs: the same prompt and reference, whatever its line."""
    return hashlib.sha1(f"{prompt}\x00{label}".encode("utf-8")).hexdigest()[:16]


def item_keys(pred_path: Path) -> dict[int, str]:
    """line -> item key for a predictions file (repeats get #2, #3, ...)."""
    from hearme.evaluators.metrics import load_predictions

    seen: dict[str, int] = {}
    out = {}
    for r in load_predictions(pred_path):
        k = item_key(r.get("prompt", ""), r["label"])
        seen[k] = seen.get(k, 0) + 1
        out[r["line"]] = k if seen[k] == 1 else f"{k}#{seen[k]}"
    return out


def loss_points(path: Path, key: str = "loss") -> list[tuple[int, float]]:
    """(step, value) of `loss` or `eval_loss` from a trainer_log.jsonl."""
    pts = []
    for _, obj, err in io.iter_jsonl(path):
        if not err and isinstance(obj, dict) and isinstance(obj.get(key), (int, float)):
            pts.append((int(obj.get("current_steps") or len(pts) + 1), float(obj[key])))
    return pts


def state_points(path: Path, key: str) -> list[tuple[int, float]]:
    """(step, value) of `loss` or `eval_loss` from the Trainer's trainer_state.json log_history."""
    data = _json(path) or {}
    return [(int(h.get("step") or 0), float(h[key])) for h in data.get("log_history") or []
            if isinstance(h, dict) and isinstance(h.get(key), (int, float))]
