"""Report of a benchmark grid (``nfpo report GRID_DIR``): per-task learning and diagnostic
curves with 95% bootstrap CIs across seeds, a final-return table, aggregate IQM and
probability of improvement (``nfpo.report.stats``), failures and throughput.

Scores: a run's score is its training return over the last 20 episodes at the end of the run
(for a diverged run: when it stopped). For the aggregate, each task's scores are min-max
normalized over all runs of the grid on that task, so tasks weigh equally.
"""

from __future__ import annotations

import csv
import io
import json
import math
import time
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from nfpo import __version__
from nfpo.checkpoint import atomic_write_text
from nfpo.errors import CheckpointError
from nfpo.logger import read_metrics
from nfpo.report.stats import aggregate_iqm, bootstrap_ci, curve_band, prob_improvement_ci

# panels of the per-task figure: metric, title, y scale
PANELS = [
    ("episode/return_recent", "episodic return (last 20 ep.)", "linear"),
    ("policy/entropy", "entropy (nats)", "linear"),
    ("policy/approx_kl", "k3 KL per update", "log"),
    ("policy/log_ratio_min", "min log-ratio in the update", "symlog"),
    ("policy/clip_fraction", "clip fraction", "linear"),
    ("flow/logdet_max", "max log|det J| (flows)", "linear"),
]
TAIL_BOUND = -20.0  # an update whose min log-ratio is below this counts as a tail event
TAIL_FRACTION = 0.1  # collapse is judged on the mean return of the last 10% of updates


def collapsed(returns: list[float]) -> bool:
    """A return collapse: the mean training return over the last ``TAIL_FRACTION`` of the
    updates is below the midpoint between the first logged return and the best one (the run
    gave back more than half of what it had learned; offset-free, so it also works for
    returns near or below 0)."""
    ret = [r for r in returns if math.isfinite(r)]
    if not ret:
        return False
    tail = ret[-max(int(len(ret) * TAIL_FRACTION), 1):]
    return sum(tail) / len(tail) < (ret[0] + max(ret)) / 2


def is_grid(path: Path) -> bool:
    return (Path(path) / "grid.json").exists()


def load_grid(grid_dir: Path) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """(grid meta, one dict per job with its metrics and outcome)."""
    grid_dir = Path(grid_dir)
    if not is_grid(grid_dir):
        raise CheckpointError(f"{grid_dir} is not an nfpo grid dir (no grid.json)")
    meta = json.loads((grid_dir / "grid.json").read_text())
    index = json.loads((grid_dir / "index.json").read_text())["jobs"]
    jobs = []
    for job_id, rec in index.items():
        d = grid_dir / rec["run_dir"]
        m = read_metrics(d)
        summ = _json(d / "summary.json")
        ev = _json(d / "eval.json")
        ret = m.get("episode/return_recent", [])
        finite = [r for r in ret if math.isfinite(r)]
        final = finite[-1] if finite else math.nan
        peak = max(finite) if finite else math.nan
        lr_min = np.asarray(m.get("policy/log_ratio_min", []), float)
        jobs.append({
            **rec, "id": job_id, "metrics": m,
            "steps": int(m["global_step"][-1]) if m.get("global_step") else 0,
            "final": final, "peak": peak,
            "eval": ev["mean_return"] if ev else math.nan,
            "collapsed": rec["status"] == "done" and collapsed(finite),
            "tail_events": int(np.sum(lr_min < TAIL_BOUND)),
            "worst_log_ratio": float(np.nanmin(lr_min)) if len(lr_min) else math.nan,
            "max_kl": max((k for k in m.get("policy/approx_kl", []) if math.isfinite(k)),
                          default=math.nan),
            "steps_per_second": summ["steps_per_second"] if summ else math.nan,
            "wall_time": summ["wall_time"] if summ else math.nan,
        })
    return meta, jobs


def _json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text()) if path.exists() else None


def _scored(jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [j for j in jobs if j["status"] in ("done", "diverged") and math.isfinite(j["final"])]


def plot_task(task: str, arms: list[str], jobs: list[dict[str, Any]], out: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 3, figsize=(15, 8))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (key, title, scale) in zip(axes.flat, PANELS, strict=True):
        for i, arm in enumerate(arms):
            xs, ys = [], []
            for j in jobs:
                if j["task"] != task or j["arm"] != arm or key not in j["metrics"]:
                    continue
                x = np.asarray(j["metrics"]["global_step"], float)
                y = np.asarray(j["metrics"][key], float)
                keep = np.isfinite(x) & np.isfinite(y)
                if keep.sum() >= 2:
                    xs.append(x[keep])
                    ys.append(y[keep])
            if not xs:
                continue
            c = colors[i % len(colors)]
            grid, mean, lo, hi = curve_band(xs, ys)
            ax.plot(grid, mean, color=c, label=f"{arm} (n={len(xs)})", linewidth=1.5)
            ax.fill_between(grid, lo, hi, color=c, alpha=0.2, linewidth=0)
        ax.set_title(title)
        ax.set_xlabel("environment steps")
        ax.set_yscale(scale)
        ax.grid(alpha=0.3)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    fig.suptitle(f"{task}: mean and 95% bootstrap CI across seeds")
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=min(6, len(labels)), frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 0.97))
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def _f(x: float, nd: int = 0) -> str:
    return f"{x:.{nd}f}" if isinstance(x, (int, float)) and math.isfinite(x) else "-"


def make_grid_report(grid_dir: Path, out_dir: Path | None = None) -> Path:
    """Write ``report.md``, ``results.csv`` and one ``curves_<task>.png`` per task."""
    grid_dir = Path(grid_dir)
    meta, jobs = load_grid(grid_dir)
    spec = meta["spec"]
    out_dir = Path(out_dir) if out_dir else grid_dir / "report"
    out_dir.mkdir(parents=True, exist_ok=True)
    tasks, arms = spec["tasks"], list(spec["arms"])
    counts = {s: sum(j["status"] == s for j in jobs) for s in ("done", "diverged", "failed",
                                                               "pending")}
    L = [f"# Grid report: {spec['name']}", "",
         f"Generated {time.strftime('%Y-%m-%d %H:%M')} by nfpo {__version__} from `{grid_dir}`.",
         f"Last `nfpo bench` call on this grid: `{meta['command']}` (jobs can run over several "
         "calls and machines). Machine of that call: "
         f"{meta['machine']['processor']}, {meta['machine']['cpus']} CPUs, "
         f"{meta['machine']['platform']}.", "",
         f"Jobs: {len(jobs)} ({', '.join(f'{v} {k}' for k, v in counts.items())}); "
         f"{spec['total_steps']:,} steps each; seeds {spec['seeds']}.", "",
         "Arms (`nfpo train` flags; every job also gets: "
         f"`{spec['args'] or '-'}`):", ""]
    L += [f"- **{a}**: `{spec['arms'][a]}`" for a in arms]
    scored = _scored(jobs)
    refs = spec.get("references", {})
    for task in tasks:
        ref = (f"{spec.get('reference_name', 'reference')}: {refs[task]:g}. "
               if task in refs else "")
        L += ["", f"## {task}", "", *([ref, ""] if ref else []),
              "| arm | runs | return, mean ± std | 95% CI of mean | eval return | diverged | "
              f"collapsed | updates with min log-ratio < {TAIL_BOUND:g} | worst log-ratio | "
              "max KL | steps/s |", "|---|---|---|---|---|---|---|---|---|---|---|"]
        for arm in arms:
            js = [j for j in jobs if j["task"] == task and j["arm"] == arm]
            sc = _finals(scored, task, arm)
            if len(sc):
                pt, lo, hi = bootstrap_ci(lambda s: float(np.mean(s[0])), [sc])
                ret, ci = f"{pt:.0f} ± {np.std(sc):.0f}", f"[{lo:.0f}, {hi:.0f}]"
            else:
                ret = ci = "-"
            ev = [j["eval"] for j in js if math.isfinite(j["eval"])]
            L.append(
                f"| {arm} | {len(sc)}/{len(js)} | {ret} | {ci} | "
                f"{_f(float(np.mean(ev))) if ev else '-'} | "
                f"{sum(j['status'] == 'diverged' for j in js)} | "
                f"{sum(j['collapsed'] for j in js)} | {sum(j['tail_events'] for j in js)} | "
                f"{_f(_agg_finite(min, [j['worst_log_ratio'] for j in js]), 1)} | "
                f"{_f(_agg_finite(max, [j['max_kl'] for j in js]), 3)} | "
                f"{_f(_nanmean([j['steps_per_second'] for j in js]))} |")
        png = plot_task(task, arms, jobs, out_dir / f"curves_{task.replace('/', '-')}.png")
        L += ["", f"![{task}]({png.name})"]
    L += _aggregate(tasks, arms, scored)
    problems = [j for j in jobs if j["status"] in ("diverged", "failed")]
    if problems:
        L += ["", "## Diverged and failed runs", "", "| run | status | at step | error |",
              "|---|---|---|---|"]
        for j in problems:
            err = " ".join((j.get("error") or "").split())[-400:].replace("|", "/")
            L.append(f"| {j['id']} | {j['status']} | {j['steps']} | {err} |")
    L += ["", "Definitions: *return* = a run's mean training return over its last 20 episodes "
          "at the end; *± std* = the standard deviation of that over seeds (numpy's, ddof 0); "
          "*95% CI of mean* = percentile bootstrap over seeds; *eval return* = the mean over "
          "seeds of each run's deterministic evaluation (`eval.json`); "
          "*diverged* = stopped by NaN/Inf or a `--guard` bound; *collapsed* = "
          "finished with its mean return over the last 10% of updates below the midpoint of its "
          "first and best return; raw per-run numbers in `results.csv`, per-update metrics in "
          "each run's `metrics.csv`."]
    _write_csv(jobs, out_dir / "results.csv")
    md = out_dir / "report.md"
    atomic_write_text(md, "\n".join(L) + "\n")
    return md


def _agg_finite(agg: Any, x: list[float]) -> float:
    """``agg`` (min or max) over the finite values of ``x``; nan if there are none."""
    x = [v for v in x if math.isfinite(v)]
    return agg(x) if x else math.nan


def _nanmean(x: list[float]) -> float:
    x = [v for v in x if math.isfinite(v)]
    return float(np.mean(x)) if x else math.nan


def _finals(scored: list[dict[str, Any]], task: str, arm: str) -> np.ndarray:
    """The scores (final returns) of the scored runs of one task and arm."""
    return np.array([j["final"] for j in scored if j["task"] == task and j["arm"] == arm])


def _aggregate(all_tasks: list[str], arms: list[str], scored: list[dict[str, Any]]
               ) -> list[str]:
    """IQM of min-max normalized scores and P(X > Y) over the tasks on which every arm has
    finished runs (a grid in progress gets an aggregate of what is comparable so far)."""
    by_task = {t: {a: _finals(scored, t, a) for a in arms} for t in all_tasks}
    tasks = [t for t in all_tasks if all(len(x) for x in by_task[t].values())]
    if not tasks:
        return []
    left_out = [t for t in all_tasks if t not in tasks]
    per = {arm: [by_task[t][arm] for t in tasks] for arm in arms}
    lo = [min(float(per[a][i].min()) for a in per) for i in range(len(tasks))]
    hi = [max(float(per[a][i].max()) for a in per) for i in range(len(tasks))]
    norm = {a: [(x - lo[i]) / max(hi[i] - lo[i], 1e-9) for i, x in enumerate(s)]
            for a, s in per.items()}
    scope = (f"Over {', '.join(tasks)} only (left out, as some arm has no finished run "
             f"there: {', '.join(left_out)}). " if left_out else "")
    L = ["", "## Aggregate over tasks", "",
         f"{scope}Scores min-max normalized per task over all runs of this grid (0 = worst "
         "run, 1 = best run); 95% stratified bootstrap CIs (2000 resamples).", "",
         "| arm | IQM | 95% CI | mean |", "|---|---|---|---|"]
    for a, s in norm.items():
        pt, lo_, hi_ = bootstrap_ci(aggregate_iqm, s)
        L.append(f"| {a} | {pt:.2f} | [{lo_:.2f}, {hi_:.2f}] | {np.mean(np.concatenate(s)):.2f} |")
    if len(per) > 1:
        L += ["", "| P(X > Y) | estimate | 95% CI |", "|---|---|---|"]
        for x, y in combinations(per, 2):
            pt, lo_, hi_ = prob_improvement_ci(per[x], per[y])
            L.append(f"| {x} > {y} | {pt:.2f} | [{lo_:.2f}, {hi_:.2f}] |")
    return L


def _write_csv(jobs: list[dict[str, Any]], path: Path) -> None:
    cols = ["id", "task", "arm", "seed", "status", "steps", "final", "peak", "eval",
            "collapsed", "tail_events", "worst_log_ratio", "max_kl", "steps_per_second",
            "wall_time"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, cols, extrasaction="ignore")
    w.writeheader()
    for j in sorted(jobs, key=lambda j: j["id"]):
        w.writerow(j)
    atomic_write_text(path, buf.getvalue())
