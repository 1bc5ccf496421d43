"""Without PPO: can the flow policy hold K equal peaks when it optimizes the entropy-regularized
bandit objective directly?

    max_pi  E_{a ~ pi}[r(a)] + alpha H[pi]   <=>   min_pi KL(pi || exp(r / alpha) / Z)

This is the objective that PPO with an entropy bonus follows on ``nfpo/BimodalBandit-v0``. Here
it is optimized exactly, with reparameterized gradients on batches of 256 samples and Adam at
lr 3e-4, using nfpo's tanh-bounded ``FlowPolicy``. If the flow drops peaks here too, the cause
is the objective and the flow (reverse KL is mode-seeking), not PPO's sampling or clipping.

Variants:
- ``--alpha-final``: anneal alpha linearly to this value;
- a mixture base (``FlowPolicy(base_mixture=M, base_mixture_std=s)``, ``--flow-base-mixture``
  in ``nfpo train``): a uniform mixture of M Gaussians with learned means instead of N(0, I).

    python benchmarks/multimodal/reverse_kl.py     # every variant -> reverse_kl.{json,md}
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
from pathlib import Path

import torch
from torch import Tensor

from nfpo.envs.multimodal import BimodalBandit
from nfpo.flows.tanh import tanh_log_abs_det
from nfpo.policies.flow import FlowPolicy

HERE = Path(__file__).parent
# (name, peaks, alpha, alpha_final, mixture components, mixture std)
VARIANTS = [
    ("2 peaks, alpha 0.05", 2, 0.05, None, 0, 0.0),
    ("4 peaks, alpha 0.05", 4, 0.05, None, 0, 0.0),
    ("4 peaks, alpha 0.15", 4, 0.15, None, 0, 0.0),
    ("4 peaks, alpha 0.15 -> 0.02", 4, 0.15, 0.02, 0, 0.0),
    ("4 peaks, alpha 0.05, mixture base (16 x std 0.3)", 4, 0.05, None, 16, 0.3),
    ("4 peaks, alpha 0.15 -> 0.02, mixture base", 4, 0.15, 0.02, 16, 0.3),
]


def run(seed: int, peaks: int, alpha: float, alpha_final: float | None, mixture: int,
        mixture_std: float, steps: int) -> dict:
    torch.manual_seed(seed)
    env = BimodalBandit(num_modes=peaks)
    centers, width = torch.as_tensor(env.peaks, dtype=torch.float32), env.width

    def reward(a: Tensor) -> Tensor:  # the env's reward, batched
        return torch.exp(-((a[:, None] - centers) ** 2).sum(-1) / (2 * width**2)).max(1).values

    pol = FlowPolicy(1, 2, action_bound="tanh", base_mixture=mixture,
                     base_mixture_std=mixture_std or 0.3)
    opt = torch.optim.Adam(pol.parameters(), lr=3e-4)
    obs = torch.ones(256, 1)
    for i in range(steps):
        a_i = alpha if alpha_final is None else alpha + (alpha_final - alpha) * i / (steps - 1)
        u, logp = pol.rsample_raw(obs)
        loss = (a_i * (logp - tanh_log_abs_det(u)) - reward(torch.tanh(u))).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        a = torch.tanh(pol.rsample_raw(torch.ones(4000, 1))[0])
        dist = torch.cdist(a, centers)
        on_peak = dist.min(1).values < 2 * width  # the env's mode rule
        fractions = [float(((dist.argmin(1) == k) & on_peak).float().mean()) for k in range(peaks)]
    return {"seed": seed, "reward": float(reward(a).mean()), "mode_fractions": fractions,
            "all_modes_15pct": min(fractions) >= 0.15}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--out", default=str(HERE / "reverse_kl"))
    args = p.parse_args()
    torch.set_num_threads(1)
    results = []
    for name, peaks, alpha, alpha_final, mixture, std in VARIANTS:
        for seed in args.seeds:
            r = run(seed, peaks, alpha, alpha_final, mixture, std, args.steps)
            results.append({"variant": name, **r})
            print(name, r, flush=True)
    meta = {"command": "python benchmarks/multimodal/reverse_kl.py", "steps": args.steps,
            "date": datetime.date.today().isoformat(), "machine": platform.platform()}
    Path(args.out + ".json").write_text(json.dumps({"meta": meta, "results": results}, indent=1))
    lines = [f"`{meta['command']}` ({args.steps} Adam steps of 256 samples, lr 3e-4; "
             f"{meta['machine']}, {meta['date']}). 4000 samples per final policy.", "",
             "| variant | seed | mean reward | mass on each peak | every peak >= 15% |",
             "|---|---|---|---|---|"]
    for r in results:
        fr = " / ".join(f"{f:.2f}" for f in r["mode_fractions"])
        lines.append(f"| {r['variant']} | {r['seed']} | {r['reward']:.2f} | {fr} | "
                     f"{'yes' if r['all_modes_15pct'] else 'no'} |")
    Path(args.out + ".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
