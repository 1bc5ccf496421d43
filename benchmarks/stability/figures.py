"""Figure for docs/stability.md, mechanism 1: the per-update minimum log-ratio (how far PPO's
old actions fall into the tails of the new density) and the max k3 KL of the update, over
training, for the naive flow, the bounded flow, the NFPO default and the Gaussian, from the
stress grid's metrics.csv files (no training).

    python benchmarks/stability/figures.py   # -> figures/log_ratio_tails.png beside it
"""

from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

HERE = Path(__file__).parent
ARMS = [("flow-naive", "naive flow (unbounded)", "tab:red"),
        ("flow", "flow, log-scale bound 2", "tab:orange"),
        ("nfpo-kl0.1", "NFPO default (bound + KL stop 0.1 per minibatch)", "tab:blue"),
        ("gaussian", "Gaussian", "tab:gray")]


def column(path: Path, key: str) -> tuple[np.ndarray, np.ndarray]:
    with path.open() as f:
        rows = list(csv.DictReader(f))
    step = np.array([float(r["global_step"]) for r in rows])
    val = np.array([float(r[key]) if r.get(key) not in (None, "") else np.nan for r in rows])
    return step, val


def main() -> None:
    runs = HERE / "stress" / "runs"
    fig, axes = plt.subplots(2, 2, figsize=(11, 7), sharex=True)
    for col, task in enumerate(("Hopper-v5", "Walker2d-v5")):
        for arm, label, color in ARMS:
            for k, run in enumerate(sorted(runs.glob(f"{task}__{arm}__s*"))):
                lab = label if k == 0 else None
                s, lr = column(run / "metrics.csv", "policy/log_ratio_min")
                axes[0, col].plot(s, -lr, color=color, lw=0.8, alpha=0.8, label=lab)
                s, kl = column(run / "metrics.csv", "policy/approx_kl")
                axes[1, col].plot(s, kl, color=color, lw=0.8, alpha=0.8, label=lab)
        axes[0, col].set_title(f"{task}, stress regime (lr 1e-3, no grad clip)")
        axes[0, col].set_yscale("symlog", linthresh=1.0)
        axes[0, col].axhline(20, color="k", ls=":", lw=0.8)
        axes[1, col].set_yscale("log")
        axes[1, col].set_xlabel("environment steps")
    axes[0, 0].set_ylabel("-min log-ratio in the update\n(dotted: the guard's 20)")
    axes[1, 0].set_ylabel("mean k3 KL of the update")
    axes[0, 0].legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    out = HERE / "figures" / "log_ratio_tails.png"
    out.parent.mkdir(exist_ok=True)
    fig.savefig(out, dpi=110)
    print(out)


if __name__ == "__main__":
    main()
