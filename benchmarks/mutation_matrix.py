"""Hostile-input matrix over the REAL upstream files (run by hand; not a test, nothing is committed).

    .venv/bin/python benchmarks/mutation_matrix.py [--per-format 220] [--upstream /work/upstream]

For each format, real documents are taken from the public releases under --upstream (PsyQA and
Firefly are not there: their documents are built from real SMILE dialogues in those shapes) and
mutated with tests/mutate.py's categories (truncation, invalid UTF-8, GBK, BOM, NUL, zero-width/RTL,
surrogates, wrong types, duplicate keys, deep nesting, huge numbers and fields, empty files, mixed
folders, symbolic links...). Every mutated input is converted through the CLI entry point, in this
process, named and inside a folder. Printed per format: inputs, exit codes, TRACEBACKS (an
exception escaping `hearme.cli.main`), conservation failures, outputs `datasets` cannot load, and
stray temp files. The issue's baseline on the same idea was 76 tracebacks in 1,760 inputs.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests import mutate  # noqa: E402


def real_bases(up: Path, rng: random.Random) -> dict[str, list]:
    """A few real documents per format (parsed), small enough to mutate quickly."""
    cps = up / "CAS-SIAT-XinHai+CPsyCoun"
    smile_files = sorted((up / "qiuhuachuan+smile" / "data").glob("*.json"))
    smiles = [json.loads(p.read_text(encoding="utf-8")) for p in rng.sample(smile_files, 6)]
    emo = up / "SmartFlowAI+EmoLLM" / "datasets"
    data = json.loads((emo / "data.json").read_text(encoding="utf-8"))
    aiwei = json.loads((emo / "aiwei.json").read_text(encoding="utf-8"))
    selfcog = json.loads((emo / "self_cognition_EmoLLM.json").read_text(encoding="utf-8"))
    cpsd = sorted((cps / "CPsyCounD" / "Data").glob("*.txt"))
    cpse = sorted((cps / "CPsyCounE").rglob("*.json"))

    def turns(d):
        return [t for t in d if isinstance(t, dict)]

    firefly = [[{"conversation_id": i, "category": "smile",
                 "conversation": [{"human": a["content"], "assistant": b["content"]}
                                  for a, b in zip(turns(d)[::2], turns(d)[1::2])][:3]}] for i, d in enumerate(smiles)]
    psyqa = [[{"questionID": i, "question": turns(d)[0]["content"][:30], "description": turns(d)[0]["content"],
               "keywords": "情绪,压力", "answers": [{"answer_text": t["content"]} for t in turns(d)[1:4:2]]}]
             for i, d in enumerate(smiles)]
    records = [[{"messages": [{"role": "user", "content": a["content"]}, {"role": "assistant", "content": b["content"]}],
                 "id": f"s{i}", "source": "SMILE"} for a, b in zip(turns(d)[::2], turns(d)[1::2])][:3]
               for i, d in enumerate(smiles)]
    return {
        "cpsycound": [p.read_bytes().decode("utf-8-sig", "replace")[:3000] for p in rng.sample(cpsd, 6)],
        "cpsycoune": [json.loads(p.read_text(encoding="utf-8"))[:12] for p in rng.sample(cpse, 6)],
        "smile": [d[:8] for d in smiles],
        "emollm": [rng.sample(data, 2), rng.sample(aiwei, 2), rng.sample(data, 1), rng.sample(aiwei, 1),
                   rng.sample(data, 3), rng.sample(aiwei, 3)],
        "self-cognition": [rng.sample(selfcog, 3) for _ in range(6)],
        "firefly": firefly, "psyqa": psyqa, "records": records,
    }


def loads_in_datasets(path: Path) -> bool:
    from datasets.packaged_modules.json.json import Json

    builder = Json.__new__(Json)
    builder.config = Json.BUILDER_CONFIG_CLASS(name="x", data_files=None)
    builder.info = None
    try:
        for _ in builder._generate_tables([[str(path)]]):
            pass
    except Exception:  # noqa: BLE001
        return False
    return True


def check(out: Path, stdout: str) -> tuple[bool, bool]:
    """(conserved, loadable)"""
    from hearme.core import io

    try:
        read, written, rejected = (int(x.split("=")[1]) for x in stdout.strip().splitlines()[-1].split())
        recs = json.loads(out.read_text(encoding="utf-8"))
        rows = [x for x in io.rejected_path(out).read_text(encoding="utf-8").split("\n") if x.strip()]
        conserved = read == written + rejected and len(recs) >= written and len(rows) == rejected
    except Exception:  # noqa: BLE001
        return False, False
    return conserved, (not recs or loads_in_datasets(out))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--per-format", type=int, default=220)
    ap.add_argument("--upstream", type=Path, default=REPO.parent / "upstream")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--formats", default=",".join(mutate.FORMATS), help="Comma-separated formats to run.")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    bases = real_bases(args.upstream, rng)
    table = {}
    examples: list[str] = []
    t0 = time.time()
    root = Path(tempfile.mkdtemp(prefix="hearme-matrix-"))
    try:
        for fmt in args.formats.split(","):
            pool = [c for i, b in enumerate(bases[fmt]) for c in mutate.cases(fmt, seed=args.seed + i, base=b)]
            chosen = rng.sample(pool, min(args.per_format, len(pool)))
            stats = Counter()
            for n, case in enumerate(chosen):
                work = root / fmt / str(n)
                src = case.build(work / "in")
                out = work / "out" / "o.json"
                runs = ([src] if not case.folder_only else []) + [src.parent if not case.folder_only else src]
                for target in runs:
                    code, stdout, stderr, tb = mutate.run_cli("convert", fmt, target, "-o", out, catch=True)
                    stats["runs"] += 1
                    stats[f"exit {code}"] += 1
                    if tb or "Traceback" in stderr:
                        stats["TRACEBACKS"] += 1
                        examples.append(f"{case.id}: {(tb or stderr).strip().splitlines()[-1]}")
                    if code == 0:
                        conserved, loadable = check(out, stdout)
                        stats["not conserved"] += not conserved
                        stats["not loadable"] += not loadable
                        if not (conserved and loadable):
                            examples.append(f"{case.id}: conserved={conserved} loadable={loadable} "
                                            f"{stdout.strip().splitlines()[-1] if stdout.strip() else ''}")
                    if out.parent.exists() and [p for p in out.parent.iterdir() if p.name.endswith((".tmp", ".commit"))]:
                        stats["stray temp"] += 1
                stats["inputs"] += 1
                shutil.rmtree(work, ignore_errors=True)
            table[fmt] = stats
            print(f"{fmt:15s} " + " ".join(f"{k}={v}" for k, v in sorted(stats.items())), flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    total = sum((Counter(s) for s in table.values()), Counter())
    print(f"{'TOTAL':15s} " + " ".join(f"{k}={v}" for k, v in sorted(total.items())))
    print(f"tracebacks: {total['TRACEBACKS']} in {total['inputs']} inputs ({total['runs']} runs), "
          f"{time.time() - t0:.0f} s")
    for line in examples[:20]:
        print("  ", line)


if __name__ == "__main__":
    main()
