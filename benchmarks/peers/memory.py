"""Peak memory of a training run, flow vs Gaussian, at Hopper and Go1 sizes.

    python benchmarks/peers/memory.py [--repeats 2]      # -> memory.json, memory.md

Each run is a fresh ``nfpo train`` process (a few updates: peak memory is reached in the first
rollout and update), measured as the peak resident set size of that process
(``getrusage(RUSAGE_CHILDREN).ru_maxrss`` in a wrapper that runs nothing else). Workloads:
Hopper-v5 at the 4-env default and at 1 env x 2048 (CleanRL's settings), and Go1 with
``--preset legged`` (64 EnvPool envs, asymmetric critic, 128x128x128 networks).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
COMMON = ["--no-tensorboard", "--no-progress", "--no-report", "--eval-episodes", "0",
          "--overwrite"]
WORKLOADS = {
    "Hopper-v5, 4 envs x 512": ["--env", "Hopper-v5", "--num-envs", "4", "--num-steps", "512",
                                "--total-steps", "4096"],
    "Hopper-v5, 1 env x 2048": ["--env", "Hopper-v5", "--num-envs", "1", "--num-steps", "2048",
                                "--num-minibatches", "32", "--total-steps", "4096"],
    "Go1, --preset legged (64 envs)": ["--preset", "legged", "--envpool-threads", "1",
                                       "--total-steps", "4608"],
}
WRAPPER = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
           "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def peak_rss_mb(args: list[str]) -> float:
    """Peak RSS (MB) of one ``nfpo train`` process."""
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "nfpo", "train", *args, *COMMON, "--run-dir",
               str(Path(tmp) / "run")]
        out = subprocess.run([sys.executable, "-c", WRAPPER, *cmd], capture_output=True,
                             text=True, check=True).stdout.split()
    if out[-2] != "0":
        raise SystemExit(f"nfpo train failed: {' '.join(cmd)}")
    return int(out[-1]) / 1024  # ru_maxrss is in KiB on Linux


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args(argv)
    res: dict = {"date": time.strftime("%Y-%m-%d"), "machine": platform.machine(),
                 "python": platform.python_version(), "workloads": {}}
    for name, args in WORKLOADS.items():
        row = {}
        for policy in ("gaussian", "flow"):
            row[policy] = [peak_rss_mb([*args, "--policy", policy]) for _ in range(a.repeats)]
            print(name, policy, [round(x) for x in row[policy]], flush=True)
        res["workloads"][name] = row
    (HERE / "memory.json").write_text(json.dumps(res, indent=1))
    lines = ["# Peak memory of a training run: flow vs Gaussian\n",
             f"`python benchmarks/peers/memory.py --repeats {a.repeats}`; {res['date']}, "
             f"{res['machine']}, Python {res['python']}. Peak RSS of the `nfpo train` process "
             "(max over repeats).\n",
             "| workload | Gaussian (MB) | flow (MB) | flow / Gaussian |", "|---|---|---|---|"]
    for name, row in res["workloads"].items():
        g, f = max(row["gaussian"]), max(row["flow"])
        lines.append(f"| {name} | {g:.0f} | {f:.0f} | {f / g:.2f} |")
    (HERE / "memory.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
