"""Pictures of pi(a|s): density heatmaps (2-D actions) or curves (1-D) at chosen states, with
samples overlaid, and stochastic rollout trajectories for planar tasks; runs side by side.

The density is exact for both policies: ``Policy.log_prob`` (the flow's change of variables,
the Gaussian's closed form), evaluated on a grid of actions. With ``--action-bound clip`` the
grid spans the pre-clip action u in [-1.5, 1.5] (the env clips to [-1, 1], drawn as a box);
with ``tanh`` it spans a in (-1, 1) and includes the tanh Jacobian. Axes are in env units;
2-D heatmaps show log pi over 10 nats below its maximum, so narrow and broad policies are
both readable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from nfpo.agent import load_run
from nfpo.envs import env_spec, make_env
from nfpo.errors import ConfigError
from nfpo.evaluate import run_episodes

LOG_RANGE = 10.0  # heatmaps show log-density from its max down to max - LOG_RANGE nats
# tasks whose first two observation entries are the robot's planar position: trajectories
PLANAR = {"nfpo/MultiGoal-v0": (-7.0, 7.0, -7.0, 7.0), "nfpo/ForkReach-v0": (-0.3, 1.3, -0.9, 0.9),
          "nfpo/PointReach-v0": (-1.5, 1.5, -1.5, 1.5)}


def parse_states(text: str) -> list[np.ndarray]:
    """``"0,0;2.5,0"`` -> two observation vectors (raw env units)."""
    out = []
    for part in filter(None, (p.strip() for p in text.split(";"))):
        try:
            out.append(np.array([float(v) for v in part.split(",")]))
        except ValueError:
            raise ConfigError(f"bad state {part!r} in --states {text!r}: expected "
                              "comma-separated numbers, states separated by ';'") from None
    return out


def _grid(bound: str, n: int) -> tuple[np.ndarray, float]:
    """Grid points in policy coordinates and the plotted half-width."""
    half = 1.5 if bound == "clip" else 0.999
    return np.linspace(-half, half, n), half


@torch.no_grad()
def log_density(agent: Any, bound: str, obs: np.ndarray, n: int = 161
                ) -> tuple[np.ndarray, float]:
    """log pi(a|obs) on an n^D grid (D = 1 or 2) in policy coordinates; returns (log-density,
    half-width of the grid)."""
    axis, half = _grid(bound, n)
    d = agent.policy.act_dim
    pts = np.stack(np.meshgrid(*([axis] * d), indexing="xy"), -1).reshape(-1, d)
    u = np.arctanh(pts) if bound == "tanh" else pts
    x = agent.norm(torch.as_tensor(obs, dtype=torch.float32).reshape(1, -1))
    logp = agent.policy.log_prob(x.expand(len(u), -1), torch.as_tensor(u, dtype=torch.float32))
    return logp.double().numpy().reshape([n] * d), half


@torch.no_grad()
def samples(agent: Any, obs: np.ndarray, k: int) -> np.ndarray:
    x = torch.as_tensor(obs, dtype=torch.float32).reshape(1, -1).expand(k, -1)
    u, _ = agent.policy.sample(agent.norm(x))
    return u.numpy()


def rollouts(cfg: Any, agent: Any, episodes: int, seed: int) -> list[np.ndarray]:
    """Planar positions (obs[:2]) of stochastic episodes."""
    paths: list[list[np.ndarray]] = []

    def collect(env: Any, n: int, obs: np.ndarray, done: bool) -> None:
        if n == 0:
            paths.append([])
        paths[-1].append(np.asarray(obs[:2]))

    run_episodes(agent, cfg.env.id, cfg.env.kwargs(), episodes, deterministic=False, seed=seed,
                 on_step=collect, policy_cfg=cfg.policy)
    return [np.stack(p) for p in paths]


def plot_policies(run_dirs: list[Path], out: Path, states: list[np.ndarray] | None = None,
                  num_samples: int = 300, trajectories: int | None = None, seed: int = 0
                  ) -> Path:
    """One column per run; one row per state (density + samples), plus a trajectory row for
    planar tasks. Writes a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [load_run(d)[:2] for d in run_dirs]
    env_ids = {cfg.env.id for cfg, _ in runs}
    if len(env_ids) != 1:
        raise ConfigError(f"plot-policy compares runs of one task, got {sorted(env_ids)}")
    env_id = env_ids.pop()
    cfg0 = runs[0][0]
    probe = make_env(env_id, cfg0.env.kwargs())
    spec = env_spec(probe, env_id)
    if spec.act_dim > 2:
        raise ConfigError(f"plot-policy draws 1-D or 2-D actions; {env_id} has {spec.act_dim}")
    if not states:
        states = [np.asarray(probe.reset(seed=seed)[0], dtype=float)]
    probe.close()
    for s in states:
        if s.shape != (spec.obs_dim,):
            raise ConfigError(f"state {s.tolist()} has {s.size} entries; {env_id} observations "
                              f"have {spec.obs_dim}")
    n_traj = (20 if env_id in PLANAR else 0) if trajectories is None else trajectories
    if n_traj and spec.obs_dim < 2:
        raise ConfigError(f"--trajectories draws obs[:2] as a planar position; {env_id} has "
                          f"{spec.obs_dim}-D observations")
    rows = len(states) + (1 if n_traj else 0)
    fig, axes = plt.subplots(rows, len(runs), figsize=(4.6 * len(runs), 4.2 * rows),
                             squeeze=False)
    torch.manual_seed(seed)
    lo, hi = spec.action_low, spec.action_high
    for c, (cfg, agent) in enumerate(runs):
        p = cfg.policy
        bound = p.action_bound
        mix = p.flow_base_mixture if p.kind == "flow" else 0
        kind = p.kind if p.kind != "flow" or p.flow_transform == "affine" else \
            f"flow ({p.flow_transform})"
        if p.kind == "flow" and p.flow_groups > 1:  # one diagonal layer per group: Gaussians
            gauss = p.flow_transform == "diagonal" and p.flow_layers == 1
            kind = f"mixture of {p.flow_groups} " + ("Gaussians" if gauss else "flows")
            kind += " (one shared stack)" if p.flow_groups_shared else ""
        elif mix:
            kind += f", {mix}-mixture base"
        if p.holds_components:
            kind += ", held, conditioned" if p.flow_base_mixture_condition else ", held"
        elif p.noise_correlation > 0:
            kind += f", noise rho {p.noise_correlation:g}"
        title = f"{kind} (seed {cfg.run.seed})"
        for r, s in enumerate(states):
            ax = axes[r, c]
            logd, half = log_density(agent, bound, s)
            smp = samples(agent, s, num_samples)
            smp = np.tanh(smp) if bound == "tanh" else smp
            env_pts = lo + 0.5 * (np.array([-half, half])[:, None] + 1) * (hi - lo)  # [2, D]
            if spec.act_dim == 2:
                extent = (env_pts[0, 0], env_pts[1, 0], env_pts[0, 1], env_pts[1, 1])
                im = ax.imshow(logd, origin="lower", cmap="viridis", aspect="auto",
                               extent=extent, vmin=logd.max() - LOG_RANGE, vmax=logd.max())
                fig.colorbar(im, ax=ax, fraction=0.046, label="log pi(a|s)")
                pts = lo + 0.5 * (smp + 1) * (hi - lo)
                ax.scatter(pts[:, 0], pts[:, 1], s=3, c="white", alpha=0.5, linewidths=0)
                ax.set_xlim(extent[:2])
                ax.set_ylim(extent[2:])
                if bound == "clip":
                    ax.add_patch(plt.Rectangle(lo, *(hi - lo), fill=False, ec="red", lw=0.8))
                ax.set_xlabel("action 0")
                ax.set_ylabel("action 1")
            else:
                axis = np.linspace(env_pts[0, 0], env_pts[1, 0], len(logd))
                ax.plot(axis, np.exp(logd) / (0.5 * (hi[0] - lo[0])))
                ax.hist(lo[0] + 0.5 * (smp[:, 0] + 1) * (hi[0] - lo[0]), bins=60, density=True,
                        alpha=0.4)
                ax.set_xlabel("action")
            ax.set_title(f"{title}\npi(a|s), s = {np.round(s, 2).tolist()}", fontsize=9)
        if n_traj:
            ax = axes[len(states), c]
            for path in rollouts(cfg, agent, n_traj, seed):
                ax.plot(path[:, 0], path[:, 1], lw=0.8, alpha=0.7)
            x0, x1, y0, y1 = PLANAR.get(env_id, (None, None, None, None))
            if x0 is not None:
                ax.set_xlim(x0, x1)
                ax.set_ylim(y0, y1)
            _draw_task(ax, env_id)
            ax.set_aspect("equal")
            ax.set_title(f"{title}: {n_traj} stochastic rollouts", fontsize=9)
    fig.tight_layout()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def _draw_task(ax: Any, env_id: str) -> None:
    import matplotlib.pyplot as plt

    if env_id == "nfpo/MultiGoal-v0":
        from nfpo.envs.multimodal import MultiGoal

        for g in MultiGoal.GOALS:
            ax.add_patch(plt.Circle(g, 1.0, color="green", alpha=0.3))
    elif env_id == "nfpo/ForkReach-v0":
        ax.add_patch(plt.Rectangle((0.45, -0.25), 0.1, 0.5, color="brown"))
        ax.add_patch(plt.Circle((1.0, 0.0), 0.1, color="green", alpha=0.4))
