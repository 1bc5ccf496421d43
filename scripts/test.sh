#!/usr/bin/env bash
# Set up, lint and run the default test suite (slow learning tests: add `-m slow`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export MUJOCO_GL="${MUJOCO_GL:-egl}"
.venv/bin/ruff check nfpo tests benchmarks examples
.venv/bin/python -m pytest -q "$@"
