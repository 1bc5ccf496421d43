#!/usr/bin/env bash
# Create .venv and install nfpo with its dev extras. torch is installed FIRST and pinned:
# on these machines torch==2.13.0 is a local CPU wheel, while an unpinned torch may pull a
# multi-GB CUDA build. Idempotent: re-running only re-installs what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
"$VPY" -m pip install -q --upgrade pip 2>&1 | grep -v "^WARNING: Location" || true
if ! "$VPY" -c "import torch" 2>/dev/null; then
  "$VPY" -m pip install -q "torch==${TORCH_VERSION:-2.13.0}" 2>&1 | grep -v "^WARNING: Location" || true
fi
"$VPY" -m pip install -q -e ".[dev]" 2>&1 | grep -v -e "^WARNING: Location" -e "BuildBackendWarning" || true
"$VPY" -c "import nfpo, torch, gymnasium, mujoco; print(f'nfpo {nfpo.__version__}, torch {torch.__version__}, gymnasium {gymnasium.__version__}, mujoco {mujoco.__version__}')"
