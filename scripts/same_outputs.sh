#!/usr/bin/env bash
# Proof that a refactor changes no output (issue #22, item 5). Run by hand:
#
#   bash scripts/same_outputs.sh BEFORE_COMMIT [UPSTREAM_DIR]
#
# Runs the data pipeline (convert every format, scrub, dedup, split, data card, metrics of fixed
# predictions, Tibetan filter, bundled samples) once with BEFORE_COMMIT and once with the working tree, each in a
# scratch copy, and compares every file byte for byte. UPSTREAM_DIR holds the public releases
# (CAS-SIAT-XinHai+CPsyCoun, qiuhuachuan+smile, SmartFlowAI+EmoLLM); without it only the bundled
# samples are used. The .venv's editable install points at BEFORE for the first run and is put back.
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
PY=$REPO/.venv/bin/python
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 PYTHONHASHSEED=0

pipeline() { # $1 = tree to run in (a scratch copy), $2 = output folder
  local T=$1 O=$2 H="$PY -m hearme.cli"
  mkdir -p "$O"
  cd "$T"
  S=data/samples
  $H convert self-cognition -o "$O/selfcog.json"
  $H convert emollm $S/emollm -o "$O/emollm_s.json"
  $H convert cpsycound $S/cpsycound -o "$O/cpsycound_s.json"
  $H convert cpsycoune $S/cpsycoune -o "$O/cpsycoune_s.json"
  $H convert smile $S/smile -o "$O/smile_s.json"
  $H convert psyqa $S/psyqa -o "$O/psyqa_s.json"
  $H convert firefly $S/firefly -o "$O/firefly_s.json"
  $H convert smile $S/smile --sharegpt --no-scrub -o "$O/smile_s_sharegpt.jsonl"
  local D=$O/cpsycound_s.json
  if [[ -n "$UP" ]]; then
    $H convert cpsycound "$UP/CAS-SIAT-XinHai+CPsyCoun/CPsyCounD" -o "$O/cpsycound.json"
    $H convert cpsycoune "$UP/CAS-SIAT-XinHai+CPsyCoun/CPsyCounE" -o "$O/cpsycoune.json"
    $H convert emollm "$UP/SmartFlowAI+EmoLLM/datasets" -o "$O/emollm.json"
    $H convert smile "$UP/qiuhuachuan+smile/data" -o "$O/smile.json"
    D=$O/cpsycound.json
  fi
  $H scrub "$O/smile_s_sharegpt.jsonl" -o "$O/scrubbed.jsonl"
  $H dedup "$D" "$O/smile_s.json" -o "$O/dedup.json"
  $H split "$O/dedup.json" --ratios 80/10/10 --name proof --out-dir "$O/split" --dataset-dir "$O/split"
  $H split "$O/cpsycound_s.json" --kfold 5 --name proofcv --out-dir "$O/folds" --dataset-dir "$O/folds"
  $H stats "$O/dedup.json" -o "$O/card"
  rm -f "$O"/card/*.png # matplotlib stamps its version and build into PNG metadata; card.md holds the numbers
  "$PY" - "$O/split/proof_test.json" "$O/pred.jsonl" <<'EOF'
import json, sys
recs = json.load(open(sys.argv[1], encoding="utf-8"))
with open(sys.argv[2], "w", encoding="utf-8") as f:
    for i, r in enumerate(recs):
        turns = r["messages"]
        label = next(m["content"] for m in reversed(turns) if m["role"] == "assistant")
        predict = label[::-1] if i % 3 == 0 else label[: max(1, len(label) // (1 + i % 4))]
        f.write(json.dumps({"prompt": turns[0]["content"], "label": label, "predict": predict}, ensure_ascii=False) + "\n")
EOF
  $H metrics "$O/pred.jsonl" --lang zh --json "$O/metrics.json"
  $H tibetan filter data/hearme_tibetan_bo_train.json -o "$O/bo_filtered.json"
  $H tibetan filter data/hearme_tibetan_bo_train.json --corpus $S/tibetan/corpus_bo.txt -o "$O/bo_filtered_corpus.json"
  $H samples --dataset-dir "$O/samples" --files-dir "$O/samples"
}

if [[ ${1:-} == --pipeline ]]; then # its own process, so that set -e stops at the first failure
  pipeline "$2" "$3"
  exit
fi
BEFORE=${1:?usage: same_outputs.sh BEFORE_COMMIT [UPSTREAM_DIR]}
export UP=${2:-}
WORK=$(mktemp -d /tmp/same_outputs.XXXX)
export HEARME_CACHE_DIR=$WORK/cache
reinstall() { "$PY" -m pip install -q --disable-pip-version-check --no-deps --no-build-isolation -e "$1" >/dev/null; }
trap 'reinstall "$REPO"' EXIT

for side in before after; do # the same paths both times: outputs may name them
  rm -rf "$WORK/out" && mkdir -p "$WORK/tree"
  if [[ $side == before ]]; then
    git -C "$REPO" archive "$BEFORE" | tar -x -C "$WORK/tree"
  else
    tar -C "$REPO" --exclude=.venv --exclude=.git --exclude=runs -cf - . | tar -x -C "$WORK/tree"
  fi
  reinstall "$WORK/tree"
  "$PY" -c "import hearme.converters as c, hearme.cli as m; print(m.__file__, c.__file__)" > "$WORK/$side.which"
  bash "$0" --pipeline "$WORK/tree" "$WORK/out" > "$WORK/$side.log" 2>&1 || { echo "$side run failed: $WORK/$side.log"; tail -5 "$WORK/$side.log"; exit 1; }
  sed -i -E 's/built in [0-9.]+ s/built in N s/' "$WORK"/out/*.filter.json # a timing, not an output
  mv "$WORK/out" "$WORK/out_$side" && mv "$WORK/tree" "$WORK/tree_$side"
done
n=$(find "$WORK/out_before" -type f | wc -l)
if diff -r "$WORK/out_before" "$WORK/out_after" > "$WORK/diff.txt"; then
  cat "$WORK"/*.which; echo "identical: $n files, $(du -sh "$WORK/out_before" | cut -f1) (in $WORK)"
else
  echo "DIFFERENT (see $WORK/diff.txt):"; head -20 "$WORK/diff.txt"; exit 1
fi
