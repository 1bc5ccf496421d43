#!/usr/bin/env bash
# Set up, then train the flow policy on Hopper-v5 and write the report.
# STEPS (default 204800 = 100 updates of 2048, ~4-5 min on 2 cores) and extra `nfpo train` flags
# can be passed:  STEPS=1000000 bash scripts/demo.sh --seed 2
# The demo replaces its own previous run (--overwrite); `nfpo train` alone never reuses a run dir.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
RUN_DIR="${RUN_DIR:-runs/quickstart-hopper-flow}"
.venv/bin/nfpo train --env Hopper-v5 --policy flow --total-steps "${STEPS:-204800}" \
  --run-dir "$RUN_DIR" --overwrite "$@"
echo "report: $RUN_DIR/report/report.md   (TensorBoard: .venv/bin/tensorboard --logdir $RUN_DIR/tb)"
