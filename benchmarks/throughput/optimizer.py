"""PPO minibatch step on Hopper-v5 sizes: torch's default Adam (a Python loop over the
parameter tensors on CPU) against the fused kernel that ``nfpo.algo.ppo.make_adam`` picks.

One "update" = 320 minibatch steps of 64 samples (CleanRL's 10 epochs x 32 minibatches of a
2048-sample rollout): policy log-prob + value + backward + grad clip + Adam step, for the
flow (NFPO default) and the Gaussian. Rounds alternate the configurations so machine noise
hits all alike; we report the median time per update.

    python benchmarks/throughput/optimizer.py --rounds 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from nfpo.agent import Agent
from nfpo.algo.ppo import make_adam
from nfpo.config import TrainConfig

HERE = Path(__file__).resolve().parent
OBS, ACT, MB, STEPS = 11, 3, 64, 320


def update_ms(kind: str, fused: bool, seed: int = 0) -> float:
    """Milliseconds for one update of ``STEPS`` minibatch steps."""
    torch.manual_seed(seed)
    cfg = TrainConfig()
    cfg.policy.kind = kind
    agent = Agent(cfg, OBS, ACT)
    params = list(agent.parameters())
    opt = (make_adam([{"params": params}], lr=3e-4, eps=1e-5) if fused
           else torch.optim.Adam(params, lr=3e-4, eps=1e-5))
    obs, act = torch.randn(STEPS, MB, OBS), torch.randn(STEPS, MB, ACT).clamp(-1, 1)
    ret = torch.randn(STEPS, MB)
    for warm in (True, False):
        t = time.perf_counter()
        for i in range(20 if warm else STEPS):
            logp = agent.policy.log_prob(obs[i], act[i])
            value = agent.critic(obs[i]).squeeze(-1)
            loss = -logp.mean() + 0.5 * (value - ret[i]).pow(2).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 0.5)
            opt.step()
    return (time.perf_counter() - t) * 1e3


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    configs = [(k, f) for k in ("gaussian", "flow") for f in (False, True)]
    times: dict[str, list[float]] = {f"{k} {'fused' if f else 'default'}": [] for k, f in configs}
    for r in range(args.rounds):
        for k, f in configs:
            times[f"{k} {'fused' if f else 'default'}"].append(update_ms(k, f, seed=r))
    med = {k: statistics.median(v) for k, v in times.items()}
    out = {"machine": platform.platform(), "cpus": os.cpu_count(), "torch": torch.__version__,
           "date": time.strftime("%Y-%m-%d"), "rounds": args.rounds, "ms_per_update": times}
    (HERE / "optimizer.json").write_text(json.dumps(out, indent=2))
    lines = [f"`python benchmarks/throughput/optimizer.py --rounds {args.rounds}` on "
             f"{out['machine']}, {out['cpus']} CPUs, torch {out['torch']}, one torch thread, "
             f"{out['date']}. One update = {STEPS} minibatch steps of {MB} samples.", "",
             "| policy | Adam | ms per update (median) | fused / default |", "|---|---|---|---|"]
    for k in ("gaussian", "flow"):
        d, f = med[f"{k} default"], med[f"{k} fused"]
        lines += [f"| {k} | default | {d:.0f} | |", f"| {k} | fused | {f:.0f} | {f / d:.2f} |"]
    (HERE / "optimizer.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
