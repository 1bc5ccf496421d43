"""Return, episode length and goal of each held lump of a mixture-base flow (and of a Gaussian
for comparison): where a multimodal policy's return goes.

    python benchmarks/multimodal/lump_returns.py RUN [RUN ...] --episodes 20 \
        --out benchmarks/multimodal/lump_returns.json

For a flow with M lumps every lump k is held for ``--episodes`` stochastic episodes (fresh
noise inside the lump every step, as in training); a Gaussian run is one row of i.i.d. draws.
A mixture of flows (``--flow-groups``) also names each lump's group and the group's weight W_g
(the share of episodes it is drawn for). ``--checkpoint STEP``: an earlier checkpoint.
Each row also counts the episodes that ended without ``info["success"]`` and, for each, its
length and the first two entries of its last observation (the position on ForkReach and
MultiGoal): where a failing lump ends up.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from nfpo.agent import load_run
from nfpo.envs import make_env


def lump_rows(run: Path, episodes: int, max_steps: int = 200, checkpoint: int | None = None
              ) -> list[dict]:
    cfg, agent, _ = load_run(run, checkpoint)
    groups = getattr(agent.policy, "group_of", None)
    weights = agent.policy.group_weights() if groups is not None else None
    env = make_env(cfg.env.id, cfg.env.kwargs())
    torch.manual_seed(0)
    m = cfg.policy.flow_base_mixture if cfg.policy.kind == "flow" else 0
    rows = []
    for k in range(max(m, 1)):
        comp = torch.tensor([k]) if m else None
        rets, lens, modes, fails = [], [], [], []
        for ep in range(episodes):
            obs, _ = env.reset(seed=1000 + ep)
            ret, n, info = 0.0, 0, {}
            while n < max_steps:
                a = agent.act(torch.as_tensor(obs, dtype=torch.float32)[None], False,
                              component=comp)[0].numpy()
                obs, r, term, trunc, info = env.step(a)
                ret, n = ret + float(r), n + 1
                if term or trunc:
                    break
            rets.append(ret), lens.append(n), modes.append(int(info.get("mode", -1)))
            if not info.get("success", 1.0):
                fails.append({"length": n, "end": np.round(obs[:2], 3).tolist()})
        rows.append({"lump": k if m else None, "return": float(np.mean(rets)),
                     "length": float(np.mean(lens)),
                     "modes": {str(g): modes.count(g) for g in sorted(set(modes))},
                     "failures": fails})
        if groups is not None:
            g = int(groups[k])
            rows[-1].update(group=g, weight=float(weights[g]))
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "lump_returns.json")
    ap.add_argument("--checkpoint", type=int, default=None)
    a = ap.parse_args(argv)
    out = {"date": time.strftime("%Y-%m-%d"), "episodes_per_row": a.episodes,
           "checkpoint": a.checkpoint,
           "runs": {str(r): lump_rows(r, a.episodes, checkpoint=a.checkpoint) for r in a.runs}}
    a.out.write_text(json.dumps(out, indent=1))
    for run, rows in out["runs"].items():
        print(run)
        for r in rows:
            group = f" (group {r['group']}, W {r['weight']:.3f})" if "group" in r else ""
            print(f"  lump {r['lump']}{group}: return {r['return']:.2f}, "
                  f"length {r['length']:.1f}, modes {r['modes']}, "
                  f"failures {len(r['failures'])}")


if __name__ == "__main__":
    main()
