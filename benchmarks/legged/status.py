"""Status table of the long legged runs (benchmarks/legged/long/*/): steps done and, over the
last ``--window`` updates, episode length, tracking errors, return and the update's health
(KL, worst log-ratio); ``--trend`` prints one run's curve as rows (``--rows`` of them).

    python benchmarks/legged/status.py                       # -> benchmarks/legged/long/status.md
    python benchmarks/legged/status.py --trend benchmarks/legged/long/go1-flow-s1/metrics.csv

The runs resume across sessions: ``nfpo train --resume benchmarks/legged/long/RUN``. A run's
config.json and newest checkpoint are committed; its metrics.csv (~0.7 MB per 1M steps) is
not. Each call merges the local metrics.csv, every ``--thin``-th update and the columns used
here, into the committed ``history.csv``, which keeps the curve across sessions and clones.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

from nfpo.logger import write_csv

LONG = Path(__file__).parent / "long"
COLUMNS = [("episode/length", "episode length", "{:.0f}"),
           ("episode/lin_vel_error", "lin. vel. error (m/s)", "{:.2f}"),
           ("episode/ang_vel_error", "ang. vel. error (rad/s)", "{:.2f}"),
           ("episode/return_recent", "return", "{:.2f}"),
           ("policy/approx_kl", "KL per update", "{:.3f}")]


def _num(row: dict, key: str) -> float | None:
    try:
        v = float(row[key])
    except (KeyError, TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _mean(rows: list[dict], key: str) -> float:
    vals = [v for r in rows if (v := _num(r, key)) is not None]
    return sum(vals) / len(vals) if vals else math.nan


def summarize(rows: list[dict]) -> dict[str, float]:
    """Means of COLUMNS over ``rows``, the worst min log-ratio and the last step."""
    out = {key: _mean(rows, key) for key, _, _ in COLUMNS}
    lr = [v for r in rows if (v := _num(r, "policy/log_ratio_min")) is not None]
    out["log_ratio_min"] = min(lr) if lr else math.nan
    out["global_step"] = float(rows[-1]["global_step"]) if rows else 0.0
    return out


def read_rows(path: Path) -> list[dict]:
    with open(path) as f:
        return list(csv.DictReader(f))


def update_history(run: Path, thin: int) -> list[dict]:
    """history.csv of ``run`` = its earlier rows before the local metrics.csv starts, then
    every ``thin``-th row of metrics.csv (and its last); returns the rows."""
    keys = ["global_step", *(k for k, _, _ in COLUMNS), "policy/log_ratio_min"]
    hist_path = run / "history.csv"
    hist = read_rows(hist_path) if hist_path.exists() else []
    metrics = read_rows(run / "metrics.csv") if (run / "metrics.csv").exists() else []
    if metrics:
        first = float(metrics[0]["global_step"])
        new = metrics[::thin] + ([metrics[-1]] if (len(metrics) - 1) % thin else [])
        hist = [r for r in hist if float(r["global_step"]) < first] + \
            [{k: r.get(k, "") for k in keys} for r in new]
        write_csv(hist_path, keys, hist)
    return hist


def steps_cell(step: float, total: float) -> str:
    return f"{step / 1e6:.2f}M / {total / 1e6:.0f}M"


def row_md(name: str, s: dict[str, float], total: float | None = None) -> str:
    cells = [name] if total is None else [name, steps_cell(s["global_step"], total)]
    cells += [fmt.format(s[key]) for key, _, fmt in COLUMNS]
    cells.append(f"{s['log_ratio_min']:.1f}")
    return "| " + " | ".join(cells) + " |"


def header(first: str, steps: bool = True) -> list[str]:
    names = [first, *(["steps"] if steps else []), *(label for _, label, _ in COLUMNS),
             "worst min log-ratio"]
    return ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]


def committed_rows() -> dict[str, str]:
    """The rows of the committed status.md by run name."""
    path = LONG / "status.md"
    lines = path.read_text().splitlines()[2:] if path.exists() else []
    return {line.split("|")[1].strip(): line for line in lines if line.startswith("| ")}


def status(window: int, thin: int) -> str:
    """One row per run: the means over its last ``window`` updates of the local metrics.csv.
    A run without one here (a fresh clone) keeps its committed row when that row is at the
    history's last step (it was computed from the full metrics.csv), else gets the means of
    its last ``window // thin`` history rows (a thinned, noisier estimate)."""
    out, before = header("run"), committed_rows()
    for run in sorted(p for p in LONG.iterdir() if (p / "config.json").exists()):
        hist = update_history(run, thin)
        local = run / "metrics.csv"
        total = json.loads((run / "config.json").read_text())["config"]["run"]["total_steps"]
        if not local.exists() and hist and run.name in before and \
                before[run.name].split("|")[2].strip() == \
                steps_cell(float(hist[-1]["global_step"]), total):
            out.append(before[run.name])
            continue
        rows = read_rows(local)[-window:] if local.exists() else hist[-max(window // thin, 1):]
        out.append(row_md(run.name, summarize(rows), total))
    return "\n".join(out)


def trend(path: Path, n: int) -> str:
    rows = read_rows(path)
    w = max(1, len(rows) // n)
    out = header("up to step", steps=False)
    for i in range(0, len(rows), w):
        s = summarize(rows[i:i + w])
        out.append(row_md(f"{s['global_step'] / 1e6:.2f}M", s))
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--window", type=int, default=100, help="last N updates per run")
    ap.add_argument("--trend", type=Path, help="a metrics.csv or history.csv: its curve in "
                    "--rows rows")
    ap.add_argument("--rows", type=int, default=12)
    ap.add_argument("--thin", type=int, default=20, help="history.csv keeps every N-th update")
    args = ap.parse_args()
    if args.trend:
        print(trend(args.trend, args.rows))
        return
    table = status(args.window, args.thin)
    (LONG / "status.md").write_text(table + "\n")
    print(table)


if __name__ == "__main__":
    main()
