"""Flow vs Gaussian policy cost and float32 re-scoring error on a GPU, at the batch sizes of
GPU-simulator training (Isaac Lab / rsl_rl: 4096 envs x 24 steps = 98,304 samples per update,
4 minibatches of 24,576).

For each action/observation size (Go1: 48 -> 12; Walker2d: 17 -> 6) and policy (nfpo's
Gaussian, and its flow with the legged preset's 128x128 conditioners, 4 coupling layers):
- ``sample``: one rollout step for all envs, ``policy.sample(obs)`` (action and log-prob);
- ``update``: one PPO minibatch step, clipped surrogate on ``policy.log_prob`` + backward +
  Adam, on a minibatch of ``B`` samples;
- ``ratio error``: max |log pi(u) - log pi_sample(u)| when the actions just sampled are scored
  again at identical parameters (98,304 samples), in float32, with TF32 matmuls off (PyTorch's
  default) and on, at the initial weights (the flow starts as the identity) and with N(0, s^2)
  noise added to every weight, s = 0.05, 0.1, 0.2 ("grown" weights: larger log-scales and
  shifts; PyTorch's default init has std ~0.05 for a 128-wide layer).
Times are medians of CUDA-synchronized wall clock over ``--reps`` calls after warm-up.

    python benchmarks/gpu/run.py --out results.json     (on a machine with a GPU)
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time

import torch

from nfpo.config import PolicyConfig
from nfpo.policies import make_policy

SIZES = {"go1": (48, 12), "walker2d": (17, 6)}


def policy_cfg(kind: str) -> PolicyConfig:
    return PolicyConfig(kind=kind, actor_hidden=(128, 128, 128), flow_hidden=(128, 128),
                        activation="elu")


def timed(fn, reps: int, device: torch.device) -> float:
    """Median seconds of ``fn()`` over ``reps`` calls after 3 warm-up calls."""
    for _ in range(3):
        fn()
    ts = []
    for _ in range(reps):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def cost(kind: str, obs_dim: int, act_dim: int, envs: int, minibatch: int, reps: int,
         device: torch.device, compile: bool = False) -> dict[str, float]:
    torch.manual_seed(0)
    pol = make_policy(policy_cfg(kind), obs_dim, act_dim).to(device)
    if compile:  # fuses the flow's many small kernels (what nfpo train --compile does)
        pol.log_prob = torch.compile(pol.log_prob)
        pol.sample = torch.compile(pol.sample)
    opt = torch.optim.Adam(pol.parameters(), lr=3e-4)
    obs_roll = torch.randn(envs, obs_dim, device=device)
    with torch.no_grad():
        obs = torch.randn(minibatch, obs_dim, device=device)
        u, old = pol.sample(obs)
    adv = torch.randn(minibatch, device=device)

    @torch.no_grad()
    def sample() -> None:
        pol.sample(obs_roll)

    def update() -> None:
        ratio = torch.exp(pol.log_prob(obs, u) - old)
        loss = -torch.min(ratio * adv, ratio.clamp(0.8, 1.2) * adv).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return {"sample_s": timed(sample, reps, device), "update_s": timed(update, reps, device)}


@torch.no_grad()
def ratio_error(kind: str, obs_dim: int, act_dim: int, n: int, noise: float, tf32: bool,
                device: torch.device) -> float:
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.manual_seed(1)
    pol = make_policy(policy_cfg(kind), obs_dim, act_dim).to(device)
    for p in pol.parameters():
        p.add_(noise * torch.randn_like(p))
    obs = torch.randn(n, obs_dim, device=device)
    u, logp = pol.sample(obs)
    err = (pol.log_prob(obs, u) - logp).abs()
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = True
    return float(err[torch.isfinite(err)].max()) if torch.isfinite(err).any() else float("inf")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--envs", type=int, nargs="+", default=[4096])
    ap.add_argument("--minibatches", type=int, nargs="+", default=[4096, 24576])
    ap.add_argument("--ratio-samples", type=int, default=98304)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--out", default="gpu_results.json")
    ap.add_argument("--compile", action="store_true",
                    help="torch.compile sample and log_prob (only the cost rows are measured)")
    args = ap.parse_args()
    device = torch.device(args.device)
    out = {"device": torch.cuda.get_device_name() if device.type == "cuda" else
           platform.processor() or "cpu", "torch": torch.__version__,
           "date": time.strftime("%Y-%m-%d"), "cost": [], "ratio_error": []}
    for name, (o, a) in SIZES.items():
        for envs in args.envs:
            for mb in args.minibatches:
                row = {"task": name, "envs": envs, "minibatch": mb, "compile": args.compile}
                for kind in ("gaussian", "flow"):
                    c = cost(kind, o, a, envs, mb, args.reps, device, args.compile)
                    row.update({f"{kind}_{k}": v for k, v in c.items()})
                row["flow_over_gaussian_update"] = row["flow_update_s"] / row["gaussian_update_s"]
                row["flow_over_gaussian_sample"] = row["flow_sample_s"] / row["gaussian_sample_s"]
                out["cost"].append(row)
                print(json.dumps(row), flush=True)
        for kind in () if args.compile else ("flow", "flow-naive", "gaussian"):
            for noise in (0.0, 0.05, 0.1, 0.2):
                for tf32 in ((False, True) if device.type == "cuda" else (False,)):
                    e = ratio_error(kind, o, a, args.ratio_samples, noise, tf32, device)
                    row = {"task": name, "policy": kind, "weight_noise": noise, "tf32": tf32,
                           "max_abs_log_ratio": e}
                    out["ratio_error"].append(row)
                    print(json.dumps(row), flush=True)
    with open(args.out, "w") as f:
        json.dump(out, f, indent=2)


if __name__ == "__main__":
    main()
