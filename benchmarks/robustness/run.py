"""Return under sim-to-real perturbations, flow vs Gaussian, on the Hopper-v5 benchmark runs.

Each trained run (benchmarks/hopper/runs/<policy>_s<seed>, with its checkpoints: the runs of
benchmarks/hopper/README.md; the stored copies on the bench-runs branch have none) is
evaluated with 10 deterministic episodes per perturbation level (``nfpo eval --perturb
SPEC``). Resumable: finished (run, level) pairs are kept in results.json and skipped.

    python benchmarks/robustness/run.py [--episodes 10]
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np

from nfpo.evaluate import evaluate

HERE = Path(__file__).resolve().parent
RUNS = HERE.parent / "hopper" / "runs"
LEVELS = ["", "obs_noise=0.05", "obs_noise=0.1", "action_noise=0.1", "action_noise=0.3",
          "delay=1", "delay=2", "mass=0.8:1.2", "mass=0.6:1.4", "friction=0.5:1.5",
          "damping=0.5:2", "gain=0.8:1.2", "gain=0.6:1.4"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--episodes", type=int, default=10)
    args = ap.parse_args()
    path = HERE / "results.json"
    res = json.loads(path.read_text()) if path.exists() else {"evals": {}}
    runs = sorted(d for d in RUNS.glob("*_s*") if (d / "eval.json").exists())
    for d in runs:
        for level in LEVELS:
            key = f"{d.name}|{level}"
            if key in res["evals"]:
                continue
            r = evaluate(d, args.episodes, deterministic=True, perturb=level)
            res["evals"][key] = {"mean_return": r["mean_return"], "std_return": r["std_return"],
                                 "mean_length": r["mean_length"]}
            print(key, f"{r['mean_return']:.0f}", flush=True)
            res.update({"machine": platform.platform(), "date": time.strftime("%Y-%m-%d"),
                        "episodes": args.episodes})
            path.write_text(json.dumps(res, indent=2))
    lines = ["| perturbation | flow: return (mean ± std over seeds) | seeds | "
             "gaussian: return | seeds |", "|---|---|---|---|---|"]
    for level in LEVELS:
        cells = []
        for pol in ("flow", "gaussian"):
            vals = [v["mean_return"] for k, v in res["evals"].items()
                    if k.split("|")[1] == level and k.split("|")[0].startswith(pol + "_s")]
            cells += [f"{np.mean(vals):.0f} ± {np.std(vals):.0f}" if vals else "-", str(len(vals))]
        lines.append(f"| {level or 'none (nominal)'} | " + " | ".join(cells) + " |")
    (HERE / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
