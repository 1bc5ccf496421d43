#!/usr/bin/env bash
# Run part of the stability grids on a lent machine's CPU cores for a fixed time, then stop
# them (each run checkpoints on SIGINT) and hand the run dirs back under $OUT; the grids
# resume them on the 2-core machine (`nfpo bench` skips finished jobs, resumes the rest).
# The device image has Python 3.12 + torch but not nfpo's other dependencies: they travel
# as wheels in .whl312/ (gymnasium, mujoco, tensorboard, matplotlib, ...).
# Seen 2026-11-26 on a lent H200 host (16 Xeon cores): 16 jobs of 300k steps, one per core,
# finished in ~370 s (flow ~800 env steps/s per job; 250-450 on the 2-core CPU). That burst's
# results were lost: its single archive (20 MB) was over the tool's 16 MiB file limit.
# Usage (device tool): bash benchmarks/stability/device_burst.sh SECONDS
# Then: cat burst.tgz.part-* | tar xz; copy each runs/* dir into the local grid's runs/ and re-run the grid.
set -u
secs=${1:-440}
python -c "import numpy" 2>/dev/null || np=.whl312/numpy
pip install -q --no-index --no-deps $(ls .whl312/*.whl | grep -v numpy) ${np:+$np*.whl} 2>&1 | tail -3
export PYTHONPATH=$PWD
nproc; lscpu | grep -m1 "Model name"; python -c "import torch, numpy, mujoco; print(torch.__version__, numpy.__version__, mujoco.__version__)"
python -m nfpo train --env Hopper-v5 --total-steps 2048 --run-dir /tmp/smoke --eval-episodes 1 >/tmp/smoke.log 2>&1 \
  || { tail -20 /tmp/smoke.log; exit 1; }
echo smoke ok
timeout -s TERM "$secs" python -m nfpo bench benchmarks/stability/standard.toml --out "$OUT/standard" \
  --workers 12 --only '*__s3' --no-report > "$OUT/standard.log" 2>&1 &
timeout -s TERM "$secs" python -m nfpo bench benchmarks/stability/stress.toml --out "$OUT/stress" \
  --workers 4 --only '*flow-naive-kl-mb__s1' '*flow-naive-kl-mb__s2' --no-report > "$OUT/stress.log" 2>&1 &
wait
tail -n 3 "$OUT/standard.log" "$OUT/stress.log"
for d in "$OUT"/*/runs/*; do echo "$d $(tail -n 1 "$d/metrics.csv" | cut -d, -f1)"; done
# The device tool returns at most 8 plain files of <= 16 MiB each, <= 2 folders deep: one
# archive without the TensorBoard dirs (the bulk; metrics.csv holds the same scalars), split.
tar czf - --exclude='*/tb' -C "$OUT" standard stress | split -b 15m - "$OUT/burst.tgz.part-" \
  && rm -rf "$OUT/standard" "$OUT/stress"
ls -la "$OUT"
