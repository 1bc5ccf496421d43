"""Markdown report of one or more run dirs: summary table, config, curves."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from nfpo import __version__
from nfpo.checkpoint import atomic_write_text
from nfpo.errors import CheckpointError
from nfpo.logger import read_metrics
from nfpo.report.curves import last_finite, plot_curves
from nfpo.run_dir import RunDir


def run_summary(run_dir: Path) -> dict[str, Any]:
    """Key facts of a run: config, final returns, eval, throughput."""
    run_dir = Path(run_dir)
    meta = RunDir(run_dir).read_meta()
    cols = read_metrics(run_dir)
    summary = json.loads((run_dir / "summary.json").read_text()) \
        if (run_dir / "summary.json").exists() else {}
    evaluation = json.loads((run_dir / "eval.json").read_text()) \
        if (run_dir / "eval.json").exists() else None
    steps = cols.get("global_step", [])
    wall = summary.get("wall_time", last_finite(cols.get("time/wall", [math.nan])))
    return {
        "run_dir": str(run_dir), "config": meta["config"], "env_spec": meta.get("env_spec", {}),
        "metrics": cols,
        "steps": int(steps[-1]) if steps else 0,
        "final_return": last_finite(cols.get("episode/return_recent", [math.nan])),
        "wall_time": wall,
        "steps_per_second": (steps[-1] / wall) if steps and wall and wall > 0 else math.nan,
        "eval": evaluation,
    }


def _fmt(x: Any, nd: int = 1) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "-"
    return f"{x:.{nd}f}" if isinstance(x, float) else str(x)


def still_strip(agent: Any, env_id: str, env_kwargs: dict[str, Any], out: Path,
                frames: int = 6, seed: int = 10_000, max_steps: int = 1000,
                size: tuple[int, int] = (240, 180)) -> Path:
    """``frames`` evenly spaced frames of one deterministic episode side by side, as a PNG.
    The episode runs twice (deterministic actions, same seed: the same trajectory): once to
    learn its length, once rendering only the chosen steps."""
    import matplotlib.image
    import numpy as np

    from nfpo.evaluate import run_episodes
    from nfpo.video import check_renderer, frame

    check_renderer()
    length = run_episodes(agent, env_id, env_kwargs, 1, True, seed, max_steps)["lengths"][0]
    at = {int(round(t)) for t in np.linspace(0, length, frames)}
    shots: list[np.ndarray] = []

    def shoot(env: Any, n: int, obs: np.ndarray, done: bool) -> None:
        if n in at:
            shots.append(frame(env))

    run_episodes(agent, env_id, env_kwargs, 1, True, seed, max_steps, render=size,
                 on_step=shoot)
    out.parent.mkdir(parents=True, exist_ok=True)
    matplotlib.image.imsave(out, np.concatenate(shots, axis=1))
    return out


def _picture(run: dict[str, Any], out_dir: Path, i: int) -> list[str]:
    """Markdown for a picture of the final policy: stochastic rollouts and pi(a|s) for planar
    multimodal tasks, else a still strip of one deterministic episode (tasks that render)."""
    import gymnasium as gym

    from nfpo.agent import load_run
    from nfpo.envs import make_env
    from nfpo.errors import NfpoError
    from nfpo.report.policy_plot import PLANAR, plot_policies

    env_id = run["config"]["env"]["id"]
    if env_id not in gym.registry:
        return [f"(no picture of the policy: {env_id} is an EnvPool-only task, which does not "
                "render here)"]
    try:
        probe = make_env(env_id, json.loads(run["config"]["env"].get("env_kwargs", "{}")))
        renders = "rgb_array" in probe.metadata.get("render_modes", [])
        small = probe.action_space.shape[0] <= 2
        probe.close()
        if env_id in PLANAR or (small and not renders):
            path = plot_policies([Path(run["run_dir"])], out_dir / f"policy_{i}.png")
            return [f"![stochastic rollouts and pi(a|s)]({path.name})"]
        if not renders:
            return [f"(no picture of the policy: {env_id} does not render and its actions "
                    "have more than 2 dimensions)"]
        cfg, agent, _ = load_run(run["run_dir"])
        path = still_strip(agent, env_id, cfg.env.kwargs(), out_dir / f"strip_{i}.png")
        return [f"![final policy, one deterministic episode]({path.name})"]
    except NfpoError as e:
        return [f"(no picture of the policy: {' '.join(str(e).split())[:300]})"]


def make_report(run_dirs: list[Path], out_dir: Path, pictures: bool = True) -> Path:
    """Write ``out_dir/report.md`` and ``out_dir/curves.png`` (and, with ``pictures``, a picture
    of each run's final policy, up to 4 runs); returns the Markdown path."""
    if not run_dirs:
        raise CheckpointError("report needs at least one run dir")
    runs = [run_summary(Path(d)) for d in run_dirs]
    labels = []
    for r in runs:
        c = r["config"]
        label = f"{c['env']['id']} {c['policy']['kind']} s{c['run']['seed']}"
        labels.append(label if label not in labels else f"{label} ({Path(r['run_dir']).name})")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    curves = {lab: r["metrics"] for lab, r in zip(labels, runs, strict=True)}
    plot_curves(curves, out_dir / "curves.png")

    lines = [
        "# nfpo training report", "",
        f"Generated {time.strftime('%Y-%m-%d %H:%M:%S')} by nfpo {__version__}.", "",
        "| run | env | policy | steps | return (last 20 ep.) | eval return | steps/s | wall |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for lab, r in zip(labels, runs, strict=True):
        c, ev = r["config"], r["eval"]
        ev_s = f"{ev['mean_return']:.1f} ± {ev['std_return']:.1f} ({ev['mode'][:3]}., " \
               f"{ev['episodes']} ep.)" if ev else "-"
        lines.append(
            f"| {lab} | {c['env']['id']} | {c['policy']['kind']} | {r['steps']} | "
            f"{_fmt(r['final_return'])} | {ev_s} | {_fmt(r['steps_per_second'], 0)} | "
            f"{_fmt(r['wall_time'] / 60 if r['wall_time'] else None)} min |")
    lines += ["", "![learning curves](curves.png)", ""]
    if pictures:
        lines += ["## The final policy", ""]
        for i, (lab, r) in enumerate(list(zip(labels, runs, strict=True))[:4]):
            lines += [f"**{lab}**", "", *_picture(r, out_dir, i), ""]
    lines += ["## Diagnostics at the last update", "",
              "| run | entropy | approx KL | clip frac. | ratio error at start | "
              "min log-ratio | explained var. |", "|---|---|---|---|---|---|---|"]
    for lab, r in zip(labels, runs, strict=True):
        m = r["metrics"]
        vals = [last_finite(m.get(k, [math.nan])) for k in (
            "policy/entropy", "policy/approx_kl", "policy/clip_fraction",
            "policy/ratio_error_at_start", "policy/log_ratio_min", "value/explained_variance")]
        lines.append(f"| {lab} | {_fmt(vals[0], 2)} | {_fmt(vals[1], 4)} | {_fmt(vals[2], 3)} | "
                     f"{vals[3]:.1e} | {_fmt(vals[4], 2)} | {_fmt(vals[5], 2)} |")
    lines += ["", "## Configurations", ""]
    for lab, r in zip(labels, runs, strict=True):
        lines += [f"<details><summary>{lab}: <code>{r['run_dir']}</code></summary>", "",
                  "```json", json.dumps(r["config"], indent=1), "```", "</details>", ""]
    md = out_dir / "report.md"
    atomic_write_text(md, "\n".join(lines) + "\n")
    return md
