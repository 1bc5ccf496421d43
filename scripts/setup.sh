#!/usr/bin/env bash
# Create .venv and install nfpo with its dev extras. torch is installed FIRST and pinned:
# on these machines torch==2.13.0 is a local CPU wheel, while an unpinned torch may pull a
# multi-GB CUDA build. Idempotent: re-running only re-installs what changed.
# pip's output goes to .venv/setup.log (printed if a step fails).
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
VPY=.venv/bin/python
LOG=.venv/setup.log
step() { "$@" >>"$LOG" 2>&1 || { cat "$LOG"; echo "setup failed: $*" >&2; exit 1; }; }
: >"$LOG"
step "$VPY" -m pip install --upgrade pip
if ! "$VPY" -c "import torch" 2>/dev/null; then
  step "$VPY" -m pip install "torch==${TORCH_VERSION:-2.13.0}"
fi
# keep the installed torch: the framework extras (rsl-rl-lib, stable-baselines3) require torch too
TORCH_NOW=$("$VPY" -c "import torch; print(torch.__version__.split('+')[0])")
step "$VPY" -m pip install -e ".[dev]" "torch==$TORCH_NOW"
"$VPY" -c "import nfpo, torch, gymnasium, mujoco; print(f'nfpo {nfpo.__version__}, torch {torch.__version__}, gymnasium {gymnasium.__version__}, mujoco {mujoco.__version__}')"
# Offscreen rendering for videos (nfpo eval --video) needs EGL from the system; on Debian or
# Ubuntu it is installed here when missing (as root, or with passwordless sudo).
if ! "$VPY" -c "from nfpo.video import check_renderer; check_renderer(60)" >>"$LOG" 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
  if command -v apt-get >/dev/null && $SUDO apt-get update -q >>"$LOG" 2>&1 \
      && $SUDO apt-get install -y -q libegl1 libgl1-mesa-dri >>"$LOG" 2>&1; then
    echo "installed EGL (libegl1 libgl1-mesa-dri) for offscreen rendering"
  else
    echo "note: EGL offscreen rendering is not available: videos (nfpo eval --video) will" \
         "not work; install libegl1 and libgl1-mesa-dri" >&2
  fi
fi
