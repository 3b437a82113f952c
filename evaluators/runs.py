"""Find a run's artifacts by name and content: what `compare` and `report` read.

A run directory is anything holding some of: LLaMA-Factory outputs (trainer_log.jsonl,
predict_results.json / all_results.json, generated_predictions.jsonl), the resolved recipe
(configs/*.yaml or training_args.yaml), a data card (card.md), `hearme metrics` output
(hearme_metrics.json, or the demo's metrics.json) and `hearme judge` / `judge-dialogues` /
`probe` summaries (summary.json, recognised by their keys). Search depth is 3.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hearme import io

MAX_DEPTH = 3
SKIP_DIRS = {"checkpoint", "cache", ".hearme_cache", "__pycache__", "tiny-model", "merged"}


@dataclass
class Run:
    name: str
    root: Path
    predictions: Path | None = None
    predict_results: dict = field(default_factory=dict)
    metrics: dict | None = None  # hearme metrics (flat numbers + ci95)
    judge: dict | None = None
    dialogues: dict | None = None
    probes: dict[str, dict] = field(default_factory=dict)
    trainer_logs: list[Path] = field(default_factory=list)
    train_configs: list[tuple[Path, dict]] = field(default_factory=list)  # every training recipe found
    data_card: Path | None = None


def _files(root: Path) -> list[Path]:
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
    return isinstance(cfg, dict) and (cfg.get("do_train") or "learning_rate" in cfg) and not cfg.get("do_predict")


def parse_spec(spec: str) -> tuple[str, Path]:
    """NAME=DIR or DIR (named after the directory)."""
    name, sep, path = spec.partition("=")
    if sep and name and not Path(spec).exists():
        return name, Path(path)
    return Path(spec).resolve().name, Path(spec)


def load(spec: str) -> Run:
    name, root = parse_spec(spec)
    if not root.is_dir():
        raise io.InputError(root, "", "not a run directory")
    run = Run(name, root)
    for p in _files(root):
        n = p.name
        if n == "generated_predictions.jsonl" and run.predictions is None:
            run.predictions = p
        elif n in ("predict_results.json", "all_results.json"):
            data = _json(p) or {}
            run.predict_results.update({k: v for k, v in data.items() if k.startswith("predict_")})
        elif n == "hearme_metrics.json":
            run.metrics = _json(p) or run.metrics
        elif n == "metrics.json" and run.metrics is None:
            data = _json(p) or {}
            hm = data.get("hearme_metrics") if isinstance(data, dict) else None
            if isinstance(hm, dict):
                run.metrics = merge_langs(hm)
        elif n == "summary.json":
            data = _json(p)
            if not isinstance(data, dict):
                continue
            if data.get("probe"):
                run.probes.setdefault(data["probe"], data)
            elif "n_turns" in data and "dimensions" in data:
                run.dialogues = run.dialogues or data
            elif "n_scored" in data and "dimensions" in data:
                run.judge = run.judge or data
        elif n == "trainer_log.jsonl":
            run.trainer_logs.append(p)
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
    return run


def merge_langs(hm: dict) -> dict:
    """The demo keeps metrics per language ({"zh": ..., "bo": ...}); flatten for tables: the
    Chinese numbers as they are, plus the Tibetan file's syllable metrics and chrF++."""
    if "all" in hm:
        return hm["all"]
    if not all(isinstance(v, dict) for v in hm.values()):
        return hm
    out = dict(hm.get("zh") or next(iter(hm.values()), {}))
    for k, v in (hm.get("bo") or {}).items():
        if k.startswith(("syllable_", "chrf")):
            out[k] = v
    return out


def metric_values(run: Run) -> dict[str, float]:
    """Flat numeric metrics: hearme metrics first, else LLaMA-Factory's predict_* numbers."""
    out: dict[str, float] = {}
    for k, v in run.predict_results.items():
        if k.startswith("predict_") and isinstance(v, (int, float)) and "runtime" not in k and "per_second" not in k \
                and "preparation" not in k:
            out[k.removeprefix("predict_")] = float(v)
    for k, v in (run.metrics or {}).items():
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in ("n", "n_bo") \
                and not k.startswith("n_syllables"):
            out[k] = float(v)
    return out


def loss_points(path: Path) -> list[tuple[int, float]]:
    pts = []
    for _, obj, err in io.iter_jsonl(path):
        if not err and isinstance(obj, dict) and isinstance(obj.get("loss"), (int, float)):
            pts.append((int(obj.get("current_steps") or len(pts) + 1), float(obj["loss"])))
    return pts
