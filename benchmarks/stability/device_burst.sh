#!/usr/bin/env bash
# Run grid jobs on a lent machine's CPU cores for a fixed time, then stop them (each run
# checkpoints on SIGTERM) and hand the run dirs back under $OUT; the grids resume them on the
# 2-core machine (`nfpo bench` skips finished jobs and resumes the rest).
#
# Usage (device tool):
#   bash benchmarks/stability/device_burst.sh SECONDS SPEC:NAME:WORKERS:PATTERN[,PATTERN...] ...
# e.g. benchmarks/stability/standard.toml:standard:4:'Ant-v5__nfpo-kl0.1__s2,Ant-v5__nfpo-kl0.1__s3'
# Then, here: cat burst.tgz.part-* | tar xz; move each NAME/runs/* into the local grid's runs/
# and re-run the grid (it records them as done).
#
# The device image has Python 3.12, torch, numpy, matplotlib, tensorboard and rich but not
# gymnasium, mujoco or tyro: those travel as wheels in the carried folder .whlmin/ (~11 MB;
# the working tree plus carried paths must stay under 64 MiB, so the bulky committed result
# dirs are left behind for the call).
# Seen 2026-11-26 on a lent H200 host (16 Xeon cores): 16 jobs of 300k steps, one per core,
# finished in ~370 s (flow ~800 env steps/s per job; 250-450 on the 2-core CPU).
set -u
secs=${1:?SECONDS}; shift
python -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whlmin/*.whl 2>&1 | grep -v WARNING
export PYTHONPATH=$PWD:/tmp/site
nproc; lscpu | grep -m1 "Model name"
python -c "import torch, numpy, mujoco; print(torch.__version__, numpy.__version__, mujoco.__version__)"
python -m nfpo train --env Hopper-v5 --total-steps 2048 --run-dir /tmp/smoke --eval-episodes 1 \
  >/tmp/smoke.log 2>&1 || { tail -20 /tmp/smoke.log; exit 1; }
echo smoke ok
names=()
for group in "$@"; do
  IFS=: read -r spec name workers patterns <<< "$group"
  IFS=, read -r -a pats <<< "$patterns"
  names+=("$name")
  # Unfinished run dirs staged in the carried .burst_in/NAME/runs/ (config, metrics, newest
  # checkpoint) resume here instead of starting over.
  if [ -d ".burst_in/$name/runs" ]; then
    mkdir -p "$OUT/$name/runs" && cp -a ".burst_in/$name/runs/." "$OUT/$name/runs/"
  fi
  timeout -s TERM "$secs" python -m nfpo bench "$spec" --out "$OUT/$name" --workers "$workers" \
    --only "${pats[@]}" --no-report > "$OUT/$name.log" 2>&1 &
done
wait
for name in "${names[@]}"; do tail -n 2 "$OUT/$name.log"; done
for d in "$OUT"/*/runs/*; do echo "$d $(tail -n 1 "$d/metrics.csv" | cut -d, -f1)"; done
# The tool returns at most 8 plain files of <= 16 MiB each, <= 2 folders deep: one archive
# without the TensorBoard dirs (metrics.csv holds the same scalars), split into 15 MB parts.
tar czf - --exclude='*/tb' -C "$OUT" "${names[@]}" | split -b 15m - "$OUT/burst.tgz.part-" \
  && rm -rf "${names[@]/#/$OUT/}"
ls -la "$OUT"
