"""Learning-curve figure: several runs overlaid, one panel per metric."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

PANELS = [
    ("episode/return_recent", "episodic return (last 20 episodes)"),
    ("policy/entropy", "policy entropy"),
    ("policy/approx_kl", "approx. KL (k3)"),
    ("policy/clip_fraction", "clip fraction"),
]


def _finite_points(x: list[float], y: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """The (x, y) pairs where both are finite."""
    xs, ys = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(xs) & np.isfinite(ys)
    return xs[keep], ys[keep]


# shown when any run logged them (multimodal tasks)
OPTIONAL_PANELS = [
    ("episode/mode_coverage", "mode coverage (last 100 episodes)"),
    ("episode/success_rate", "success rate (last 100 episodes)"),
]


def plot_curves(runs: dict[str, dict[str, list[float]]], out: Path) -> Path:
    """``runs``: label -> metrics columns (from ``read_metrics``). Writes a PNG with 2 panels
    per row: return, entropy, KL, clip fraction (+ mode coverage and success if logged)."""
    panels = PANELS + [p for p in OPTIONAL_PANELS if any(p[0] in c for c in runs.values())]
    rows = (len(panels) + 1) // 2
    fig, axes = plt.subplots(rows, 2, figsize=(11, 3.5 * rows), squeeze=False)
    for ax, (key, title) in zip(axes.flat, panels, strict=False):
        for label, cols in runs.items():
            if key in cols and "global_step" in cols:
                x, y = _finite_points(cols["global_step"], cols[key])
                if len(x):
                    ax.plot(x, y, label=label, linewidth=1.3)
        ax.set_title(title)
        ax.set_xlabel("environment steps")
        ax.grid(alpha=0.3)
        if key == "policy/approx_kl":
            ax.set_yscale("log")
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(4, len(labels)),
                   fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06 if handles else 0, 1, 1))
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def last_finite(values: list[float]) -> float:
    for v in reversed(values):
        if math.isfinite(v):
            return v
    return math.nan
