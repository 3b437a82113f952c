#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment.
# CPU machines get the pitfall fixes from shared/notes/llamafactory.md:
#   - torch is pinned (a bare resolve swaps a CPU torch for a CUDA 2.15 build),
#   - the registry's CUDA torchvision is removed, torchaudio's CUDA libs are dropped,
#   - jieba/nltk/rouge-chinese are installed (the 0.9.5 wheel has no `metrics` extra).
# Machines with a GPU (nvidia-smi works) get the normal install.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null || PY=python3
STAMP="$VENV/.hearme-ready"
WANT="$(cat pyproject.toml scripts/bootstrap.sh | sha256sum | cut -c1-16)"
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then exit 0; fi

echo "[hearme] setting up $VENV (a few minutes on first run)"
[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check)
CONSTRAINTS="$VENV/constraints.txt"
: > "$CONSTRAINTS"
if nvidia-smi >/dev/null 2>&1 && [[ "${HEARME_CPU:-0}" != "1" ]]; then
  echo "[hearme] GPU found: normal install"
  "${PIP[@]}" -q -e ".[test]"
else
  TORCH="${HEARME_TORCH:-torch==2.13.0}"
  echo "[hearme] no GPU: pinning $TORCH (CPU build)"
  echo "$TORCH" > "$CONSTRAINTS"
  "${PIP[@]}" -q "$TORCH"
  "${PIP[@]}" -q -e ".[test]" -c "$CONSTRAINTS"
  "$VENV/bin/python" -m pip uninstall -y -q torchvision 2>/dev/null || true
  SITE="$("$VENV/bin/python" -c 'import sysconfig;print(sysconfig.get_paths()["purelib"])')"
  rm -f "$SITE"/torchaudio/lib/*.so
fi
"$VENV/bin/python" -c "import llamafactory, jieba, nltk, rouge_chinese, hearme" \
  || { echo "[hearme] install check failed" >&2; exit 1; }
# Templates LLaMA-Factory 0.9.5 lacks (baichuan2, hearme_firefly), for every llamafactory-cli process.
"$VENV/bin/hearme" recipes plugin install
echo "$WANT" > "$STAMP"
echo "[hearme] environment ready: $VENV"
