#!/usr/bin/env bash
# Set up, then train the flow policy on Hopper-v5 and write the report.
# STEPS (default 200000, ~10 min on 2 cores) and extra `nfpo train` flags can be passed:
#   STEPS=1000000 bash scripts/demo.sh --seed 2
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
RUN_DIR="${RUN_DIR:-runs/quickstart-hopper-flow}"
.venv/bin/nfpo train --env Hopper-v5 --policy flow --total-steps "${STEPS:-200000}" \
  --run-dir "$RUN_DIR" "$@"
echo "report: $RUN_DIR/report/report.md   (TensorBoard: .venv/bin/tensorboard --logdir $RUN_DIR/tb)"
