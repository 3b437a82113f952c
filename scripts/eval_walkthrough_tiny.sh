#!/usr/bin/env bash
# The README's evaluation walkthrough, end to end on the offline tiny model (CPU, a few minutes):
# train -> predict base and tuned -> metrics -> judge -> serve base, then tuned, at ONE url with
# `llamafactory-cli api` -> identity and crisis probes -> compare -> report.
# The judge is the scripted server tests/fake_openai.py (no API on this machine); point
# --base-url/--model at a real judge to get real scores.   Usage: scripts/eval_walkthrough_tiny.sh [WORKDIR] [PORT]
set -euo pipefail
cd "$(dirname "$0")/.."
W="${1:-runs/walkthrough}"; PORT="${2:-8000}"
H=.venv/bin/hearme; LF=.venv/bin/llamafactory-cli; PY=.venv/bin/python
mkdir -p "$W"
R="$W/runs"; URL="http://127.0.0.1:$PORT/v1"
[[ -f "$W/tiny/config.json" ]] || $PY -c "from hearme import tinymodel; tinymodel.build('$W/tiny')"

echo "== train (stage-2 recipe on the tiny model)"
$LF train recipes/train/qwen2.5_stage2_counseling.yaml model_name_or_path="$W/tiny" adapter_name_or_path=null \
  output_dir="$R/tuned/train" bf16=false enable_liger_kernel=false neat_packing=false cutoff_len=128 max_steps=30 \
  learning_rate=5.0e-3 logging_steps=5 eval_strategy=steps eval_steps=10 save_steps=1000 preprocessing_num_workers=1 \
  include_effective_tokens_per_second=false > "$W/train.log" 2>&1

for r in base tuned; do
  ad=null; [[ $r == tuned ]] && ad="$R/tuned/train"
  echo "== predict $r"
  $LF train recipes/predict/qwen2.5_counseling.yaml model_name_or_path="$W/tiny" adapter_name_or_path="$ad" \
    output_dir="$R/$r/predict" bf16=false max_new_tokens=32 max_samples=24 preprocessing_num_workers=1 \
    per_device_eval_batch_size=8 > "$W/predict_$r.log" 2>&1
  $H metrics "$R/$r/predict/generated_predictions.jsonl" --lang auto > "$W/metrics_$r.json" 2> "$W/metrics_$r.err"
done

echo "== scripted judge"
$PY tests/fake_openai.py --port 0 > "$W/judge.out" 2>&1 &
JPID=$!
trap 'kill $JPID 2>/dev/null || true' EXIT
until grep -q READY "$W/judge.out"; do sleep 0.2; done
J=$(sed -n 's/^READY //p' "$W/judge.out")
for r in base tuned; do
  echo "== hearme judge $r"
  $H judge "$R/$r/predict/generated_predictions.jsonl" --base-url "$J" --model gpt-4o -o "$R/$r/judge" \
    --cache-dir "$W/cache"
done

for r in base tuned; do
  ad=(); [[ $r == tuned ]] && ad=(adapter_name_or_path="$R/tuned/train" finetuning_type=lora)
  echo "== serve $r at $URL (llamafactory-cli api)"
  API_HOST=127.0.0.1 API_PORT=$PORT API_MODEL_NAME=hearme setsid $LF api recipes/infer/qwen2.5_counseling.yaml \
    model_name_or_path="$W/tiny" "${ad[@]}" infer_dtype=float32 max_new_tokens=32 > "$W/api_$r.log" 2>&1 &
  APID=$!
  until curl -sf "$URL/models" > /dev/null; do
    kill -0 $APID 2>/dev/null || { tail -5 "$W/api_$r.log"; exit 1; }; sleep 0.5
  done
  echo "== hearme probe identity ($r)"
  $H probe identity --url "$URL" --name Jerry --author VastEpiphany -o "$R/$r/probe-identity" --cache-dir "$W/cache" \
    --max-tokens 32 | tee "$W/probe_identity_$r.txt"
  echo "== hearme probe crisis ($r)"
  $H probe crisis --url "$URL" --base-url "$J" --model gpt-4o -o "$R/$r/probe-crisis" --cache-dir "$W/cache" \
    --reply-max-tokens 32 | tee "$W/probe_crisis_$r.txt"
  kill -- -$APID; wait $APID 2>/dev/null || true
done

echo "== compare and report"
$H compare base="$R/base" tuned="$R/tuned" -o "$R/compare" | tee "$W/compare.txt"
$H report base="$R/base" tuned="$R/tuned" -o "$R/report"
